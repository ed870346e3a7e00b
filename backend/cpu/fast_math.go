package cpu

import "math"

// Float32 transcendental functions for the fast tier. They are within a
// few float32 ulps of the correctly rounded result (see fast_math_test.go),
// far inside the element-wise parity threshold (NMSE 1e-7), and avoid the
// float64 round trip of package math.

// expf returns e**x in float32: Cody–Waite reduction x = n·ln2 + r with
// |r| ≤ ln2/2, a degree-7 minimax polynomial for e**r (Cephes' expf
// coefficients) and an exact scaling by 2**n. It overflows to +Inf above
// about 88.72, returns 0 below about −103.97 (subnormals in between), and
// propagates NaN.
func expf(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		ln2Hi = 0.693359375
		ln2Lo = -2.12194440e-4
		maxX  = 88.72283935546875
		minX  = -103.97208404541015625
	)
	switch {
	case x != x:
		return x
	case x > maxX:
		return float32(math.Inf(1))
	case x < minX:
		return 0
	}
	t := x * log2e
	var n int32
	if t >= 0 {
		n = int32(t + 0.5)
	} else {
		n = int32(t - 0.5)
	}
	fn := float32(n)
	r := x - fn*ln2Hi
	r -= fn * ln2Lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*(r*r) + r + 1
	switch {
	case n > 127:
		return p * 0x1p127 * math.Float32frombits(uint32(n)<<23)
	case n < -126:
		return p * 0x1p-126 * math.Float32frombits(uint32(n+126+127)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// silu32 returns v·sigmoid(v) = v / (1 + e**−v).
func silu32(v float32) float32 { return v / (1 + expf(-v)) }

// gelu32 returns the tanh approximation of GELU,
// 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))), computed as v·sigmoid(2y)
// (the same value: 1 + tanh(y) = 2·sigmoid(2y)), which has no cancellation
// for large negative v.
func gelu32(v float32) float32 {
	const c = 0.7978845608028654 // sqrt(2/pi)
	y := c * (v + 0.044715*v*v*v)
	return v / (1 + expf(-2*y))
}
