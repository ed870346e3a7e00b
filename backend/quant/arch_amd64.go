//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/golem-llm/golem/graph"
	"golang.org/x/sys/cpu"
)

// useAsm selects the AVX2 kernels of *_amd64.s. It is set once from the CPU
// features; tests turn it off to run the portable code on the same machine.
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// The kernels below work on whole groups of 8 elements (or whole blocks);
// the Go wrappers pass valid pointers and counts and finish any tail. The
// dots return float32 sums accumulated in several AVX lanes.

//go:noescape
func dotF32AVX2(a unsafe.Pointer, b *float32, n int) float32

//go:noescape
func dot4F32AVX2(x, w0, w1, w2, w3 *float32, n int, out *[4]float32)

//go:noescape
func dot2x4F32AVX2(x0, x1, w *float32, stride, n int, out *[8]float32)

//go:noescape
func dotF16AVX2(w unsafe.Pointer, x *float32, n int) float32

//go:noescape
func dotBF16AVX2(w unsafe.Pointer, x *float32, n int) float32

//go:noescape
func dotQ8_0AVX2(row *byte, x *float32, nb int) float32

//go:noescape
func dotQ4_0AVX2(row *byte, x *float32, nb int) float32

//go:noescape
func dotQ4KAVX2(row *byte, x *float32, nb int) float32

//go:noescape
func dotQ6KAVX2(row *byte, x *float32, nb int) float32

//go:noescape
func decodeF16AVX2(dst *float32, src unsafe.Pointer, n int)

//go:noescape
func decodeBF16AVX2(dst *float32, src unsafe.Pointer, n int)

//go:noescape
func dequantQ8_0AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ4_0AVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ4KAVX2(dst *float32, src *byte, nb int)

//go:noescape
func dequantQ6KAVX2(dst *float32, src *byte, nb int)

//go:noescape
func axpyAVX2(a float32, x, y *float32, n int)

//go:noescape
func scaleAVX2(dst *float32, a float32, src *float32, n int)

// archDot is Dot's assembly path; ok is false when it does not apply. row
// has been checked to hold exactly the bytes of len(x) elements.
func archDot(t graph.DType, row []byte, x []float32) (s float32, ok bool) {
	n := len(x)
	if !useAsm || n == 0 {
		return 0, false
	}
	switch t {
	case graph.F32:
		n8 := n &^ 7
		if n8 > 0 {
			s = dotF32AVX2(unsafe.Pointer(&row[0]), &x[0], n8)
		}
		for i := n8; i < n; i++ {
			s += math.Float32frombits(binary.LittleEndian.Uint32(row[4*i:])) * x[i]
		}
		return s, true
	case graph.F16:
		n8 := n &^ 7
		if n8 > 0 {
			s = dotF16AVX2(unsafe.Pointer(&row[0]), &x[0], n8)
		}
		for i := n8; i < n; i++ {
			s += F16ToF32(uint16(row[2*i])|uint16(row[2*i+1])<<8) * x[i]
		}
		return s, true
	case graph.BF16:
		n8 := n &^ 7
		if n8 > 0 {
			s = dotBF16AVX2(unsafe.Pointer(&row[0]), &x[0], n8)
		}
		for i := n8; i < n; i++ {
			s += BF16ToF32(uint16(row[2*i])|uint16(row[2*i+1])<<8) * x[i]
		}
		return s, true
	case graph.Q8_0:
		return dotQ8_0AVX2(&row[0], &x[0], n/32), true
	case graph.Q4_0:
		return dotQ4_0AVX2(&row[0], &x[0], n/32), true
	case graph.Q4_K:
		return dotQ4KAVX2(&row[0], &x[0], n/256), true
	case graph.Q6_K:
		return dotQ6KAVX2(&row[0], &x[0], n/256), true
	}
	return 0, false
}

// archDequantize is Dequantize's assembly path; it reports whether it
// decoded dst. src holds exactly the bytes of len(dst) elements.
func archDequantize(t graph.DType, src []byte, dst []float32) bool {
	n := len(dst)
	if !useAsm || n == 0 {
		return false
	}
	switch t {
	case graph.F32:
		// amd64 is little-endian: the bytes are the float32 values.
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*n), src)
	case graph.F16, graph.BF16:
		n8 := n &^ 7
		if n8 > 0 {
			if t == graph.F16 {
				decodeF16AVX2(&dst[0], unsafe.Pointer(&src[0]), n8)
			} else {
				decodeBF16AVX2(&dst[0], unsafe.Pointer(&src[0]), n8)
			}
		}
		for i := n8; i < n; i++ {
			h := uint16(src[2*i]) | uint16(src[2*i+1])<<8
			if t == graph.F16 {
				dst[i] = F16ToF32(h)
			} else {
				dst[i] = BF16ToF32(h)
			}
		}
	case graph.Q8_0:
		dequantQ8_0AVX2(&dst[0], &src[0], n/32)
	case graph.Q4_0:
		dequantQ4_0AVX2(&dst[0], &src[0], n/32)
	case graph.Q4_K:
		dequantQ4KAVX2(&dst[0], &src[0], n/256)
	case graph.Q6_K:
		dequantQ6KAVX2(&dst[0], &src[0], n/256)
	default:
		return false
	}
	return true
}

// archDotF32 is DotF32's assembly path (len(a) == len(b) > 0).
func archDotF32(a, b []float32) (float32, bool) {
	if !useAsm {
		return 0, false
	}
	n := len(a)
	n8 := n &^ 7
	var s float32
	if n8 > 0 {
		s = dotF32AVX2(unsafe.Pointer(&a[0]), &b[0], n8)
	}
	for i := n8; i < n; i++ {
		s += a[i] * b[i]
	}
	return s, true
}

// archDot4F32 is Dot4F32's assembly path (all slices of len(x) > 0).
func archDot4F32(x, w0, w1, w2, w3 []float32) (s [4]float32, ok bool) {
	if !useAsm {
		return s, false
	}
	n := len(x)
	n8 := n &^ 7
	if n8 > 0 {
		dot4F32AVX2(&x[0], &w0[0], &w1[0], &w2[0], &w3[0], n8, &s)
	}
	for i := n8; i < n; i++ {
		v := x[i]
		s[0] += v * w0[i]
		s[1] += v * w1[i]
		s[2] += v * w2[i]
		s[3] += v * w3[i]
	}
	return s, true
}

// archDotF16 is DotF16's assembly path (len(row) == len(x) > 0).
func archDotF16(row []uint16, x []float32) (float32, bool) {
	if !useAsm {
		return 0, false
	}
	n := len(x)
	n8 := n &^ 7
	var s float32
	if n8 > 0 {
		s = dotF16AVX2(unsafe.Pointer(&row[0]), &x[0], n8)
	}
	for i := n8; i < n; i++ {
		s += F16ToF32(row[i]) * x[i]
	}
	return s, true
}

// archDecodeF16 converts a prefix of src into dst (same lengths) and
// returns its length.
func archDecodeF16(dst []float32, src []uint16) int {
	n8 := len(src) &^ 7
	if !useAsm || n8 == 0 {
		return 0
	}
	decodeF16AVX2(&dst[0], unsafe.Pointer(&src[0]), n8)
	return n8
}

// archDecodeBF16 converts a prefix of src into dst (same lengths) and
// returns its length.
func archDecodeBF16(dst []float32, src []uint16) int {
	n8 := len(src) &^ 7
	if !useAsm || n8 == 0 {
		return 0
	}
	decodeBF16AVX2(&dst[0], unsafe.Pointer(&src[0]), n8)
	return n8
}

// archAXPY does a prefix of AXPY (len(x) == len(y)) and returns its length.
func archAXPY(a float32, x, y []float32) int {
	n8 := len(x) &^ 7
	if !useAsm || n8 == 0 {
		return 0
	}
	axpyAVX2(a, &x[0], &y[0], n8)
	return n8
}

// archScale does a prefix of Scale (len(dst) == len(src)) and returns its
// length.
func archScale(dst []float32, a float32, src []float32) int {
	n8 := len(src) &^ 7
	if !useAsm || n8 == 0 {
		return 0
	}
	scaleAVX2(&dst[0], a, &src[0], n8)
	return n8
}

// archGemmF32 is GemmF32's assembly path; the sizes have been checked and
// m, rows and k are positive.
func archGemmF32(out []float32, ldo int, x []float32, m int, w []float32, rows, k int) bool {
	if !useAsm {
		return false
	}
	k8 := k &^ 7
	i := 0
	for ; i+2 <= m; i += 2 {
		x0, x1 := x[i*k:(i+1)*k], x[(i+1)*k:(i+2)*k]
		o0, o1 := out[i*ldo:i*ldo+rows], out[(i+1)*ldo:(i+1)*ldo+rows]
		r := 0
		for ; r+4 <= rows; r += 4 {
			var s [8]float32
			if k8 > 0 {
				dot2x4F32AVX2(&x0[0], &x1[0], &w[r*k], k, k8, &s)
			}
			for kk := k8; kk < k; kk++ {
				for q := range 4 {
					v := w[(r+q)*k+kk]
					s[q] += x0[kk] * v
					s[4+q] += x1[kk] * v
				}
			}
			copy(o0[r:r+4], s[:4])
			copy(o1[r:r+4], s[4:])
		}
		for ; r < rows; r++ {
			o0[r] = DotF32(x0, w[r*k:(r+1)*k])
			o1[r] = DotF32(x1, w[r*k:(r+1)*k])
		}
	}
	if i < m {
		gemmRowF32(out[i*ldo:i*ldo+rows], x[i*k:(i+1)*k], w, rows, k)
	}
	return true
}
