package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// ulps returns the distance in float32 ulps between got and the float32
// nearest to want (both finite, same sign or zero).
func ulps(got float32, want float64) float64 {
	w := float32(want)
	if got == w {
		return 0
	}
	a, b := int64(math.Float32bits(got)), int64(math.Float32bits(w))
	return math.Abs(float64(a - b))
}

func TestExpf(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var worst float64
	var at float32
	check := func(x float32) {
		got, want := expf(x), math.Exp(float64(x))
		if want < 0x1p-126 || want > math.MaxFloat32 {
			return // subnormal or overflowing results are checked below
		}
		if u := ulps(got, want); u > worst {
			worst, at = u, x
		}
	}
	for range 200000 {
		check((r.Float32()*2 - 1) * 87)
	}
	for x := float32(-87); x <= 88; x += 0.001 {
		check(x)
	}
	t.Logf("worst error %.0f ulps at x=%v", worst, at)
	require.LessOrEqual(t, worst, 2.0, "worst at x=%v", at)

	special := []struct {
		x, want float32
	}{
		{0, 1},
		{float32(math.Inf(1)), float32(math.Inf(1))},
		{float32(math.Inf(-1)), 0},
		{89, float32(math.Inf(1))},
		{-104, 0},
		{-1000, 0},
	}
	for _, c := range special {
		require.Equal(t, c.want, expf(c.x), "expf(%v)", c.x)
	}
	require.True(t, math.IsNaN(float64(expf(float32(math.NaN())))))
	// Near the ends of the range: within 2 ulps of the largest float32,
	// and subnormals within an absolute 2 ulps of the smallest subnormal.
	for _, x := range []float32{88.7, 88.72, 88.72283} {
		require.LessOrEqual(t, ulps(expf(x), math.Exp(float64(x))), 2.0, "x=%v", x)
	}
	for x := float32(-103.9); x < -87.4; x += 0.01 {
		d := math.Abs(float64(expf(x)) - math.Exp(float64(x)))
		require.LessOrEqual(t, d, 2*0x1p-149, "x=%v", x)
	}
}

func TestSiLUGELU32(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var numS, denS, numG, denG float64
	for range 100000 {
		v := (r.Float32()*2 - 1) * 20
		ws, wg := silu64(float64(v)), gelu64(float64(v))
		numS += sq(float64(silu32(v)) - ws)
		denS += ws * ws
		numG += sq(float64(gelu32(v)) - wg)
		denG += wg * wg
	}
	t.Logf("silu nmse %.3g, gelu nmse %.3g", numS/denS, numG/denG)
	require.Less(t, numS/denS, 1e-13)
	require.Less(t, numG/denG, 1e-13)
	for _, v := range []float32{-200, -100, -90, 90, 200} {
		require.InDelta(t, silu64(float64(v)), float64(silu32(v)), 1e-6*math.Abs(float64(v)), "silu(%v)", v)
		require.InDelta(t, gelu64(float64(v)), float64(gelu32(v)), 1e-6*math.Abs(float64(v)), "gelu(%v)", v)
	}
}

func sq(x float64) float64 { return x * x }

var sinkF32 float32

func BenchmarkExp(b *testing.B) {
	xs := make([]float32, 1024)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range xs {
		xs[i] = (r.Float32()*2 - 1) * 10
	}
	b.Run("expf", func(b *testing.B) {
		var s float32
		for i := range b.N {
			s += expf(xs[i&1023])
		}
		sinkF32 = s
	})
	b.Run("math.Exp", func(b *testing.B) {
		var s float32
		for i := range b.N {
			s += float32(math.Exp(float64(xs[i&1023])))
		}
		sinkF32 = s
	})
}
