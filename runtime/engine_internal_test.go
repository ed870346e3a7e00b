package runtime

import (
	"context"
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
