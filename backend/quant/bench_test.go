package quant

import (
	"math/rand/v2"
	"testing"
)

const benchN = 4096

func BenchmarkDot(b *testing.B) {
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

func BenchmarkDequantize(b *testing.B) {
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
