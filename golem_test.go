package golem_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/synth"
)

const stories = "../shared/models/stories260K.gguf"

func open(t *testing.T, o golem.Options) *golem.Model {
	t.Helper()
	m, err := golem.Open(context.Background(), stories, o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

// generation is what a Generate or Chat iteration gave.
type generation struct {
	ids   []int32
	lps   []float32
	times []time.Time // each token's Time, the last token's included
	text  string
	end   *golem.Stats
	err   error
}

func drain(seq func(func(golem.Token, error) bool)) generation {
	var g generation
	var b strings.Builder
	for tok, err := range seq {
		b.WriteString(tok.Text)
		g.times = append(g.times, tok.Time)
		if err != nil {
			g.err = err
		}
		if tok.End != nil {
			g.end = tok.End
			break
		}
		g.ids, g.lps = append(g.ids, tok.ID), append(g.lps, tok.LogProb)
	}
	g.text = b.String()
	return g
}

// vulkanOrSkip opens a model on Vulkan, or skips (fails under CI=true)
// when no Vulkan device is there.
func openOn(t *testing.T, device string, o golem.Options) *golem.Model {
	t.Helper()
	o.Device = device
	m, err := golem.Open(context.Background(), stories, o)
	if errors.Is(err, golem.ErrDeviceUnavailable) || errors.Is(err, golem.ErrNoDevice) {
		if os.Getenv("CI") == "true" && device == "vulkan" {
			t.Fatalf("no Vulkan device under CI (lavapipe is installed by make deps): %v", err)
		}
		t.Skipf("%s: %v", device, err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Close()) })
	return m
}

// generateTogether generates from every batchPrompts prompt at once (one
// goroutine each, so that m decodes them together), prompt i with opts(i).
func generateTogether(ctx context.Context, m *golem.Model, opts func(int) golem.GenerateOptions) []generation {
	got := make([]generation, len(batchPrompts))
	var wg sync.WaitGroup
	for i, p := range batchPrompts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = drain(m.Generate(ctx, p, opts(i)))
		}()
	}
	wg.Wait()
	return got
}

var batchPrompts = []string{"Once upon a time", "Lily and Tom went to the park", "The cat", "One day, a little dog named Max found a big red ball in the garden"}

// TestBatchEqualsAlone is the batching guarantee on every backend, with
// each KV cache type: greedy output of a sequence decoded together with
// others equals its output alone, and, on the CPU backends, so do its
// log-probabilities, bit for bit. On the GPUs the batched kernels may add
// in another order, and their log-probabilities agree within 1e-3 (f32
// cache) or 4e-3 (f16: a key or value that differs in its last float32
// bits may round to the neighbouring f16, 2⁻¹¹ apart).
func TestBatchEqualsAlone(t *testing.T) {
	for _, device := range []string{"cpu", "cpu:ref", "vulkan", "cuda"} {
		for _, kv := range []struct {
			name string
			tol  float64
		}{{"f16", 4e-3}, {"f32", 1e-3}} {
			t.Run(device+"/"+kv.name, func(t *testing.T) {
				if testing.Short() && device == "vulkan" {
					t.Skip("-short: lavapipe takes seconds")
				}
				ctx := context.Background()
				opts := func(i int) golem.GenerateOptions {
					return golem.GenerateOptions{MaxTokens: 24 + 5*i, LogProbs: true}
				}
				alone := make([]generation, len(batchPrompts))
				for i, p := range batchPrompts {
					m := openOn(t, device, golem.Options{Context: 128, KVType: kv.name})
					alone[i] = drain(m.Generate(ctx, p, opts(i)))
					require.NoError(t, alone[i].err)
					require.Equal(t, golem.StopLength, alone[i].end.Stop)
				}
				m := openOn(t, device, golem.Options{Context: 128, Parallel: len(batchPrompts), KVType: kv.name})
				got := generateTogether(ctx, m, opts)
				for i := range batchPrompts {
					require.NoError(t, got[i].err)
					for j, at := range got[i].times {
						require.False(t, at.IsZero(), "prompt %d token %d has no time", i, j)
						require.False(t, j > 0 && at.Before(got[i].times[j-1]), "prompt %d: token %d's time goes back", i, j)
					}
					require.Equal(t, alone[i].text, got[i].text, "prompt %d", i)
					require.Equal(t, alone[i].ids, got[i].ids, "prompt %d", i)
					if strings.HasPrefix(device, "cpu") {
						require.Equal(t, alone[i].lps, got[i].lps, "prompt %d: log-probabilities", i)
					} else {
						require.InDeltaSlice(t, alone[i].lps, got[i].lps, kv.tol, "prompt %d: log-probabilities", i)
					}
				}
			})
		}
	}
}

// TestBatchEqualsAloneQuantized is TestBatchEqualsAlone on the CPU for
// synthetic models with q8_0 and q4_0 matrices (stories260K is f32): the
// batched step runs their matmuls as multi-row GEMVs that give each row
// the bits of a one-row product.
func TestBatchEqualsAloneQuantized(t *testing.T) {
	shape, err := synth.Lookup("tiny")
	require.NoError(t, err)
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		t.Run(dt.String(), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "tiny.gguf")
			require.NoError(t, synth.Write(ctx, path, shape, synth.Options{Type: dt, Seed: 5, Vocab: stories}))
			opts := golem.GenerateOptions{MaxTokens: 16, LogProbs: true, IgnoreEOS: true}
			alone := make([]generation, len(batchPrompts))
			for i, p := range batchPrompts {
				m, err := golem.Open(ctx, path, golem.Options{Device: "cpu", Context: 64})
				require.NoError(t, err)
				alone[i] = drain(m.Generate(ctx, p, opts))
				require.NoError(t, alone[i].err)
				require.NoError(t, m.Close())
			}
			m, err := golem.Open(ctx, path, golem.Options{Device: "cpu", Context: 64, Parallel: len(batchPrompts)})
			require.NoError(t, err)
			defer m.Close()
			got := generateTogether(ctx, m, func(int) golem.GenerateOptions { return opts })
			for i := range batchPrompts {
				require.NoError(t, got[i].err)
				require.Equal(t, alone[i].ids, got[i].ids, "prompt %d", i)
				require.Equal(t, alone[i].lps, got[i].lps, "prompt %d: log-probabilities", i)
			}
		})
	}
}

func TestDefaultKVType(t *testing.T) {
	require.Equal(t, graph.DefaultKVType.String(), golem.DefaultKVType)
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := golem.Open(ctx, stories, golem.Options{Device: "nope"})
	require.ErrorIs(t, err, golem.ErrNoDevice)
	_, err = golem.Open(ctx, "missing.gguf", golem.Options{})
	require.ErrorContains(t, err, "missing.gguf")
	for _, tc := range []struct {
		o    golem.Options
		want string
	}{
		{golem.Options{KVType: "q4_0"}, "golem: Options.KVType q4_0: want f32, f16 or bf16"},
		{golem.Options{Parallel: -1}, "golem: Options.Parallel -1"},
		{golem.Options{Threads: -2}, "golem: Options.Threads -2"},
		{golem.Options{Context: -1}, "golem: Options.Context -1"},
		{golem.Options{ChatTemplate: "nope"}, "golem: Options.ChatTemplate nope"},
	} {
		_, err := golem.Open(ctx, stories, tc.o)
		require.ErrorContains(t, err, tc.want)
	}
	require.ErrorContains(t, golem.GenerateOptions{TopP: 2}.Validate(), "golem: GenerateOptions.TopP 2: want a value in [0, 1]")
	require.ErrorContains(t, golem.GenerateOptions{MaxTokens: -1}.Validate(), "golem: GenerateOptions.MaxTokens -1")
}

func TestGenerateErrors(t *testing.T) {
	ctx := context.Background()
	m := open(t, golem.Options{Device: "cpu", Context: 16})
	g := drain(m.Generate(ctx, strings.Repeat("Once upon a time ", 10), golem.GenerateOptions{}))
	require.ErrorIs(t, g.err, golem.ErrContextFull)
	g = drain(m.Generate(ctx, "x", golem.GenerateOptions{TopP: 2}))
	require.ErrorContains(t, g.err, "GenerateOptions.TopP")
	g = drain(m.Generate(ctx, "", golem.GenerateOptions{NoBOS: true}))
	require.ErrorContains(t, g.err, "the prompt is empty")

	// A full context ends generation; it is not an error.
	g = drain(m.Generate(ctx, "Once upon a time", golem.GenerateOptions{}))
	require.NoError(t, g.err)
	require.Equal(t, golem.StopContext, g.end.Stop)

	// Cancelling the context ends the iteration with its error and the
	// text so far (a context far longer than what runs before the cancel).
	m = open(t, golem.Options{Device: "cpu", Context: 2048})
	cctx, ccancel := context.WithCancel(ctx)
	defer ccancel()
	n := 0
	var last error
	var end *golem.Stats
	for tok, err := range m.Generate(cctx, "Once", golem.GenerateOptions{IgnoreEOS: true}) {
		n++
		if n == 3 {
			ccancel()
		}
		if tok.End != nil {
			last, end = err, tok.End
		}
	}
	require.ErrorIs(t, last, context.Canceled)
	require.Equal(t, golem.StopCancelled, end.Stop)
}

// TestQueueFull submits ten long requests at once to a model with one
// sequence and one place in its queue: eight are refused with
// ErrQueueFull at once.
func TestQueueFull(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := open(t, golem.Options{Device: "cpu", Context: 2048, Queue: 1})
	refused := make(chan error, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, err := range m.Generate(ctx, "Once", golem.GenerateOptions{IgnoreEOS: true}) {
				if errors.Is(err, golem.ErrQueueFull) {
					refused <- err
				}
			}
		}()
	}
	for range 8 {
		require.ErrorContains(t, <-refused, "a queue of 1")
	}
	cancel()
	wg.Wait()
	require.Empty(t, refused)
}

func TestChatAndSessions(t *testing.T) {
	ctx := context.Background()
	m := open(t, golem.Options{Device: "cpu", Context: 256})
	_, err := m.NewSession(golem.SessionOptions{})
	require.ErrorIs(t, err, golem.ErrNoChatTemplate)
	require.ErrorContains(t, drain(m.Chat(ctx, nil, golem.GenerateOptions{})).err, "no chat template")

	m = open(t, golem.Options{Device: "cpu", Context: 256, ChatTemplate: "chatml"})
	require.Equal(t, "chatml", m.Info().ChatTemplate)
	msgs := []golem.Message{{Role: "system", Content: "You tell stories."}, {Role: "user", Content: "Tell me a story"}}
	oneShot := drain(m.Chat(ctx, msgs, golem.GenerateOptions{MaxTokens: 12}))
	require.NoError(t, oneShot.err)

	s, err := m.NewSession(golem.SessionOptions{System: "You tell stories."})
	require.NoError(t, err)
	turn := drain(s.Chat(ctx, "Tell me a story", golem.GenerateOptions{MaxTokens: 12}))
	require.NoError(t, turn.err)
	require.Equal(t, oneShot.text, turn.text, "a session's first turn is Model.Chat of the same messages")
	require.Len(t, s.Messages(), 3)
	require.Equal(t, strings.TrimSpace(turn.text), s.Messages()[2].Content)

	// Turns past the context drop the oldest ones.
	dropped := 0
	for range 8 {
		g := drain(s.Chat(ctx, "Tell me a story about a cat", golem.GenerateOptions{MaxTokens: 24}))
		require.NoError(t, g.err)
		dropped += g.end.Dropped
	}
	require.Positive(t, dropped)
	require.Equal(t, "system", s.Messages()[0].Role)
	g := drain(s.Chat(ctx, strings.Repeat("story ", 400), golem.GenerateOptions{}))
	require.ErrorIs(t, g.err, golem.ErrContextFull)
	require.ErrorContains(t, g.err, "more than the")

	// One reply at a time.
	busy := make(chan error, 1)
	for range s.Chat(ctx, "Tell me a story", golem.GenerateOptions{MaxTokens: 4}) {
		select {
		case busy <- drain(s.Chat(ctx, "again", golem.GenerateOptions{MaxTokens: 4})).err:
		default:
		}
	}
	require.ErrorIs(t, <-busy, golem.ErrBusy)

	require.NoError(t, s.Close())
	require.ErrorIs(t, drain(s.Chat(ctx, "x", golem.GenerateOptions{})).err, golem.ErrClosed)
}

func TestCloseEndsRequests(t *testing.T) {
	ctx := context.Background()
	m, err := golem.Open(ctx, stories, golem.Options{Device: "cpu", ChatTemplate: "chatml", Context: 2048})
	require.NoError(t, err)
	s, err := m.NewSession(golem.SessionOptions{})
	require.NoError(t, err)
	var g generation
	n := 0
	for tok, err := range m.Generate(ctx, "Once", golem.GenerateOptions{IgnoreEOS: true}) {
		n++
		if n == 2 {
			require.NoError(t, m.Close())
		}
		if tok.End != nil {
			g.err = err
		}
	}
	require.ErrorIs(t, g.err, golem.ErrClosed)
	require.ErrorIs(t, drain(m.Generate(ctx, "Once", golem.GenerateOptions{})).err, golem.ErrClosed)
	require.ErrorIs(t, drain(s.Chat(ctx, "x", golem.GenerateOptions{})).err, golem.ErrClosed)
	_, err = m.NewSession(golem.SessionOptions{})
	require.ErrorIs(t, err, golem.ErrClosed)
	require.NoError(t, m.Close())
}

// TestTokenizerVocabOnly opens a llama.cpp vocab-only GGUF (no weights) and
// checks a few strings of its suite.
func TestTokenizerVocabOnly(t *testing.T) {
	path := "../shared/testdata/vocab/ggml-vocab-llama-spm.gguf"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("missing %s", path)
	}
	tok, err := golem.OpenTokenizer(path)
	require.NoError(t, err)
	require.Equal(t, []int32{15043, 3186}, tok.Tokenize("Hello world", golem.TokenizeOptions{NoBOS: true}))
	require.Equal(t, []int32{1, 15043, 3186}, tok.Tokenize("Hello world", golem.TokenizeOptions{}))
	require.Equal(t, "Hello world", tok.Detokenize([]int32{1, 15043, 3186}))
	require.Equal(t, " Hello", tok.Piece(15043))
	_, err = golem.OpenTokenizer("../shared/models/missing.gguf")
	require.ErrorContains(t, err, "missing.gguf")
}
