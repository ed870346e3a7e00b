package cpu

import "github.com/golem-llm/golem/backend/quant"

// Float32 transcendental functions for the fast tier. They are within a
// few float32 ulps of the correctly rounded result (see fast_math_test.go),
// far inside the element-wise parity threshold (NMSE 1e-7), and avoid the
// float64 round trip of package math.

// expf is quant.ExpF32: e**x in float32, within a few ulps.
func expf(x float32) float32 { return quant.ExpF32(x) }

// silu32 returns v·sigmoid(v) = v / (1 + e**−v).
func silu32(v float32) float32 { return quant.SiLUF32(v) }

// gelu32 returns the tanh approximation of GELU,
// 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))), computed as v·sigmoid(2y)
// (the same value: 1 + tanh(y) = 2·sigmoid(2y)), which has no cancellation
// for large negative v.
func gelu32(v float32) float32 {
	const c = 0.7978845608028654 // sqrt(2/pi)
	y := c * (v + 0.044715*v*v*v)
	return v / (1 + expf(-2*y))
}
