//go:build !amd64 || purego

package quant

import "github.com/golem-llm/golem/graph"

// useAsm is always false without assembly kernels; the tests flip it on
// amd64 to compare the two paths and leave it alone here.
var useAsm = false

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
