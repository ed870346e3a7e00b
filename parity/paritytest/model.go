package paritytest

import (
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/synth"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// ModelParityMaxMeanKL is the mean KL divergence RunModelParity accepts
// between a backend and the CPU, tighter than parity.DefaultMaxMeanKL.
const ModelParityMaxMeanKL = 1e-4

// RunModelParity runs whole models on target and on the CPU backend ("cpu",
// which the test binary must register): stories260K from ../shared with
// F32 and BF16 KV caches, and a generated Q8_0 model of the "tiny" shape.
// For each, the logits of every prompt position must pass the model-level
// gates with a mean KL ≤ ModelParityMaxMeanKL, and the greedy
// continuations of 24 tokens must be identical.
func RunModelParity(t *testing.T, target backend.Backend) {
	t.Helper()
	cpu, err := backend.Open("cpu", backend.Options{})
	if err != nil {
		t.Fatalf("paritytest: open cpu: %v", err)
	}
	t.Cleanup(func() { cpu.Close() })
	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tiny := filepath.Join(t.TempDir(), "tiny-q8_0.gguf")
	shape, err := synth.Lookup("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if err := synth.Write(t.Context(), tiny, shape, synth.Options{Type: graph.Q8_0, Seed: 5, Vocab: stories}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		kv   graph.DType
	}{{stories, graph.F32}, {tiny, graph.F32}, {stories, graph.BF16}} {
		t.Run(filepath.Base(tc.path)+"/kv="+tc.kv.String(), func(t *testing.T) {
			src, err := runtime.OpenSource(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			tok, err := src.Tokenizer()
			if err != nil {
				t.Fatal(err)
			}
			ids := tok.Encode("Once upon a time, there was a little dog named Max.", true, false)
			r, err := parity.CompareModel(t.Context(), src, target, cpu, ids, parity.ModelOptions{Generate: 24, KVType: tc.kv})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Pass {
				t.Fatalf("failures: %v", r.Failures)
			}
			if float64(r.MeanKL) > ModelParityMaxMeanKL {
				t.Fatalf("mean KL %.3g > %g", float64(r.MeanKL), ModelParityMaxMeanKL)
			}
			if r.GenMismatch != -1 {
				t.Fatalf("greedy texts differ at token %d:\n%s: %q\ncpu: %q", r.GenMismatch, target.Name(), r.GenA.Text, r.GenB.Text)
			}
			t.Logf("%s, %s cache: mean KL %.2e, max |Δlogit| %.2e, top-1 %.1f%%, greedy %q", filepath.Base(tc.path), tc.kv, float64(r.MeanKL), float64(r.MaxAbs), 100*r.Top1, r.GenA.Text)
		})
	}
}
