//go:build !amd64 || purego

package quant

import (
	"unsafe"

	"github.com/golem-llm/golem/graph"
)

// cpuLevel is the best kernel family here: the portable code.
func cpuLevel() int { return levelGeneric }

// cpuHasAVXVNNI is false: no kernel here uses AVX-VNNI.
func cpuHasAVXVNNI() bool { return false }

// useAsm, useVNNI and useAVX512 are always false without assembly kernels;
// the tests flip them on amd64 to compare the paths and leave them alone
// here.
var (
	useAsm    = false
	useVNNI   = false
	useAVX512 = false
)

// level is the kernel family in use: the portable code.
func level() int { return levelGeneric }

// archDot is Dot's assembly path: there is none on this platform.
func archDot(graph.DType, []byte, []float32) (float32, bool) { return 0, false }

// archDequantize is Dequantize's assembly path: there is none here.
func archDequantize(graph.DType, []byte, []float32) bool { return false }

// archDotF32 is DotF32's assembly path: there is none here.
func archDotF32(_, _ []float32) (float32, bool) { return 0, false }

// archDot4F32 is Dot4F32's assembly path: there is none here.
func archDot4F32(_, _, _, _, _ []float32) (s [4]float32, ok bool) { return s, false }

// archDotF16 is DotF16's assembly path: there is none here.
func archDotF16([]uint16, []float32) (float32, bool) { return 0, false }

// archDecodeF16 converts no prefix of src: there is no assembly here.
func archDecodeF16([]float32, []uint16) int { return 0 }

// archDecodeBF16 converts no prefix of src: there is no assembly here.
func archDecodeBF16([]float32, []uint16) int { return 0 }

// archAXPY does no prefix of AXPY: there is no assembly here.
func archAXPY(float32, []float32, []float32) int { return 0 }

// archScale does no prefix of Scale: there is no assembly here.
func archScale([]float32, float32, []float32) int { return 0 }

// archGemmF32 is GemmF32's assembly path: there is none here.
func archGemmF32([]float32, int, []float32, int, []float32, int, int) bool { return false }

// archBlockMax is QuantizeAct's assembly path for the blocks' max|x|:
// there is none here.
func archBlockMax(_, _ []float32) bool { return false }

// archQuantizeAct is QuantizeAct's assembly path: there is none here.
func archQuantizeAct(graph.DType, []float32, []byte, []float32, []int32) bool { return false }

// archGemvAct is GemvAct's assembly path: there is none here.
func archGemvAct(graph.DType, []byte, int, []byte, int, []float32) bool { return false }

// archGemv2 reports whether there is a two-stream GEMV here: no.
func archGemv2(graph.DType, int) bool { return false }

// archGemvAct2 is GemvAct2's assembly path: there is none here.
func archGemvAct2(graph.DType, []byte, []byte, int, []byte, int, []float32, []float32) bool {
	return false
}

// archGemmAct is GemmAct's assembly path: there is none here.
func archGemmAct(graph.DType, []float32, int, []byte, int, int, []byte, int, int, int) bool {
	return false
}

// archIntKernels reports whether there are integer kernels here: no.
func archIntKernels(graph.DType, int, bool) bool { return false }

// archGemmShare is never called here (there is no GemmAct kernel).
func archGemmShare(graph.DType) int { return 0 }

// archGemvF32 does no rows of GemvF32: there is no assembly here.
func archGemvF32([]float32, int, []float32, []float32) int { return 0 }

// archMaxF32 does no prefix of MaxF32: there is no assembly here.
func archMaxF32([]float32) (int, float32, bool) { return 0, 0, false }

// archExpSum does no prefix of ExpSum: there is no assembly here.
func archExpSum([]float32, float32) (int, float32) { return 0, 0 }

// archSwiGLU does no prefix of SwiGLU or SiLU: there is no assembly here.
func archSwiGLU(_, _, _ []float32) int { return 0 }

// archMul does no prefix of Mul: there is no assembly here.
func archMul(_, _, _ []float32) int { return 0 }

// archActLanes fills no lane vectors: there is no assembly here.
func archActLanes(graph.DType, []int16, int, []int32, []float32, []float32, int32) int { return 0 }

// archDotRowsF32 does no rows: there is no assembly here.
func archDotRowsF32(_, _ []float32, _ int, _ []float32) int { return 0 }

// archDotRowsF16 does no rows: there is no assembly here.
func archDotRowsF16([]float32, []uint16, int, []float32) int { return 0 }

// archAXPYRowsF32 does nothing: there is no assembly here.
func archAXPYRowsF32(_, _ []float32, _ int, _ []float32) bool { return false }

// archAXPYRowsF16 does nothing: there is no assembly here.
func archAXPYRowsF16([]float32, []uint16, int, []float32) bool { return false }

// archEncodeF16 does no prefix of EncodeF16: there is no assembly here.
func archEncodeF16([]uint16, []float32) int { return 0 }

// archDotRowsGroupF16 does no keys of DotRowsGroupF16: there is no assembly
// here.
func archDotRowsGroupF16([]float32, int, []uint16, int, int, []float32, int) int { return 0 }

// archAXPYRowsGroupF16 does no heads of AXPYRowsGroupF16: there is no
// assembly here.
func archAXPYRowsGroupF16([]float32, int, int, []uint16, int, int, []float32) int { return 0 }

// archDotRowsBF16 does no rows of DotRowsBF16: there is no assembly here.
func archDotRowsBF16([]float32, []uint16, int, []float32) int { return 0 }

// archAXPYRowsBF16 does not do AXPYRowsBF16: there is no assembly here.
func archAXPYRowsBF16([]float32, []uint16, int, []float32) bool { return false }

// archPacked is false: the packed kernels are AVX-512 assembly.
func archPacked() bool { return false }

// archQuantizePacked has no assembly here.
func archQuantizePacked([]float32, []byte, []float32) bool { return false }

// archGemmPacked has no assembly here.
func archGemmPacked(graph.DType, []float32, int, []byte, int, int, []byte, int, int) bool {
	return false
}

// archGemvPacked2 has no assembly here.
func archGemvPacked2(graph.DType, []float32, []byte, []float32, []byte, int, []byte, int) bool {
	return false
}

// archPackWeights packs nothing here.
func archPackWeights([]byte, []byte, int, int, int, int) int { return 0 }

// archArgMax does no prefix of ArgMaxF32: there is no assembly here.
func archArgMax([]float32) (int, int, float32, uint32) { return 0, -1, 0, 0 }

// archRoPE does nothing: there is no assembly here.
func archRoPE(_, _, _, _ []float32, _, _, _ int, _ bool) bool { return false }

// archPrefetchRows does nothing: there is no assembly here.
func archPrefetchRows(unsafe.Pointer, int, int, int) {}
