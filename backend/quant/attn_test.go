package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDotAndAXPYRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	for _, d := range []int{8, 16, 64, 128, 72} {
		for _, n := range []int{0, 1, 3, 4, 9, 16} {
			t.Run(fmt.Sprintf("d=%d/n=%d", d, n), func(t *testing.T) {
				stride := 3*d + 5
				have := max(0, (n-1)*stride+d)
				rows := randFloats(rng, have+1)[1:]
				h := make([]uint16, have)
				hf := make([]float32, have)
				bh := make([]uint16, have)
				bf := make([]float32, have)
				for i := range h {
					h[i] = F32ToF16(rows[i])
					hf[i] = F16ToF32(h[i])
					bh[i] = F32ToBF16(rows[i])
					bf[i] = BF16ToF32(bh[i])
				}
				q := randFloats(rng, d)
				e := randFloats(rng, n)
				if n > 2 {
					e[1] = 0
				}
				acc0 := randFloats(rng, d)
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						for _, kind := range []string{"f32", "f16", "bf16"} {
							out := make([]float32, n)
							acc := append([]float32(nil), acc0...)
							var src []float32
							switch kind {
							case "f16":
								src = hf
								DotRowsF16(q, h, stride, out)
								AXPYRowsF16(e, h, stride, acc)
							case "bf16":
								src = bf
								DotRowsBF16(q, bh, stride, out)
								AXPYRowsBF16(e, bh, stride, acc)
							default:
								src = rows
								DotRowsF32(q, rows, stride, out)
								AXPYRowsF32(e, rows, stride, acc)
							}
							for j := range n {
								r := src[j*stride : j*stride+d]
								var want float64
								for i := range d {
									want += float64(q[i]) * float64(r[i])
								}
								require.InDelta(t, want, float64(out[j]), dotTolerance(q, r), "%s %s dot row %d", p.name, kind, j)
							}
							for i := range d {
								want, mag := float64(acc0[i]), math.Abs(float64(acc0[i]))
								for j := range n {
									v := float64(e[j]) * float64(src[j*stride+i])
									want += v
									mag += math.Abs(v)
								}
								require.InDelta(t, want, float64(acc[i]), 1e-5*mag+1e-30, "%s %s acc[%d]", p.name, kind, i)
							}
						}
					})
				}
			})
		}
	}
	require.Panics(t, func() { DotRowsF32(make([]float32, 4), make([]float32, 7), 4, make([]float32, 2)) })
	require.Panics(t, func() { AXPYRowsF16(make([]float32, 2), make([]uint16, 7), 4, make([]float32, 4)) })
	require.Panics(t, func() { AXPYRowsBF16(make([]float32, 2), make([]uint16, 7), 4, make([]float32, 4)) })
	require.Panics(t, func() { DotRowsBF16(make([]float32, 4), make([]uint16, 7), 4, make([]float32, 2)) })
	require.Panics(t, func() { DotRowsF32(make([]float32, 4), make([]float32, 16), 3, make([]float32, 2)) })
}

// TestRowsGroupF16 checks the kv-group kernels against the per-head ones:
// DotRowsGroupF16 gives each 64-element head DotRowsF16's bits and every
// head its dot products to float32 rounding, AXPYRowsGroupF16 each head's
// sum to float32 rounding, for group sizes with and without a
// whole block of four heads and key counts with and without a tail.
func TestRowsGroupF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(57, 58))
	for _, d := range []int{64, 32, 128} {
		for _, g := range []int{1, 2, 3, 4, 5, 8} {
			for _, n := range []int{0, 1, 4, 7, 16, 33} {
				t.Run(fmt.Sprintf("d=%d/g=%d/n=%d", d, g, n), func(t *testing.T) {
					stride := 4*d + 3*64 // a cache row of several kv heads
					have := max(0, (n-1)*stride+d)
					rows := make([]uint16, have)
					src := make([]float32, have)
					for i := range rows {
						rows[i] = F32ToF16(2*rng.Float32() - 1)
						src[i] = F16ToF32(rows[i])
					}
					q := randFloats(rng, g*d)
					ostride := n + 5
					e := randFloats(rng, g*ostride)
					acc0 := randFloats(rng, g*d)
					for _, p := range implPaths() {
						withImpl(p.level, func() {
							out := make([]float32, g*ostride)
							DotRowsGroupF16(q, g, rows, stride, n, out, ostride)
							acc := append([]float32(nil), acc0...)
							AXPYRowsGroupF16(e, ostride, g, rows, stride, n, acc)
							for h := range g {
								want := make([]float32, n)
								DotRowsF16(q[h*d:(h+1)*d], rows, stride, want)
								if d <= 64 {
									require.Equal(t, bitsOf(want), bitsOf(out[h*ostride:h*ostride+n]), "%s head %d: DotRowsF16's bits", p.name, h)
								}
								for j := range n {
									r := src[j*stride : j*stride+d]
									var w float64
									for i := range d {
										w += float64(q[h*d+i]) * float64(r[i])
									}
									require.InDelta(t, w, float64(out[h*ostride+j]), dotTolerance(q[h*d:(h+1)*d], r), "%s head %d dot %d", p.name, h, j)
								}
								for i := range d {
									w, mag := float64(acc0[h*d+i]), math.Abs(float64(acc0[h*d+i]))
									for j := range n {
										v := float64(e[h*ostride+j]) * float64(src[j*stride+i])
										w += v
										mag += math.Abs(v)
									}
									require.InDelta(t, w, float64(acc[h*d+i]), 1e-5*mag+1e-30, "%s head %d acc[%d]", p.name, h, i)
								}
							}
						})
					}
				})
			}
		}
	}
	require.Panics(t, func() { DotRowsGroupF16(make([]float32, 64), 2, make([]uint16, 16), 64, 1, make([]float32, 2), 1) })
	require.Panics(t, func() { DotRowsGroupF16(make([]float32, 64), 2, make([]uint16, 64), 64, 2, make([]float32, 3), 2) })
	require.Panics(t, func() { AXPYRowsGroupF16(make([]float32, 2), 1, 2, make([]uint16, 10), 64, 1, make([]float32, 128)) })
}
