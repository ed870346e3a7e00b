package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/graph"
	"github.com/stretchr/testify/require"
)

// packedCase packs rows random rows of type dt and quantizes m x rows of k
// elements for GemmPacked.
type packedCase struct {
	dt            graph.DType
	k, m, rows    int
	w, packed     []byte
	x             []float32
	acts          []byte
	stride, rowBy int
}

func newPackedCase(t *testing.T, rng *rand.Rand, dt graph.DType, k, m, rows int) packedCase {
	c := packedCase{dt: dt, k: k, m: m, rows: rows}
	for range rows {
		c.w = append(c.w, randRow(t, rng, dt, k, false)...)
	}
	c.rowBy = len(c.w) / max(rows, 1)
	c.packed = offsetCopy(make([]byte, PackedBytes(dt, rows, k)))
	require.NoError(t, PackWeights(dt, c.packed, c.w, rows, k))
	c.stride = PackedActBytes(k) + 64
	c.acts = offsetCopy(make([]byte, m*c.stride))
	c.x = randFloats(rng, m*k)
	for i := range m {
		QuantizePackedAct(c.x[i*k:(i+1)*k], c.acts[i*c.stride:])
	}
	return c
}

// TestGemmPacked checks the packed kernels of every family against the
// float product of the dequantized weights and the quantized activations
// and against the portable code, and that a row's results are the same
// bits whatever the x rows around it (a decode step alone, in a batch
// and in a prompt agree).
func TestGemmPacked(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		for _, k := range []int{32, 96, 256, 288, 768} {
			for _, m := range []int{1, 2, 3, 5, 8, 15} {
				for _, rows := range []int{1, 16, 37, 64} {
					t.Run(fmt.Sprintf("%s/k=%d/m=%d/rows=%d", dt, k, m, rows), func(t *testing.T) {
						c := newPackedCase(t, rng, dt, k, m, rows)
						ldo := rows + 3
						var ref []float32
						for _, p := range implPaths() {
							withImpl(p.level, func() {
								out := make([]float32, m*ldo)
								for i := range out {
									out[i] = float32(math.NaN())
								}
								GemmPacked(dt, out, ldo, c.acts, c.stride, m, c.packed, rows, k)
								for i := range m {
									xq := packedActValues(c.acts[i*c.stride:], k)
									for r := range ldo {
										got := float64(out[i*ldo+r])
										if r >= rows {
											require.True(t, math.IsNaN(got), "%s: written past the rows", p.name)
											continue
										}
										wf := make([]float32, k)
										require.NoError(t, Dequantize(dt, c.w[r*c.rowBy:(r+1)*c.rowBy], wf))
										var want, mag float64
										for e := range k {
											want += float64(wf[e]) * xq[e]
											mag += math.Abs(float64(wf[e]) * xq[e])
										}
										require.InDelta(t, want, got, 2e-6*mag+1e-7, "%s out[%d][%d]", p.name, i, r)
										if ref != nil {
											require.InDelta(t, float64(ref[i*ldo+r]), got, 1e-6*mag+1e-7, "%s out[%d][%d] against the portable code", p.name, i, r)
										}
									}
									one := make([]float32, rows)
									GemmPacked(dt, one, rows, c.acts[i*c.stride:], c.stride, 1, c.packed, rows, k)
									require.Equal(t, bitsOf(one), bitsOf(out[i*ldo:i*ldo+rows]), "%s row %d alone", p.name, i)
								}
								if ref == nil {
									ref = out
								}
							})
						}
					})
				}
			}
		}
	}
}

// packedActValues returns the values a packed activation buffer stands
// for: each quant times its super-block's scale.
func packedActValues(act []byte, k int) []float64 {
	l := packedLayoutFor(k)
	qs := bytesI16(act, k)
	rs := bytesF32(act[l.rs:], 2*l.supers)
	v := make([]float64, k)
	for i := range k {
		v[i] = float64(qs[i]) * float64(rs[2*(i/256)+1])
	}
	return v
}

// TestQuantizePackedAct checks the packed activations against
// QuantizeAct's quants and scales, on every family.
func TestQuantizePackedAct(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for _, k := range []int{32, 288, 768, 2048} {
		x := randFloats(rng, k)
		x[5] *= 1000 // an outlier
		want := make([]byte, ActBytes(graph.Q8_0, k))
		withImpl(levelGeneric, func() { QuantizeAct(graph.Q8_0, x, want) })
		wv := actValues(graph.Q8_0, want, k)
		for _, p := range implPaths() {
			withImpl(p.level, func() {
				act := make([]byte, PackedActBytes(k))
				for i := range act {
					act[i] = 0xa5
				}
				QuantizePackedAct(x, act)
				require.Equal(t, wv, packedActValues(act, k), "%s k=%d", p.name, k)
			})
		}
	}
}

// TestGemmPackedNonFinite: a NaN or an infinity in an x row's super-block
// makes that row's results NaN, as a float product would be.
func TestGemmPackedNonFinite(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
			c := newPackedCase(t, rng, dt, 512, 2, 16)
			c.x[300] = bad
			QuantizePackedAct(c.x[:512], c.acts)
			for _, p := range implPaths() {
				withImpl(p.level, func() {
					out := make([]float32, 2*16)
					GemmPacked(dt, out, 16, c.acts, c.stride, 2, c.packed, 16, 512)
					for r := range 16 {
						require.True(t, math.IsNaN(float64(out[r])), "%s %s row 0 col %d: %v", p.name, dt, r, out[r])
						require.False(t, math.IsNaN(float64(out[16+r])), "%s %s row 1 col %d", p.name, dt, r)
					}
				})
			}
		}
	}
}

// TestPackedErrors: sizes that do not fit are errors (PackWeights) or
// panics naming the call (GemmPacked, QuantizePackedAct).
func TestPackedErrors(t *testing.T) {
	require.Zero(t, PackedBytes(graph.Q4_K, 16, 256))
	require.Zero(t, PackedBytes(graph.Q8_0, 16, 48))
	require.Equal(t, 32*34, PackedBytes(graph.Q8_0, 17, 32))
	require.ErrorContains(t, PackWeights(graph.Q6_K, make([]byte, 1<<12), make([]byte, 1<<12), 1, 256), "no packed layout")
	require.ErrorContains(t, PackWeights(graph.Q8_0, make([]byte, 10), make([]byte, 34), 1, 32), "need 544")
	require.PanicsWithValue(t, "quant: QuantizePackedAct: 33 elements into 1024 bytes (need 0)", func() { QuantizePackedAct(make([]float32, 33), make([]byte, 1024)) })
	require.Panics(t, func() {
		GemmPacked(graph.Q8_0, make([]float32, 16), 16, make([]byte, PackedActBytes(32)), PackedActBytes(32), 1, make([]byte, 100), 16, 32)
	})
}

// TestGemvPacked2: two products of one x row side by side give each row
// GemmPacked's bits, on every family, whatever the two lengths.
func TestGemvPacked2(t *testing.T) {
	rng := rand.New(rand.NewPCG(67, 68))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		for _, k := range []int{32, 288, 768} {
			for _, rows := range [][2]int{{16, 16}, {64, 32}, {37, 80}, {1, 48}} {
				a := newPackedCase(t, rng, dt, k, 1, rows[0])
				b := newPackedCase(t, rng, dt, k, 1, rows[1])
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						wantA, wantB := make([]float32, rows[0]), make([]float32, rows[1])
						GemmPacked(dt, wantA, rows[0], a.acts, a.stride, 1, a.packed, rows[0], k)
						GemmPacked(dt, wantB, rows[1], a.acts, a.stride, 1, b.packed, rows[1], k)
						gotA, gotB := make([]float32, rows[0]), make([]float32, rows[1])
						GemvPacked2(dt, gotA, a.packed, rows[0], gotB, b.packed, rows[1], a.acts[:PackedActBytes(k)], k)
						require.Equal(t, bitsOf(wantA), bitsOf(gotA), "%s %s k=%d rows %v: first", p.name, dt, k, rows)
						require.Equal(t, bitsOf(wantB), bitsOf(gotB), "%s %s k=%d rows %v: second", p.name, dt, k, rows)
					})
				}
			}
		}
	}
}

// TestPackWeightsFamilies: every family packs the same bytes as the
// portable code (the assembly packs whole groups but the last).
func TestPackWeightsFamilies(t *testing.T) {
	rng := rand.New(rand.NewPCG(69, 70))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		for _, k := range []int{32, 96, 288} {
			for _, rows := range []int{16, 32, 83, 128} {
				var w []byte
				for range rows {
					w = append(w, randRow(t, rng, dt, k, false)...)
				}
				var want []byte
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						got := make([]byte, PackedBytes(dt, rows, k))
						for i := range got {
							got[i] = 0xa5
						}
						require.NoError(t, PackWeights(dt, got, w, rows, k))
						if want == nil {
							want = got
							return
						}
						require.Equal(t, want, got, "%s %s k=%d rows=%d", p.name, dt, k, rows)
					})
				}
			}
		}
	}
}
