package quant

import (
	"math/rand/v2"
	"testing"
)

const benchN = 4096

// BenchmarkDot measures Dot on one row of benchN elements per type with the
// default implementation (assembly where the CPU has it).
func BenchmarkDot(b *testing.B) { benchDot(b) }

// BenchmarkDotGeneric is BenchmarkDot with the portable Go code.
func BenchmarkDotGeneric(b *testing.B) { withImpl(levelGeneric, func() { benchDot(b) }) }

func benchDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range floatTypes {
		row := randRow(b, rng, dt, benchN, false)
		x := make([]float32, benchN)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		b.Run(dt.String(), func(b *testing.B) {
			b.SetBytes(int64(len(row)))
			var s float32
			for b.Loop() {
				s += Dot(dt, row, x)
			}
			_ = s
		})
	}
}

func BenchmarkDotF64(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range floatTypes {
		row := randRow(b, rng, dt, benchN, false)
		x := make([]float32, benchN)
		b.Run(dt.String(), func(b *testing.B) {
			b.SetBytes(int64(len(row)))
			var s float64
			for b.Loop() {
				s += DotF64(dt, row, x)
			}
			_ = s
		})
	}
}

// BenchmarkDequantize measures Dequantize of one row of benchN elements per
// type with the default implementation.
func BenchmarkDequantize(b *testing.B) { benchDequantize(b) }

// BenchmarkDequantizeGeneric is BenchmarkDequantize with the portable Go code.
func BenchmarkDequantizeGeneric(b *testing.B) { withImpl(levelGeneric, func() { benchDequantize(b) }) }

func benchDequantize(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range floatTypes {
		row := randRow(b, rng, dt, benchN, false)
		dst := make([]float32, benchN)
		b.Run(dt.String(), func(b *testing.B) {
			b.SetBytes(int64(len(row)))
			for b.Loop() {
				if err := Dequantize(dt, row, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkQuantize(b *testing.B) {
	src := gaussData(1, benchN)
	for _, dt := range floatTypes {
		need, err := dt.RowBytes(benchN)
		if err != nil {
			b.Fatal(err)
		}
		dst := make([]byte, need)
		b.Run(dt.String(), func(b *testing.B) {
			b.SetBytes(benchN * 4)
			for b.Loop() {
				if err := Quantize(dt, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVec measures the float32 vector kernels on benchN elements, with
// SetBytes counting the bytes of the weight operand(s) read.
func BenchmarkVec(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randFloats(rng, benchN)
	var w [4][]float32
	for r := range w {
		w[r] = randFloats(rng, benchN)
	}
	h := make([]uint16, benchN)
	for i := range h {
		h[i] = F32ToF16(w[0][i])
	}
	y := make([]float32, benchN)
	kernels := []struct {
		name  string
		bytes int
		f     func()
	}{
		{"DotF32", 4 * benchN, func() { _ = DotF32(w[0], x) }},
		{"Dot4F32", 16 * benchN, func() { _, _, _, _ = Dot4F32(x, w[0], w[1], w[2], w[3]) }},
		{"DotF16", 2 * benchN, func() { _ = DotF16(h, x) }},
		{"DecodeF16", 2 * benchN, func() { DecodeF16(y, h) }},
		{"AXPY", 4 * benchN, func() { AXPY(0.5, x, y) }},
		{"Scale", 4 * benchN, func() { Scale(y, 0.5, x) }},
	}
	for _, p := range implPaths() {
		for _, k := range kernels {
			b.Run(p.name+"/"+k.name, func(b *testing.B) {
				withImpl(p.level, func() {
					b.SetBytes(int64(k.bytes))
					for b.Loop() {
						k.f()
					}
				})
			})
		}
	}
}

// BenchmarkGemmF32 multiplies 16 rows of x by a 16-row tile of w with
// k = benchN (the CPU backend's GEMM tile shape), against the same work done
// with Dot4F32 per x row. SetBytes counts the tile bytes per x row.
func BenchmarkGemmF32(b *testing.B) {
	const m, rows, k = 16, 16, benchN
	rng := rand.New(rand.NewPCG(5, 6))
	x := randFloats(rng, m*k)
	w := randFloats(rng, rows*k)
	out := make([]float32, m*rows)
	for _, p := range implPaths() {
		b.Run(p.name+"/GemmF32", func(b *testing.B) {
			withImpl(p.level, func() {
				b.SetBytes(m * rows * k * 4)
				for b.Loop() {
					GemmF32(out, rows, x, m, w, rows, k)
				}
			})
		})
		b.Run(p.name+"/Dot4F32", func(b *testing.B) {
			withImpl(p.level, func() {
				b.SetBytes(m * rows * k * 4)
				for b.Loop() {
					for i := 0; i < m; i++ {
						gemmRowF32(out[i*rows:(i+1)*rows], x[i*k:(i+1)*k], w, rows, k)
					}
				}
			})
		})
	}
}
