package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// TestGroupedMatMulsMatchAlone checks that matmuls of one x, which the
// fast tier computes in one loop (a layer's Q, K and V), give each the
// bits of the matmul alone, for one x row (GEMV, two-stream pairs across
// the matmuls) and eight (integer GEMM), over two runs.
func TestGroupedMatMulsMatchAlone(t *testing.T) {
	// Large enough for several chunks per thread, so that the two halves
	// of a thread's run lie in different matmuls (K and V) for m = 1.
	const k = 2048
	ns := []int{256, 128, 128}
	r := rand.New(rand.NewPCG(61, 62))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0, graph.Q6_K, graph.F32} {
		for _, m := range []int{1, 8} {
			for _, threads := range []int{2, 3} {
				t.Run(fmt.Sprintf("%s/m%d/t%d", dt, m, threads), func(t *testing.T) {
					data := map[string][]byte{}
					b := graph.NewBuilder()
					x := b.Input("x", graph.F32, m, k)
					var outs []*graph.Node
					for i, n := range ns {
						name := fmt.Sprintf("w%d", i)
						data[name] = encode(t, dt, randF32(r, n*k, 1))
						outs = append(outs, b.MatMul(x, b.Weight(name, dt, n, k)))
					}
					g, err := b.Build(outs...)
					require.NoError(t, err)
					p := prepare(t, open(t, "cpu", threads), g, data)
					for run := range 2 {
						xv := randF32(r, m*k, 1)
						p.set("x", f32s(xv...))
						p.run()
						for i, n := range ns {
							b := graph.NewBuilder()
							name := fmt.Sprintf("w%d", i)
							out := b.MatMul(b.Input("x", graph.F32, m, k), b.Weight(name, dt, n, k))
							want := runGraph(t, "cpu", threads, b, map[string][]byte{"x": f32s(xv...), name: data[name]}, out)[0]
							require.Equal(t, want, p.f32(g.Outputs[i]), "run %d, matmul %d", run, i)
						}
					}
				})
			}
		}
	}
}

// TestGroupedAttentionMatchesAlone checks that single-query attention
// nodes over separate caches at different positions (the sequences of a
// batched decode step), which the fast tier computes together, give each
// the bits of the node alone.
func TestGroupedAttentionMatchesAlone(t *testing.T) {
	const ctx, hkv, hq, d = 40, 2, 4, 16
	positions := []int32{0, 7, 33}
	r := rand.New(rand.NewPCG(63, 64))
	data := map[string][]byte{}
	cacheData := func(name string) {
		data[name] = f32s(randF32(r, ctx*hkv*d, 1)...)
	}
	step := func(b *graph.Builder, i int) *graph.Node {
		s := fmt.Sprint(i)
		pos := b.Input("pos"+s, graph.I32, 1)
		kw := b.KVWrite(b.State("k"+s, graph.F32, ctx, hkv, d), b.Input("ks"+s, graph.F32, 1, hkv, d), pos)
		vw := b.KVWrite(b.State("v"+s, graph.F32, ctx, hkv, d), b.Input("vs"+s, graph.F32, 1, hkv, d), pos)
		return b.Attention(b.Input("q"+s, graph.F32, 1, hq, d), kw, vw, graph.AttentionOpts{Causal: true, Pos: pos})
	}
	b := graph.NewBuilder()
	var outs []*graph.Node
	for i, ps := range positions {
		s := fmt.Sprint(i)
		cacheData("k" + s)
		cacheData("v" + s)
		data["pos"+s] = i32s(ps)
		for _, in := range []string{"ks", "vs", "q"} {
			n := hkv
			if in == "q" {
				n = hq
			}
			data[in+s] = f32s(randF32(r, n*d, 1)...)
		}
		outs = append(outs, step(b, i))
	}
	want := make([][]float32, len(positions))
	for i := range positions {
		b := graph.NewBuilder()
		s := fmt.Sprint(i)
		one := map[string][]byte{}
		for _, in := range []string{"k", "v", "pos", "ks", "vs", "q"} {
			one[in+s] = data[in+s]
		}
		want[i] = runGraph(t, "cpu", 2, b, one, step(b, i))[0]
	}
	for _, threads := range []int{1, 2, 3} {
		got := runGraph(t, "cpu", threads, b, data, outs...)
		for i := range positions {
			require.Equal(t, want[i], got[i], "%d threads, sequence %d", threads, i)
		}
	}
}
