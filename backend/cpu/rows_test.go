package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// TestMatMulRowsIndependent checks the property batched decoding rests
// on: a matmul of m rows of x gives each row, bit for bit, what a matmul
// of that row alone gives it, whatever m and the row's place (f32 weights
// at any m; q8_0 and q4_0 up to the rows of a decode batch, which run as
// a multi-row GEMV), on one thread and on several. k = 256 takes the
// integer dot products on quantized activations where the CPU has them
// (q4_0 needs k >= 128), k = 96 the float ones.
func TestMatMulRowsIndependent(t *testing.T) {
	const n = 72
	r := rand.New(rand.NewPCG(21, 22))
	for _, k := range []int{96, 256} {
		for _, tc := range []struct {
			dt   graph.DType
			rows []int
		}{
			{graph.F32, []int{2, 3, 5, 8, 17}},
			{graph.Q8_0, []int{2, 3, 4, 5, 8}},
			{graph.Q4_0, []int{2, 3, 4, 5, 8}},
		} {
			w := encode(t, tc.dt, randF32(r, n*k, 1))
			for _, threads := range []int{1, 3} {
				for _, m := range tc.rows {
					t.Run(fmt.Sprintf("%s/k%d/threads%d/m%d", tc.dt, k, threads, m), func(t *testing.T) {
						x := randF32(r, m*k, 1)
						mul := func(rows []float32) []float32 {
							b := graph.NewBuilder()
							xs := b.Input("x", graph.F32, len(rows)/k, k)
							out := b.MatMul(xs, b.Weight("w", tc.dt, n, k))
							return runGraph(t, "cpu", threads, b, map[string][]byte{"x": f32s(rows...), "w": w}, out)[0]
						}
						all := mul(x)
						for i := range m {
							one := mul(x[i*k : (i+1)*k])
							for j := range n {
								require.Equal(t, math.Float32bits(one[j]), math.Float32bits(all[i*n+j]), "x row %d of %d, output %d", i, m, j)
							}
						}
					})
				}
			}
		}
	}
}

// TestMatMulSharedInput checks matmuls that share their x (quantized once
// per run for the first and reused by the next, see quantizeInput): each
// output equals that matmul alone, across runs with new x values, and a
// matmul of another x in between does not see the shared one's rows.
func TestMatMulSharedInput(t *testing.T) {
	const n, k = 48, 256
	r := rand.New(rand.NewPCG(23, 24))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0, graph.Q4_K} {
		for _, m := range []int{1, 3, 8} {
			t.Run(fmt.Sprintf("%s/m%d", dt, m), func(t *testing.T) {
				w1 := encode(t, dt, randF32(r, n*k, 1))
				w2 := encode(t, dt, randF32(r, n*k, 1))
				b := graph.NewBuilder()
				x := b.Input("x", graph.F32, m, k)
				z := b.Input("z", graph.F32, m, k)
				wa, wb := b.Weight("w1", dt, n, k), b.Weight("w2", dt, n, k)
				outs := []*graph.Node{b.MatMul(x, wa), b.MatMul(x, wb), b.MatMul(z, wa), b.MatMul(x, wb)}
				g, err := b.Build(outs...)
				require.NoError(t, err)
				p := prepare(t, open(t, "cpu", 2), g, map[string][]byte{"w1": w1, "w2": w2})
				alone := func(xs []float32, w []byte) []float32 {
					b := graph.NewBuilder()
					out := b.MatMul(b.Input("x", graph.F32, m, k), b.Weight("w", dt, n, k))
					return runGraph(t, "cpu", 2, b, map[string][]byte{"x": f32s(xs...), "w": w}, out)[0]
				}
				for run := range 2 {
					xv, zv := randF32(r, m*k, 1), randF32(r, m*k, 1)
					p.set("x", f32s(xv...))
					p.set("z", f32s(zv...))
					p.run()
					for i, want := range [][]float32{alone(xv, w1), alone(xv, w2), alone(zv, w1), alone(xv, w2)} {
						require.Equal(t, want, p.f32(g.Outputs[i]), "run %d, output %d", run, i)
					}
				}
			})
		}
	}
}
