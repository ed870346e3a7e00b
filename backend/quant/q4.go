package quant

import "encoding/binary"

// Q4_0 block (18 bytes, 32 elements): f16 d, then 16 bytes qs. Element j < 16
// is the low nibble of qs[j], element j+16 the high nibble; the value is
// d*(nibble-8).

// dequantQ4_0 decodes one Q4_0 block.
func dequantQ4_0(b *[q4Block]byte, y *[32]float32) {
	d := F16ToF32(binary.LittleEndian.Uint16(b[0:]))
	for j := 0; j < 16; j++ {
		q := b[2+j]
		y[j] = float32(int(q&0xf)-8) * d
		y[j+16] = float32(int(q>>4)-8) * d
	}
}

// quantQ4_0 is ggml's reference Q4_0 quantizer: the element of largest
// magnitude (the first one on ties) maps to nibble 0, d = max/-8, and each
// element becomes min(15, trunc(x/d + 8.5)) with x/d computed as x*(1/d).
func quantQ4_0(x *[32]float32, b *[q4Block]byte) error {
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); amax < a {
			amax, mx = a, v
		}
	}
	d := mx / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	h, err := scaleToF16("d", d)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint16(b[0:], h)
	for j := 0; j < 16; j++ {
		lo := nibble4_0(float32(x[j]*id) + 8.5)
		hi := nibble4_0(float32(x[j+16]*id) + 8.5)
		b[2+j] = lo | hi<<4
	}
	return nil
}

// nibble4_0 truncates toward zero (C's (int8_t) cast of an in-range value)
// and clamps to the nibble range.
func nibble4_0(v float32) byte {
	return byte(clampInt(int(v), 0, 15))
}
