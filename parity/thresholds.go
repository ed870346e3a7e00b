package parity

import "github.com/golem-llm/golem/graph"

// Tolerances on NMSE, as in llama.cpp's test-backend-ops.
const (
	// ElementwiseThreshold bounds F32 element-wise ops and data movement:
	// add, mul, scale, silu, gelu, swiglu, rms_norm, layer_norm, rope,
	// get_rows from an F32 table, kv_write, view, reshape, permute,
	// contiguous, concat, and copies (conversions) to F32.
	ElementwiseThreshold = 1e-7
	// SoftmaxThreshold bounds softmax.
	SoftmaxThreshold = 1e-6
	// MatMulThreshold bounds matmul and attention (every weight and KV
	// dtype), get_rows from F16/BF16/quantized tables, and copies to F16,
	// BF16 or a quantized type.
	MatMulThreshold = 5e-4
	// ExactThreshold (0) means an exact comparison: argmax, and copies whose
	// source and destination dtypes are the same; the bytes must be equal.
	ExactThreshold = 0
	// LayerThreshold bounds the activations of a whole transformer layer
	// (model-level parity).
	LayerThreshold = 2e-3
)

// Threshold returns the NMSE tolerance of a case from its op and dtypes:
//
//	op                                      dtypes              threshold
//	softmax                                 f32                 1e-6
//	matmul, matmul_fused, attention         any w / kv dtype    5e-4
//	get_rows                                f32 table           1e-7
//	get_rows                                f16/bf16/quantized  5e-4
//	copy                                    same src and dst    0 (exact bytes)
//	copy                                    to f32              1e-7
//	copy                                    to f16/bf16/quant   5e-4
//	argmax                                  f32 → i32           0 (exact)
//	everything else (element-wise, norms,   any                 1e-7
//	rope, kv_write, view family, concat)
//
// For copy, c.DTypes is [source, destination]; for get_rows and matmul the
// first dtype is the table's or weight's.
func Threshold(c Case) float64 {
	first := graph.F32
	if len(c.DTypes) > 0 {
		first = c.DTypes[0]
	}
	switch c.Op {
	case graph.OpSoftmax:
		return SoftmaxThreshold
	case graph.OpMatMul, graph.OpAttention, graph.OpMatMulFused:
		return MatMulThreshold
	case graph.OpGetRows:
		if first == graph.F32 {
			return ElementwiseThreshold
		}
		return MatMulThreshold
	case graph.OpCopy:
		dst := first
		if len(c.DTypes) > 1 {
			dst = c.DTypes[1]
		}
		switch {
		case dst == first:
			return ExactThreshold
		case dst == graph.F32:
			return ElementwiseThreshold
		}
		return MatMulThreshold
	case graph.OpArgmax:
		return ExactThreshold
	}
	return ElementwiseThreshold
}
