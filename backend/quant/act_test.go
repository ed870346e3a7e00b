package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/graph"
	"github.com/stretchr/testify/require"
)

// intTypes are the weight types with integer dot products.
var intTypes = []graph.DType{graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}

// actLengths returns the element counts the integer tests use for dt:
// whole and partial Q4_0 groups of 128, and several super-blocks.
func actLengths(dt graph.DType) []int {
	if dt.BlockSize() == 256 {
		return []int{256, 512, 768, 2048}
	}
	return []int{32, 64, 96, 128, 160, 224, 256, 384, 416, 768, 2048}
}

// actValues returns the dequantized activations of act (dx·q in element
// order).
func actValues(t graph.DType, act []byte, k int) []float64 {
	l := layoutFor(t, k)
	d := bytesF32(act[l.d:], l.blocks)
	qs := bytesI16(act[l.qs:], l.init/2)
	v := make([]float64, k)
	for i := range v {
		v[i] = float64(d[i/32]) * float64(qs[actPos(actOrder(t, k, i))])
	}
	return v
}

func TestActOrderIsAPermutation(t *testing.T) {
	for _, dt := range intTypes {
		for _, k := range actLengths(dt) {
			seen := make([]bool, k)
			stored := make([]bool, k&^63+64)
			for i := range k {
				p := actOrder(dt, k, i)
				require.False(t, seen[p], "%s k=%d: position %d twice", dt, k, p)
				seen[p] = true
				if dt != graph.Q4_0 {
					require.Equal(t, i, elemAt(dt, p), "%s k=%d", dt, k)
				}
				s := actPos(p)
				require.False(t, stored[s], "%s k=%d: int16 slot %d twice", dt, k, s)
				stored[s] = true
			}
		}
	}
}

func TestQuantizeAct(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, dt := range intTypes {
		for _, k := range actLengths(dt) {
			t.Run(fmt.Sprintf("%s/k=%d", dt, k), func(t *testing.T) {
				x := randFloats(rng, k)
				x[0] = 0 // a block with zeros
				for i := 32; i < 64 && i < k; i++ {
					x[i] = 0 // an all-zero block: scale 0
				}
				var got [][]byte
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						act := make([]byte, ActBytes(dt, k))
						QuantizeAct(dt, x, act)
						got = append(got, act)
					})
				}
				for i := 1; i < len(got); i++ {
					require.Equal(t, got[0], got[i], "%s vs generic", implPaths()[i].name)
				}
				act := got[0]
				l := layoutFor(dt, k)
				d := bytesF32(act[l.d:], l.blocks)
				v := actValues(dt, act, k)
				for i, xi := range x {
					require.LessOrEqual(t, math.Abs(float64(xi)-v[i]), float64(d[i/32])*0.51, "element %d", i) // half a step, plus the rounding of x/dx
				}
				// The lanes: sum and scale of the block they belong to.
				init := bytesI32(act[l.init:], l.lanes)
				scale := bytesF32(act[l.scale:], l.lanes)
				c := actConst(dt)
				var total int64
				for ln := range l.lanes {
					total += int64(init[ln])
					require.NotZero(t, scale[ln]+1, "lane %d", ln) // set
				}
				var want int64
				qs := bytesI16(act[l.qs:], l.init/2)
				for i := range k {
					want += int64(qs[actPos(i)])
				}
				require.Equal(t, -int64(c)*want, total, "lane corrections")
			})
		}
	}
}

// dotActTolerance bounds |DotAct - Σ w·x| for the quantized activations:
// each element is off by at most half its block's step.
func dotActTolerance(w []float32, act []byte, t graph.DType, k int) float64 {
	l := layoutFor(t, k)
	d := bytesF32(act[l.d:], l.blocks)
	var e float64
	for i := range k {
		e += math.Abs(float64(w[i])) * float64(d[i/32]) / 2
	}
	return e*1.001 + 1e-6
}

func TestGemvActMatchesFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	const rows = 11
	for _, dt := range intTypes {
		for _, k := range actLengths(dt) {
			for _, raw := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/k=%d/raw=%v", dt, k, raw), func(t *testing.T) {
					rb, err := dt.RowBytes(int64(k))
					require.NoError(t, err)
					w := make([]byte, 0, rows*int(rb)+1)
					for range rows {
						w = append(w, randRow(t, rng, dt, k, raw)...)
					}
					w = offsetCopy(w)
					x := randFloats(rng, k)
					act := offsetCopy(make([]byte, ActBytes(dt, k)))
					QuantizeAct(dt, x, act)
					xq := actValues(dt, act, k)
					wf := make([]float32, k)
					var outs [][]float32
					for _, p := range implPaths() {
						withImpl(p.level, func() {
							out := make([]float32, rows+1)
							out[rows] = 42
							GemvAct(dt, w, rows, act, k, out[:rows])
							require.Equal(t, float32(42), out[rows], "past the rows")
							outs = append(outs, out)
						})
					}
					for r := range rows {
						row := w[r*int(rb) : (r+1)*int(rb)]
						require.NoError(t, Dequantize(dt, row, wf))
						var exact, mag float64
						for i := range k {
							exact += float64(wf[i]) * xq[i]
							mag += math.Abs(float64(wf[i]) * xq[i])
						}
						want := DotF64(dt, row, x)
						for i, out := range outs {
							name := implPaths()[i].name
							require.InDelta(t, exact, float64(out[r]), 2e-5*mag+1e-6, "%s row %d vs the exact product of the quantized values", name, r)
							require.InDelta(t, want, float64(out[r]), dotActTolerance(wf, act, dt, k)+2e-5*mag, "%s row %d vs DotF64", name, r)
							require.InDelta(t, float64(outs[0][r]), float64(out[r]), 2e-5*mag+1e-6, "%s row %d vs generic", name, r)
						}
						require.InDelta(t, float64(outs[0][r]), float64(DotAct(dt, row, act, k)), 2e-5*mag+1e-6, "DotAct")
					}
				})
			}
		}
	}
}

// superScale is the scale of each super-block of x as the package comment
// on super-block scales defines it, computed in float64 from the
// elements.
func superScale(x []float32) []float32 {
	var m []float64
	big := 0.0
	for s0 := 0; s0 < len(x); s0 += 256 {
		a := 0.0
		for _, v := range x[s0:min(s0+256, len(x))] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				a = math.NaN()
				break
			}
			a = math.Max(a, math.Abs(float64(v)))
		}
		e := float64(float32(a) / actMax)
		m = append(m, e)
		if !math.IsNaN(e) {
			big = math.Max(big, e)
		}
	}
	out := make([]float32, len(m))
	for S, e := range m {
		switch {
		case math.IsNaN(e):
			out[S] = float32(math.NaN())
		case big == 0:
			out[S] = 1
		default:
			out[S] = float32(math.Max(e, math.Max(big*0x1p-64, 0x1p-126)))
		}
	}
	return out
}

// TestQuantizeActSuperBlocks quantizes rows whose super-blocks differ in
// magnitude by up to 10⁵⁰ (an outlier, a zero super-block, one below the
// floor) and checks the scales, the ratios the AVX-512 kernels rescale
// by, and that every kernel's products stay exact to float32 rounding and
// give a row the same bits alone and in a batch.
func TestQuantizeActSuperBlocks(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	mags := [][]float32{
		{1, 1e3, 0, 1e-30, 1e-3, 1, 1e4, 1e-2, 5},
		{0, 0, 1e-20, 1, 0, 1e2, 1e-40, 3, 1},
		{1e-35, 1e-38, 1e-30, 1e-36, 1e-32, 1e-37, 1e-31, 1e-33, 1e-34},
	}
	for _, dt := range intTypes {
		for _, k := range []int{2304, 2144} {
			if k%dt.BlockSize() != 0 || (dt == graph.Q4_0 && k%128 != 0) {
				continue
			}
			t.Run(fmt.Sprintf("%s/k=%d", dt, k), func(t *testing.T) {
				rb, err := dt.RowBytes(int64(k))
				require.NoError(t, err)
				const rows = 8
				var w []byte
				for range rows {
					w = append(w, randRow(t, rng, dt, k, false)...)
				}
				m := len(mags)
				stride := ActBytes(dt, k)
				x := make([]float32, m*k)
				for i, mg := range mags {
					for j := range k {
						x[i*k+j] = mg[j/256] * (2*rng.Float32() - 1)
					}
				}
				x[300] = 7e4 // an outlier beside elements of ~1e3
				l := layoutFor(dt, k)
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						acts := make([]byte, m*stride)
						for i := range m {
							act := acts[i*stride : (i+1)*stride]
							QuantizeAct(dt, x[i*k:(i+1)*k], act)
							want := superScale(x[i*k : (i+1)*k])
							d := bytesF32(act[l.d:], l.blocks)
							rs := bytesF32(act[l.rs:], 2*l.supers)
							for b := range l.blocks {
								require.Equal(t, want[b/8], d[b], "%s row %d block %d: scale", p.name, i, b)
							}
							for S := range l.supers {
								require.Equal(t, want[S], rs[2*S+1], "%s row %d super-block %d", p.name, i, S)
								r := float32(1)
								if S > 0 {
									r = want[S-1] / want[S]
								}
								require.Equal(t, r, rs[2*S], "%s row %d super-block %d: ratio", p.name, i, S)
							}
						}
						out := make([]float32, m*rows)
						GemmAct(dt, out, rows, acts, stride, m, w, rows, k)
						wf := make([]float32, k)
						for i := range m {
							xq := actValues(dt, acts[i*stride:], k)
							one := make([]float32, rows)
							GemvAct(dt, w, rows, acts[i*stride:(i+1)*stride], k, one)
							require.Equal(t, bitsOf(one), bitsOf(out[i*rows:(i+1)*rows]), "%s row %d: GemmAct and GemvAct", p.name, i)
							for r := range rows {
								require.NoError(t, Dequantize(dt, w[r*int(rb):(r+1)*int(rb)], wf))
								var exact, mag float64
								for e := range k {
									exact += float64(wf[e]) * xq[e]
									mag += math.Abs(float64(wf[e]) * xq[e])
								}
								require.InDelta(t, exact, float64(one[r]), 2e-5*mag+1e-45, "%s x row %d weight row %d", p.name, i, r)
							}
						}
					})
				}
			})
		}
	}
}

func TestQuantizeActNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	for _, dt := range intTypes {
		k := 256
		w := randRow(t, rng, dt, k, false)
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			for _, p := range implPaths() {
				withImpl(p.level, func() {
					x := randFloats(rng, k)
					x[77] = bad
					act := make([]byte, ActBytes(dt, k))
					QuantizeAct(dt, x, act)
					s := DotAct(dt, w, act, k)
					require.True(t, math.IsNaN(float64(s)), "%s %s x=%v: got %v", p.name, dt, bad, s)
				})
			}
		}
	}
}

func TestActPanicsOnBadArguments(t *testing.T) {
	k := 64
	x := make([]float32, k)
	act := make([]byte, ActBytes(graph.Q8_0, k))
	w := make([]byte, 2*q8Block)
	require.Zero(t, ActBytes(graph.F32, k))
	require.Zero(t, ActBytes(graph.Q8_0, 48))
	require.Zero(t, ActBytes(graph.Q4_K, 128))
	require.Zero(t, ActBytes(graph.Q8_0, 0))
	tests := []struct {
		name string
		f    func()
	}{
		{"quantize f32", func() { QuantizeAct(graph.F32, x, act) }},
		{"quantize short act", func() { QuantizeAct(graph.Q8_0, x, act[:len(act)-1]) }},
		{"quantize partial block", func() { QuantizeAct(graph.Q8_0, x[:40], act) }},
		{"gemv short act", func() { GemvAct(graph.Q8_0, w, 1, act[:10], k, make([]float32, 1)) }},
		{"gemv short w", func() { GemvAct(graph.Q8_0, w, 2, act, k, make([]float32, 2)) }},
		{"gemv short out", func() { GemvAct(graph.Q8_0, w, 1, act, k, nil) }},
		{"gemv k mismatch", func() { GemvAct(graph.Q4_K, w, 1, act, k, make([]float32, 1)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range implPaths() {
				withImpl(p.level, func() { require.Panics(t, tc.f, p.name) })
			}
		})
	}
}

func TestActDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	for _, dt := range intTypes {
		k := 512
		w := randRow(t, rng, dt, k, false)
		x := randFloats(rng, k)
		act := make([]byte, ActBytes(dt, k))
		out := make([]float32, 1)
		for _, p := range implPaths() {
			withImpl(p.level, func() {
				allocs := testing.AllocsPerRun(10, func() {
					QuantizeAct(dt, x, act)
					GemvAct(dt, w, 1, act, k, out)
				})
				require.Zero(t, allocs, "%s %s", p.name, dt)
			})
		}
	}
}

// TestGemvAct2 checks that GemvAct2 gives each row of both sets
// GemvAct's bits, whatever the two sets' row counts.
func TestGemvAct2(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, dt := range intTypes {
		for _, k := range []int{256, 2048} {
			rb, err := dt.RowBytes(int64(k))
			require.NoError(t, err)
			var w []byte
			for range 40 {
				w = append(w, randRow(t, rng, dt, k, false)...)
			}
			act := make([]byte, ActBytes(dt, k))
			QuantizeAct(dt, randFloats(rng, k), act)
			for _, n := range [][2]int{{1, 1}, {7, 7}, {16, 3}, {2, 19}, {0, 5}} {
				w1, w2 := w[:n[0]*int(rb)], w[20*int(rb):(20+n[1])*int(rb)]
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						o1, o2 := make([]float32, n[0]), make([]float32, n[1])
						GemvAct2(dt, w1, o1, w2, o2, act, k)
						want1, want2 := make([]float32, n[0]), make([]float32, n[1])
						GemvAct(dt, w1, n[0], act, k, want1)
						GemvAct(dt, w2, n[1], act, k, want2)
						require.Equal(t, bitsOf(want1), bitsOf(o1), "%s %s k=%d %v: first set", p.name, dt, k, n)
						require.Equal(t, bitsOf(want2), bitsOf(o2), "%s %s k=%d %v: second set", p.name, dt, k, n)
					})
				}
			}
		}
	}
}

func TestGemmAct(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	for _, dt := range intTypes {
		for _, k := range []int{256, 384, 512, 768, 2048} {
			if k%dt.BlockSize() != 0 {
				continue
			}
			for _, m := range []int{1, 2, 3, 4, 5, 7, 13} {
				for _, rows := range []int{1, 4, 7, 16, 20} {
					t.Run(fmt.Sprintf("%s/k=%d/m=%d/rows=%d", dt, k, m, rows), func(t *testing.T) {
						rb, err := dt.RowBytes(int64(k))
						require.NoError(t, err)
						var w []byte
						for range rows {
							w = append(w, randRow(t, rng, dt, k, false)...)
						}
						w = offsetCopy(w)
						stride := ActBytes(dt, k) + 64
						acts := make([]byte, m*stride)
						x := randFloats(rng, m*k)
						for i := range m {
							QuantizeAct(dt, x[i*k:(i+1)*k], acts[i*stride:])
						}
						ldo := rows + 3
						for _, p := range implPaths() {
							withImpl(p.level, func() {
								out := make([]float32, m*ldo)
								for i := range out {
									out[i] = float32(math.NaN())
								}
								GemmAct(dt, out, ldo, acts, stride, m, w, rows, k)
								for i := range m {
									for r := range ldo {
										if r >= rows {
											require.True(t, math.IsNaN(float64(out[i*ldo+r])), "%s: written past the rows", p.name)
											continue
										}
										row := w[r*int(rb) : (r+1)*int(rb)]
										var want [1]float32
										withImpl(levelGeneric, func() { GemvAct(dt, row, 1, acts[i*stride:], k, want[:]) })
										wf := make([]float32, k)
										require.NoError(t, Dequantize(dt, row, wf))
										xq := actValues(dt, acts[i*stride:], k)
										var mag float64
										for e := range k {
											mag += math.Abs(float64(wf[e]) * xq[e])
										}
										require.InDelta(t, float64(want[0]), float64(out[i*ldo+r]), 2e-5*mag+1e-6, "%s out[%d][%d]", p.name, i, r)
									}
								}
								// Row i's results do not depend on the rows around it,
								// and are GemvAct's bits for the row (a decode step
								// alone and in a batch agree).
								for i := range m {
									one := make([]float32, rows)
									GemmAct(dt, one, rows, acts[i*stride:], stride, 1, w, rows, k)
									require.Equal(t, bitsOf(one), bitsOf(out[i*ldo:i*ldo+rows]), "%s row %d alone", p.name, i)
									GemvAct(dt, w, rows, acts[i*stride:i*stride+ActBytes(dt, k)], k, one)
									require.Equal(t, bitsOf(one), bitsOf(out[i*ldo:i*ldo+rows]), "%s row %d: GemvAct", p.name, i)
								}
							})
						}
					})
				}
			}
		}
	}
}
