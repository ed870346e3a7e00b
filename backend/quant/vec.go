package quant

import (
	"fmt"
	"unsafe"
)

// Float32 vector kernels for the CPU backend's inner loops. Each has a
// portable Go version and, on amd64 with AVX2, FMA and F16C, an assembly
// version chosen at run time (see arch_amd64.go).
//
// The dot products accumulate in float32 in several lanes (32 on amd64) and
// fuse multiplies with adds in assembly, so their results differ from the
// portable code by float32 rounding only. DecodeF16, AXPY and Scale are bit-exact on every path: they round
// each product separately and never fuse a multiply with an add.

// DotF32 returns the dot product of a and b over len(a) elements with
// float32 accumulation. It panics if len(b) < len(a).
func DotF32(a, b []float32) float32 {
	b = b[:len(a)]
	n := len(a)
	if n == 0 {
		return 0
	}
	if s, ok := archDotF32(a, b); ok {
		return s
	}
	return dotF32Go(a, b)
}

// dotF32Go is the portable DotF32 (len(b) == len(a)).
func dotF32Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Dot4F32 returns x·w0, x·w1, x·w2 and x·w3 over len(x) elements, sharing
// the loads of x (four rows of a matrix against one vector). It panics if
// any w is shorter than x.
func Dot4F32(x, w0, w1, w2, w3 []float32) (s0, s1, s2, s3 float32) {
	n := len(x)
	w0, w1, w2, w3 = w0[:n], w1[:n], w2[:n], w3[:n]
	if n == 0 {
		return 0, 0, 0, 0
	}
	if s, ok := archDot4F32(x, w0, w1, w2, w3); ok {
		return s[0], s[1], s[2], s[3]
	}
	return dot4F32Go(x, w0, w1, w2, w3)
}

// dot4F32Go is the portable Dot4F32 (all slices of len(x)).
func dot4F32Go(x, w0, w1, w2, w3 []float32) (s0, s1, s2, s3 float32) {
	n := len(x)
	w0, w1, w2, w3 = w0[:n], w1[:n], w2[:n], w3[:n]
	for i, v := range x {
		s0 += v * w0[i]
		s1 += v * w1[i]
		s2 += v * w2[i]
		s3 += v * w3[i]
	}
	return s0, s1, s2, s3
}

// DotF16 returns sum_i F16ToF32(row[i])*x[i] over len(x) elements: Dot for
// an F16 row already viewed as uint16 values. It panics if len(row) < len(x).
func DotF16(row []uint16, x []float32) float32 {
	row = row[:len(x)]
	if len(x) == 0 {
		return 0
	}
	if s, ok := archDotF16(row, x); ok {
		return s
	}
	return dotF16Go(row, x)
}

// dotF16Go is the portable DotF16 (len(row) == len(x)).
func dotF16Go(row []uint16, x []float32) float32 {
	row = row[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		r, xs := row[i:i+4:i+4], x[i:i+4:i+4]
		s0 += F16ToF32(r[0]) * xs[0]
		s1 += F16ToF32(r[1]) * xs[1]
		s2 += F16ToF32(r[2]) * xs[2]
		s3 += F16ToF32(r[3]) * xs[3]
	}
	for ; i < len(x); i++ {
		s0 += F16ToF32(row[i]) * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// DecodeF16 converts the len(src) f16 values of src to float32 in dst,
// exactly as F16ToF32 does (NaN payloads included). It panics if
// len(dst) < len(src).
func DecodeF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	done := archDecodeF16(dst, src)
	for i := done; i < len(src); i++ {
		dst[i] = F16ToF32(src[i])
	}
}

// DecodeBF16 converts the len(src) bfloat16 values of src to float32 in
// dst, exactly as BF16ToF32 does. It panics if len(dst) < len(src).
func DecodeBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	done := archDecodeBF16(dst, src)
	for i := done; i < len(src); i++ {
		dst[i] = BF16ToF32(src[i])
	}
}

// AXPY adds a*x[i] to y[i] for every i < len(x); the product is rounded to
// float32 before the addition (no fused multiply-add). It panics if
// len(y) < len(x).
func AXPY(a float32, x, y []float32) {
	y = y[:len(x)]
	done := archAXPY(a, x, y)
	for i := done; i < len(x); i++ {
		y[i] += float32(a * x[i])
	}
}

// Scale sets dst[i] = a*src[i] for every i < len(src). dst may be src
// itself but must not otherwise overlap it. It panics if len(dst) < len(src).
func Scale(dst []float32, a float32, src []float32) {
	dst = dst[:len(src)]
	done := archScale(dst, a, src)
	for i := done; i < len(src); i++ {
		dst[i] = a * src[i]
	}
}

// GemmF32 sets out[i*ldo+r] = x[i*k:(i+1)*k]·w[r*k:(r+1)*k] for every i < m
// and r < rows: m rows of x times the transpose of rows rows of w (both
// row-major with k columns), written as an m×rows block of out with row
// stride ldo. On amd64 it works on 2 rows of x and 4 rows of w at a time so
// that the FMA units, not the loads, bound it; its sums may differ from the
// portable code by float32 rounding.
//
// GemmF32 panics if a size is negative, ldo < rows, or a slice is too short.
func GemmF32(out []float32, ldo int, x []float32, m int, w []float32, rows, k int) {
	if m < 0 || rows < 0 || k < 0 || ldo < rows {
		panic(fmt.Sprintf("quant: GemmF32: bad sizes m=%d rows=%d k=%d ldo=%d", m, rows, k, ldo))
	}
	if m == 0 || rows == 0 {
		return
	}
	if len(x) < m*k || len(w) < rows*k || len(out) < (m-1)*ldo+rows {
		panic(fmt.Sprintf("quant: GemmF32: m=%d rows=%d k=%d ldo=%d need len(x) >= %d, len(w) >= %d, len(out) >= %d; have %d, %d, %d",
			m, rows, k, ldo, m*k, rows*k, (m-1)*ldo+rows, len(x), len(w), len(out)))
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(out[i*ldo : i*ldo+rows])
		}
		return
	}
	if archGemmF32(out, ldo, x, m, w, rows, k) {
		return
	}
	for i := 0; i < m; i++ {
		gemmRowF32(out[i*ldo:i*ldo+rows], x[i*k:(i+1)*k], w, rows, k)
	}
}

// gemmRowF32 sets out[r] = x·w[r*k:(r+1)*k] for r < len(out), four rows of
// w at a time.
func gemmRowF32(out, x, w []float32, rows, k int) {
	r := 0
	for ; r+4 <= rows; r += 4 {
		out[r], out[r+1], out[r+2], out[r+3] = Dot4F32(x,
			w[r*k:(r+1)*k], w[(r+1)*k:(r+2)*k], w[(r+2)*k:(r+3)*k], w[(r+3)*k:(r+4)*k])
	}
	for ; r < rows; r++ {
		out[r] = DotF32(x, w[r*k:(r+1)*k])
	}
}

// GemvF32 sets out[r] = w[r*k:(r+1)*k]·x for r < rows (the rows of a
// row-major matrix, k = len(x)): the decode matmul. It checks its
// arguments once and panics if w or out is too short. Each output is
// bit for bit what GemmF32 gives the same x row and weight row, on every
// kernel family (a sequence decoded alone and in a batch get the same
// logits); on AVX-512 it streams four rows at a time and prefetches
// ahead, and its sums may differ from DotF32's by float32 rounding.
func GemvF32(w []float32, rows int, x []float32, out []float32) {
	k := len(x)
	w, out = w[:rows*k], out[:rows]
	done := archGemvF32(w, rows, x, out)
	gemvRowsF32(w[done*k:], x, out[done:])
}

// gemvRowsF32 is GemvF32 with Dot4F32 and DotF32.
func gemvRowsF32(w, x, out []float32) {
	k := len(x)
	r := 0
	for ; r+4 <= len(out); r += 4 {
		out[r], out[r+1], out[r+2], out[r+3] = Dot4F32(x, w[r*k:(r+1)*k], w[(r+1)*k:(r+2)*k], w[(r+2)*k:(r+3)*k], w[(r+3)*k:(r+4)*k])
	}
	for ; r < len(out); r++ {
		out[r] = DotF32(x, w[r*k:(r+1)*k])
	}
}

// GemvF16 sets out[r] to the dot product of row r of w (F16 weights viewed
// as uint16 values, rows rows of len(x)) with x: DotF16 per row. An
// AVX-512 kernel over four rows (VCVTPH2PS on 512-bit registers) decoded
// the 110m f16 model a third slower than DotF16's 256-bit conversions on
// Zen 5 (107–117 against 156–170 tok/s, alternating runs) and was removed.
func GemvF16(w []uint16, rows int, x []float32, out []float32) {
	k := len(x)
	w, out = w[:rows*k], out[:rows]
	for r := range rows {
		out[r] = DotF16(w[r*k:(r+1)*k], x)
	}
}

// Mul sets out[i] = x[i]·y[i] for i < len(x) (bit-exact on every path).
// It panics if out or y is shorter than x.
func Mul(out, x, y []float32) {
	out, y = out[:len(x)], y[:len(x)]
	done := archMul(out, x, y)
	for i := done; i < len(x); i++ {
		out[i] = x[i] * y[i]
	}
}

// EncodeF16 sets dst[i] = F32ToF16(src[i]) for i < len(src), bit for bit
// (NaNs included). It panics if dst is shorter than src.
func EncodeF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	done := archEncodeF16(dst, src)
	for i := done; i < len(src); i++ {
		dst[i] = F32ToF16(src[i])
	}
}

// RoPE rotates heads heads of x (head h at x[h*stride:], its first dims
// elements) into out by one position's angles: for j < dims,
//
//	out[j] = x[j]·c[j] + x[p(j)]·s[j]
//
// with each product rounded to float32 before the sum (no fused
// multiply-add), p(j) = j^1 (pairs of neighbours: c = (cos θᵢ, cos θᵢ), s
// = (−sin θᵢ, sin θᵢ) for pair i) or, with halves, p(j) = (j + dims/2) mod
// dims (NeoX: element i pairs with i + dims/2; c = (cos θ, cos θ), s =
// (−sin θ, sin θ) by halves). That is x₀·cos θ − x₁·sin θ and x₀·sin θ +
// x₁·cos θ, bit for bit. Elements of a head past dims are left alone. out
// may be x. It panics when a slice is too short.
func RoPE(out, x, c, s []float32, dims, heads, stride int, halves bool) {
	if heads <= 0 || dims <= 0 {
		return
	}
	if dims%2 != 0 {
		panic(fmt.Sprintf("quant: RoPE of %d dimensions (odd)", dims))
	}
	last := (heads-1)*stride + dims
	out, x, c, s = out[:last], x[:last], c[:dims], s[:dims]
	if archRoPE(out, x, c, s, dims, heads, stride, halves) {
		return
	}
	half := dims / 2
	for h := range heads {
		xh, oh := x[h*stride:][:dims], out[h*stride:][:dims]
		if halves {
			for j := range half {
				a, b := xh[j], xh[j+half]
				oh[j] = float32(a*c[j]) + float32(b*s[j])
				oh[j+half] = float32(b*c[j+half]) + float32(a*s[j+half])
			}
			continue
		}
		for j := 0; j < dims; j += 2 {
			a, b := xh[j], xh[j+1]
			oh[j] = float32(a*c[j]) + float32(b*s[j])
			oh[j+1] = float32(b*c[j+1]) + float32(a*s[j+1])
		}
	}
}

// PrefetchRows asks the CPU to start loading, into its caches, the first
// width elements of n rows stride elements apart at the start of rows
// (which holds them all), for a loop that is about to read them in an
// order the hardware prefetchers find late: one attention item reads
// each of its heads' slice of every cached position in turn, each a
// short strided run that starts cold. It changes no memory and does
// nothing where there is no assembly. It panics when rows is too short.
func PrefetchRows[T uint16 | float32](rows []T, stride, n, width int) {
	if n <= 0 || width <= 0 {
		return
	}
	if stride < 0 || len(rows) < (n-1)*stride+width {
		panic(fmt.Sprintf("quant: PrefetchRows of %d rows of %d (stride %d) in %d elements", n, width, stride, len(rows)))
	}
	size := int(unsafe.Sizeof(rows[0]))
	archPrefetchRows(unsafe.Pointer(&rows[0]), stride*size, n, width*size)
}
