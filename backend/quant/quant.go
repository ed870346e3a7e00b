// Package quant is the one place golem encodes and decodes element formats.
// Every layout is bit-exact with GGUF/ggml: IEEE half (F16), bfloat16 (BF16),
// Q8_0 and Q4_0 (blocks of 32) and the k-quants Q4_K and Q6_K (super-blocks of
// 256). All multi-byte fields are little-endian.
//
// Dequantize and Quantize convert whole rows and report bad input as errors.
// Dot and DotF64 compute the dot product of one encoded row with a float32
// vector while decoding on the fly, without allocating; they are the inner
// loops of CPU matrix multiplication and of the float64 reference oracle.
// DotF32, Dot4F32, GemmF32, DotF16, DecodeF16, AXPY and Scale are the
// float32 vector kernels of the CPU backend.
//
// On amd64 CPUs with AVX2, FMA and F16C (detected at run time) the hot loops
// run in assembly (*_amd64.s), beside portable Go code that every other
// platform, and the purego build tag, uses. Decoding (Dequantize, DecodeF16)
// and AXPY and Scale give bit-identical results on both paths; the dot
// products accumulate in more float32 lanes and fuse multiplies with adds in
// assembly, so they differ from the Go code by float32 rounding only.
package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/golem-llm/golem/graph"
)

// Byte offsets inside the block layouts.
const (
	q8Block  = 34  // f16 d, int8 qs[32]
	q4Block  = 18  // f16 d, uint8 qs[16]
	q4KBlock = 144 // f16 d, f16 dmin, uint8 scales[12], uint8 qs[128]
	q6KBlock = 210 // uint8 ql[128], uint8 qh[64], int8 scales[16], f16 d

	q4KScales = 4
	q4KQs     = 16
	q6KQh     = 128
	q6KScales = 192
	q6KD      = 208
)

// checkType rejects dtypes that have no float encoding.
func checkType(op string, t graph.DType) error {
	if !t.Valid() {
		return fmt.Errorf("quant: %s: unknown dtype %s", op, t)
	}
	if !t.IsFloat() {
		return fmt.Errorf("quant: %s: dtype %s is not a float format", op, t)
	}
	return nil
}

// Dequantize decodes len(dst) elements of type t from src. len(dst) must be a
// multiple of t.BlockSize() and src must hold at least t.RowBytes(len(dst))
// bytes (extra bytes are ignored). Supported types are F32, F16, BF16, Q8_0,
// Q4_0, Q4_K and Q6_K; any other type is an error. The result is bit-exact
// on every platform (the amd64 assembly uses the same float32 operations as
// the portable code).
func Dequantize(t graph.DType, src []byte, dst []float32) error {
	if err := checkType("dequantize", t); err != nil {
		return err
	}
	need, err := t.RowBytes(int64(len(dst)))
	if err != nil {
		return fmt.Errorf("quant: dequantize %s: %w", t, err)
	}
	if int64(len(src)) < need {
		return fmt.Errorf("quant: dequantize %s: %d elements need %d bytes, have %d", t, len(dst), need, len(src))
	}
	src = src[:need]
	if archDequantize(t, src, dst) {
		return nil
	}
	switch t {
	case graph.F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case graph.F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case graph.BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case graph.Q8_0:
		for b := 0; b < len(dst)/32; b++ {
			dequantQ8_0((*[q8Block]byte)(src[b*q8Block:]), (*[32]float32)(dst[b*32:]))
		}
	case graph.Q4_0:
		for b := 0; b < len(dst)/32; b++ {
			dequantQ4_0((*[q4Block]byte)(src[b*q4Block:]), (*[32]float32)(dst[b*32:]))
		}
	case graph.Q4_K:
		for b := 0; b < len(dst)/256; b++ {
			dequantQ4K((*[q4KBlock]byte)(src[b*q4KBlock:]), (*[256]float32)(dst[b*256:]))
		}
	case graph.Q6_K:
		for b := 0; b < len(dst)/256; b++ {
			dequantQ6K((*[q6KBlock]byte)(src[b*q6KBlock:]), (*[256]float32)(dst[b*256:]))
		}
	default:
		return fmt.Errorf("quant: dequantize: dtype %s is not supported", t)
	}
	return nil
}

// Quantize encodes src as elements of type t into dst, which must hold at
// least t.RowBytes(len(src)) bytes; len(src) must be a multiple of
// t.BlockSize(). Bytes of dst past the encoded row are left untouched.
//
// F16 and BF16 round to nearest, ties to even (NaN stays NaN). Q8_0 and Q4_0
// follow ggml's reference quantizer exactly. Q4_K and Q6_K use golem's own
// deterministic search over sub-block scales; the blocks are in ggml's layout
// but need not be byte-identical to what ggml would produce.
//
// For the block formats every input value must be finite and the block's
// scale must fit an f16; otherwise Quantize returns an error naming the block.
func Quantize(t graph.DType, src []float32, dst []byte) error {
	if err := checkType("quantize", t); err != nil {
		return err
	}
	need, err := t.RowBytes(int64(len(src)))
	if err != nil {
		return fmt.Errorf("quant: quantize %s: %w", t, err)
	}
	if int64(len(dst)) < need {
		return fmt.Errorf("quant: quantize %s: %d elements need %d bytes, dst has %d", t, len(src), need, len(dst))
	}
	switch t {
	case graph.F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
		return nil
	case graph.F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToF16(v))
		}
		return nil
	case graph.BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
		}
		return nil
	}
	bs, bb := t.BlockSize(), t.BlockBytes()
	for b := 0; b < len(src)/bs; b++ {
		x := src[b*bs : (b+1)*bs]
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("quant: quantize %s: block %d: non-finite value %v at element %d", t, b, v, b*bs+i)
			}
		}
		out := dst[b*bb : (b+1)*bb]
		var err error
		switch t {
		case graph.Q8_0:
			err = quantQ8_0((*[32]float32)(x), (*[q8Block]byte)(out))
		case graph.Q4_0:
			err = quantQ4_0((*[32]float32)(x), (*[q4Block]byte)(out))
		case graph.Q4_K:
			err = quantQ4K((*[256]float32)(x), (*[q4KBlock]byte)(out))
		case graph.Q6_K:
			err = quantQ6K((*[256]float32)(x), (*[q6KBlock]byte)(out))
		default:
			err = fmt.Errorf("dtype is not supported")
		}
		if err != nil {
			return fmt.Errorf("quant: quantize %s: block %d: %w", t, b, err)
		}
	}
	return nil
}

// scaleToF16 rounds a block scale to f16 and reports an overflow as an error.
func scaleToF16(name string, v float32) (uint16, error) {
	h := F32ToF16(v)
	if h&0x7c00 == 0x7c00 {
		return 0, fmt.Errorf("scale %s = %g does not fit an f16", name, v)
	}
	return h, nil
}
