package quant

import (
	"encoding/binary"
	"math"
)

// Q4_K super-block (144 bytes, 256 elements = 8 sub-blocks of 32):
//
//	d    f16        scale of the sub-block scales
//	dmin f16        scale of the sub-block mins
//	scales [12]byte 8 six-bit scales and 8 six-bit mins (ggml's get_scale_min_k4 packing)
//	qs   [128]byte  4-bit quants: for each 64-element chunk c, qs[32c+l] holds
//	                element 64c+l in its low nibble and element 64c+32+l in its high nibble
//
// Element i of sub-block j is d*sc[j]*q - dmin*m[j].
//
// Q6_K super-block (210 bytes, 256 elements = 16 sub-blocks of 16):
//
//	ql     [128]byte low 4 bits of the quants
//	qh     [64]byte  high 2 bits of the quants
//	scales [16]int8  one scale per 16 elements
//	d      f16       super-block scale
//
// For each 128-element half h and l < 32 (ql, qh offset by 64h and 32h):
// element 128h+l     = ql[l]    low nibble | qh[l] bits 0-1 << 4,
// element 128h+l+32  = ql[l+32] low nibble | qh[l] bits 2-3 << 4,
// element 128h+l+64  = ql[l]    high nibble | qh[l] bits 4-5 << 4,
// element 128h+l+96  = ql[l+32] high nibble | qh[l] bits 6-7 << 4;
// element i is d*scales[i/16]*(q-32).

// scaleMinK4 unpacks the 6-bit scale and min of sub-block j (0..7) from the
// 12 packed bytes of a Q4_K block (ggml's get_scale_min_k4).
func scaleMinK4(j int, s *[12]byte) (sc, m uint8) {
	if j < 4 {
		return s[j] & 63, s[j+4] & 63
	}
	return s[j+4]&0xf | (s[j-4]>>6)<<4, s[j+4]>>4 | (s[j]>>6)<<4
}

// packScaleMinK4 is the inverse of scaleMinK4 for all 8 sub-blocks.
func packScaleMinK4(sc, m *[8]uint8, s *[12]byte) {
	for j := 0; j < 4; j++ {
		s[j] = sc[j]&63 | (sc[j+4]>>4)<<6
		s[j+4] = m[j]&63 | (m[j+4]>>4)<<6
		s[j+8] = sc[j+4]&0xf | (m[j+4]&0xf)<<4
	}
}

// dequantQ4K decodes one Q4_K super-block with ggml's arithmetic:
// (d*sc)*q - dmin*m, each product rounded to float32.
func dequantQ4K(b *[q4KBlock]byte, y *[256]float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(b[0:]))
	dmin := F16ToF32(binary.LittleEndian.Uint16(b[2:]))
	s := (*[12]byte)(b[q4KScales:])
	for c := 0; c < 4; c++ {
		sc1, m1 := scaleMinK4(2*c, s)
		sc2, m2 := scaleMinK4(2*c+1, s)
		d1, dm1 := d*float32(sc1), dmin*float32(m1)
		d2, dm2 := d*float32(sc2), dmin*float32(m2)
		q := (*[32]byte)(b[q4KQs+32*c:])
		out := (*[64]float32)(y[64*c:])
		for l := 0; l < 32; l++ {
			out[l] = float32(d1*float32(q[l]&0xf)) - dm1
			out[l+32] = float32(d2*float32(q[l]>>4)) - dm2
		}
	}
}

// dequantQ6K decodes one Q6_K super-block with ggml's arithmetic: (d*sc)*(q-32).
func dequantQ6K(b *[q6KBlock]byte, y *[256]float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(b[q6KD:]))
	for h := 0; h < 2; h++ {
		ql := (*[64]byte)(b[64*h:])
		qh := (*[32]byte)(b[q6KQh+32*h:])
		sc := (*[8]byte)(b[q6KScales+8*h:])
		out := (*[128]float32)(y[128*h:])
		for l := 0; l < 32; l++ {
			is := l / 16
			hb := qh[l]
			q1 := int(ql[l]&0xf|(hb&3)<<4) - 32
			q2 := int(ql[l+32]&0xf|(hb>>2&3)<<4) - 32
			q3 := int(ql[l]>>4|(hb>>4&3)<<4) - 32
			q4 := int(ql[l+32]>>4|(hb>>6&3)<<4) - 32
			out[l] = d * float32(int8(sc[is])) * float32(q1)
			out[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
			out[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
			out[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
		}
	}
}

// roundInt rounds half away from zero and clamps to [lo, hi].
func roundInt(v float32, lo, hi int) int {
	r := math.Round(float64(v))
	if r < float64(lo) {
		return lo
	}
	if r > float64(hi) {
		return hi
	}
	return int(r)
}

// roundUp rounds t half up and clamps the result to [0, hi]. The clamp is
// done in float32 so that huge, infinite or NaN t never reaches the int
// conversion.
func roundUp(t float32, hi int) int {
	t += 0.5
	if !(t >= 0) { // also catches NaN
		return 0
	}
	if t > float32(hi) {
		return hi
	}
	return int(t)
}

// quantQ4K quantizes one super-block: per sub-block an affine fit
// x ≈ s*q - m (q in 0..15, m >= 0) found by a grid search over clipped ranges
// with least-squares refits, then 6-bit quantization of the scales and mins
// against d = max(s)/63 and dmin = max(m)/63, choosing for each sub-block the
// neighbouring 6-bit pair with the smallest decoded error.
func quantQ4K(x *[256]float32, b *[q4KBlock]byte) error {
	var scales, mins [8]float32
	var maxS, maxM float32
	for j := 0; j < 8; j++ {
		scales[j], mins[j] = fitAffine4((*[32]float32)(x[32*j:]))
		maxS = max(maxS, scales[j])
		maxM = max(maxM, mins[j])
	}
	hd, err := scaleToF16("d", maxS/63)
	if err != nil {
		return err
	}
	hm, err := scaleToF16("dmin", maxM/63)
	if err != nil {
		return err
	}
	d, dmin := F16ToF32(hd), F16ToF32(hm)
	var sc, mn [8]uint8
	var qs [256]uint8
	for j := 0; j < 8; j++ {
		xs := (*[32]float32)(x[32*j:])
		s0, m0 := 0, 0
		if d > 0 {
			s0 = roundInt(scales[j]/d, 0, 63)
		}
		if dmin > 0 {
			m0 = roundInt(mins[j]/dmin, 0, 63)
		}
		best := math.Inf(1)
		for ds := -1; ds <= 1; ds++ {
			for dm := -1; dm <= 1; dm++ {
				s, m := s0+ds, m0+dm
				if s < 0 || s > 63 || m < 0 || m > 63 || (ds != 0 && d == 0) || (dm != 0 && dmin == 0) {
					continue
				}
				if e := errAffine4(xs, d*float32(s), dmin*float32(m)); e < best {
					best, sc[j], mn[j] = e, uint8(s), uint8(m)
				}
			}
		}
		d1, m1 := d*float32(sc[j]), dmin*float32(mn[j])
		for l, v := range xs {
			qs[32*j+l] = uint8(nearestQ4K(v, d1, m1))
		}
	}
	binary.LittleEndian.PutUint16(b[0:], hd)
	binary.LittleEndian.PutUint16(b[2:], hm)
	packScaleMinK4(&sc, &mn, (*[12]byte)(b[q4KScales:]))
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			b[q4KQs+32*c+l] = qs[64*c+l] | qs[64*c+32+l]<<4
		}
	}
	return nil
}

// nearestQ4K is the 4-bit level whose decoded value d1*q - m1 is nearest to v.
func nearestQ4K(v, d1, m1 float32) int {
	if d1 == 0 {
		return 0
	}
	return roundUp((v+m1)/d1, 15)
}

// errAffine4 is the squared error of x decoded through the Q4_K arithmetic
// with sub-block scale d1 and min m1.
func errAffine4(x *[32]float32, d1, m1 float32) float64 {
	var e float64
	for _, v := range x {
		y := float32(d1*float32(nearestQ4K(v, d1, m1))) - m1
		r := float64(y) - float64(v)
		e += float64(r * r)
	}
	return e
}

// fitAffine4 finds s >= 0 and m >= 0 so that x ≈ s*q - m with q in 0..15
// has small squared error. It tries ranges [lo, hi] clipped in from the data's
// [min(x, 0), max(x)] on both sides, refits s and m by least squares for the
// resulting quants, and keeps the best; the search is deterministic.
func fitAffine4(x *[32]float32) (s, m float32) {
	xmin, xmax := float64(x[0]), float64(x[0])
	var sx, sxx float64
	for _, v := range x {
		xmin = min(xmin, float64(v))
		xmax = max(xmax, float64(v))
		sx += float64(v)
		sxx += float64(float64(v) * float64(v))
	}
	xmin = min(xmin, 0)
	if xmax <= xmin {
		return 0, float32(-xmin)
	}
	rng := xmax - xmin
	bestErr := math.Inf(1)
	var bestS, bestC float64
	try := func(lo, step float64) {
		if !(step > 0) {
			return
		}
		inv := 1 / step
		var sq, sqq, sqx float64
		for _, v := range x {
			t := float64((float64(v)-lo)*inv) + 0.5
			if t < 0 {
				t = 0
			} else if t > 15 {
				t = 15
			}
			q := float64(int(t))
			sq += q
			sqq += float64(q * q)
			sqx += float64(q * float64(v))
		}
		s, c, e := fitLine(sq, sqq, sqx, sx, sxx)
		if e < bestErr {
			bestErr, bestS, bestC = e, s, c
		}
	}
	const steps, frac = 6, 0.02
	for a := 0; a < steps; a++ {
		for b := 0; b < steps; b++ {
			lo := xmin + float64(rng*frac*float64(a))
			hi := xmax - float64(rng*frac*float64(b))
			try(lo, (hi-lo)/15)
		}
	}
	// A few rounds of re-quantizing against the best fit.
	for it := 0; it < 3; it++ {
		prev := bestErr
		try(bestC, bestS)
		if bestErr >= prev {
			break
		}
	}
	return float32(bestS), float32(-bestC)
}

// fitLine fits x ≈ s*q + c over 32 points by least squares under s >= 0 and
// c <= 0, given the sums of q, q², q·x, x and x², and returns the fit and its
// squared error.
func fitLine(sq, sqq, sqx, sx, sxx float64) (s, c, e float64) {
	const n = 32
	// Products are rounded explicitly (float64(...)) so that no platform fuses
	// them into FMAs: the search must give the same blocks everywhere.
	det := float64(n*sqq) - float64(sq*sq)
	if det > 0 {
		s = (float64(n*sqx) - float64(sq*sx)) / det
		c = (float64(sqq*sx) - float64(sq*sqx)) / det
	}
	if det <= 0 || c > 0 {
		c = 0
		if sqq > 0 {
			s = sqx / sqq
		}
	}
	if s < 0 {
		s, c = 0, min(sx/n, 0)
	}
	// Σ(s*q + c - x)² expanded.
	e = sxx + float64(s*s*sqq) + float64(n*c*c) + float64(2*s*c*sq) - float64(2*s*sqx) - float64(2*c*sx)
	return s, c, max(e, 0)
}

// quantQ6K quantizes one super-block: per 16-element sub-block a symmetric
// scale found by searching how the largest-magnitude element maps onto the
// levels -32..31 (with least-squares refits), then 8-bit quantization of the
// scales against d = s_max/-128, choosing for each sub-block the neighbouring
// 8-bit scale with the smallest decoded error.
func quantQ6K(x *[256]float32, b *[q6KBlock]byte) error {
	var scales [16]float32
	var smax float32
	for j := 0; j < 16; j++ {
		scales[j] = fitScale6((*[16]float32)(x[16*j:]))
		if abs32(scales[j]) > abs32(smax) {
			smax = scales[j]
		}
	}
	hd, err := scaleToF16("d", smax/-128)
	if err != nil {
		return err
	}
	d := F16ToF32(hd)
	var sc [16]int8
	var qs [256]uint8
	for j := 0; j < 16; j++ {
		xs := (*[16]float32)(x[16*j:])
		if d != 0 {
			s0 := roundInt(scales[j]/d, -128, 127)
			best := math.Inf(1)
			for s := max(s0-1, -128); s <= min(s0+1, 127); s++ {
				if e := errScale6(xs, d*float32(s)); e < best {
					best, sc[j] = e, int8(s)
				}
			}
		}
		ds := d * float32(sc[j])
		for l, v := range xs {
			qs[16*j+l] = uint8(nearestQ6K(v, ds) + 32)
		}
	}
	for h := 0; h < 2; h++ {
		for l := 0; l < 32; l++ {
			q1, q2, q3, q4 := qs[128*h+l], qs[128*h+l+32], qs[128*h+l+64], qs[128*h+l+96]
			b[64*h+l] = q1&0xf | (q3&0xf)<<4
			b[64*h+l+32] = q2&0xf | (q4&0xf)<<4
			b[q6KQh+32*h+l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
		}
	}
	for j, s := range sc {
		b[q6KScales+j] = byte(s)
	}
	binary.LittleEndian.PutUint16(b[q6KD:], hd)
	return nil
}

// nearestQ6K is the level in -32..31 whose decoded value ds*q is nearest to v.
func nearestQ6K(v, ds float32) int {
	if ds == 0 {
		return 0
	}
	return roundUp(v/ds+32, 63) - 32
}

// errScale6 is the squared error of x decoded through the Q6_K arithmetic
// with sub-block scale ds = d*sc.
func errScale6(x *[16]float32, ds float32) float64 {
	var e float64
	for _, v := range x {
		r := float64(ds*float32(nearestQ6K(v, ds))) - float64(v)
		e += float64(r * r)
	}
	return e
}

// fitScale6 finds a signed scale s so that x ≈ s*q with q in -32..31 has small
// squared error: the largest-magnitude element is tried at several levels near
// -32 and +31, each candidate is refit by least squares, and the best kept.
func fitScale6(x *[16]float32) float32 {
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax == 0 {
		return 0
	}
	var sxx float64
	for _, v := range x {
		sxx += float64(float64(v) * float64(v))
	}
	bestErr := math.Inf(1)
	var bestS float64
	try := func(s float64) {
		inv := 1 / s
		var sqx, sqq float64
		for _, v := range x {
			t := float64(float64(v)*inv) + 32.5
			if t < 0 {
				t = 0
			} else if t > 63 {
				t = 63
			}
			q := float64(int(t) - 32)
			sqx += float64(q * float64(v))
			sqq += float64(q * q)
		}
		if sqq == 0 {
			return
		}
		if e := sxx - sqx*sqx/sqq; e < bestErr {
			bestErr, bestS = e, sqx/sqq
		}
	}
	for k := 0; k < 16; k++ {
		t := 0.25 * float64(k)
		try(float64(mx) / (-32 + t))
		try(float64(mx) / (31 - t))
	}
	for it := 0; it < 3; it++ {
		prev := bestErr
		try(bestS)
		if bestErr >= prev {
			break
		}
	}
	return float32(bestS)
}
