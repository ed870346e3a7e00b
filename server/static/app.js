// The chat page: keeps the conversation, sends it to /v1/chat/completions
// with "stream": true and shows the reply as its server-sent events arrive.
"use strict";

const $ = (id) => document.getElementById(id);
const history = [];
let controller = null;

$("api-key").value = localStorage.getItem("golem-api-key") || "";
$("api-key").addEventListener("change", () => localStorage.setItem("golem-api-key", $("api-key").value));

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function bubble(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  div.textContent = text;
  $("log").appendChild(div);
  $("log").scrollTop = $("log").scrollHeight;
  return div;
}

async function loadModel() {
  try {
    const res = await fetch("v1/models", { headers: headers() });
    if (res.ok) {
      const body = await res.json();
      if (body.data && body.data.length) $("model").textContent = body.data[0].id;
    }
  } catch (e) { /* the title stays "golem" */ }
}

// readEvents calls onData with each "data:" payload of an SSE body.
async function readEvents(body, onData) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      for (const line of event.split("\n")) {
        if (line.startsWith("data: ")) onData(line.slice(6));
      }
    }
  }
}

async function send(text) {
  history.push({ role: "user", content: text });
  bubble("user", text);
  const out = bubble("assistant", "");
  out.dataset.state = "streaming";
  const messages = [];
  const system = $("system").value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...history);
  const request = { messages, stream: true };
  const temperature = parseFloat($("temperature").value);
  if (!isNaN(temperature)) request.temperature = temperature;
  const maxTokens = parseInt($("max-tokens").value, 10);
  if (!isNaN(maxTokens) && maxTokens > 0) request.max_tokens = maxTokens;
  controller = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  let reply = "";
  try {
    const res = await fetch("v1/chat/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(request), signal: controller.signal,
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || res.statusText);
    }
    await readEvents(res.body, (data) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      for (const choice of chunk.choices || []) {
        if (choice.delta && choice.delta.content) {
          reply += choice.delta.content;
          out.textContent = reply;
          $("log").scrollTop = $("log").scrollHeight;
        }
        if (choice.finish_reason) out.dataset.finish = choice.finish_reason;
      }
    });
    out.dataset.state = "done";
  } catch (e) {
    if (e.name === "AbortError") {
      out.dataset.state = "stopped";
    } else {
      out.dataset.state = "error";
      bubble("error", "error: " + e.message);
    }
  } finally {
    history.push({ role: "assistant", content: reply });
    controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
}

$("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("input").value.trim();
  if (!text || controller) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey) {
    ev.preventDefault();
    $("form").requestSubmit();
  }
});
$("stop").addEventListener("click", () => controller && controller.abort());
$("clear").addEventListener("click", () => { history.length = 0; $("log").textContent = ""; });
loadModel();
