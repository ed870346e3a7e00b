package cpu_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/synth"
	"github.com/golem-llm/golem/runtime"
)

// modelRun is one compiled shape class of a model (a prefill chunk or the
// decode step) with its weights bound in place and its own token, position
// and logits buffers; every shape class of one model shares the KV cache.
type modelRun struct {
	tokens    int
	prog      backend.Program
	tok, pos  backend.Buffer
	buf       []byte
	positions []int32
}

// modelPrograms opens the GGUF model at path and compiles one program per
// token count in sizes, bound to shared weights and a KV cache of ctx rows.
func modelPrograms(t testing.TB, be backend.Backend, path string, ctx int, sizes ...int) []*modelRun {
	t.Helper()
	src, err := runtime.OpenGGUF(path)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	cfg := src.Config()
	weights := map[string]backend.Buffer{}
	caches := map[string]backend.Buffer{}
	var runs []*modelRun
	for _, s := range sizes {
		built, err := llama.Build(cfg, src.Weights(), llama.BuildOptions{Tokens: s, Context: ctx, KVType: graph.F32})
		require.NoError(t, err)
		prog, err := be.Compile(built.Graph)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, prog.Close()) })
		bind := func(n *graph.Node, buf backend.Buffer) {
			require.NoError(t, prog.Bind(n, buf, 0), "bind %s", n.Name)
		}
		for _, w := range built.Graph.Leaves(graph.OpWeight) {
			buf, ok := weights[w.Name]
			if !ok {
				data, err := src.TensorData(w.Name)
				require.NoError(t, err)
				buf, err = be.(backend.HostWrapper).WrapHost(data)
				require.NoError(t, err)
				freeAtEnd(t, buf)
				weights[w.Name] = buf
			}
			bind(w, buf)
		}
		for _, c := range built.Caches {
			buf, ok := caches[c.Name]
			if !ok {
				buf, err = be.Alloc(c.Bytes())
				require.NoError(t, err)
				freeAtEnd(t, buf)
				caches[c.Name] = buf
			}
			bind(c, buf)
		}
		r := &modelRun{tokens: s, prog: prog, buf: make([]byte, 4*s), positions: make([]int32, s)}
		r.tok, err = be.Alloc(int64(4 * s))
		require.NoError(t, err)
		r.pos, err = be.Alloc(int64(4 * s))
		require.NoError(t, err)
		out, err := be.Alloc(built.Logits.Bytes())
		require.NoError(t, err)
		freeAtEnd(t, r.tok)
		freeAtEnd(t, r.pos)
		freeAtEnd(t, out)
		bind(built.Tokens, r.tok)
		bind(built.Pos, r.pos)
		bind(built.Logits, out)
		for i := range s {
			binary.LittleEndian.PutUint32(r.buf[4*i:], uint32(1+(37*i)%(cfg.VocabSize-1)))
		}
		require.NoError(t, r.tok.Write(0, r.buf))
		runs = append(runs, r)
	}
	return runs
}

// at sets the positions of the run's tokens to start, start+1, ...
func (r *modelRun) at(t testing.TB, start int) {
	for i := range r.tokens {
		binary.LittleEndian.PutUint32(r.buf[4*i:], uint32(start+i))
	}
	if err := r.pos.Write(0, r.buf); err != nil {
		t.Fatal(err)
	}
}

// synthModel returns the path of synthetic model preset (matrices of type
// typ, seed 1) under os.TempDir()/golem-synth, writing it the first time.
// The naming matches model/synth's benchmark, so the files are shared.
func synthModel(t testing.TB, preset string, typ graph.DType) string {
	t.Helper()
	s, err := synth.Lookup(preset)
	require.NoError(t, err)
	vocab, tag := filepath.Join(sharedtest.RepoRoot(t), "..", "shared", "testdata", "vocab", "ggml-vocab-llama-spm.gguf"), "spm"
	if _, err := os.Stat(vocab); err != nil {
		vocab, tag = "", "synthvocab"
	}
	dir := filepath.Join(os.TempDir(), "golem-synth")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	path := filepath.Join(dir, fmt.Sprintf("%s-%s-seed1-%s-v1.gguf", preset, typ, tag))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + fmt.Sprintf(".%d.tmp", os.Getpid())
	require.NoError(t, synth.Write(context.Background(), tmp, s, synth.Options{Type: typ, Seed: 1, Vocab: vocab}))
	require.NoError(t, os.Rename(tmp, path))
	return path
}

// BenchmarkModel measures whole-model runs on the fast tier, as llama-bench
// does: pp128 is one 128-token prefill run (positions 0..127), tg one
// decode step at positions cycling through 0..127, tg@512 the same at
// positions 512..639 (more attention work). The tok/s metric is the one to
// compare. Models: stories260K from ../shared and the synthetic 110M
// (llama2.c shape) with f32, q8_0 and q4_0 matrices, written once to
// os.TempDir()/golem-synth; the synthetic TinyLlama 1.1B (q4_0, 0.6 GB)
// runs only when named. GOLEM_BENCH_MODELS=260k,f32 limits the set;
// GOLEM_BENCH_FILE=model.gguf replaces it with that one file;
// GOLEM_BENCH_THREADS sets the thread count (default: all CPUs).
func BenchmarkModel(b *testing.B) {
	models := []struct {
		name     string
		path     func(b *testing.B) string
		optional bool // only when GOLEM_BENCH_MODELS names it
	}{
		{"stories260K", func(b *testing.B) string { return sharedtest.SharedPath(b, "models", "stories260K.gguf") }, false},
		{"110m-f32", func(b *testing.B) string { return synthModel(b, "110m", graph.F32) }, false},
		{"110m-q8_0", func(b *testing.B) string { return synthModel(b, "110m", graph.Q8_0) }, false},
		{"110m-q4_0", func(b *testing.B) string { return synthModel(b, "110m", graph.Q4_0) }, false},
		{"tinyllama-1.1b-q4_0", func(b *testing.B) string { return synthModel(b, "tinyllama-1.1b", graph.Q4_0) }, true},
	}
	if f := os.Getenv("GOLEM_BENCH_FILE"); f != "" {
		models = append(models[:0], struct {
			name     string
			path     func(b *testing.B) string
			optional bool
		}{filepath.Base(f), func(*testing.B) string { return f }, false})
	}
	ctx := context.Background()
	for _, m := range models {
		b.Run(m.name, func(b *testing.B) {
			if !benchSelected(m.name, m.optional) {
				b.Skip("not in GOLEM_BENCH_MODELS")
			}
			threads, _ := strconv.Atoi(os.Getenv("GOLEM_BENCH_THREADS"))
			be := open(b, "cpu", threads)
			runs := modelPrograms(b, be, m.path(b), 1024, 128, 1)
			pp, tg := runs[0], runs[1]
			pp.at(b, 0)
			b.Run("pp128", func(b *testing.B) {
				require.NoError(b, pp.prog.Run(ctx))
				b.ResetTimer()
				for range b.N {
					if err := pp.prog.Run(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "tok/s")
			})
			b.Run("tg", func(b *testing.B) {
				require.NoError(b, pp.prog.Run(ctx)) // fill the cache
				b.ResetTimer()
				for i := range b.N {
					tg.at(b, i%128)
					if err := tg.prog.Run(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
			// Decode deeper in the context (positions 512..639: the
			// cache rows before are whatever they hold; only the amount
			// of attention work matters).
			b.Run("tg@512", func(b *testing.B) {
				for i := range b.N {
					tg.at(b, 512+i%128)
					if err := tg.prog.Run(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
			})
		})
	}
}

// benchSelected reports whether GOLEM_BENCH_MODELS (comma-separated
// substrings; empty: all but the optional models) selects model name.
func benchSelected(name string, optional bool) bool {
	sel := os.Getenv("GOLEM_BENCH_MODELS")
	if sel == "" {
		return !optional
	}
	for _, part := range strings.Split(sel, ",") {
		if part = strings.TrimSpace(part); part != "" && strings.Contains(strings.ToLower(name), strings.ToLower(part)) {
			return true
		}
	}
	return false
}

// TestModelRunAllocs checks that a decode step and a short prefill of a
// small synthetic model allocate nothing once compiled and warmed up, with
// the worker pool in use (4 threads) and on one thread.
func TestModelRunAllocs(t *testing.T) {
	s, err := synth.Lookup("dim=256,layers=2,heads=4,kv=2,ffn=768,ctx=64,vocab=2048")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, typ := range []graph.DType{graph.F32, graph.Q8_0, graph.F16} {
		path := filepath.Join(dir, typ.String()+".gguf")
		require.NoError(t, synth.Write(context.Background(), path, s, synth.Options{Type: typ, Seed: 3}))
		for _, threads := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/threads%d", typ, threads), func(t *testing.T) {
				be := open(t, "cpu", threads)
				runs := modelPrograms(t, be, path, 64, 8, 1)
				ctx := context.Background()
				for _, r := range runs {
					r.at(t, 8)
					require.NoError(t, r.prog.Run(ctx)) // warm up
					allocs := testing.AllocsPerRun(20, func() {
						if err := r.prog.Run(ctx); err != nil {
							t.Fatal(err)
						}
					})
					require.Zero(t, allocs, "allocations per %d-token run", r.tokens)
				}
			})
		}
	}
}
