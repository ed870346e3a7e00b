package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// TestPackedWeights runs matmuls over Q8_0 and Q4_0 weights, which the
// fast tier multiplies packed where the CPU has the kernels, against the
// reference tier: one x row, a batched decode step's few and a prompt's
// many, rows that fill no whole group, a weight that get_rows also reads
// (tied embeddings), and new weights written into the buffer after a run
// (the packed copy must follow them).
func TestPackedWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		for _, sh := range [][3]int{{1, 64, 256}, {3, 40, 256}, {8, 96, 512}, {20, 48, 768}} {
			m, n, k := sh[0], sh[1], sh[2]
			t.Run(fmt.Sprintf("%s/%dx%dx%d", dt, m, n, k), func(t *testing.T) {
				t.Logf("packed on this CPU: %v", quant.Packable(dt, k))
				build := func() (*graph.Builder, []*graph.Node) {
					b := graph.NewBuilder()
					w := b.Weight("w", dt, n, k)
					mm := b.MatMul(b.Input("x", graph.F32, m, k), w)
					rows := b.GetRows(w, b.Input("ids", graph.I32, 2))
					return b, []*graph.Node{mm, rows}
				}
				data := map[string][]byte{
					"w":   encode(t, dt, randF32(r, n*k, 1)),
					"x":   f32s(randF32(r, m*k, 1)...),
					"ids": i32s(3, int32(n-1)),
				}
				check := func(data map[string][]byte) {
					b, outs := build()
					want := runGraph(t, "cpu:ref", 1, b, data, outs...)
					for _, threads := range []int{1, 3} {
						b, outs := build()
						got := runGraph(t, "cpu", threads, b, data, outs...)
						require.LessOrEqual(t, nmse(got[0], want[0]), intActTol, "matmul, %d threads", threads)
						requireClose(t, widen(want[1]), got[1], 0, 0, fmt.Sprintf("get_rows, %d threads", threads))
					}
				}
				check(data)
				// The same program after its weights are rewritten.
				b, outs := build()
				g, err := b.Build(outs...)
				require.NoError(t, err)
				p := prepare(t, open(t, "cpu", 2), g, data)
				p.run()
				w2 := encode(t, dt, randF32(r, n*k, 2))
				p.set("w", w2)
				p.run()
				data["w"] = w2
				b2, outs2 := build()
				want := runGraph(t, "cpu:ref", 1, b2, data, outs2...)
				require.LessOrEqual(t, nmse(p.f32(g.Outputs[0]), want[0]), intActTol, "matmul after the weights were rewritten")
			})
		}
	}
}
