package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// ulps32 returns the distance in float32 ulps between got and the float32
// nearest to want (both finite and of the same sign, or zero).
func ulps32(got float32, want float64) float64 {
	w := float32(want)
	if got == w {
		return 0
	}
	return math.Abs(float64(int64(math.Float32bits(got)) - int64(math.Float32bits(w))))
}

func TestMaxF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	inf := float32(math.Inf(1))
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 47, 48, 64, 100, 1000} {
		for _, special := range []float32{0, inf, -inf, float32(math.NaN())} {
			for _, at := range []int{0, n / 2, n - 1} {
				if n == 0 && at != 0 {
					continue
				}
				x := make([]float32, n)
				for i := range x {
					x[i] = 100 * (2*rng.Float32() - 1)
				}
				if n > 0 && special != 0 {
					x[at] = special
				}
				want := float32(math.Inf(-1))
				for _, v := range x {
					want = max(want, v)
				}
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						got := MaxF32(x)
						if math.IsNaN(float64(want)) {
							require.True(t, math.IsNaN(float64(got)), "%s n=%d %v at %d: %v", p.name, n, special, at, got)
							return
						}
						require.Equal(t, want, got, "%s n=%d %v at %d", p.name, n, special, at)
					})
				}
			}
		}
	}
}

// TestExpSumCountsItsElements sums e**0 over every length up to 40: the sum
// is the length, so a vector tail's unused lanes are left out.
func TestExpSumCountsItsElements(t *testing.T) {
	for n := range 41 {
		for _, p := range implPaths() {
			withImpl(p.level, func() {
				x := make([]float32, n+1)
				x[n] = 7 // past the slice: left alone
				require.Equal(t, float32(n), ExpSum(x[:n], 0), "%s n=%d", p.name, n)
				require.Equal(t, float32(7), x[n], "%s n=%d: written past the slice", p.name, n)
				for i := range n {
					require.Equal(t, float32(1), x[i], "%s n=%d: e**0 at %d", p.name, n, i)
				}
			})
		}
	}
}

func TestExpSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	specials := []float32{0, 1, -1, 88, 88.72, 89, 100, -87, -90, -103, -104, -1000,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), -0.0}
	for _, n := range []int{0, 1, 15, 16, 17, 100, 1000} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			x := make([]float32, n)
			for i := range x {
				if i < len(specials) && n >= 32 {
					x[i] = specials[i]
				} else {
					x[i] = (rng.Float32()*2 - 1) * 90
				}
			}
			for _, m := range []float32{0, 3.5} {
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						y := append([]float32(nil), x...)
						s := ExpSum(y, m)
						var want float64
						for i, v := range x {
							e := math.Exp(float64(v - m)) // the rounded difference is the input
							switch {
							case math.IsNaN(float64(v)):
								require.True(t, math.IsNaN(float64(y[i])), "%s exp(NaN)", p.name)
								continue
							case e > math.MaxFloat32 || math.IsInf(e, 1):
								require.True(t, math.IsInf(float64(y[i]), 1), "%s exp(%v) = %v", p.name, v-m, y[i])
							case e < 0x1p-126:
								require.InDelta(t, e, float64(y[i]), 0x1p-148, "%s exp(%v)", p.name, v-m)
							default:
								require.LessOrEqual(t, ulps32(y[i], e), 2.0, "%s exp(%v) = %v, want %v", p.name, v-m, y[i], e)
							}
							want += float64(y[i])
						}
						if !math.IsNaN(want) && !math.IsInf(want, 0) && n > 0 && !hasNaN(x) {
							require.InDelta(t, want, float64(s), 1e-6*math.Abs(want)+1e-30, "%s sum", p.name)
						}
					})
				}
			}
		})
	}
}

func hasNaN(x []float32) bool {
	for _, v := range x {
		if v != v {
			return true
		}
	}
	return false
}

func TestSiLUAndSwiGLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for _, n := range []int{0, 1, 15, 16, 33, 1000} {
		x := make([]float32, n)
		y := randFloats(rng, n)
		for i := range x {
			x[i] = (rng.Float32()*2 - 1) * 30
		}
		if n > 20 {
			x[3], x[4], x[5] = 0, -200, 200
		}
		for _, p := range implPaths() {
			withImpl(p.level, func() {
				a := make([]float32, n)
				b := make([]float32, n)
				SiLU(a, x)
				SwiGLU(b, x, y)
				for i, v := range x {
					s := float64(v) / (1 + math.Exp(-float64(v)))
					require.InDelta(t, s, float64(a[i]), 4e-7*math.Abs(s)+1e-30, "%s silu(%v)", p.name, v)
					require.InDelta(t, s*float64(y[i]), float64(b[i]), 5e-7*math.Abs(s*float64(y[i]))+1e-30, "%s swiglu(%v)", p.name, v)
				}
			})
		}
	}
}

// TestVectorMathPositionIndependent checks that ExpSum, SiLU and SwiGLU
// give an element the same bits wherever it sits in the slice (in a
// vector body or in the tail), on every kernel family: the CPU backend
// runs them over whole tensors, and a row must get the same values in a
// batch of rows as alone.
func TestVectorMathPositionIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	const n = 4000 // the vector and scalar code differ on about 1 % of inputs
	x := make([]float32, n)
	for i := range x {
		x[i] = (rng.Float32()*2 - 1) * 20
	}
	y := randFloats(rng, n)
	for _, p := range implPaths() {
		withImpl(p.level, func() {
			whole := func(f func(out, x, y []float32)) []uint32 {
				out := make([]float32, n)
				f(out, x, y)
				return bitsOf(out)
			}
			fs := map[string]func(out, x, y []float32){
				"silu":   func(out, x, _ []float32) { SiLU(out, x) },
				"swiglu": SwiGLU,
				"expsum": func(out, x, _ []float32) { copy(out, x); ExpSum(out, 1.5) },
			}
			for name, f := range fs {
				want := whole(f)
				// Every element in a short slice (all tail), and at other
				// offsets in long ones.
				for _, l := range []int{15, 16 + 7, 1000 + 3} {
					for off := 1; off+l <= n; off += l {
						out := make([]float32, l)
						f(out, x[off:off+l], y[off:off+l])
						require.Equal(t, want[off:off+l], bitsOf(out), "%s %s of x[%d:%d]", p.name, name, off, off+l)
					}
				}
			}
		})
	}
}

// TestArgMaxF32 checks ArgMaxF32 on every path against a plain loop: the
// first largest value wins (ties inside and across lanes and runs, in the
// tail), and any NaN or infinity is reported.
func TestArgMaxF32(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	check := func(t *testing.T, x []float32, what string) {
		t.Helper()
		wantFinite := true
		want := 0
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				wantFinite = false
			}
			if v > x[want] {
				want = i
			}
		}
		for _, p := range implPaths() {
			withImpl(p.level, func() {
				got, finite := ArgMaxF32(x)
				require.Equal(t, wantFinite, finite, "%s %s", p.name, what)
				if finite {
					require.Equal(t, want, got, "%s %s", p.name, what)
				}
			})
		}
	}
	for _, tc := range []struct {
		name string
		x    []float32
	}{
		{"one", []float32{3}},
		{"tail only", []float32{1, 5, 5}},
		{"first of two runs", []float32{0, 7, 0, 0, 0, 7, 0, 0}},
		{"tie across runs, later run first", []float32{0, 0, 9, 0, 0, 9, 0, 0}},
		{"tie with the tail", []float32{0, 0, 0, 4, 0, 0, 0, 0, 4}},
		{"tail wins", []float32{1, 1, 1, 1, 2}},
		{"negative", []float32{-3, -2, -5, -2, -9, -1.5, -7, -8, -1.5}},
		{"last of the runs", []float32{0, 0, 0, 0, 0, 0, 0, 1}},
		{"NaN", []float32{0, 1, nan, 2}},
		{"NaN in the tail", []float32{0, 1, 2, 3, nan}},
		{"+Inf", []float32{0, inf, 1, 2, 3}},
		{"-Inf", []float32{0, 1, 2, -inf}},
		{"all -Inf", []float32{-inf, -inf, -inf, -inf, -inf}},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.x, tc.name) })
	}
	// Two equal largest values at every pair of places of 96 elements:
	// in one lane of one chain, in two lanes, in the tail.
	for i := range 96 {
		for j := i + 1; j < 96; j++ {
			x := make([]float32, 96)
			x[i], x[j] = 1, 1
			check(t, x, fmt.Sprintf("1 at %d and %d", i, j))
		}
	}
	// Random rows with few distinct values (ties in many lanes), of every
	// length up to 100 and a vocabulary's, each also with a NaN, an
	// infinity or -Inf at the start, the middle or the end, and all -Inf
	// but one value.
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range append(seq(1, 100), 1000, 32000, 32003) {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.IntN(5)) - 2
		}
		check(t, x, fmt.Sprintf("n=%d", n))
		for _, special := range []float32{nan, inf, -inf} {
			for _, at := range []int{0, n / 2, n - 1} {
				y := append([]float32(nil), x...)
				y[at] = special
				check(t, y, fmt.Sprintf("n=%d %v at %d", n, special, at))
			}
		}
		y := make([]float32, n)
		for i := range y {
			y[i] = -inf
		}
		y[rng.IntN(n)] = -1
		check(t, y, fmt.Sprintf("n=%d one above -Inf", n))
	}
}

// seq returns lo, lo+1, ..., hi.
func seq(lo, hi int) []int {
	var s []int
	for i := lo; i <= hi; i++ {
		s = append(s, i)
	}
	return s
}

// BenchmarkArgMaxF32 times ArgMaxF32 on a row of 32000 logits (a
// vocabulary of 32000 tokens), greedy sampling's work per sequence.
func BenchmarkArgMaxF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := make([]float32, 32000)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, p := range implPaths() {
		b.Run(p.name, func(b *testing.B) {
			withImpl(p.level, func() {
				for b.Loop() {
					ArgMaxF32(x)
				}
			})
		})
	}
}

// TestRoPE checks RoPE on every path, bit for bit, against the rotation
// written out per pair (x₀·cos − x₁·sin, x₀·sin + x₁·cos, each product
// rounded): neighbour pairs and halves, head sizes with and without a
// vector kernel, heads with elements past dims (left alone), in place.
func TestRoPE(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, halves := range []bool{false, true} {
		for _, dims := range []int{2, 6, 8, 16, 24, 32, 64, 128} {
			for _, tc := range []struct{ heads, extra int }{{1, 0}, {3, 0}, {3, 5}} {
				stride := dims + tc.extra
				n := (tc.heads-1)*stride + dims + tc.extra
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * 4)
				}
				half := dims / 2
				cs, sn := make([]float32, half), make([]float32, half)
				for i := range cs {
					a := rng.Float64() * 100
					cs[i], sn[i] = float32(math.Cos(a)), float32(math.Sin(a))
				}
				// c and s in the layout of the mode, and the rotation.
				c, s := make([]float32, dims), make([]float32, dims)
				want := slices.Clone(x)
				for h := range tc.heads {
					xh, wh := x[h*stride:], want[h*stride:]
					for i := range half {
						j0, j1 := 2*i, 2*i+1
						if halves {
							j0, j1 = i, i+half
						}
						c[j0], c[j1], s[j0], s[j1] = cs[i], cs[i], -sn[i], sn[i]
						a, b := xh[j0], xh[j1]
						wh[j0] = float32(a*cs[i]) - float32(b*sn[i])
						wh[j1] = float32(a*sn[i]) + float32(b*cs[i])
					}
				}
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						what := fmt.Sprintf("%s halves=%v dims=%d heads=%d stride=%d", p.name, halves, dims, tc.heads, stride)
						out := make([]float32, n)
						for i := range out {
							out[i] = x[i] // the elements past dims stay
						}
						RoPE(out, x, c, s, dims, tc.heads, stride, halves)
						requireSameBits(t, want, out, what)
						in := slices.Clone(x)
						RoPE(in, in, c, s, dims, tc.heads, stride, halves)
						requireSameBits(t, want, in, what+" in place")
					})
				}
			}
		}
	}
}

// requireSameBits fails unless got and want hold the same float32 bits.
func requireSameBits(t *testing.T, want, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("%s: element %d is %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestPrefetchRows checks PrefetchRows' bounds: rows that fit (on every
// path, the memory unchanged), nothing to do, and rows past the slice.
func TestPrefetchRows(t *testing.T) {
	h := make([]uint16, 10*64)
	f := make([]float32, 10*64)
	for i := range h {
		h[i], f[i] = uint16(i), float32(i)
	}
	for _, p := range implPaths() {
		withImpl(p.level, func() {
			PrefetchRows(h, 64, 10, 64)
			PrefetchRows(f[3:], 64, 9, 40)
			PrefetchRows(h, 64, 0, 64)
			PrefetchRows(f, 64, 3, 0)
		})
	}
	for i := range h {
		require.Equal(t, uint16(i), h[i])
		require.Equal(t, float32(i), f[i])
	}
	require.Panics(t, func() { PrefetchRows(h, 64, 11, 64) })
	require.Panics(t, func() { PrefetchRows(f[1:], 64, 10, 64) })
	require.Panics(t, func() { PrefetchRows(f, -1, 2, 1) })
}
