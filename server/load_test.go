package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem"
	"github.com/golem-llm/golem/server"
)

// loadClients is how many clients the load tests run at once, against
// loadParallel sequences.
const (
	loadClients  = 32
	loadParallel = 8
	loadTimeout  = 3 * time.Minute // the bound on each load test's requests
)

var loadNames = []string{"Lily", "Tom", "Sue", "Ben", "Max", "Mia", "Sam", "Anna"}
var loadOpenings = []string{"Once upon a time, %s", "%s had a big", "One day %s went to the", "%s and the cat"}

// loadPrompt is client i's prompt: 32 different ones.
func loadPrompt(i int) string {
	return fmt.Sprintf(loadOpenings[i%len(loadOpenings)], loadNames[i/len(loadOpenings)%len(loadNames)])
}

// request is one client's request: a chat or a text completion, streamed
// or not, by i.
type loadRequest struct {
	chat, stream bool
	prompt       string
	maxTokens    int64
}

func loadRequestOf(i int, maxTokens int64) loadRequest {
	return loadRequest{chat: i%4 < 2, stream: i%2 == 1, prompt: loadPrompt(i), maxTokens: maxTokens}
}

// run sends r with OpenAI's client and returns the text, or the error.
// afterFirst, when set, is called once the first text arrives (streamed
// requests only).
func (r loadRequest) run(ctx context.Context, c *openai.Client, afterFirst func(), opts ...option.RequestOption) (string, error) {
	if r.chat {
		p := openai.ChatCompletionNewParams{Model: "stories260K", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(r.prompt)},
			Temperature: openai.Float(0), MaxTokens: openai.Int(r.maxTokens)}
		if !r.stream {
			res, err := c.Chat.Completions.New(ctx, p, opts...)
			if err != nil {
				return "", err
			}
			return res.Choices[0].Message.Content, nil
		}
		s := c.Chat.Completions.NewStreaming(ctx, p, opts...)
		var text string
		for s.Next() {
			if ch := s.Current().Choices; len(ch) > 0 && ch[0].Delta.Content != "" {
				text += ch[0].Delta.Content
				if afterFirst != nil {
					afterFirst()
					afterFirst = nil
				}
			}
		}
		return text, s.Err()
	}
	p := openai.CompletionNewParams{Model: "stories260K", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(r.prompt)},
		Temperature: openai.Float(0), MaxTokens: openai.Int(r.maxTokens)}
	if !r.stream {
		res, err := c.Completions.New(ctx, p, opts...)
		if err != nil {
			return "", err
		}
		return res.Choices[0].Text, nil
	}
	s := c.Completions.NewStreaming(ctx, p, opts...)
	var text string
	for s.Next() {
		for _, ch := range s.Current().Choices {
			if ch.Text != "" {
				text += ch.Text
				if afterFirst != nil {
					afterFirst()
					afterFirst = nil
				}
			}
		}
	}
	return text, s.Err()
}

// TestLoad: 32 clients at once against 8 sequences, chats and text
// completions, streamed and not: every request completes, none is lost,
// and each greedy output equals what the same request gets alone.
func TestLoad(t *testing.T) {
	m := openModel(t, golem.Options{Parallel: loadParallel, Queue: loadClients, ChatTemplate: "chatml"})
	ts := start(t, m, server.Config{})
	c := ts.client()
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	reqs := make([]loadRequest, loadClients)
	alone := make([]string, loadClients)
	for i := range reqs {
		reqs[i] = loadRequestOf(i, int64(20+i%5*10))
		var err error
		alone[i], err = reqs[i].run(ctx, c, nil)
		require.NoError(t, err, "request %d alone", i)
		require.NotEmpty(t, alone[i])
	}
	ts.waitServed(t, loadClients)

	got := make([]string, loadClients)
	errs := make([]error, loadClients)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			got[i], errs[i] = reqs[i].run(ctx, c, nil)
		}()
	}
	close(ready)
	wg.Wait()
	for i := range reqs {
		require.NoError(t, errs[i], "request %d", i)
		require.Equal(t, alone[i], got[i], "request %d (%+v): its output in the batch differs from its output alone", i, reqs[i])
	}
	ts.waitIdle(t)
	ts.waitServed(t, 2*loadClients) // alone, then together: none lost
}

// waitServed waits (at most 30 s) until /metrics counts n generation
// requests answered 200, and fails if it counts more.
func (ts *testServer) waitServed(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := ts.metrics(t)
		served := m[`golem_requests_total{endpoint="chat",status="200"}`] + m[`golem_requests_total{endpoint="completions",status="200"}`]
		require.LessOrEqual(t, served, float64(n), "more requests answered than sent")
		if served == float64(n) {
			return
		}
		require.True(t, time.Now().Before(deadline), "%v of %d requests answered 200 after 30 s", served, n)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLoadCancel: 32 streaming clients at once, half of which go away
// mid-stream: the others complete with their outputs alone, and every
// sequence is freed (/metrics: no active slot, an empty queue).
func TestLoadCancel(t *testing.T) {
	m := openModel(t, golem.Options{Parallel: loadParallel, Queue: loadClients, ChatTemplate: "chatml"})
	ts := start(t, m, server.Config{})
	c := ts.client()
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	ignoreEOS := option.WithJSONSet("ignore_eos", true)
	reqs := make([]loadRequest, loadClients)
	alone := make([]string, loadClients)
	for i := range reqs {
		reqs[i] = loadRequestOf(i, 200)
		reqs[i].stream = true
		if i%2 == 1 { // the clients that stay
			var err error
			alone[i], err = reqs[i].run(ctx, c, nil, ignoreEOS)
			require.NoError(t, err, "request %d alone", i)
		}
	}
	got := make([]string, loadClients)
	errs := make([]error, loadClients)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			rctx := ctx
			var afterFirst func()
			if i%2 == 0 {
				var leave context.CancelFunc
				rctx, leave = context.WithCancel(ctx)
				defer leave()
				afterFirst = leave // gone after the first text
			}
			got[i], errs[i] = reqs[i].run(rctx, c, afterFirst, ignoreEOS)
		}()
	}
	close(ready)
	wg.Wait()
	require.NoError(t, ctx.Err(), "the load test ran past its bound")
	for i := range reqs {
		if i%2 == 0 {
			require.ErrorIs(t, errs[i], context.Canceled, "request %d", i)
			continue
		}
		require.NoError(t, errs[i], "request %d", i)
		require.Equal(t, alone[i], got[i], "request %d (%+v)", i, reqs[i])
	}
	ts.waitIdle(t)
	require.Equal(t, golem.Load{}, m.Load())
}
