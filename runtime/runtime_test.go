package runtime_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/runtime"
)

// llama2cStories260K is what llama2.c's run prints for stories260K.bin with
// tok512.bin at temperature 0 for 200 steps (see ../shared/models/SOURCES.md).
const llama2cStories260K = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n" +
	"Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\n" +
	"Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n" +
	"Lily didn't want to help her mom, so she"

func loadStories(t *testing.T, device string) *runtime.Model {
	t.Helper()
	path := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	src, err := runtime.OpenGGUF(path)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	be, err := backend.Open(device, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { be.Close() })
	m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func TestStories260KGreedyMatchesLlama2c(t *testing.T) {
	for _, device := range []string{"cpu", "cpu:ref"} {
		t.Run(device, func(t *testing.T) {
			m := loadStories(t, device)
			s, err := m.NewSession(runtime.SessionOptions{Context: 256})
			require.NoError(t, err)
			defer s.Close()
			prompt := "Once upon a time"
			ids := m.Tokenizer.Encode(prompt, true, false)
			// llama2.c -n 200 prints 200 tokens after BOS: the prompt's, then generated ones.
			text, st, err := runtime.Generate(context.Background(), s, ids, runtime.GenerateOptions{MaxTokens: 201 - len(ids)})
			require.NoError(t, err)
			got := prompt + text
			require.Equal(t, llama2cStories260K, got, "stop reason %s after %d tokens", st.StopReason, st.GenTokens)
			require.True(t, strings.HasPrefix(got, "Once upon a time, there was a little girl named Lily."))
		})
	}
}

func TestSessionErrorsAndRewind(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	s, err := m.NewSession(runtime.SessionOptions{Context: 8, Chunk: 3})
	require.NoError(t, err)
	defer s.Close()
	require.ErrorContains(t, s.Feed(ctx, nil), "no tokens")
	require.ErrorContains(t, s.Feed(ctx, []int32{1, 600}), "token 600 outside the vocabulary of 512")
	// Chunked prefill (3+3+1 tokens) gives the same last logits as a
	// one-token-at-a-time feed.
	ids := []int32{1, 403, 407, 261, 378, 432, 408}
	require.NoError(t, s.Feed(ctx, ids))
	chunked := append([]float32(nil), s.Logits()...)
	s.Rewind(0)
	for _, id := range ids {
		require.NoError(t, s.Feed(ctx, []int32{id}))
	}
	require.InDeltaSlice(t, chunked, s.Logits(), 1e-4)
	err = s.Feed(ctx, []int32{1, 2})
	require.ErrorIs(t, err, runtime.ErrContextFull)
	require.ErrorContains(t, err, "7 tokens in the cache + 2 new exceed the context of 8")
	// Rewind then feed again: the overwritten rows give the original logits.
	s.Rewind(6)
	require.NoError(t, s.Feed(ctx, ids[6:]))
	require.InDeltaSlice(t, chunked, s.Logits(), 1e-4)
}

func TestGenerateStopsAndStreams(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	ids := m.Tokenizer.Encode("Once upon a time", true, false)
	tests := []struct {
		name   string
		opts   runtime.GenerateOptions
		ctxLen int
		want   string
		reason string
	}{
		{"length", runtime.GenerateOptions{MaxTokens: 5}, 64, ", there was a little", "length"},
		{"stop string", runtime.GenerateOptions{MaxTokens: 50, Stop: []string{"girl"}}, 64, ", there was a little ", "stop"},
		{"context", runtime.GenerateOptions{MaxTokens: 50}, 8, ", there was a", "context"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := m.NewSession(runtime.SessionOptions{Context: tc.ctxLen})
			require.NoError(t, err)
			defer s.Close()
			var streamed strings.Builder
			tc.opts.OnText = func(text string) error { streamed.WriteString(text); return nil }
			text, st, err := runtime.Generate(ctx, s, ids, tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.want, text)
			require.Equal(t, tc.want, streamed.String(), "streamed text equals the result")
			require.Equal(t, tc.reason, st.StopReason)
			require.Equal(t, len(ids), st.PromptTokens)
		})
	}
}

func TestGenerateWithoutLogitsIsAnError(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	s, err := m.NewSession(runtime.SessionOptions{Context: 16})
	require.NoError(t, err)
	defer s.Close()
	require.Nil(t, s.Logits())
	_, _, err = runtime.Generate(ctx, s, nil, runtime.GenerateOptions{MaxTokens: 2})
	require.EqualError(t, err, "runtime: generate: no prompt, and the session holds no logits to continue from")
	// With logits, an empty prompt continues from them.
	require.NoError(t, s.Feed(ctx, []int32{1, 403}))
	_, st, err := runtime.Generate(ctx, s, nil, runtime.GenerateOptions{MaxTokens: 2})
	require.NoError(t, err)
	require.Equal(t, 2, st.GenTokens)
	// Rewinding forgets the logits of the forgotten positions.
	s.Rewind(1)
	require.Nil(t, s.Logits())
	_, _, err = runtime.Generate(ctx, s, []int32{}, runtime.GenerateOptions{MaxTokens: 2})
	require.ErrorContains(t, err, "no logits")
}

func TestSessionLogitsAndTokensAreCopies(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	s, err := m.NewSession(runtime.SessionOptions{Context: 16})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Feed(ctx, []int32{1, 403}))
	held, toks := s.Logits(), s.Tokens()
	want := append([]float32(nil), held...)
	require.Len(t, held, 512)
	held[0], toks[0] = 1e9, 77 // writing to the copies changes nothing
	require.Equal(t, want, s.Logits())
	require.Equal(t, []int32{1, 403}, s.Tokens())
	s.Rewind(1)
	require.NoError(t, s.Feed(ctx, []int32{407}))
	require.Equal(t, float32(1e9), held[0], "a later Feed does not write into a slice Logits returned")
	require.Equal(t, want[1:], held[1:])
	require.NotEqual(t, want, s.Logits())
}

func TestSessionDefaultContextIsTheTrainedOne(t *testing.T) {
	m := loadStories(t, "cpu")
	require.Equal(t, 128, m.Config.ContextLen)
	require.Equal(t, 128, m.DefaultContext())
	s, err := m.NewSession(runtime.SessionOptions{})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, 128, s.Context())
	big, err := m.NewSession(runtime.SessionOptions{Context: 300})
	require.NoError(t, err, "a larger context is the caller's choice")
	defer big.Close()
	require.Equal(t, 300, big.Context())
}

func TestOptionsValidate(t *testing.T) {
	m := loadStories(t, "cpu")
	ctx := context.Background()
	for _, tc := range []struct {
		o    runtime.SessionOptions
		want string
	}{
		{runtime.SessionOptions{Context: -5}, "runtime: SessionOptions.Context -5: want a value in [0, 2147483647]"},
		{runtime.SessionOptions{Chunk: -1}, "runtime: SessionOptions.Chunk -1: want 0 or more"},
		{runtime.SessionOptions{KVType: graph.Q4_0}, "runtime: SessionOptions.KVType q4_0: want f32, f16 or bf16"},
	} {
		_, err := m.NewSession(tc.o)
		require.EqualError(t, err, tc.want)
		require.EqualError(t, tc.o.Validate(), tc.want)
	}
	s, err := m.NewSession(runtime.SessionOptions{Context: 32})
	require.NoError(t, err)
	defer s.Close()
	ids := []int32{1, 403, 407}
	for _, tc := range []struct {
		o    runtime.GenerateOptions
		want string
	}{
		{runtime.GenerateOptions{MaxTokens: -1}, "runtime: GenerateOptions.MaxTokens -1: want 0 or more"},
		{runtime.GenerateOptions{MaxTokens: 3, Sampler: runtime.SamplerConfig{TopP: 2}}, "runtime: SamplerConfig.TopP 2: want a value in [0, 1]"},
		{runtime.GenerateOptions{MaxTokens: 3, Sampler: runtime.SamplerConfig{RepeatPenalty: 1.1, RepeatLastN: -3}}, "RepeatLastN -3"},
	} {
		_, _, err := runtime.Generate(ctx, s, ids, tc.o)
		require.ErrorContains(t, err, tc.want)
		require.Zero(t, s.Len(), "nothing is fed when the options are bad")
	}
	// -1 (the whole history) with a penalty runs (it used to panic).
	_, st, err := runtime.Generate(ctx, s, ids, runtime.GenerateOptions{MaxTokens: 10,
		Sampler: runtime.SamplerConfig{Temperature: 0.7, RepeatPenalty: 1.3, RepeatLastN: -1, Seed: 1}})
	require.NoError(t, err)
	require.Equal(t, 10, st.GenTokens)
}

func TestRuntimeErrorsSayRuntimeOnce(t *testing.T) {
	m := loadStories(t, "cpu")
	s, err := m.NewSession(runtime.SessionOptions{Context: 32})
	require.NoError(t, err)
	defer s.Close()
	_, _, err = runtime.Generate(context.Background(), s, []int32{1, 600}, runtime.GenerateOptions{MaxTokens: 3})
	require.EqualError(t, err, "runtime: feed: token 600 outside the vocabulary of 512")
	// A run that fails during decoding (cancelled after the first token).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, err = runtime.Generate(ctx, s, []int32{1, 403}, runtime.GenerateOptions{MaxTokens: 10,
		OnText: func(string) error { cancel(); return nil }})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 1, strings.Count(err.Error(), "runtime:"), err.Error())
	require.Regexp(t, `^runtime: run at position 2: cpu: run: before .*: context canceled$`, err.Error())
}
