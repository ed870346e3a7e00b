package synth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/synth"
	"github.com/golem-llm/golem/runtime"
)

// cachedModel returns the path of a synthetic model under os.TempDir(),
// writing it the first time. The vocabulary is llama.cpp's Llama 2 vocab
// when ../shared has it (32000 tokens, as in the real model), otherwise a
// synthetic one of the preset's size.
func cachedModel(b *testing.B, preset string, typ graph.DType, seed uint64) string {
	b.Helper()
	s, err := synth.Lookup(preset)
	if err != nil {
		b.Fatal(err)
	}
	vocab, tag := filepath.Join(sharedtest.RepoRoot(b), "..", "shared", "testdata", "vocab", "ggml-vocab-llama-spm.gguf"), "spm"
	if _, err := os.Stat(vocab); err != nil {
		vocab, tag = "", "synthvocab"
	}
	dir := filepath.Join(os.TempDir(), "golem-synth")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	// v1: bump when the generator changes, so stale files are not reused.
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-seed%d-%s-v1.gguf", preset, typ, seed, tag))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	t0 := time.Now()
	if err := synth.Write(context.Background(), path, s, synth.Options{Type: typ, Seed: seed, Vocab: vocab}); err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote %s in %v", path, time.Since(t0).Round(time.Millisecond))
	return path
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// BenchmarkModel110M measures prefill (a 128-token prompt) and one-token
// decode of the llama2.c 110M shape on the cpu backend, in tokens per second.
func BenchmarkModel110M(b *testing.B) {
	const promptLen = 128
	for _, typ := range []graph.DType{graph.F32, graph.Q8_0} {
		b.Run(typ.String(), func(b *testing.B) {
			path := cachedModel(b, "110m", typ, 1)
			src, err := runtime.OpenGGUF(path)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			be, err := backend.Open("cpu", backend.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			s, err := m.NewSession(runtime.SessionOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			prompt := make([]int32, promptLen)
			prompt[0] = m.Tokenizer.BOS()
			for i := 1; i < promptLen; i++ {
				prompt[i] = int32(1000 + 37*i%(m.Config.VocabSize-1000))
			}
			ctx := context.Background()

			b.Run("prefill", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					s.Rewind(0)
					if err := s.Feed(ctx, prompt); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(promptLen*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
			b.Run("decode", func(b *testing.B) {
				s.Rewind(0)
				if err := s.Feed(ctx, prompt); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if s.Len() >= s.Context() {
						s.Rewind(promptLen)
					}
					if err := s.Feed(ctx, []int32{argmax(s.Logits())}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		})
	}
}
