package quant

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"

	"github.com/golem-llm/golem/graph"
)

// BenchmarkGemmF32Shapes times GemmF32 on prefill-like blocks (m x rows,
// k columns), reporting GFLOP/s.
func BenchmarkGemmF32Shapes(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ m, rows, k int }{{6, 4, 256}, {126, 4, 768}, {126, 8, 768}, {126, 64, 768}, {126, 64, 2048}, {126, 4, 2048}, {128, 8, 768}} {
		x := randFloats(rng, s.m*s.k)
		w := randFloats(rng, s.rows*s.k)
		out := make([]float32, s.m*s.rows)
		for _, p := range implPaths()[1:] {
			b.Run(fmt.Sprintf("%s/m=%d/rows=%d/k=%d", p.name, s.m, s.rows, s.k), func(b *testing.B) {
				withImpl(p.level, func() {
					for b.Loop() {
						GemmF32(out, s.rows, x, s.m, w, s.rows, s.k)
					}
					b.ReportMetric(float64(b.N)*2*float64(s.m*s.rows*s.k)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}

// BenchmarkGemv times a matrix-vector product over rows×k weights of
// each integer type: the float path (Dot per row) against the integer
// one (QuantizeAct once, then GemvAct), SetBytes counting weight bytes.
func BenchmarkGemv(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range []struct{ rows, k int }{{256, 2048}, {8192, 2048}} {
		for _, dt := range intTypes {
			rb, _ := dt.RowBytes(int64(s.k))
			w := make([]byte, 0, s.rows*int(rb))
			for range 16 {
				w = append(w, randRow(b, rng, dt, s.k, false)...)
			}
			for len(w) < s.rows*int(rb) {
				w = append(w, w[:min(len(w), s.rows*int(rb)-len(w))]...)
			}
			x := randFloats(rng, s.k)
			act := make([]byte, ActBytes(dt, s.k))
			out := make([]float32, s.rows)
			for _, p := range implPaths()[1:] {
				b.Run(fmt.Sprintf("%s/%s/%dx%d/float", p.name, dt, s.rows, s.k), func(b *testing.B) {
					withImpl(p.level, func() {
						b.SetBytes(int64(len(w)))
						for b.Loop() {
							for r := range s.rows {
								out[r] = Dot(dt, w[r*int(rb):(r+1)*int(rb)], x)
							}
						}
					})
				})
				b.Run(fmt.Sprintf("%s/%s/%dx%d/int", p.name, dt, s.rows, s.k), func(b *testing.B) {
					withImpl(p.level, func() {
						b.SetBytes(int64(len(w)))
						for b.Loop() {
							QuantizeAct(dt, x, act)
							GemvAct(dt, w, s.rows, act, s.k, out)
						}
					})
				})
			}
		}
	}
}

// BenchmarkQuantizeAct times the activation quantizer on 2048 elements.
func BenchmarkQuantizeAct(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	x := randFloats(rng, 2048)
	for _, dt := range intTypes {
		act := make([]byte, ActBytes(dt, len(x)))
		for _, p := range implPaths() {
			b.Run(p.name+"/"+dt.String(), func(b *testing.B) {
				withImpl(p.level, func() {
					b.SetBytes(int64(4 * len(x)))
					for b.Loop() {
						QuantizeAct(dt, x, act)
					}
				})
			})
		}
	}
}

// BenchmarkGemmAct times a prefill block (m x rows of k) of each integer
// type: dequantize + GemmF32 against QuantizeAct + GemmAct, in GOP/s.
func BenchmarkGemmAct(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	const m, rows, k = 126, 64, 2048
	for _, dt := range []graph.DType{graph.Q4_0, graph.Q8_0} {
		rb, _ := dt.RowBytes(k)
		var w []byte
		for range rows {
			w = append(w, randRow(b, rng, dt, k, false)...)
		}
		x := randFloats(rng, m*k)
		tile := make([]float32, rows*k)
		out := make([]float32, m*rows)
		stride := ActBytes(dt, k)
		acts := make([]byte, m*stride)
		ops := func(b *testing.B) {
			b.ReportMetric(float64(b.N)*2*m*rows*k/b.Elapsed().Seconds()/1e9, "GOP/s")
		}
		b.Run(dt.String()+"/float", func(b *testing.B) {
			for b.Loop() {
				for r := range rows {
					_ = Dequantize(dt, w[r*int(rb):(r+1)*int(rb)], tile[r*k:(r+1)*k])
				}
				for r := 0; r < rows; r += 8 {
					GemmF32(out[r:], rows, x, m, tile[r*k:], 8, k)
				}
			}
			ops(b)
		})
		for i := range m {
			QuantizeAct(dt, x[i*k:(i+1)*k], acts[i*stride:])
		}
		b.Run(dt.String()+"/int", func(b *testing.B) {
			for b.Loop() {
				GemmAct(dt, out, rows, acts, stride, m, w, rows, k)
			}
			ops(b)
		})
	}
}

// BenchmarkGemvF32 times GemvF32 and GemvF16 on a 4096×2048 matrix
// (larger than the caches), SetBytes counting weight bytes.
func BenchmarkGemvF32(b *testing.B) {
	const rows, k = 4096, 2048
	rng := rand.New(rand.NewPCG(15, 16))
	w := randFloats(rng, rows*k)
	h := make([]uint16, rows*k)
	for i := range h {
		h[i] = F32ToF16(w[i])
	}
	x := randFloats(rng, k)
	out := make([]float32, rows)
	for _, p := range implPaths()[1:] {
		b.Run(p.name+"/f32", func(b *testing.B) {
			withImpl(p.level, func() {
				b.SetBytes(4 * rows * k)
				for b.Loop() {
					GemvF32(w, rows, x, out)
				}
			})
		})
		b.Run(p.name+"/f16", func(b *testing.B) {
			withImpl(p.level, func() {
				b.SetBytes(2 * rows * k)
				for b.Loop() {
					GemvF16(h, rows, x, out)
				}
			})
		})
	}
}

// BenchmarkGemvActMemory compares, on the same buffer of q4_0 rows of 2048
// elements, the two-stream integer GEMV on two goroutines (each over its
// half of the rows, in pairs of 256-row chunks as the CPU backend's pool
// hands them out) with the plain read the host-bandwidth sample makes
// (DotF32 of the two halves of each goroutine's part): SetBytes counts
// the buffer. 512 MiB is far past the caches; 64 MiB fits the L3 of some
// hosts (the Zen 5 this was tuned on runs it from cache).
func BenchmarkGemvActMemory(b *testing.B) {
	const k, chunk = 2048, 256
	dt := graph.Q4_0
	rb, _ := dt.RowBytes(k)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, size := range []int{512 << 20, 64 << 20} {
		rows := size / int(rb)
		w := make([]byte, 0, rows*int(rb))
		for range 16 {
			w = append(w, randRow(b, rng, dt, k, false)...)
		}
		for len(w) < rows*int(rb) {
			w = append(w, w[:min(len(w), rows*int(rb)-len(w))]...)
		}
		act := make([]byte, ActBytes(dt, k))
		QuantizeAct(dt, randFloats(rng, k), act)
		out := make([]float32, rows)
		b.Run(fmt.Sprintf("gemv/%dMiB", size>>20), func(b *testing.B) {
			onTwo(b, len(w), func(t int) {
				lo, hi := t*rows/2, (t+1)*rows/2
				mid := (lo + hi) / 2
				for a, c := lo, mid; a < mid; a, c = a+chunk, c+chunk {
					na, nc := min(chunk, mid-a), min(chunk, hi-c)
					GemvAct2(dt, w[a*int(rb):(a+na)*int(rb)], out[a:a+na], w[c*int(rb):(c+nc)*int(rb)], out[c:c+nc], act, k)
				}
			})
		})
		f := unsafe.Slice((*float32)(unsafe.Pointer(&w[0])), len(w)/4)
		sums := make([]float32, 2)
		b.Run(fmt.Sprintf("read/%dMiB", size>>20), func(b *testing.B) {
			part := len(f) / 2
			onTwo(b, len(w), func(t int) {
				s := f[t*part : (t+1)*part]
				sums[t] += DotF32(s[:part/2], s[part/2:2*(part/2)])
			})
		})
	}
}

// onTwo times body on two goroutines (t = 0 and 1) per iteration,
// SetBytes counting bytes.
func onTwo(b *testing.B, bytes int, body func(t int)) {
	b.SetBytes(int64(bytes))
	for b.Loop() {
		var wg sync.WaitGroup
		for t := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body(t)
			}()
		}
		wg.Wait()
	}
}

// BenchmarkGemmActBatch times GemmAct for a batched decode step: 8 x rows
// against 98304×768 weights (80 MB of q8_0, far past the caches) on one
// goroutine, in calls of 48 rows as the CPU backend's tiles make them,
// reporting multiply-adds per second.
func BenchmarkGemmActBatch(b *testing.B) {
	const m, k, rows, tile = 8, 768, 98304, 48
	rng := rand.New(rand.NewPCG(17, 18))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		rb, _ := dt.RowBytes(k)
		w := make([]byte, 0, rows*int(rb))
		for range 16 {
			w = append(w, randRow(b, rng, dt, k, false)...)
		}
		for len(w) < rows*int(rb) {
			w = append(w, w[:min(len(w), rows*int(rb)-len(w))]...)
		}
		stride := ActBytes(dt, k)
		acts := make([]byte, m*stride)
		x := randFloats(rng, m*k)
		for i := range m {
			QuantizeAct(dt, x[i*k:(i+1)*k], acts[i*stride:])
		}
		out := make([]float32, m*rows)
		b.Run(dt.String(), func(b *testing.B) {
			for b.Loop() {
				for j := 0; j < rows; j += tile {
					GemmAct(dt, out[j:], rows, acts, stride, m, w[j*int(rb):], tile, k)
				}
			}
			b.ReportMetric(float64(b.N)*m*rows*k/b.Elapsed().Seconds()/1e9, "GMAC/s")
		})
	}
}

// BenchmarkGemmPacked times GemmPacked on packed weights (8, 4 or 1 x
// rows; 768 columns, one thread) with the row-major integer kernels beside
// it (GemmAct, GemvAct for one row): 98304 rows from memory in calls of
// 1536 rows (a thread's chunk of a large matrix), and 512 rows (in L2),
// the kernels' own rate.
func BenchmarkGemmPacked(b *testing.B) {
	const k = 768
	rng := rand.New(rand.NewPCG(17, 18))
	for _, dt := range []graph.DType{graph.Q8_0, graph.Q4_0} {
		for _, sz := range []struct {
			name       string
			rows, tile int
		}{{"memory", 98304, 1536}, {"cache", 512, 512}} {
			rows, tile := sz.rows, sz.tile
			rb, _ := dt.RowBytes(k)
			w := make([]byte, 0, rows*int(rb))
			for range 16 {
				w = append(w, randRow(b, rng, dt, k, false)...)
			}
			for len(w) < rows*int(rb) {
				w = append(w, w[:min(len(w), rows*int(rb)-len(w))]...)
			}
			packed := make([]byte, PackedBytes(dt, rows, k))
			if err := PackWeights(dt, packed, w, rows, k); err != nil {
				b.Fatal(err)
			}
			x := randFloats(rng, 8*k)
			stride, pstride := ActBytes(dt, k), PackedActBytes(k)
			acts, pacts := make([]byte, 8*stride), make([]byte, 8*pstride)
			for i := range 8 {
				QuantizeAct(dt, x[i*k:(i+1)*k], acts[i*stride:])
				QuantizePackedAct(x[i*k:(i+1)*k], pacts[i*pstride:])
			}
			out := make([]float32, 8*rows)
			for _, m := range []int{8, 4, 1} {
				report := func(b *testing.B) {
					b.ReportMetric(float64(b.N)*float64(m*rows*k)/b.Elapsed().Seconds()/1e9, "GMAC/s")
					b.ReportMetric(float64(b.N)*float64(len(packed))/b.Elapsed().Seconds()/1e9, "GB/s")
				}
				b.Run(fmt.Sprintf("%s/%s/m=%d/packed", dt, sz.name, m), func(b *testing.B) {
					for b.Loop() {
						for j := 0; j < rows; j += tile {
							GemmPacked(dt, out[j:], rows, pacts, pstride, m, packed[j*int(rb):], tile, k)
						}
					}
					report(b)
				})
				b.Run(fmt.Sprintf("%s/%s/m=%d/rows", dt, sz.name, m), func(b *testing.B) {
					for b.Loop() {
						for j := 0; j < rows; j += tile {
							if m == 1 {
								GemvAct(dt, w[j*int(rb):(j+tile)*int(rb)], tile, acts[:stride], k, out[j:j+tile])
								continue
							}
							GemmAct(dt, out[j:], rows, acts, stride, m, w[j*int(rb):], tile, k)
						}
					}
					report(b)
				})
			}
		}
	}
}
