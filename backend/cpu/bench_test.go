package cpu_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// benchProgram compiles outs on the fast tier with every leaf filled: one
// quantized row replicated for weights (fast to make), random floats else.
func benchProgram(b *testing.B, build func(*graph.Builder) []*graph.Node, fixed map[string][]byte) *prepared {
	return benchProgramT(b, 0, build, fixed)
}

// benchProgramT is benchProgram on a given number of threads (0: all).
func benchProgramT(b *testing.B, threads int, build func(*graph.Builder) []*graph.Node, fixed map[string][]byte) *prepared {
	bld := graph.NewBuilder()
	g, err := bld.Build(build(bld)...)
	require.NoError(b, err)
	r := rand.New(rand.NewPCG(1, 2))
	data := map[string][]byte{}
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			continue
		}
		if d, ok := fixed[n.Name]; ok {
			data[n.Name] = d
			continue
		}
		row := encode(b, n.DType, randF32(r, n.Shape.Last(), 1))
		data[n.Name] = bytes.Repeat(row, int(n.Shape.Rows()))
	}
	return prepare(b, open(b, "cpu", threads), g, data)
}

func runBench(b *testing.B, p *prepared) {
	ctx := context.Background()
	p.run() // warm up
	b.ResetTimer()
	for range b.N {
		if err := p.prog.Run(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

var benchTypes = []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}

// BenchmarkMatMulGEMV is one token through a 4096×4096 weight; the byte
// rate is the weight bytes read per second.
func BenchmarkMatMulGEMV(b *testing.B) {
	const n, k = 4096, 4096
	for _, dt := range benchTypes {
		b.Run(dt.String(), func(b *testing.B) {
			p := benchProgram(b, func(g *graph.Builder) []*graph.Node {
				return []*graph.Node{g.MatMul(g.Input("x", graph.F32, 1, k), g.Weight("w", dt, n, k))}
			}, nil)
			wb, _ := dt.RowBytes(n * k)
			b.SetBytes(wb)
			runBench(b, p)
			b.ReportMetric(2*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMatMulGEMM is a 64-token prefill through a 4096×4096 weight.
func BenchmarkMatMulGEMM(b *testing.B) {
	const m, n, k = 64, 4096, 4096
	for _, dt := range []graph.DType{graph.F32, graph.Q4_0} {
		b.Run(dt.String(), func(b *testing.B) {
			p := benchProgram(b, func(g *graph.Builder) []*graph.Node {
				return []*graph.Node{g.MatMul(g.Input("x", graph.F32, m, k), g.Weight("w", dt, n, k))}
			}, nil)
			runBench(b, p)
			b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkAttention is causal GQA attention (32 query heads over 8 f16 kv
// heads of 128) for a 512-token prefill, a 128-token prompt chunk after
// 2048 cached positions (a turn of a long conversation) and a one-token
// decode over 4096 cached positions.
func BenchmarkAttention(b *testing.B) {
	const hq, hkv, d = 32, 8, 128
	cases := []struct {
		name   string
		sq, sk int
	}{
		{"prefill-512", 512, 512},
		{"chunk-128-at-2048", 128, 2176},
		{"decode-4096", 1, 4096},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := benchProgram(b, func(g *graph.Builder) []*graph.Node {
				q := g.Input("q", graph.F32, c.sq, hq, d)
				k := g.Input("k", graph.F16, c.sk, hkv, d)
				v := g.Input("v", graph.F16, c.sk, hkv, d)
				return []*graph.Node{g.Attention(q, k, v, graph.AttentionOpts{Causal: true})}
			}, nil)
			// Causal: query i reads sk−sq+i+1 keys.
			var pairs float64
			for i := 0; i < c.sq; i++ {
				pairs += float64(c.sk - c.sq + i + 1)
			}
			b.SetBytes(int64(c.sk * hkv * d * 2 * 2))
			runBench(b, p)
			b.ReportMetric(4*d*hq*pairs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkAttentionKV is a decode step of the 110M shape (12 heads of 64,
// no grouping), TinyLlama's (32 query heads over 4 kv heads of 64) and
// Llama 3 8B's (32 over 8 kv heads of 128) over 128, 512 and 1024 cached
// positions, with an f32 and an f16 KV cache.
func BenchmarkAttentionKV(b *testing.B) {
	for _, s := range []struct {
		name       string
		hq, hkv, d int
	}{{"110m", 12, 12, 64}, {"tinyllama", 32, 4, 64}, {"llama3-8b", 32, 8, 128}} {
		for _, sk := range []int{128, 512, 1024} {
			for _, dt := range []graph.DType{graph.F32, graph.F16} {
				b.Run(fmt.Sprintf("%s/kv%d/%s", s.name, sk, dt), func(b *testing.B) {
					p := benchProgram(b, func(g *graph.Builder) []*graph.Node {
						q := g.Input("q", graph.F32, 1, s.hq, s.d)
						k := g.Input("k", dt, sk, s.hkv, s.d)
						v := g.Input("v", dt, sk, s.hkv, s.d)
						return []*graph.Node{g.Attention(q, k, v, graph.AttentionOpts{Causal: true})}
					}, nil)
					b.SetBytes(int64(sk * s.hkv * s.d * 2 * dt.BlockBytes()))
					runBench(b, p)
				})
			}
		}
	}
}

// BenchmarkAttentionLayers is the decode attention of a whole 110M-shape
// step at depth: 12 layers' nodes, each over its own f16 or f32 cache of
// 1024 or 4096 positions (37 MB and up of f16 in all, far past the L2),
// so that the cache is read from memory as in a long conversation; the
// byte rate is the cache bytes per second.
func BenchmarkAttentionLayers(b *testing.B) {
	const layers, h, d = 12, 12, 64
	for _, sk := range []int{1024, 4096} {
		for _, dt := range []graph.DType{graph.F32, graph.F16} {
			b.Run(fmt.Sprintf("kv%d/%s", sk, dt), func(b *testing.B) {
				p := benchProgram(b, func(g *graph.Builder) []*graph.Node {
					var outs []*graph.Node
					for l := range layers {
						q := g.Input(fmt.Sprintf("q%d", l), graph.F32, 1, h, d)
						k := g.Input(fmt.Sprintf("k%d", l), dt, sk, h, d)
						v := g.Input(fmt.Sprintf("v%d", l), dt, sk, h, d)
						outs = append(outs, g.Attention(q, k, v, graph.AttentionOpts{Causal: true}))
					}
					return outs
				}, nil)
				b.SetBytes(int64(layers * sk * h * d * 2 * dt.BlockBytes()))
				runBench(b, p)
			})
		}
	}
}

// BenchmarkRoPE times the RoPE nodes of a 12-layer model's step (q and k of
// each layer, 110m's 12 heads of 64, one positions input) for one row (a
// decode step) and 128 (a prefill chunk).
func BenchmarkRoPE(b *testing.B) {
	for _, rows := range []int{1, 128} {
		b.Run(fmt.Sprintf("rows%d", rows), func(b *testing.B) {
			pos := make([]int32, rows)
			for i := range pos {
				pos[i] = int32(100 + i)
			}
			p := benchProgram(b, func(g *graph.Builder) []*graph.Node {
				ps := g.Input("pos", graph.I32, rows)
				var outs []*graph.Node
				for l := range 12 {
					for _, name := range []string{"q", "k"} {
						x := g.Input(fmt.Sprintf("%s%d", name, l), graph.F32, rows, 12, 64)
						outs = append(outs, g.RoPE(x, ps, nil, graph.RoPEParams{Theta: 10000}))
					}
				}
				return outs
			}, map[string][]byte{"pos": i32s(pos...)})
			runBench(b, p)
		})
	}
}

// BenchmarkMemoryBandwidth measures the host's memory bandwidth on buffers
// far larger than the caches, on one and two goroutines: "copy" moves
// bytes from one buffer to another (the rate counts bytes read plus bytes
// written, as STREAM does), "read" streams one buffer through the AVX2 dot
// product (what a decode step's GEMVs do with the weights).
func BenchmarkMemoryBandwidth(b *testing.B) {
	const size = 1 << 30 // twice the L3 the host reports
	src := make([]float32, size/4)
	dst := make([]float32, size/4)
	for i := range src {
		src[i] = float32(i & 1023)
	}
	copy(dst, src)
	for _, threads := range []int{1, 2} {
		for _, kind := range []string{"copy", "read"} {
			b.Run(fmt.Sprintf("%s/threads%d", kind, threads), func(b *testing.B) {
				if kind == "copy" {
					b.SetBytes(2 * size)
				} else {
					b.SetBytes(size)
				}
				part := len(src) / threads
				var wg sync.WaitGroup
				sums := make([]float32, threads)
				for range b.N {
					for t := range threads {
						wg.Add(1)
						go func() {
							defer wg.Done()
							s, d := src[t*part:(t+1)*part], dst[t*part:(t+1)*part]
							if kind == "copy" {
								copy(d, s)
							} else {
								sums[t] += quant.DotF32(s[:part/2], s[part/2:])
							}
						}()
					}
					wg.Wait()
				}
			})
		}
	}
}
