package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/graph"
	"github.com/stretchr/testify/require"
)

// maxLevel is the best kernel family this machine runs (whatever
// FeaturesEnv says: the tests cover every family the CPU has), and
// asmAvailable whether it has assembly kernels at all. The tests lower
// useAsm, useVNNI and useAVX512 to run each path.
var (
	maxLevel     = cpuLevel()
	asmAvailable = maxLevel >= levelAVX2
)

// implPath is one implementation the cross-check tests run.
type implPath struct {
	name  string
	level int
}

// implPaths lists the portable path and every assembly family this CPU
// runs; a family the CPU lacks is skipped, as hash/crc32's tests do.
func implPaths() []implPath {
	var p []implPath
	for l := levelGeneric; l <= maxLevel; l++ {
		if runnable(l) == l {
			p = append(p, implPath{levelNames[l], l})
		}
	}
	return p
}

// withImpl runs f with the kernels of family l (never one the CPU lacks)
// and restores the defaults afterwards.
func withImpl(l int, f func()) {
	defer func(a, v, b bool) { useAsm, useVNNI, useAVX512 = a, v, b }(useAsm, useVNNI, useAVX512)
	l = runnable(min(l, maxLevel))
	useAsm, useVNNI, useAVX512 = l >= levelAVX2, l == levelAVXVNNI, l >= levelAVX512
	f()
}

// dotTolerance is the allowed difference between two float32 dot products of
// w and x: 1e-5 of the sum of the magnitudes of the products.
func dotTolerance(w, x []float32) float64 {
	var mag float64
	for i := range x {
		mag += math.Abs(float64(w[i]) * float64(x[i]))
	}
	return 1e-5*mag + 1e-30
}

// offsetCopy returns a copy of b that starts one byte into a fresh buffer,
// so that the kernels see misaligned data.
func offsetCopy(b []byte) []byte {
	buf := make([]byte, len(b)+1)
	copy(buf[1:], b)
	return buf[1:]
}

// randFloats returns n standard normal float32 values.
func randFloats(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// dotLengths returns the element counts the cross-checks use for dt: every
// count up to 5 blocks and a few larger ones, with odd tails for the
// element types.
func dotLengths(dt graph.DType) []int {
	bs := dt.BlockSize()
	var ns []int
	if bs == 1 {
		for n := 1; n <= 70; n++ {
			ns = append(ns, n)
		}
		return append(ns, 127, 128, 129, 255, 256, 257, 1000, 4099)
	}
	for _, blocks := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33} {
		ns = append(ns, blocks*bs)
	}
	return ns
}

func TestDotAsmMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, dt := range floatTypes {
		for _, n := range dotLengths(dt) {
			for _, raw := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/n=%d/raw=%v", dt, n, raw), func(t *testing.T) {
					row := offsetCopy(randRow(t, rng, dt, n, raw))
					x := randFloats(rng, n+1)[1:] // misaligned for float32 too
					w := make([]float32, n)
					require.NoError(t, Dequantize(dt, row, w))
					tol := dotTolerance(w, x)
					ref := DotF64(dt, row, x)
					var got []float32
					for _, p := range implPaths() {
						withImpl(p.level, func() {
							s := Dot(dt, row, x)
							require.InDelta(t, ref, float64(s), tol, "%s vs DotF64", p.name)
							got = append(got, s)
						})
					}
					for i := 1; i < len(got); i++ {
						require.InDelta(t, float64(got[0]), float64(got[i]), tol, "%s vs generic", implPaths()[i].name)
					}
				})
			}
		}
	}
}

// bitsOf returns the bit patterns of x, so that NaNs compare exactly.
func bitsOf(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

func TestDequantizeAsmMatchesGeneric(t *testing.T) {
	if !asmAvailable {
		t.Skip("no assembly kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(23, 24))
	for _, dt := range floatTypes {
		for _, n := range dotLengths(dt) {
			for _, raw := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/n=%d/raw=%v", dt, n, raw), func(t *testing.T) {
					var row []byte
					if raw && !dt.IsQuantized() {
						// Every bit pattern, NaNs and subnormals included.
						need, err := dt.RowBytes(int64(n))
						require.NoError(t, err)
						row = make([]byte, need)
						for i := range row {
							row[i] = byte(rng.Uint32())
						}
					} else {
						row = randRow(t, rng, dt, n, raw)
					}
					row = offsetCopy(row)
					paths := implPaths()
					out := make([][]float32, len(paths))
					for i, p := range paths {
						out[i] = make([]float32, n+1)[1:]
						withImpl(p.level, func() {
							require.NoError(t, Dequantize(dt, row, out[i]))
						})
					}
					for i := 1; i < len(paths); i++ {
						require.Equal(t, bitsOf(out[0]), bitsOf(out[i]), paths[i].name)
					}
				})
			}
		}
	}
}

func TestDecodeF16Exhaustive(t *testing.T) {
	src := make([]uint16, 1<<16)
	want := make([]uint32, 1<<16)
	for i := range src {
		src[i] = uint16(i)
		want[i] = math.Float32bits(F16ToF32(uint16(i)))
	}
	raw := make([]byte, 2<<16)
	for i, h := range src {
		binary.LittleEndian.PutUint16(raw[2*i:], h)
	}
	for _, p := range implPaths() {
		t.Run(p.name, func(t *testing.T) {
			withImpl(p.level, func() {
				dst := make([]float32, len(src))
				DecodeF16(dst, src)
				require.Equal(t, want, bitsOf(dst))
				// Shifted by a few elements so that every value meets every
				// lane and the Go tail.
				for _, off := range []int{1, 3, 7} {
					d := make([]float32, len(src)-off)
					DecodeF16(d, src[off:])
					require.Equal(t, want[off:], bitsOf(d), "offset %d", off)
				}
				d := make([]float32, len(src))
				require.NoError(t, Dequantize(graph.F16, raw, d))
				require.Equal(t, want, bitsOf(d), "Dequantize")
			})
		})
	}
}

func TestDecodeBF16Exhaustive(t *testing.T) {
	src := make([]uint16, 1<<16)
	want := make([]uint32, 1<<16)
	for i := range src {
		src[i] = uint16(i)
		want[i] = uint32(i) << 16
	}
	for _, p := range implPaths() {
		t.Run(p.name, func(t *testing.T) {
			withImpl(p.level, func() {
				for _, off := range []int{0, 1, 3, 7} {
					d := make([]float32, len(src)-off)
					DecodeBF16(d, src[off:])
					require.Equal(t, want[off:], bitsOf(d), "offset %d", off)
				}
			})
		})
	}
}

// vecLengths are the lengths of the float32 vector tests.
func vecLengths() []int {
	var ns []int
	for n := 0; n <= 70; n++ {
		ns = append(ns, n)
	}
	return append(ns, 127, 128, 129, 1000, 4099)
}

func TestVecDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, n := range vecLengths() {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			x := randFloats(rng, n+1)[1:]
			var w [4][]float32
			for r := range w {
				w[r] = randFloats(rng, n+3)[r : n+r] // each with its own misalignment
			}
			h := make([]uint16, n)
			hw := make([]float32, n)
			for i := range h {
				h[i] = F32ToF16(float32(rng.NormFloat64()))
				hw[i] = F16ToF32(h[i])
			}
			ref := func(w []float32) float64 {
				var s float64
				for i := range x {
					s += float64(w[i]) * float64(x[i])
				}
				return s
			}
			var d, d4, dh []float32
			for _, p := range implPaths() {
				withImpl(p.level, func() {
					s := DotF32(w[0], x)
					require.InDelta(t, ref(w[0]), float64(s), dotTolerance(w[0], x), "DotF32 %s", p.name)
					d = append(d, s)
					s0, s1, s2, s3 := Dot4F32(x, w[0], w[1], w[2], w[3])
					for r, s := range []float32{s0, s1, s2, s3} {
						require.InDelta(t, ref(w[r]), float64(s), dotTolerance(w[r], x), "Dot4F32 %s row %d", p.name, r)
						d4 = append(d4, s)
					}
					s = DotF16(h, x)
					require.InDelta(t, ref(hw), float64(s), dotTolerance(hw, x), "DotF16 %s", p.name)
					dh = append(dh, s)
				})
			}
			for i := 1; i < len(d); i++ {
				require.InDelta(t, float64(d[0]), float64(d[i]), dotTolerance(w[0], x))
				for r := range 4 {
					require.InDelta(t, float64(d4[r]), float64(d4[4*i+r]), dotTolerance(w[r], x))
				}
				require.InDelta(t, float64(dh[0]), float64(dh[i]), dotTolerance(hw, x))
			}
		})
	}
}

func TestAXPYAndScale(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for _, n := range vecLengths() {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			a := float32(rng.NormFloat64())
			x := randFloats(rng, n+1)[1:]
			y0 := randFloats(rng, n+5) // longer than x: the rest is untouched
			wantY := append([]float32{}, y0...)
			wantS := make([]float32, n)
			for i := range x {
				wantY[i] += float32(a * x[i]) // rounded: no fused multiply-add
				wantS[i] = a * x[i]
			}
			for _, p := range implPaths() {
				withImpl(p.level, func() {
					y := append([]float32{}, y0...)
					AXPY(a, x, y)
					require.Equal(t, bitsOf(wantY), bitsOf(y), "AXPY %s", p.name)
					s := make([]float32, n)
					Scale(s, a, x)
					require.Equal(t, bitsOf(wantS), bitsOf(s), "Scale %s", p.name)
					m := make([]float32, n)
					Mul(m, x, y0[:n])
					for i := range m {
						require.Equal(t, math.Float32bits(x[i]*y0[i]), math.Float32bits(m[i]), "Mul %s", p.name)
					}
					in := append([]float32{}, x...)
					Scale(in, a, in)
					require.Equal(t, bitsOf(wantS), bitsOf(in), "Scale in place %s", p.name)
				})
			}
		})
	}
}

func TestVecPanicsOnShortSlices(t *testing.T) {
	x := make([]float32, 16)
	short := make([]float32, 15)
	tests := []struct {
		name string
		f    func()
	}{
		{"DotF32", func() { DotF32(x, short) }},
		{"Dot4F32", func() { Dot4F32(x, x, x, short, x) }},
		{"DotF16", func() { DotF16(make([]uint16, 15), x) }},
		{"DecodeF16", func() { DecodeF16(short, make([]uint16, 16)) }},
		{"DecodeBF16", func() { DecodeBF16(short, make([]uint16, 16)) }},
		{"AXPY", func() { AXPY(1, x, short) }},
		{"Scale", func() { Scale(short, 1, x) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range implPaths() {
				withImpl(p.level, func() { require.Panics(t, tc.f, p.name) })
			}
		})
	}
}

func TestVecDoesNotAllocate(t *testing.T) {
	x := make([]float32, 100)
	y := make([]float32, 100)
	h := make([]uint16, 100)
	for _, p := range implPaths() {
		withImpl(p.level, func() {
			allocs := testing.AllocsPerRun(10, func() {
				_ = DotF32(x, y)
				_, _, _, _ = Dot4F32(x, y, y, y, y)
				_ = DotF16(h, x)
				DecodeF16(y, h)
				AXPY(2, x, y)
				Scale(y, 0.5, x)
			})
			require.Zero(t, allocs, p.name)
		})
	}
}

func TestGemmF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, m := range []int{1, 2, 3, 5, 6, 7, 13} {
		for _, rows := range []int{1, 3, 4, 5, 8, 9} {
			for _, k := range []int{0, 1, 7, 8, 9, 16, 33, 64, 100, 1040, 2071} {
				for _, pad := range []int{0, 3} {
					ldo := rows + pad
					t.Run(fmt.Sprintf("m=%d/rows=%d/k=%d/ldo=%d", m, rows, k, ldo), func(t *testing.T) {
						x := randFloats(rng, m*k+1)[1:]
						w := randFloats(rng, rows*k)
						sentinel := float32(math.NaN())
						for _, p := range implPaths() {
							withImpl(p.level, func() {
								out := make([]float32, (m-1)*ldo+rows+2)
								for i := range out {
									out[i] = sentinel
								}
								GemmF32(out, ldo, x, m, w, rows, k)
								for i := 0; i < m; i++ {
									for r := 0; r < ldo; r++ {
										o := i*ldo + r
										if r >= rows {
											if o < len(out) {
												require.True(t, math.IsNaN(float64(out[o])), "%s: out[%d] outside the block was written", p.name, o)
											}
											continue
										}
										xr, wr := x[i*k:(i+1)*k], w[r*k:(r+1)*k]
										var ref float64
										for j := range xr {
											ref += float64(xr[j]) * float64(wr[j])
										}
										require.InDelta(t, ref, float64(out[o]), dotTolerance(wr, xr), "%s: out[%d][%d]", p.name, i, r)
									}
								}
								require.True(t, math.IsNaN(float64(out[len(out)-1])), "%s: past the end", p.name)
							})
						}
					})
				}
			}
		}
	}
}

func TestGemmF32PanicsOnBadSizes(t *testing.T) {
	buf := make([]float32, 64)
	tests := []struct {
		name string
		f    func()
	}{
		{"negative m", func() { GemmF32(buf, 4, buf, -1, buf, 4, 4) }},
		{"ldo < rows", func() { GemmF32(buf, 3, buf, 2, buf, 4, 4) }},
		{"short x", func() { GemmF32(buf, 4, buf[:7], 2, buf, 4, 4) }},
		{"short w", func() { GemmF32(buf, 4, buf, 2, buf[:15], 4, 4) }},
		{"short out", func() { GemmF32(buf[:7], 4, buf, 2, buf, 4, 4) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Panics(t, tc.f)
		})
	}
}

func TestGemvF32AndF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	for _, rows := range []int{0, 1, 3, 4, 5, 8, 13} {
		for _, k := range []int{1, 31, 32, 33, 64, 100, 1000} {
			t.Run(fmt.Sprintf("rows=%d/k=%d", rows, k), func(t *testing.T) {
				x := randFloats(rng, k+1)[1:]
				w := randFloats(rng, rows*k+1)[1:]
				h := make([]uint16, rows*k)
				hw := make([]float32, rows*k)
				for i := range h {
					h[i] = F32ToF16(w[i])
					hw[i] = F16ToF32(h[i])
				}
				ref := func(w []float32, r int) float64 {
					var s float64
					for i := range x {
						s += float64(w[r*k+i]) * float64(x[i])
					}
					return s
				}
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						out := make([]float32, rows+1)
						out[rows] = 42
						GemvF32(w, rows, x, out[:rows])
						require.Equal(t, float32(42), out[rows], "%s: past the rows", p.name)
						for r := range rows {
							require.InDelta(t, ref(w, r), float64(out[r]), dotTolerance(w[r*k:(r+1)*k], x), "%s GemvF32 row %d", p.name, r)
						}
						GemvF16(h, rows, x, out[:rows])
						for r := range rows {
							require.InDelta(t, ref(hw, r), float64(out[r]), dotTolerance(hw[r*k:(r+1)*k], x), "%s GemvF16 row %d", p.name, r)
						}
					})
				}
			})
		}
	}
}
