package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem"
	"github.com/golem-llm/golem/server"
)

// cdp drives a headless Chromium through the DevTools protocol over the
// pipes of --remote-debugging-pipe: JSON messages ended by a NUL byte,
// commands on the browser's fd 3, answers and events on its fd 4.
type cdp struct {
	t       *testing.T
	cmd     *exec.Cmd
	in      io.WriteCloser
	mu      sync.Mutex
	next    int
	waiting map[int]chan json.RawMessage
	session string
	readErr chan error
}

// startChromium runs Chromium headless, or skips the test without it
// (fails under CI=true: make deps installs the Debian package chromium).
func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found (Debian package chromium; make deps installs it)")
		}
		t.Skip("chromium not found: the chat page test needs the Debian package chromium")
	}
	toBrowser, browserIn, err := os.Pipe()
	require.NoError(t, err)
	browserOut, fromBrowser, err := os.Pipe()
	require.NoError(t, err)
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
		"--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser} // fd 3, fd 4
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	toBrowser.Close()
	fromBrowser.Close()
	c := &cdp{t: t, cmd: cmd, in: browserIn, waiting: map[int]chan json.RawMessage{}, readErr: make(chan error, 1)}
	go c.read(browserOut)
	t.Cleanup(func() {
		c.call("", "Browser.close", nil)
		browserIn.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("chromium's stderr:\n%s", stderr.String())
		}
	})
	return c
}

// read delivers the answers to the calls waiting for them.
func (c *cdp) read(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			c.readErr <- err
			return
		}
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue // an event
		}
		c.mu.Lock()
		ch := c.waiting[m.ID]
		delete(c.waiting, m.ID)
		c.mu.Unlock()
		if ch != nil {
			if len(m.Error) > 0 {
				ch <- append(json.RawMessage(`{"error":`), append(m.Error, '}')...)
			} else {
				ch <- m.Result
			}
		}
	}
}

// call sends a command (to the attached page when session is set) and
// returns its result; a protocol error fails the test.
func (c *cdp) call(session, method string, params any) json.RawMessage {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan json.RawMessage, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	require.NoError(c.t, err)
	if _, err := c.in.Write(append(data, 0)); err != nil {
		return nil // the browser is gone (Browser.close at cleanup)
	}
	select {
	case res := <-ch:
		var e struct{ Error any }
		if json.Unmarshal(res, &e) == nil && e.Error != nil && method != "Browser.close" {
			c.t.Fatalf("chromium: %s: %v", method, e.Error)
		}
		return res
	case err := <-c.readErr:
		c.readErr <- err
		if method == "Browser.close" {
			return nil
		}
		c.t.Fatalf("chromium: %s: the pipe closed: %v", method, err)
	case <-time.After(30 * time.Second):
		if method == "Browser.close" {
			return nil
		}
		c.t.Fatalf("chromium: %s: no answer in 30 s", method)
	}
	return nil
}

// eval evaluates a JavaScript expression in the page and decodes its
// value into v.
func (c *cdp) eval(expr string, v any) {
	c.t.Helper()
	res := c.call(c.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails any `json:"exceptionDetails"`
	}
	require.NoError(c.t, json.Unmarshal(res, &r))
	require.Nil(c.t, r.ExceptionDetails, "%s", expr)
	if v != nil && len(r.Result.Value) > 0 {
		require.NoError(c.t, json.Unmarshal(r.Result.Value, v), "%s", r.Result.Value)
	}
}

// open attaches to the browser's page and loads url.
func (c *cdp) open(url string) {
	var targets struct {
		TargetInfos []struct {
			TargetID string `json:"targetId"`
			Type     string `json:"type"`
		} `json:"targetInfos"`
	}
	require.NoError(c.t, json.Unmarshal(c.call("", "Target.getTargets", nil), &targets))
	id := ""
	for _, ti := range targets.TargetInfos {
		if ti.Type == "page" {
			id = ti.TargetID
		}
	}
	require.NotEmpty(c.t, id, "chromium has no page")
	var att struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(c.t, json.Unmarshal(c.call("", "Target.attachToTarget", map[string]any{"targetId": id, "flatten": true}), &att))
	c.session = att.SessionID
	c.call(c.session, "Page.navigate", map[string]any{"url": url})
}

// waitFor evaluates expr until it is true (at most 30 s).
func (c *cdp) waitFor(expr, what string) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		c.eval(expr, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the page: %s did not happen in 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestChatPage: the chat page at / loads in headless Chromium, sends a
// message typed into it, and shows the streamed reply: the model's greedy
// reply to that conversation.
func TestChatPage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the chat page test starts a browser")
	}
	c := startChromium(t)
	m := openModel(t, golem.Options{Parallel: 2, ChatTemplate: "chatml"})
	ts := start(t, m, server.Config{})
	msgs := []golem.Message{{Role: "user", Content: "Tell me a story about a dog."}}
	want := collect(t, m.Chat(context.Background(), msgs, greedy(24)))
	require.NotEmpty(t, want.text)

	c.open(ts.url + "/")
	c.waitFor(`document.readyState === "complete" && document.getElementById("model").textContent === "stories260K"`, "the page and its model name loading")
	c.eval(`(() => {
		document.getElementById("temperature").value = "0";
		document.getElementById("max-tokens").value = "24";
		const input = document.getElementById("input");
		input.value = "Tell me a story about a dog.";
		input.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
		return true;
	})()`, nil)
	c.waitFor(`(() => { const a = document.querySelector(".msg.assistant"); return !!a && a.dataset.state !== "streaming"; })()`, "the reply ending")
	var got struct {
		State, Finish, Text, User string
		Errors                    int
	}
	c.eval(`(() => {
		const a = document.querySelector(".msg.assistant");
		return {state: a.dataset.state, finish: a.dataset.finish || "", text: a.textContent,
			user: document.querySelector(".msg.user").textContent, errors: document.querySelectorAll(".msg.error").length};
	})()`, &got)
	require.Equal(t, "done", got.State, "errors shown: %d", got.Errors)
	require.Equal(t, "Tell me a story about a dog.", got.User)
	require.Equal(t, want.text, got.Text)
	require.Equal(t, "length", got.Finish)
	require.Zero(t, got.Errors)
	ts.waitIdle(t)
	served := ts.metrics(t)[`golem_requests_total{endpoint="chat",status="200"}`]
	require.Equal(t, 1.0, served, "one chat request, from the page")
}
