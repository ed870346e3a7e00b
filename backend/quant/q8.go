package quant

import (
	"encoding/binary"
	"math"
)

// Q8_0 block (34 bytes, 32 elements): f16 d, then 32 signed bytes q;
// element j is d*q[j].

// dequantQ8_0 decodes one Q8_0 block.
func dequantQ8_0(b *[q8Block]byte, y *[32]float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(b[0:]))
	for j := 0; j < 32; j++ {
		y[j] = float32(int8(b[2+j])) * d
	}
}

// quantQ8_0 is ggml's reference Q8_0 quantizer: d = amax/127, q = roundf(x/d)
// (half away from zero), with x/d computed as x*(1/d) in float32.
func quantQ8_0(x *[32]float32, b *[q8Block]byte) error {
	var amax float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax = a
		}
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	h, err := scaleToF16("d", d)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint16(b[0:], h)
	for j, v := range x {
		b[2+j] = byte(int8(clampInt(roundHalfAway(float32(v*id)), -128, 127)))
	}
	return nil
}

// roundHalfAway rounds like C's roundf (half away from zero) for |t| < 2^31;
// t+0.5 is exact in float64, so truncating it is exact rounding.
func roundHalfAway(t float32) int {
	if t >= 0 {
		return int(float64(t) + 0.5)
	}
	return -int(0.5 - float64(t))
}

// abs32 is |v| for float32.
func abs32(v float32) float32 {
	return math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
}

// clampInt limits v to [lo, hi].
func clampInt(v, lo, hi int) int {
	return min(max(v, lo), hi)
}
