package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/golem-llm/golem/graph"
)

// checkDot panics on programmer error: an unsupported dtype, a length that is
// not a whole number of blocks, or a row too short for len(x) elements.
func checkDot(fn string, t graph.DType, row []byte, n int) []byte {
	if !t.IsFloat() {
		panic(fmt.Sprintf("quant: %s: dtype %s is not a float format", fn, t))
	}
	need, err := t.RowBytes(int64(n))
	if err != nil {
		panic(fmt.Sprintf("quant: %s: %v", fn, err))
	}
	if int64(len(row)) < need {
		panic(fmt.Sprintf("quant: %s %s: row has %d bytes, %d elements need %d", fn, t, len(row), n, need))
	}
	return row[:need]
}

// Dot returns sum_i dequant(row)[i]*x[i] over the len(x) elements of one row
// of type t, decoding on the fly with float32 accumulation and without
// allocating. Extra bytes at the end of row are ignored. It is the fast path
// of CPU matrix multiplication; the result may differ from DotF64 by float32
// rounding (the per-block scales are factored out of the inner sums). On
// amd64 with AVX2, FMA and F16C an assembly kernel is used; it sums in more
// lanes and fuses multiplies with adds, so its result differs from the
// portable Go code by float32 rounding only.
//
// Dot panics on programmer error: t is not a float format, len(x) is not a
// multiple of t.BlockSize(), or row is shorter than t.RowBytes(len(x)).
func Dot(t graph.DType, row []byte, x []float32) float32 {
	row = checkDot("Dot", t, row, len(x))
	if s, ok := archDot(t, row, x); ok {
		return s
	}
	switch t {
	case graph.F32:
		return dotF32(row, x)
	case graph.F16:
		return dotF16(row, x)
	case graph.BF16:
		return dotBF16(row, x)
	case graph.Q8_0:
		return dotQ8_0(row, x)
	case graph.Q4_0:
		return dotQ4_0(row, x)
	case graph.Q4_K:
		return dotQ4K(row, x)
	case graph.Q6_K:
		return dotQ6K(row, x)
	}
	panic(fmt.Sprintf("quant: Dot: dtype %s is not supported", t))
}

// DotF64 is Dot with float64 accumulation: every element is decoded to the
// exact float32 value Dequantize produces, and the products are summed in
// float64 in element order. It is the reference oracle for Dot and for
// matrix multiplication. It panics under the same conditions as Dot.
func DotF64(t graph.DType, row []byte, x []float32) float64 {
	row = checkDot("DotF64", t, row, len(x))
	var sum float64
	switch t {
	case graph.F32:
		for i, v := range x {
			w := math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:]))
			sum += float64(float64(w) * float64(v))
		}
	case graph.F16:
		for i, v := range x {
			w := F16ToF32(binary.LittleEndian.Uint16(row[2*i:]))
			sum += float64(float64(w) * float64(v))
		}
	case graph.BF16:
		for i, v := range x {
			w := BF16ToF32(binary.LittleEndian.Uint16(row[2*i:]))
			sum += float64(float64(w) * float64(v))
		}
	case graph.Q8_0:
		var y [32]float32
		for b := 0; b < len(x)/32; b++ {
			dequantQ8_0((*[q8Block]byte)(row[b*q8Block:]), &y)
			sum = dotBlockF64(sum, y[:], x[b*32:(b+1)*32])
		}
	case graph.Q4_0:
		var y [32]float32
		for b := 0; b < len(x)/32; b++ {
			dequantQ4_0((*[q4Block]byte)(row[b*q4Block:]), &y)
			sum = dotBlockF64(sum, y[:], x[b*32:(b+1)*32])
		}
	case graph.Q4_K:
		var y [256]float32
		for b := 0; b < len(x)/256; b++ {
			dequantQ4K((*[q4KBlock]byte)(row[b*q4KBlock:]), &y)
			sum = dotBlockF64(sum, y[:], x[b*256:(b+1)*256])
		}
	case graph.Q6_K:
		var y [256]float32
		for b := 0; b < len(x)/256; b++ {
			dequantQ6K((*[q6KBlock]byte)(row[b*q6KBlock:]), &y)
			sum = dotBlockF64(sum, y[:], x[b*256:(b+1)*256])
		}
	default:
		panic(fmt.Sprintf("quant: DotF64: dtype %s is not supported", t))
	}
	return sum
}

// dotBlockF64 adds y[i]*x[i] to s in float64, in order.
func dotBlockF64(s float64, y, x []float32) float64 {
	x = x[:len(y)]
	for i, w := range y {
		s += float64(float64(w) * float64(x[i]))
	}
	return s
}

func dotF32(row []byte, x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		r := row[4*i : 4*i+16]
		xs := x[i : i+4]
		s0 += math.Float32frombits(binary.LittleEndian.Uint32(r[0:])) * xs[0]
		s1 += math.Float32frombits(binary.LittleEndian.Uint32(r[4:])) * xs[1]
		s2 += math.Float32frombits(binary.LittleEndian.Uint32(r[8:])) * xs[2]
		s3 += math.Float32frombits(binary.LittleEndian.Uint32(r[12:])) * xs[3]
	}
	for ; i < len(x); i++ {
		s0 += math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:])) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotF16(row []byte, x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		r := row[2*i : 2*i+8]
		xs := x[i : i+4]
		s0 += F16ToF32(binary.LittleEndian.Uint16(r[0:])) * xs[0]
		s1 += F16ToF32(binary.LittleEndian.Uint16(r[2:])) * xs[1]
		s2 += F16ToF32(binary.LittleEndian.Uint16(r[4:])) * xs[2]
		s3 += F16ToF32(binary.LittleEndian.Uint16(r[6:])) * xs[3]
	}
	for ; i < len(x); i++ {
		s0 += F16ToF32(binary.LittleEndian.Uint16(row[2*i:])) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotBF16(row []byte, x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		r := row[2*i : 2*i+8]
		xs := x[i : i+4]
		s0 += BF16ToF32(binary.LittleEndian.Uint16(r[0:])) * xs[0]
		s1 += BF16ToF32(binary.LittleEndian.Uint16(r[2:])) * xs[1]
		s2 += BF16ToF32(binary.LittleEndian.Uint16(r[4:])) * xs[2]
		s3 += BF16ToF32(binary.LittleEndian.Uint16(r[6:])) * xs[3]
	}
	for ; i < len(x); i++ {
		s0 += BF16ToF32(binary.LittleEndian.Uint16(row[2*i:])) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func dotQ8_0(row []byte, x []float32) float32 {
	var sum float32
	for b := 0; b < len(x)/32; b++ {
		blk := (*[q8Block]byte)(row[b*q8Block:])
		xs := (*[32]float32)(x[b*32:])
		d := F16ToF32(binary.LittleEndian.Uint16(blk[0:]))
		q := (*[32]byte)(blk[2:])
		var s0, s1, s2, s3 float32
		for j := 0; j < 32; j += 4 {
			s0 += float32(int8(q[j])) * xs[j]
			s1 += float32(int8(q[j+1])) * xs[j+1]
			s2 += float32(int8(q[j+2])) * xs[j+2]
			s3 += float32(int8(q[j+3])) * xs[j+3]
		}
		sum += d * ((s0 + s1) + (s2 + s3))
	}
	return sum
}

func dotQ4_0(row []byte, x []float32) float32 {
	var sum float32
	for b := 0; b < len(x)/32; b++ {
		blk := (*[q4Block]byte)(row[b*q4Block:])
		xs := (*[32]float32)(x[b*32:])
		d := F16ToF32(binary.LittleEndian.Uint16(blk[0:]))
		q := (*[16]byte)(blk[2:])
		var s0, s1, s2, s3 float32
		for j := 0; j < 16; j += 2 {
			a, c := q[j], q[j+1]
			s0 += float32(int(a&0xf)-8) * xs[j]
			s1 += float32(int(a>>4)-8) * xs[j+16]
			s2 += float32(int(c&0xf)-8) * xs[j+1]
			s3 += float32(int(c>>4)-8) * xs[j+17]
		}
		sum += d * ((s0 + s1) + (s2 + s3))
	}
	return sum
}

func dotQ4K(row []byte, x []float32) float32 {
	var sum float32
	for b := 0; b < len(x)/256; b++ {
		blk := (*[q4KBlock]byte)(row[b*q4KBlock:])
		d := F16ToF32(binary.LittleEndian.Uint16(blk[0:]))
		dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
		s := (*[12]byte)(blk[q4KScales:])
		var acc, macc float32
		for c := 0; c < 4; c++ {
			sc1, m1 := scaleMinK4(2*c, s)
			sc2, m2 := scaleMinK4(2*c+1, s)
			q := (*[32]byte)(blk[q4KQs+32*c:])
			xs := (*[64]float32)(x[b*256+64*c:])
			var a0, b0, x0, x1 float32
			for l := 0; l < 32; l += 2 {
				p, r := q[l], q[l+1]
				a0 += float32(p&0xf)*xs[l] + float32(r&0xf)*xs[l+1]
				b0 += float32(p>>4)*xs[l+32] + float32(r>>4)*xs[l+33]
				x0 += xs[l] + xs[l+1]
				x1 += xs[l+32] + xs[l+33]
			}
			acc += float32(sc1)*a0 + float32(sc2)*b0
			macc += float32(m1)*x0 + float32(m2)*x1
		}
		sum += d*acc - dmin*macc
	}
	return sum
}

func dotQ6K(row []byte, x []float32) float32 {
	var sum float32
	for b := 0; b < len(x)/256; b++ {
		blk := (*[q6KBlock]byte)(row[b*q6KBlock:])
		d := F16ToF32(binary.LittleEndian.Uint16(blk[q6KD:]))
		var acc float32
		for h := 0; h < 2; h++ {
			ql := (*[64]byte)(blk[64*h:])
			qh := (*[32]byte)(blk[q6KQh+32*h:])
			sc := (*[8]byte)(blk[q6KScales+8*h:])
			xs := (*[128]float32)(x[b*256+128*h:])
			for half := 0; half < 2; half++ {
				var s1, s2, s3, s4 float32
				for l := 16 * half; l < 16*half+16; l++ {
					hb := qh[l]
					s1 += float32(int(ql[l]&0xf|(hb&3)<<4)-32) * xs[l]
					s2 += float32(int(ql[l+32]&0xf|(hb>>2&3)<<4)-32) * xs[l+32]
					s3 += float32(int(ql[l]>>4|(hb>>4&3)<<4)-32) * xs[l+64]
					s4 += float32(int(ql[l+32]>>4|(hb>>6&3)<<4)-32) * xs[l+96]
				}
				acc += float32(int8(sc[half]))*s1 + float32(int8(sc[half+2]))*s2 +
					float32(int8(sc[half+4]))*s3 + float32(int8(sc[half+6]))*s4
			}
		}
		sum += d * acc
	}
	return sum
}
