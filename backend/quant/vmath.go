package quant

import "math"

// Float32 transcendental functions for the CPU backend: a scalar ExpF32,
// and vector loops built on it (with AVX-512 and AVX2 assembly on amd64)
// for softmax (ExpSum), silu and swiglu. Each result is within a few float32
// ulps of the correctly rounded value.

// ExpF32 returns e**x in float32: Cody–Waite reduction x = n·ln2 + r with
// |r| ≤ ln2/2, a degree-7 minimax polynomial for e**r (Cephes' expf
// coefficients) and an exact scaling by 2**n. It overflows to +Inf above
// about 88.72, returns 0 below about −103.97 (subnormals in between), and
// propagates NaN.
func ExpF32(x float32) float32 {
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

// SiLUF32 returns v·sigmoid(v) = v / (1 + e**−v).
func SiLUF32(v float32) float32 { return v / (1 + ExpF32(-v)) }

// ExpSum sets x[i] = e**(x[i]-m) for every i and returns the sum of the
// results (the exponentials of a softmax, m its maximum).
func ExpSum(x []float32, m float32) float32 {
	done, s := archExpSum(x, m)
	for i := done; i < len(x); i++ {
		e := ExpF32(x[i] - m)
		x[i] = e
		s += e
	}
	return s
}

// MaxF32 returns the largest element of x: -Inf when x is empty, NaN when
// x holds a NaN, as a loop of the builtin max returns (but for the sign of
// a zero maximum, which either of ±0 may give).
func MaxF32(x []float32) float32 {
	done, m, nan := archMaxF32(x)
	if nan {
		return float32(math.NaN())
	}
	if done == 0 {
		m = float32(math.Inf(-1))
	}
	for _, v := range x[done:] {
		m = max(m, v)
	}
	return m
}

// SiLU sets out[i] = silu(x[i]) for i < len(x). It panics if out is
// shorter than x.
func SiLU(out, x []float32) {
	out = out[:len(x)]
	done := archSwiGLU(out, x, nil)
	for i := done; i < len(x); i++ {
		out[i] = SiLUF32(x[i])
	}
}

// SwiGLU sets out[i] = silu(x[i])·y[i] for i < len(x). It panics if out or
// y is shorter than x.
func SwiGLU(out, x, y []float32) {
	out, y = out[:len(x)], y[:len(x)]
	done := archSwiGLU(out, x, y)
	for i := done; i < len(x); i++ {
		out[i] = SiLUF32(x[i]) * y[i]
	}
}
