package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/runtime"
)

// collect reads a stream to its end.
func collect(t *testing.T, st *runtime.Stream) (ids []int32, lps []float32, text string, end runtime.Stats, err error) {
	t.Helper()
	var b strings.Builder
	for {
		tok, e := st.Next()
		b.WriteString(tok.Text)
		if tok.End != nil {
			if tok.ID >= 0 && tok.End.StopReason != runtime.StopEOS {
				ids, lps = append(ids, tok.ID), append(lps, tok.LogProb)
			}
			_, eof := st.Next()
			require.ErrorIs(t, eof, io.EOF)
			return ids, lps, b.String(), *tok.End, e
		}
		require.NoError(t, e)
		ids, lps = append(ids, tok.ID), append(lps, tok.LogProb)
	}
}

func newEngine(t *testing.T, m *runtime.Model, o runtime.EngineOptions) *runtime.Engine {
	t.Helper()
	e, err := runtime.NewEngine(m, o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

// enginePrompts are prompts of different lengths, so that the sequences
// join and leave the batch at different steps.
var enginePrompts = []string{"Once upon a time", "Lily and Tom went to the park", "The cat", "One day, a little dog named Max found a big red ball in the garden"}

// TestEngineBatchEqualsAlone checks that a sequence decoded in a batch
// gives, bit for bit, the tokens and log-probabilities it gives alone (the
// rows of the batched decode step do not interact), greedy or sampled with
// its own seed, while sequences join and leave the batch at different
// steps.
func TestEngineBatchEqualsAlone(t *testing.T) {
	for _, device := range []string{"cpu", "cpu:ref"} {
		t.Run(device, func(t *testing.T) {
			m := loadStories(t, device)
			ctx := context.Background()
			req := func(i int) runtime.Request {
				r := runtime.Request{Prompt: m.Tokenizer.Encode(enginePrompts[i], true, false), MaxTokens: 20 + 7*i, LogProbs: true}
				if i%2 == 1 {
					r.Sampler = runtime.SamplerConfig{Temperature: 0.8, TopK: 40, Seed: uint64(i)}
				}
				return r
			}
			var wantIDs [][]int32
			var wantLPs [][]float32
			for i := range enginePrompts {
				// A fresh engine each: a cache holding a prefix of the
				// prompt would cut the rest of it differently.
				alone, err := runtime.NewEngine(m, runtime.EngineOptions{Parallel: 1, Context: 128})
				require.NoError(t, err)
				st, err := alone.Submit(ctx, req(i))
				require.NoError(t, err)
				ids, lps, _, end, err := collect(t, st)
				require.NoError(t, err)
				require.Equal(t, runtime.StopLength, end.StopReason)
				require.NoError(t, alone.Close())
				wantIDs, wantLPs = append(wantIDs, ids), append(wantLPs, lps)
			}
			// The session path (runtime.Generate) gives the same tokens.
			s, err := m.NewSession(runtime.SessionOptions{Context: 128})
			require.NoError(t, err)
			text, _, err := runtime.Generate(ctx, s, req(0).Prompt, runtime.GenerateOptions{MaxTokens: 20})
			require.NoError(t, err)
			require.Equal(t, m.Tokenizer.Decode(wantIDs[0]), text)
			require.NoError(t, s.Close())

			batch := newEngine(t, m, runtime.EngineOptions{Parallel: 4, Context: 128, Chunk: 8})
			streams := make([]*runtime.Stream, len(enginePrompts))
			for i := range enginePrompts {
				streams[i], err = batch.Submit(ctx, req(i))
				require.NoError(t, err)
			}
			for i, st := range streams {
				ids, lps, _, _, err := collect(t, st)
				require.NoError(t, err)
				require.Equal(t, wantIDs[i], ids, "prompt %d", i)
				require.Equal(t, wantLPs[i], lps, "prompt %d: log-probabilities differ in a batch", i)
			}
		})
	}
}

// TestEngineConcurrentSubmit submits from many goroutines at once, more
// requests than sequences and queue together allow: the refused get
// ErrQueueFull at once, the others their alone output.
func TestEngineConcurrentSubmit(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	e := newEngine(t, m, runtime.EngineOptions{Parallel: 3, Context: 64, Queue: 2})
	prompt := m.Tokenizer.Encode("Once upon a time", true, false)
	st, err := e.Submit(ctx, runtime.Request{Prompt: prompt, MaxTokens: 10})
	require.NoError(t, err)
	want, _, _, _, err := collect(t, st)
	require.NoError(t, err)

	const n = 12
	var wg sync.WaitGroup
	results := make([][]int32, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, err := e.Submit(ctx, runtime.Request{Prompt: prompt, MaxTokens: 10})
			if err != nil {
				errs[i] = err
				return
			}
			results[i], _, _, _, errs[i] = collect(t, st)
		}()
	}
	close(start)
	wg.Wait()
	done, full := 0, 0
	for i := range n {
		switch {
		case errs[i] == nil:
			require.Equal(t, want, results[i])
			done++
		case errors.Is(errs[i], runtime.ErrQueueFull):
			full++
		default:
			t.Fatalf("request %d: %v", i, errs[i])
		}
	}
	require.Equal(t, n, done+full)
	require.GreaterOrEqual(t, done, 5, "3 sequences + 2 waiting are always accepted")
}

// TestEngineCancel checks that a cancelled request ends at once with its
// context's error and frees its sequence for the next request.
func TestEngineCancel(t *testing.T) {
	m := loadStories(t, "cpu")
	// A context far longer than what runs before the cancel.
	e := newEngine(t, m, runtime.EngineOptions{Parallel: 1, Context: 2048})
	prompt := m.Tokenizer.Encode("Once upon a time", true, false)
	ctx, cancel := context.WithCancelCause(context.Background())
	st, err := e.Submit(ctx, runtime.Request{Prompt: prompt, IgnoreEOS: true})
	require.NoError(t, err)
	waiting, err := e.Submit(context.Background(), runtime.Request{Prompt: prompt, MaxTokens: 3})
	require.NoError(t, err)
	tok, err := st.Next()
	require.NoError(t, err)
	require.Nil(t, tok.End)
	cause := errors.New("client went away")
	cancel(cause)
	var end runtime.Stats
	for {
		tok, err := st.Next()
		if tok.End != nil {
			require.ErrorIs(t, err, cause)
			end = *tok.End
			break
		}
		require.NoError(t, err)
	}
	require.Equal(t, runtime.StopCancelled, end.StopReason)
	require.Less(t, end.GenTokens, 2000)
	ids, _, _, end, err := collect(t, waiting)
	require.NoError(t, err)
	require.Len(t, ids, 3)
	require.Equal(t, runtime.StopLength, end.StopReason)

	// A request cancelled before it is admitted ends without running.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	st, err = e.Submit(ctx2, runtime.Request{Prompt: prompt})
	require.NoError(t, err)
	_, _, _, end, err = collect(t, st)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, runtime.StopCancelled, end.StopReason)

	// Closing a stream frees its sequence too.
	st, err = e.Submit(context.Background(), runtime.Request{Prompt: prompt, IgnoreEOS: true})
	require.NoError(t, err)
	_, err = st.Next()
	require.NoError(t, err)
	st.Close()
	_, err = st.Next()
	require.ErrorIs(t, err, io.EOF)
	st, err = e.Submit(context.Background(), runtime.Request{Prompt: prompt, MaxTokens: 2})
	require.NoError(t, err)
	ids, _, _, _, err = collect(t, st)
	require.NoError(t, err)
	require.Len(t, ids, 2)
}

// TestEngineStops checks the ends of a generation: a stop string (cut
// from the text), the token limit and a full context.
func TestEngineStops(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	e := newEngine(t, m, runtime.EngineOptions{Parallel: 2, Context: 40})
	prompt := m.Tokenizer.Encode("Once upon a time", true, false)
	st, err := e.Submit(ctx, runtime.Request{Prompt: prompt, Stop: []string{"Lily"}})
	require.NoError(t, err)
	_, _, text, end, err := collect(t, st)
	require.NoError(t, err)
	require.Equal(t, ", there was a little girl named ", text)
	require.Equal(t, runtime.StopString, end.StopReason)

	st, err = e.Submit(ctx, runtime.Request{Prompt: prompt})
	require.NoError(t, err)
	ids, _, _, end, err := collect(t, st)
	require.NoError(t, err)
	require.Equal(t, runtime.StopContext, end.StopReason)
	require.Equal(t, 40-len(prompt)+1, len(ids), "the context's free rows + the last token, which is never fed")
	require.Equal(t, len(ids), end.GenTokens)
	require.Equal(t, len(prompt), end.PromptTokens)

	_, err = e.Submit(ctx, runtime.Request{Prompt: make([]int32, 41)})
	require.ErrorIs(t, err, runtime.ErrContextFull)
	_, err = e.Submit(ctx, runtime.Request{})
	require.ErrorContains(t, err, "empty prompt")
	_, err = e.Submit(ctx, runtime.Request{Prompt: []int32{1, 512}})
	require.ErrorContains(t, err, "token 512 outside the vocabulary of 512")
	_, err = e.Submit(ctx, runtime.Request{Prompt: prompt, Sampler: runtime.SamplerConfig{TopP: 2}})
	require.ErrorContains(t, err, "TopP")
}

// TestEngineCacheReuse checks a caller's cache: a request that extends the
// previous one's prompt runs only the new tokens and generates what a
// fresh cache generates.
func TestEngineCacheReuse(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	e := newEngine(t, m, runtime.EngineOptions{Parallel: 2, Context: 128})
	c, err := e.NewCache()
	require.NoError(t, err)
	first := m.Tokenizer.Encode("Once upon a time", true, false)
	st, err := e.Submit(ctx, runtime.Request{Prompt: first, MaxTokens: 8, Cache: c})
	require.NoError(t, err)
	ids, _, _, end, err := collect(t, st)
	require.NoError(t, err)
	require.Zero(t, end.CachedTokens)
	second := append(append(append([]int32(nil), first...), ids...), m.Tokenizer.Encode(" The end", false, false)...)
	st, err = e.Submit(ctx, runtime.Request{Prompt: second, MaxTokens: 8, Cache: c})
	require.NoError(t, err)
	reused, _, _, end, err := collect(t, st)
	require.NoError(t, err)
	require.Equal(t, len(first)+len(ids)-1, end.CachedTokens, "the prompt and the generated tokens fed (the last one never is)")

	st, err = e.Submit(ctx, runtime.Request{Prompt: second, MaxTokens: 8})
	require.NoError(t, err)
	fresh, _, _, end, err := collect(t, st)
	require.NoError(t, err)
	require.Zero(t, end.CachedTokens)
	require.Equal(t, fresh, reused)
	require.NoError(t, c.Close())
	_, err = e.Submit(ctx, runtime.Request{Prompt: second, Cache: c})
	require.ErrorIs(t, err, backend.ErrClosed)
}

// TestEngineCacheInUse checks that a cache is refused while a request
// holds it, from its Submit on: the request waits in the queue behind a
// long one, so that it cannot have finished when the cache is offered
// again.
func TestEngineCacheInUse(t *testing.T) {
	m := loadStories(t, "cpu")
	e := newEngine(t, m, runtime.EngineOptions{Parallel: 1, Context: 2048})
	prompt := m.Tokenizer.Encode("Once upon a time", true, false)
	long, cancel := context.WithCancel(context.Background())
	defer cancel()
	blocker, err := e.Submit(long, runtime.Request{Prompt: prompt, IgnoreEOS: true})
	require.NoError(t, err)
	c, err := e.NewCache()
	require.NoError(t, err)
	st, err := e.Submit(context.Background(), runtime.Request{Prompt: prompt, MaxTokens: 4, Cache: c})
	require.NoError(t, err)
	_, err = e.Submit(context.Background(), runtime.Request{Prompt: prompt, Cache: c})
	require.ErrorIs(t, err, runtime.ErrCacheInUse)
	cancel()
	_, _, _, _, err = collect(t, blocker)
	require.ErrorIs(t, err, context.Canceled)
	ids, _, _, _, err := collect(t, st)
	require.NoError(t, err)
	require.Len(t, ids, 4)
	// Free again once the request has ended.
	st, err = e.Submit(context.Background(), runtime.Request{Prompt: prompt, MaxTokens: 1, Cache: c})
	require.NoError(t, err)
	_, _, _, _, err = collect(t, st)
	require.NoError(t, err)
}

// TestEngineClose checks that closing the engine ends running and waiting
// requests with ErrClosed and refuses new ones.
func TestEngineClose(t *testing.T) {
	m := loadStories(t, "cpu")
	e, err := runtime.NewEngine(m, runtime.EngineOptions{Parallel: 1, Context: 2048})
	require.NoError(t, err)
	prompt := m.Tokenizer.Encode("Once upon a time", true, false)
	running, err := e.Submit(context.Background(), runtime.Request{Prompt: prompt, IgnoreEOS: true})
	require.NoError(t, err)
	waiting, err := e.Submit(context.Background(), runtime.Request{Prompt: prompt, IgnoreEOS: true})
	require.NoError(t, err)
	c, err := e.NewCache()
	require.NoError(t, err)
	_, err = running.Next()
	require.NoError(t, err)
	require.NoError(t, e.Close())
	for _, st := range []*runtime.Stream{running, waiting} {
		_, _, _, _, err := collect(t, st)
		require.ErrorIs(t, err, backend.ErrClosed)
	}
	_, err = e.Submit(context.Background(), runtime.Request{Prompt: prompt})
	require.ErrorIs(t, err, backend.ErrClosed)
	require.NoError(t, c.Close(), "freed by the engine already")
	require.NoError(t, e.Close())
}

func TestEngineOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o    runtime.EngineOptions
		want string
	}{
		{runtime.EngineOptions{Parallel: -1}, "Parallel"},
		{runtime.EngineOptions{Parallel: runtime.MaxParallel + 1}, "Parallel"},
		{runtime.EngineOptions{Context: -1}, "Context"},
		{runtime.EngineOptions{Queue: -1}, "Queue"},
		{runtime.EngineOptions{Chunk: -1}, "Chunk"},
	} {
		require.ErrorContains(t, tc.o.Validate(), fmt.Sprintf("EngineOptions.%s", tc.want))
	}
	require.NoError(t, runtime.EngineOptions{}.Validate())
	_ = time.Second
}

// TestEngineTokenTimes checks Token.Time with a clock that moves on at
// every reading: a stream's times never go back, its first token is the
// end of its prompt (GenTime runs from it to the last token's time), and
// the tokens of one batched decode step have that step's time, so each
// time of the second sequence, after its prompt and before the first one
// ends, is also a time of the first.
func TestEngineTokenTimes(t *testing.T) {
	m := loadStories(t, "cpu")
	var mu sync.Mutex
	tick := time.Unix(0, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		tick = tick.Add(time.Millisecond)
		return tick
	}
	e := newEngine(t, m, runtime.EngineOptions{Parallel: 2, Context: 128, Now: clock})
	ctx := context.Background()
	var streams [2]*runtime.Stream
	for i := range streams {
		var err error
		streams[i], err = e.Submit(ctx, runtime.Request{Prompt: m.Tokenizer.Encode(enginePrompts[i], true, false), MaxTokens: 12 + 4*i, IgnoreEOS: true})
		require.NoError(t, err)
	}
	var times [2][]time.Time
	for i, st := range streams {
		for {
			tok, err := st.Next()
			require.NoError(t, err)
			require.False(t, tok.Time.IsZero(), "stream %d token %d has no time", i, len(times[i]))
			if n := len(times[i]); n > 0 {
				require.False(t, tok.Time.Before(times[i][n-1]), "stream %d: time goes back at token %d", i, n)
			}
			if tok.End != nil {
				require.Equal(t, tok.Time.Sub(times[i][0]), tok.End.GenTime, "stream %d: GenTime is not from the first token to the end", i)
				break
			}
			times[i] = append(times[i], tok.Time)
		}
		require.Len(t, times[i], 12+4*i)
	}
	first := map[time.Time]bool{}
	for _, at := range times[0] {
		first[at] = true
	}
	shared := 0
	for _, at := range times[1][1:] {
		if at.After(times[0][len(times[0])-1]) {
			break
		}
		require.True(t, first[at], "a token of the batched step at %v has a time of its own", at)
		shared++
	}
	require.Greater(t, shared, 5, "the sequences never decoded together")
}
