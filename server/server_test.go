package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/server"
)

// testServer is a server answering on a loopback port.
type testServer struct {
	url   string
	m     *golem.Model
	srv   *server.Server
	stop  context.CancelFunc
	done  chan error
	close func() // stops the server and closes the model, once
}

// openModel opens the TinyStories 260K checkpoint of ../shared on the
// CPU, with 256 tokens of context (the model has no chat template: the
// tests that chat name one).
func openModel(t *testing.T, o golem.Options) *golem.Model {
	t.Helper()
	modelPath := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	o.Device = "cpu"
	if o.Context == 0 {
		o.Context = 256
	}
	m, err := golem.Open(context.Background(), modelPath, o)
	require.NoError(t, err)
	return m
}

// start serves m with c on a loopback port until the test ends.
func start(t *testing.T, m *golem.Model, c server.Config) *testServer {
	t.Helper()
	c.Model = m
	srv, err := server.New(c)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, stop := context.WithCancel(context.Background())
	ts := &testServer{url: "http://" + l.Addr().String(), m: m, srv: srv, stop: stop, done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve(ctx, l) }()
	closed := false
	ts.close = func() {
		if closed {
			return
		}
		closed = true
		stop()
		require.NoError(t, <-ts.done)
		require.NoError(t, m.Close())
	}
	t.Cleanup(ts.close)
	return ts
}

func (ts *testServer) client(opts ...option.RequestOption) *openai.Client {
	c := openai.NewClient(append([]option.RequestOption{option.WithBaseURL(ts.url + "/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0)}, opts...)...)
	return &c
}

// post sends body to path and returns the status and the decoded answer.
func (ts *testServer) post(t *testing.T, path, body string, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.url+path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func (ts *testServer) get(t *testing.T, path string, header ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.url+path, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any, http.Header) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var v map[string]any
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.Unmarshal(data, &v), "%s", data)
	}
	return res.StatusCode, v, res.Header
}

// metrics returns the samples of /metrics by name (labels included).
func (ts *testServer) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	res, err := http.Get(ts.url + "/metrics")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return out
}

// waitIdle waits (at most 30 s) until /metrics shows no active slot and
// an empty queue, and fails otherwise.
func (ts *testServer) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := ts.metrics(t)
		if m["golem_active_slots"] == 0 && m["golem_queue_length"] == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("slots still busy after 30 s: active %v, queued %v", m["golem_active_slots"], m["golem_queue_length"])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alone is what the library generates for a prompt (or a conversation) on
// its own: text, token count and stop reason.
type alone struct {
	text  string
	gen   int
	stop  golem.StopReason
	toks  []int32
	lps   []float32
	promp int
}

func collect(t *testing.T, seq func(func(golem.Token, error) bool)) alone {
	t.Helper()
	var a alone
	for tok, err := range seq {
		require.NoError(t, err)
		a.text += tok.Text
		if tok.End == nil {
			a.toks = append(a.toks, tok.ID)
			a.lps = append(a.lps, tok.LogProb)
			continue
		}
		a.gen, a.stop, a.promp = tok.End.GenTokens, tok.End.Stop, tok.End.PromptTokens
	}
	return a
}

func greedy(n int) golem.GenerateOptions { return golem.GenerateOptions{MaxTokens: n} }

// TestOpenAIClient: OpenAI's Go client gets, streamed and not, the chat
// and text completions the library gives for the same request, with the
// usage counts and finish reasons.
func TestOpenAIClient(t *testing.T) {
	m := openModel(t, golem.Options{Parallel: 4, ChatTemplate: "chatml"})
	ts := start(t, m, server.Config{})
	c := ts.client()
	ctx := context.Background()
	msgs := []golem.Message{{Role: "system", Content: "You tell stories."}, {Role: "user", Content: "Tell me about a cat."}}
	wantChat := collect(t, m.Chat(ctx, msgs, greedy(24)))
	require.Equal(t, 24, wantChat.gen)
	prompt := "Once upon a time"
	o := greedy(30)
	o.ParseSpecial = true
	wantText := collect(t, m.Generate(ctx, prompt, o))
	chatParams := openai.ChatCompletionNewParams{
		Model:       "stories260K",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You tell stories."), openai.UserMessage("Tell me about a cat.")},
		Temperature: openai.Float(0),
		MaxTokens:   openai.Int(24),
	}

	t.Run("chat", func(t *testing.T) {
		res, err := c.Chat.Completions.New(ctx, chatParams)
		require.NoError(t, err)
		require.Len(t, res.Choices, 1)
		require.Equal(t, wantChat.text, res.Choices[0].Message.Content)
		require.Equal(t, "length", res.Choices[0].FinishReason)
		require.EqualValues(t, wantChat.promp, res.Usage.PromptTokens)
		require.EqualValues(t, 24, res.Usage.CompletionTokens)
		require.EqualValues(t, wantChat.promp+24, res.Usage.TotalTokens)
		require.Equal(t, "chat.completion", string(res.Object))
		require.Equal(t, "stories260K", res.Model)
	})
	t.Run("chat streamed", func(t *testing.T) {
		p := chatParams
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := c.Chat.Completions.NewStreaming(ctx, p)
		var text, finish string
		var usage openai.CompletionUsage
		chunks := 0
		for stream.Next() {
			ch := stream.Current()
			chunks++
			if len(ch.Choices) > 0 {
				text += ch.Choices[0].Delta.Content
				if ch.Choices[0].FinishReason != "" {
					finish = ch.Choices[0].FinishReason
				}
			}
			if ch.Usage.TotalTokens > 0 {
				usage = ch.Usage
			}
		}
		require.NoError(t, stream.Err())
		require.Equal(t, wantChat.text, text)
		require.Equal(t, "length", finish)
		require.Greater(t, chunks, 5, "the reply came in pieces")
		require.EqualValues(t, 24, usage.CompletionTokens)
		require.EqualValues(t, wantChat.promp, usage.PromptTokens)
	})
	t.Run("completion", func(t *testing.T) {
		res, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model:       "stories260K",
			Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
			Temperature: openai.Float(0),
			MaxTokens:   openai.Int(30),
		})
		require.NoError(t, err)
		require.Equal(t, wantText.text, res.Choices[0].Text)
		require.Equal(t, openai.CompletionChoiceFinishReason("length"), res.Choices[0].FinishReason)
		require.EqualValues(t, wantText.promp, res.Usage.PromptTokens)
		require.EqualValues(t, 30, res.Usage.CompletionTokens)
	})
	t.Run("completion streamed", func(t *testing.T) {
		stream := c.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model:       "stories260K",
			Prompt:      openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
			Temperature: openai.Float(0),
			MaxTokens:   openai.Int(30),
		})
		var text string
		var finish openai.CompletionChoiceFinishReason
		for stream.Next() {
			for _, ch := range stream.Current().Choices {
				text += ch.Text
				if ch.FinishReason != "" {
					finish = ch.FinishReason
				}
			}
		}
		require.NoError(t, stream.Err())
		require.Equal(t, wantText.text, text)
		require.Equal(t, openai.CompletionChoiceFinishReason("length"), finish)
	})
	t.Run("completion of token ids, echoed", func(t *testing.T) {
		ids := m.Tokenize(prompt, golem.TokenizeOptions{})
		ids64 := make([]int64, len(ids))
		for i, id := range ids {
			ids64[i] = int64(id)
		}
		res, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model:       "stories260K",
			Prompt:      openai.CompletionNewParamsPromptUnion{OfArrayOfTokens: ids64},
			Temperature: openai.Float(0),
			MaxTokens:   openai.Int(30),
			Echo:        openai.Bool(true),
		})
		require.NoError(t, err)
		require.Equal(t, prompt+wantText.text, res.Choices[0].Text)
	})
	t.Run("logprobs", func(t *testing.T) {
		p := chatParams
		p.Logprobs = openai.Bool(true)
		p.TopLogprobs = openai.Int(3)
		res, err := c.Chat.Completions.New(ctx, p)
		require.NoError(t, err)
		lps := res.Choices[0].Logprobs.Content
		require.Len(t, lps, 24)
		o := greedy(24)
		o.LogProbs = true
		want := collect(t, m.Chat(ctx, msgs, o))
		var text string
		for i, lp := range lps {
			require.InDelta(t, want.lps[i], lp.Logprob, 1e-6)
			require.Equal(t, m.Tokenizer().Piece(want.toks[i]), lp.Token)
			require.Len(t, lp.TopLogprobs, 3)
			// Greedy: the token chosen is the most likely one.
			require.Equal(t, lp.Token, lp.TopLogprobs[0].Token)
			require.InDelta(t, lp.Logprob, lp.TopLogprobs[0].Logprob, 1e-6)
			require.GreaterOrEqual(t, lp.TopLogprobs[1].Logprob, lp.TopLogprobs[2].Logprob)
			require.Less(t, lp.Logprob, 0.0)
			text += lp.Token
		}
		require.Equal(t, res.Choices[0].Message.Content, text, "the tokens spell the reply")
		cres, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model: "stories260K", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
			Temperature: openai.Float(0), MaxTokens: openai.Int(5), Logprobs: openai.Int(2),
		})
		require.NoError(t, err)
		clp := cres.Choices[0].Logprobs
		require.Len(t, clp.Tokens, 5)
		require.Len(t, clp.TopLogprobs, 5)
		require.Len(t, clp.TopLogprobs[0], 2)
		require.Equal(t, []int64{0, int64(len(clp.Tokens[0]))}, clp.TextOffset[:2])
	})
	t.Run("stop string", func(t *testing.T) {
		// The reply up to its first " the" (greedy text has one).
		i := strings.Index(wantText.text, " the")
		require.Positive(t, i, wantText.text)
		res, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model: "stories260K", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
			Temperature: openai.Float(0), MaxTokens: openai.Int(30),
			Stop: openai.CompletionNewParamsStopUnion{OfStringArray: []string{" the", "zzz"}},
		})
		require.NoError(t, err)
		require.Equal(t, wantText.text[:i], res.Choices[0].Text)
		require.Equal(t, openai.CompletionChoiceFinishReason("stop"), res.Choices[0].FinishReason)
	})
	t.Run("seed", func(t *testing.T) {
		sampled := func(seed int64) string {
			res, err := c.Completions.New(ctx, openai.CompletionNewParams{
				Model: "stories260K", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
				Temperature: openai.Float(0.9), MaxTokens: openai.Int(30), Seed: openai.Int(seed),
			})
			require.NoError(t, err)
			return res.Choices[0].Text
		}
		o := golem.GenerateOptions{MaxTokens: 30, Temperature: 0.9, TopP: 1, Seed: 7, ParseSpecial: true}
		want := collect(t, m.Generate(ctx, prompt, o))
		require.Equal(t, want.text, sampled(7))
		require.Equal(t, want.text, sampled(7))
	})
	t.Run("models", func(t *testing.T) {
		page, err := c.Models.List(ctx)
		require.NoError(t, err)
		require.Len(t, page.Data, 1)
		require.Equal(t, "stories260K", page.Data[0].ID)
		model, err := c.Models.Get(ctx, "stories260K")
		require.NoError(t, err)
		require.Equal(t, "stories260K", model.ID)
		_, err = c.Models.Get(ctx, "gpt-4")
		var ae *openai.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusNotFound, ae.StatusCode)
	})
	ts.waitIdle(t)
}

// TestErrors: bad requests are answered with 4xx codes in OpenAI's error
// shape, naming the field at fault; sampling options are checked by the
// library's own validation.
func TestErrors(t *testing.T) {
	m := openModel(t, golem.Options{Parallel: 2, ChatTemplate: "chatml"})
	ts := start(t, m, server.Config{MaxBodyBytes: 4096})
	long := strings.Repeat("Once upon a time there was a cat. ", 60)
	tests := []struct {
		name, path, body string
		status           int
		param, code      string
		msg              string
	}{
		{"unknown model", "/v1/chat/completions", `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`, 404, "model", "model_not_found", `"gpt-4" does not exist`},
		{"unknown model (completions)", "/v1/completions", `{"model":"gpt-4","prompt":"hi"}`, 404, "model", "model_not_found", "stories260K"},
		{"prompt longer than the context", "/v1/completions", `{"prompt":"` + long[:2000] + `"}`, 400, "", "context_length_exceeded", "exceed the context of 256"},
		{"chat longer than the context", "/v1/chat/completions", `{"messages":[{"role":"user","content":"` + long[:2000] + `"}]}`, 400, "", "context_length_exceeded", "context of 256"},
		{"top_p", "/v1/completions", `{"prompt":"hi","top_p":2}`, 400, "top_p", "", "top_p 2: want a value in [0, 1]"},
		{"temperature", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"temperature":-1}`, 400, "temperature", "", "temperature -1: want a finite number ≥ 0"},
		{"max_tokens", "/v1/completions", `{"prompt":"hi","max_tokens":-3}`, 400, "max_tokens", "", "max_tokens -3"},
		{"top_k", "/v1/completions", `{"prompt":"hi","top_k":-1}`, 400, "top_k", "", "top_k -1"},
		{"min_p", "/v1/completions", `{"prompt":"hi","min_p":1.5}`, 400, "min_p", "", "min_p 1.5"},
		{"repeat_last_n", "/v1/completions", `{"prompt":"hi","repeat_last_n":-2}`, 400, "repeat_last_n", "", "repeat_last_n -2"},
		{"top_logprobs", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":21}`, 400, "top_logprobs", "", "top_logprobs 21: want a value in [0, 20]"},
		{"top_logprobs without logprobs", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"top_logprobs":2}`, 400, "top_logprobs", "", "needs logprobs"},
		{"logprobs (completions)", "/v1/completions", `{"prompt":"hi","logprobs":30}`, 400, "logprobs", "", "logprobs 30"},
		{"n", "/v1/completions", `{"prompt":"hi","n":2}`, 400, "n", "", "one choice"},
		{"stop", "/v1/completions", `{"prompt":"hi","stop":5}`, 400, "stop", "", "a string or an array"},
		{"malformed JSON", "/v1/completions", `{"prompt":`, 400, "", "", "malformed JSON"},
		{"not an object", "/v1/completions", `[1,2]`, 400, "", "", "want an object"},
		{"wrong type", "/v1/completions", `{"prompt":"hi","max_tokens":"many"}`, 400, "max_tokens", "", "max_tokens: want an integer"},
		{"wrong type (chat)", "/v1/chat/completions", `{"messages":"hi"}`, 400, "messages", "", "messages: want an array"},
		{"no messages", "/v1/chat/completions", `{"messages":[]}`, 400, "messages", "", "at least one"},
		{"unknown role", "/v1/chat/completions", `{"messages":[{"role":"tool","content":"x"}]}`, 400, "messages[0].role", "", `"tool"`},
		{"image part", "/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, 400, "messages[0].content", "", "image_url"},
		{"tools", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}`, 400, "tools", "", "tools"},
		{"no prompt", "/v1/completions", `{}`, 400, "prompt", "", "missing"},
		{"two prompts", "/v1/completions", `{"prompt":["a","b"]}`, 400, "prompt", "", "2 prompts"},
		{"body over the limit", "/v1/completions", `{"prompt":"` + strings.Repeat("x", 5000) + `"}`, 413, "", "request_too_large", "4096 bytes"},
		{"token outside the vocabulary", "/detokenize", `{"tokens":[1,9999]}`, 400, "tokens", "", "tokens[1] 9999"},
		{"tokenize without content", "/tokenize", `{}`, 400, "content", "", "content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := ts.post(t, tc.path, tc.body, "Content-Type", "application/json")
			require.Equal(t, tc.status, status, "%v", body)
			e, ok := body["error"].(map[string]any)
			require.True(t, ok, "OpenAI's error shape: %v", body)
			for _, k := range []string{"message", "type", "param", "code"} {
				require.Contains(t, e, k)
			}
			require.Contains(t, e["message"], tc.msg)
			if tc.param != "" {
				require.Equal(t, tc.param, e["param"])
			}
			if tc.code != "" {
				require.Equal(t, tc.code, e["code"])
			}
		})
	}
	t.Run("unknown path and method", func(t *testing.T) {
		status, body, _ := ts.get(t, "/v2/nothing")
		require.Equal(t, http.StatusNotFound, status)
		require.Contains(t, body["error"], "message")
		status, _, _ = ts.get(t, "/v1/completions")
		require.Equal(t, http.StatusMethodNotAllowed, status)
	})
	t.Run("OpenAI client sees the status", func(t *testing.T) {
		_, err := ts.client().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "stories260K", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, TopP: openai.Float(3)})
		var ae *openai.Error
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusBadRequest, ae.StatusCode)
		require.Equal(t, "top_p", ae.Param)
	})
	ts.waitIdle(t)
	got := ts.metrics(t)
	require.Equal(t, 1.0, got[`golem_requests_total{endpoint="completions",status="413"}`])
}

// TestAPIKey: with a key, every endpoint but /health and the chat page
// wants it.
func TestAPIKey(t *testing.T) {
	m := openModel(t, golem.Options{ChatTemplate: "chatml"})
	ts := start(t, m, server.Config{APIKey: "s3cret"})
	for _, path := range []string{"/v1/models", "/metrics"} {
		status, body, _ := ts.get(t, path)
		require.Equal(t, http.StatusUnauthorized, status, path)
		require.Equal(t, "invalid_api_key", body["error"].(map[string]any)["code"])
		status, _, _ = ts.get(t, path, "Authorization", "Bearer wrong")
		require.Equal(t, http.StatusUnauthorized, status, path)
		status, _, _ = ts.get(t, path, "Authorization", "Bearer s3cret")
		require.Equal(t, http.StatusOK, status, path)
	}
	status, _, _ := ts.post(t, "/v1/completions", `{"prompt":"hi","max_tokens":2}`)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = ts.post(t, "/tokenize", `{"content":"hi"}`, "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusOK, status)
	status, _, _ = ts.get(t, "/health")
	require.Equal(t, http.StatusOK, status)
	status, _, _ = ts.get(t, "/")
	require.Equal(t, http.StatusOK, status)
	_, err := ts.client().Models.List(context.Background())
	var ae *openai.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusUnauthorized, ae.StatusCode)
	_, err = ts.client(option.WithAPIKey("s3cret")).Models.List(context.Background())
	require.NoError(t, err)
}

// TestChatTemplateMissing: a model without a chat template golem renders
// answers 400 naming the problem on /v1/chat/completions and still
// serves completions.
func TestChatTemplateMissing(t *testing.T) {
	m := openModel(t, golem.Options{})
	ts := start(t, m, server.Config{})
	status, body, _ := ts.post(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`)
	require.Equal(t, http.StatusBadRequest, status)
	e := body["error"].(map[string]any)
	require.Equal(t, "chat_template_unsupported", e["code"])
	require.Contains(t, e["message"], "the model has no chat template")
	require.Contains(t, e["message"], "--template")
	status, body, _ = ts.post(t, "/v1/completions", `{"prompt":"Once","max_tokens":4}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
}

// TestChatMessagesRefused: a conversation the template refuses (roles
// that do not alternate, in Llama 2's format) is a 400 about messages.
func TestChatMessagesRefused(t *testing.T) {
	m := openModel(t, golem.Options{ChatTemplate: "llama2"})
	ts := start(t, m, server.Config{})
	status, body, _ := ts.post(t, "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`)
	require.Equal(t, http.StatusBadRequest, status)
	e := body["error"].(map[string]any)
	require.Equal(t, "messages", e["param"])
	require.Contains(t, e["message"], "roles must alternate")
}

// TestTokenize: llama-server's /tokenize and /detokenize shapes.
func TestTokenize(t *testing.T) {
	m := openModel(t, golem.Options{})
	ts := start(t, m, server.Config{})
	tests := []struct {
		body string
		want string
	}{
		{`{"content":"Hello world"}`, `{"tokens":[346,306,414,263,304,341]}`},
		{`{"content":"Hello world","add_special":true}`, `{"tokens":[1,346,306,414,263,304,341]}`},
		{`{"content":"<s>Hello","add_special":false}`, `{"tokens":[1,346,306,414]}`},
		{`{"content":"<s>","parse_special":false}`, ""},
		{`{"content":"Hello","with_pieces":true}`, `{"tokens":[{"id":346,"piece":" He"},{"id":306,"piece":"ll"},{"id":414,"piece":"o"}]}`},
		{`{"content":""}`, `{"tokens":[]}`},
	}
	for _, tc := range tests {
		res, err := http.Post(ts.url+"/tokenize", "application/json", strings.NewReader(tc.body))
		require.NoError(t, err)
		data, err := io.ReadAll(res.Body)
		res.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode, "%s", data)
		if tc.want == "" {
			var v struct{ Tokens []int32 }
			require.NoError(t, json.Unmarshal(data, &v))
			require.NotContains(t, v.Tokens, int32(1), "<s> stays text without parse_special")
			continue
		}
		require.JSONEq(t, tc.want, string(data), tc.body)
	}
	status, body, _ := ts.post(t, "/detokenize", `{"tokens":[1,346,306,414,263,304,341]}`)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "Hello world", body["content"])
}

// TestMetricsAndHealth: /metrics is Prometheus text with the families
// the server promises; /health is ok.
func TestMetricsAndHealth(t *testing.T) {
	m := openModel(t, golem.Options{Parallel: 3})
	ts := start(t, m, server.Config{})
	status, body, _ := ts.get(t, "/health")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ok", body["status"])
	status, body, _ = ts.post(t, "/v1/completions", `{"prompt":"Once upon a time","max_tokens":7,"temperature":0}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	usage := body["usage"].(map[string]any)
	got := ts.metrics(t)
	require.Equal(t, 1.0, got[`golem_requests_total{endpoint="completions",status="200"}`])
	require.Equal(t, 7.0, got["golem_tokens_generated_total"])
	require.Equal(t, usage["prompt_tokens"], got["golem_prompt_tokens_total"])
	require.Equal(t, 1.0, got["golem_time_to_first_token_seconds_count"])
	require.Equal(t, 1.0, got[`golem_time_to_first_token_seconds_bucket{le="+Inf"}`])
	require.Contains(t, got, "golem_time_to_first_token_seconds_sum")
	require.Contains(t, got, "golem_decode_tokens_per_second")
	require.Positive(t, got["golem_decode_tokens_per_second"], "7 tokens in the last 10 s")
	require.Equal(t, 0.0, got["golem_queue_length"])
	require.Equal(t, 0.0, got["golem_active_slots"])
	require.Equal(t, 3.0, got["golem_slots"])
}

// streamRequest starts a streamed completion and returns its body.
func streamRequest(t *testing.T, ctx context.Context, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/completions", strings.NewReader(body))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	return res
}

// readEvent returns the next "data:" payload of a stream.
func readEvent(br *bufio.Reader) (string, error) {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if data, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "data: "); ok {
			return data, nil
		}
	}
}

// TestQueueFull: with every sequence busy and the queue full, a request
// is answered 429 at once; the others go on.
func TestQueueFull(t *testing.T) {
	m := openModel(t, golem.Options{Parallel: 1, Queue: 1})
	ts := start(t, m, server.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	long := `{"prompt":"Once","max_tokens":240,"ignore_eos":true,"stream":true}`
	first := streamRequest(t, ctx, ts.url, long)
	defer first.Body.Close()
	_, err := readEvent(bufio.NewReader(first.Body)) // it runs
	require.NoError(t, err)
	queued := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.url+"/v1/completions", strings.NewReader(long))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			queued <- 0
			return
		}
		res.Body.Close()
		queued <- res.StatusCode
	}()
	deadline := time.Now().Add(30 * time.Second)
	for ts.metrics(t)["golem_queue_length"] != 1 {
		require.True(t, time.Now().Before(deadline), "the second request never queued")
		time.Sleep(10 * time.Millisecond)
	}
	status, body, header := ts.post(t, "/v1/completions", `{"prompt":"Once","max_tokens":2}`)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "queue_full", body["error"].(map[string]any)["code"])
	require.Equal(t, "1", header.Get("Retry-After"))
	cancel()
	<-queued
	ts.waitIdle(t)
}

// TestShutdown: on shutdown a request in flight finishes within the grace
// period; after it the ones still running are cancelled, their slots
// freed, and Serve returns; the listener no longer accepts connections.
func TestShutdown(t *testing.T) {
	t.Run("requests in flight finish", func(t *testing.T) {
		m := openModel(t, golem.Options{Parallel: 2})
		ts := start(t, m, server.Config{ShutdownTimeout: time.Minute})
		res := streamRequest(t, context.Background(), ts.url, `{"prompt":"Once","max_tokens":60,"ignore_eos":true,"stream":true,"temperature":0}`)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		_, err := readEvent(br)
		require.NoError(t, err)
		ts.stop()
		var last string
		for {
			ev, err := readEvent(br)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			last = ev
		}
		require.Equal(t, "[DONE]", last, "the stream ran to its end")
		require.NoError(t, <-ts.done)
		ts.done <- nil
		_, err = net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
		require.Error(t, err, "no longer listening")
	})
	t.Run("then cancelled", func(t *testing.T) {
		// A request far longer than the grace period on any machine:
		// 4000 tokens (about 0.4 s at stories260K's fastest) against 1 ms.
		m := openModel(t, golem.Options{Parallel: 2, Context: 4096})
		ts := start(t, m, server.Config{ShutdownTimeout: time.Millisecond})
		res := streamRequest(t, context.Background(), ts.url, `{"prompt":"Once","max_tokens":4000,"ignore_eos":true,"stream":true}`)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		_, err := readEvent(br)
		require.NoError(t, err)
		ts.stop()
		require.NoError(t, <-ts.done)
		ts.done <- nil
		require.Equal(t, golem.Load{}, m.Load(), "the cancelled request left its slot")
		var last string
		for {
			ev, err := readEvent(br)
			if err != nil {
				break
			}
			last = ev
		}
		require.NotEqual(t, "[DONE]", last, "the stream was cut")
	})
}
