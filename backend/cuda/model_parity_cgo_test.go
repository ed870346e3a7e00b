//go:build cgo

package cuda

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/synth"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// TestModelParity runs whole models on CUDA (the emulator in CI) and on the
// CPU, stories260K also with BF16 KV caches: the logits of every prompt position must agree within the
// model-level gates (mean KL ≤ 1e-4, top-1 ≥ 99.5%) and the greedy
// continuations must be identical.
func TestModelParity(t *testing.T) {
	cu := cudaDevice(t)
	cpu, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer cpu.Close()
	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tiny := filepath.Join(t.TempDir(), "tiny-q8_0.gguf")
	shape, err := synth.Lookup("tiny")
	require.NoError(t, err)
	require.NoError(t, synth.Write(context.Background(), tiny, shape, synth.Options{Type: graph.Q8_0, Seed: 5, Vocab: stories}))
	for _, tc := range []struct {
		path string
		kv   graph.DType
	}{{stories, graph.F32}, {tiny, graph.F32}, {stories, graph.BF16}} {
		path := tc.path
		t.Run(filepath.Base(path)+"/kv="+tc.kv.String(), func(t *testing.T) {
			src, err := runtime.OpenSource(path)
			require.NoError(t, err)
			defer src.Close()
			tok, err := src.Tokenizer()
			require.NoError(t, err)
			ids := tok.Encode("Once upon a time, there was a little dog named Max.", true, false)
			r, err := parity.CompareModel(context.Background(), src, cu, cpu, ids, parity.ModelOptions{Generate: 24, KVType: tc.kv})
			require.NoError(t, err)
			require.True(t, r.Pass, "failures: %v", r.Failures)
			require.LessOrEqual(t, float64(r.MeanKL), 1e-4)
			require.Equal(t, -1, r.GenMismatch, "greedy texts differ:\ncuda: %q\ncpu:  %q", r.GenA.Text, r.GenB.Text)
			t.Logf("%s, %s cache: mean KL %.2e, max |Δlogit| %.2e, top-1 %.1f%%, greedy %q", filepath.Base(path), tc.kv, float64(r.MeanKL), float64(r.MaxAbs), 100*r.Top1, r.GenA.Text)
		})
	}
}
