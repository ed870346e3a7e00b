package runtime

import (
	"context"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu"
	"github.com/golem-llm/golem/internal/sharedtest"
)

// TestDecodeStepAllocs checks that a batched decode step of the engine
// (inputs written, graph run, logits read, a token sampled and delivered
// for each sequence) allocates nothing once warm.
func TestDecodeStepAllocs(t *testing.T) {
	src, err := OpenGGUF(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer src.Close()
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	m, err := Load(context.Background(), src, be, LoadOptions{})
	require.NoError(t, err)
	defer m.Close()
	e, err := newEngine(m, EngineOptions{Parallel: 4, Context: 512})
	require.NoError(t, err)
	for i := range 4 {
		_, err := e.Submit(context.Background(), Request{Prompt: []int32{1, int32(400 + i)}, IgnoreEOS: true, LogProbs: i%2 == 0,
			Sampler: SamplerConfig{Temperature: 0.5, TopK: 8, Seed: uint64(i)}})
		require.NoError(t, err)
	}
	e.admit()
	e.prefillStep()
	for range 16 { // warm: programs compiled, buffers and event queues grown
		e.decodeStep()
	}
	require.Len(t, e.active, 4)
	allocs := testing.AllocsPerRun(200, e.decodeStep)
	require.Zero(t, allocs, "allocations per decode step of 4 sequences")
	go e.loop()
	require.NoError(t, e.Close())
}

// TestTopLogProbs: the k most likely tokens, most likely first (the lower
// id first among equal logits), with log softmax values.
func TestTopLogProbs(t *testing.T) {
	logits := []float32{1, 3, -2, 3, 0.5, 2}
	lse := logSumExp(logits)
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l))
	}
	require.InDelta(t, math.Log(sum), float64(lse), 1e-6)
	tests := []struct {
		k   int
		ids []int32
	}{
		{1, []int32{1}},
		{3, []int32{1, 3, 5}},
		{6, []int32{1, 3, 5, 0, 4, 2}},
		{9, []int32{1, 3, 5, 0, 4, 2}}, // at most the vocabulary
	}
	for _, tc := range tests {
		top := topLogProbs(logits, tc.k, lse)
		ids := make([]int32, len(top))
		for i, x := range top {
			ids[i] = x.ID
			require.InDelta(t, float64(logits[x.ID]-lse), float64(x.LogProb), 1e-6)
		}
		require.Equal(t, tc.ids, ids, "k %d", tc.k)
	}
}

// TestAppendF32 reads float32 values from a backend buffer both ways (into
// dst directly, as on little-endian hosts, and through scratch), appending
// them after the values dst holds.
func TestAppendF32(t *testing.T) {
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	want := []float32{1.5, -2, float32(math.Inf(1)), 3e-39, 0, 7}
	raw := make([]byte, 4*len(want))
	for i, v := range want {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	buf, err := be.Alloc(int64(len(raw)))
	require.NoError(t, err)
	defer buf.Free()
	require.NoError(t, buf.Write(0, raw))
	for _, tc := range []struct {
		name   string
		little bool
		n      int64
	}{
		{"direct", true, int64(len(raw))},
		{"scratch", false, int64(len(raw))},
		{"direct/part", true, 8},
		{"scratch/part", false, 8},
		{"none", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.little && !hostLittleEndian() {
				t.Skip("a direct read is for little-endian hosts")
			}
			dst := []float32{42}
			dst, _, err := appendF32(dst, buf, tc.n, nil, tc.little)
			require.NoError(t, err)
			require.Equal(t, append([]float32{42}, want[:tc.n/4]...), dst)
		})
	}
}
