package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/graph"
	"github.com/stretchr/testify/require"
)

// TestGemmRowsEqualGemv checks that GemmF32 gives every row of x, bit for
// bit, what a matrix-vector product of that row alone gives (GemvF32, as
// the CPU backend's GEMV computes it), on every kernel family, whatever
// the number of x rows and the row's place among them: a sequence decoded
// in a batch must get what it gets alone.
func TestGemmRowsEqualGemv(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range implPaths() {
		// 1072 and 2053: past one and two of the AVX-512 GEMM's k-chunks.
		for _, k := range []int{1, 7, 8, 16, 24, 64, 100, 172, 1072, 2053} {
			for _, rows := range []int{1, 4, 6, 9} {
				w := make([]float32, rows*k)
				for i := range w {
					w[i] = float32(r.NormFloat64())
				}
				for _, m := range []int{1, 2, 3, 5, 7, 13} {
					t.Run(fmt.Sprintf("%s/k%d/rows%d/m%d", p.name, k, rows, m), func(t *testing.T) {
						x := make([]float32, m*k)
						for i := range x {
							x[i] = float32(r.NormFloat64())
						}
						withImpl(p.level, func() {
							out := make([]float32, m*rows)
							GemmF32(out, rows, x, m, w, rows, k)
							want := make([]float32, rows)
							for i := range m {
								GemvF32(w, rows, x[i*k:(i+1)*k], want)
								for j := range rows {
									require.Equal(t, math.Float32bits(want[j]), math.Float32bits(out[i*rows+j]), "x row %d, w row %d", i, j)
								}
							}
						})
					})
				}
			}
		}
	}
}

// TestDotRowsEqualDot checks that DotRows gives each x row, bit for bit,
// what Dot gives it alone, for every type, odd and even block counts, and
// x row counts that leave a remainder after the multi-row kernel's groups.
func TestDotRowsEqualDot(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range implPaths() {
		for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K} {
			for _, k := range []int{256, 768, 32 * 9} {
				if k%dt.BlockSize() != 0 {
					continue
				}
				f := make([]float32, k)
				for i := range f {
					f[i] = float32(r.NormFloat64())
				}
				rb, err := dt.RowBytes(int64(k))
				require.NoError(t, err)
				row := make([]byte, rb)
				require.NoError(t, Quantize(dt, f, row))
				for _, m := range []int{1, 3, 4, 5, 8, 9} {
					t.Run(fmt.Sprintf("%s/%s/k%d/m%d", p.name, dt, k, m), func(t *testing.T) {
						x := make([]float32, m*k)
						for i := range x {
							x[i] = float32(r.NormFloat64())
						}
						withImpl(p.level, func() {
							const ldo = 3
							out := make([]float32, (m-1)*ldo+1)
							DotRows(dt, row, x, m, out, ldo)
							for i := range m {
								want := Dot(dt, row, x[i*k:(i+1)*k])
								require.Equal(t, math.Float32bits(want), math.Float32bits(out[i*ldo]), "x row %d", i)
							}
						})
					})
				}
			}
		}
	}
}
