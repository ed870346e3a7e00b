package gpu

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// CopyKernel returns the name of the kernel that converts a tensor of
// dtype src into dst, the naming both GPU backends' kernel sources follow:
// cpy_bytes (a quantized tensor copied as it is), cpy_16 and cpy_32 (same
// dtype), dq_<src>_<dst> (dequantize), q_<src>_<dst> (quantize) and
// cpy_<src>_<dst> (float conversions). Converting a quantized tensor to
// another quantized dtype is not implemented and reported as an error.
func CopyKernel(src, dst graph.DType) (string, error) {
	switch {
	case src == dst && src.IsQuantized():
		return "cpy_bytes", nil
	case src == dst && Is16Bit(src):
		return "cpy_16", nil
	case src == dst:
		return "cpy_32", nil
	case src.IsQuantized() && (dst == graph.F32 || Is16Bit(dst)):
		return "dq_" + src.String() + "_" + dst.String(), nil
	case src.IsQuantized():
		return "", fmt.Errorf("converting %s to %s is not implemented (dequantize to f32 first)", src, dst)
	case dst.IsQuantized():
		return "q_" + src.String() + "_" + dst.String(), nil
	}
	return "cpy_" + src.String() + "_" + dst.String(), nil
}

// Is16Bit reports whether dt is a 16-bit float type (F16 or BF16), the
// types the kernels move as 16-bit units.
func Is16Bit(dt graph.DType) bool { return dt == graph.F16 || dt == graph.BF16 }
