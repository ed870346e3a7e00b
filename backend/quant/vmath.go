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

// ArgMaxF32 returns the index of the first largest element of x (not
// empty) and whether every element is finite (when not, the index means
// nothing): greedy sampling's one pass over a row of logits. A batched
// decode step samples its rows while the backend's other threads wait,
// so the pass is vector code where the CPU has it (32000 logits: 21 µs in
// Go, about 2.4 with AVX-512 or AVX2; BenchmarkArgMaxF32).
func ArgMaxF32(x []float32) (int, bool) {
	done, best, bv, mag := archArgMax(x)
	if done < len(x) {
		b, v, m := argmaxGo(x[done:])
		if b >= 0 && (best < 0 || v > bv) {
			best = done + b
		}
		mag = max(mag, m)
	}
	if best < 0 {
		best = 0 // every value -Inf or NaN (not finite)
	}
	return best, mag < 0x7f800000
}

// argmaxGo returns the index of the first largest element of x (-1 when
// none is above -Inf), that element and the largest magnitude of x as
// bits (0x7f800000 or more: x holds an infinity or a NaN). Four
// interleaved runs, each with its own running maximum, and the
// magnitudes kept as bits instead of a test per value: twice as fast as a
// loop that tests each value.
func argmaxGo(x []float32) (int, float32, uint32) {
	const absMask = 0x7fffffff
	neg := float32(math.Inf(-1))
	i0, i1, i2, i3 := -1, -1, -1, -1
	var m0, m1, m2, m3 uint32
	v0, v1, v2, v3 := neg, neg, neg, neg
	n := len(x) &^ 3
	for i := 0; i < n; i += 4 {
		q := (*[4]float32)(x[i:])
		a, b, c, d := q[0], q[1], q[2], q[3]
		m0 = max(m0, math.Float32bits(a)&absMask)
		m1 = max(m1, math.Float32bits(b)&absMask)
		m2 = max(m2, math.Float32bits(c)&absMask)
		m3 = max(m3, math.Float32bits(d)&absMask)
		if a > v0 {
			i0, v0 = i, a
		}
		if b > v1 {
			i1, v1 = i+1, b
		}
		if c > v2 {
			i2, v2 = i+2, c
		}
		if d > v3 {
			i3, v3 = i+3, d
		}
	}
	best, bv := -1, neg
	for _, r := range [4]struct {
		i int
		v float32
	}{{i0, v0}, {i1, v1}, {i2, v2}, {i3, v3}} {
		best, bv = argmaxMerge(best, bv, r.i, r.v)
	}
	m := max(m0, m1, m2, m3)
	for i := n; i < len(x); i++ {
		m = max(m, math.Float32bits(x[i])&absMask)
		if x[i] > bv {
			best, bv = i, x[i]
		}
	}
	return best, bv, m
}

// argmaxMerge returns the better of two runs' first largest values (index
// -1: a run with none above -Inf): the larger value, on a tie the lower
// index.
func argmaxMerge(best int, bv float32, i int, v float32) (int, float32) {
	if i >= 0 && (best < 0 || v > bv || v == bv && i < best) {
		return i, v
	}
	return best, bv
}
