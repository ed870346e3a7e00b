package quant

import "math"

// F16ToF32 converts an IEEE 754 binary16 value to float32. The conversion is
// exact; NaN payloads are kept (shifted into the wider mantissa).
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	o := uint32(h&0x7fff) << 13 // exponent and mantissa in float32 position
	exp := o & (0x1f << 23)
	o += (127 - 15) << 23 // rebias the exponent
	switch exp {
	case 0x1f << 23: // Inf or NaN: exponent all ones
		o += (128 - 16) << 23
	case 0: // zero or subnormal: renormalise exactly via a float subtraction
		o += 1 << 23
		f := math.Float32frombits(o) - 0x1p-14
		return math.Float32frombits(math.Float32bits(f) | sign)
	}
	return math.Float32frombits(o | sign)
}

// F32ToF16 converts a float32 to IEEE 754 binary16, rounding to nearest with
// ties to even. Values too large for f16 become ±Inf, values too small become
// subnormals or ±0. NaN stays NaN: the top mantissa bits are kept and the
// quiet bit is set (as x86 F16C does).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	b &= 0x7fffffff
	switch {
	case b > 0x7f800000: // NaN
		return sign | 0x7e00 | uint16(b>>13)&0x3ff
	case b >= 0x477ff000: // >= 65520 (incl. Inf): rounds to Inf
		return sign | 0x7c00
	case b >= 0x38800000: // normal f16 range (>= 2^-14)
		b -= (127 - 15) << 23
		b += 0xfff + (b>>13)&1
		return sign | uint16(b>>13)
	case b < 0x33000000: // < 2^-25 (incl. f32 subnormals): rounds to 0
		return sign
	}
	// f16 subnormal: result = round(mant * 2^(e-150) * 2^24).
	e := b >> 23
	m := b&0x7fffff | 0x800000
	shift := 126 - e // 14..24
	q := m >> shift
	rem := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return sign | uint16(q)
}

// BF16ToF32 converts a bfloat16 value to float32 (exact).
func BF16ToF32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}

// F32ToBF16 converts a float32 to bfloat16 the way ggml does: round to nearest
// with ties to even, overflow to ±Inf, and NaN kept as NaN with the quiet bit
// forced on (the upper payload bits are preserved).
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}
