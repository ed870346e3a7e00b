//go:build amd64 && !purego

package quant

import (
	"encoding/binary"
	"math"
	"slices"
	"unsafe"

	"github.com/golem-llm/golem/graph"
	"golang.org/x/sys/cpu"
)

// cpuLevel is the best kernel family this CPU runs: AVX-512 needs F, BW, VL
// and VNNI (and the AVX2 level's features); AVX2 needs AVX2, FMA and F16C,
// avxvnni AVX-VNNI besides.
func cpuLevel() int {
	x := &cpu.X86
	switch {
	case !(x.HasAVX2 && x.HasFMA && x.HasF16C):
		return levelGeneric
	case x.HasAVX512F && x.HasAVX512BW && x.HasAVX512VL && x.HasAVX512VNNI:
		return levelAVX512
	case x.HasAVXVNNI:
		return levelAVXVNNI
	}
	return levelAVX2
}

// cpuHasAVXVNNI reports whether the CPU runs the avxvnni kernels.
func cpuHasAVXVNNI() bool {
	x := &cpu.X86
	return x.HasAVX2 && x.HasFMA && x.HasF16C && x.HasAVXVNNI
}

// useAsm selects the AVX2 kernels of *_amd64.s, useVNNI their AVX-VNNI
// variants and useAVX512 the AVX-512 kernels (useVNNI and useAVX512 imply
// useAsm; the AVX-512 kernels have their own VNNI). They are set once from
// startLevel; tests lower them to run the other paths on the same machine.
var (
	useAsm    = startLevel >= levelAVX2
	useVNNI   = startLevel == levelAVXVNNI
	useAVX512 = startLevel >= levelAVX512
)

// level is the kernel family in use.
func level() int {
	switch {
	case useAVX512:
		return levelAVX512
	case useVNNI:
		return levelAVXVNNI
	case useAsm:
		return levelAVX2
	}
	return levelGeneric
}

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
func gemm1x4F32AVX512(out *float32, x *float32, w *float32, ldw int, nw int, k int, acc bool)

//go:noescape
func gemm6x4F32AVX512(out *float32, ldo int, x *float32, ldx int, w *float32, ldw int, nw int, k int, acc bool)

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
	if useAVX512 && k >= 16 {
		gemmF32AVX512(out, ldo, x, m, w, rows, k)
		return true
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

// gemmKC is the k-chunk of the AVX-512 GEMM: six x rows of it (24 KiB)
// stay in L1 while the w rows stream past them from L2.
const gemmKC = 1024

// gemmF32AVX512 is archGemmF32 on AVX-512 (k >= 16): blocks of six x
// rows by four w rows in chunks of gemmKC elements, the x rows past the
// last whole block one at a time with the same arithmetic, the last k%16
// elements and rows%4 rows of w in Go and AVX2. Every output is computed
// the same way whatever m is, so that results do not depend on how a
// caller cuts x into blocks.
func gemmF32AVX512(out []float32, ldo int, x []float32, m int, w []float32, rows, k int) {
	k16, r4, m6 := k&^15, rows&^3, m-m%6
	if r4 > 0 {
		for k0 := 0; k0 < k16; k0 += gemmKC {
			kc := min(gemmKC, k16-k0)
			for i := 0; i < m6; i += 6 {
				gemm6x4F32AVX512(&out[i*ldo], ldo, &x[i*k+k0], k, &w[k0], k, r4, kc, k0 > 0)
			}
			for i := m6; i < m; i++ {
				gemm1x4F32AVX512(&out[i*ldo], &x[i*k+k0], &w[k0], k, r4, kc, k0 > 0)
			}
		}
	}
	for i := 0; i < m; i++ {
		xr, o := x[i*k:(i+1)*k], out[i*ldo:i*ldo+rows]
		if k16 < k {
			for r := 0; r < r4; r++ {
				o[r] += dotF32Go(xr[k16:], w[r*k+k16:(r+1)*k])
			}
		}
		for r := r4; r < rows; r++ {
			o[r] = DotF32(xr, w[r*k:(r+1)*k])
		}
	}
}

//go:noescape
func quantActAVX2(x *float32, nb int, qs *byte, d *float32, sum *int32, lo, hi *int64, period int)

//go:noescape
func quantActAVX512(x *float32, nb int, qs *byte, d *float32, sum *int32, lo, hi *int64, period int)

//go:noescape
func blockMaxAVX2(x *float32, nb int, m *float32)

//go:noescape
func blockMaxAVX512(x *float32, nb int, m *float32)

// archBlockMax sets m[b] to max|x| over block b of 32 (NaN where the block
// holds a NaN or an infinity), as blockMax does; it reports whether it
// ran.
func archBlockMax(x, m []float32) bool {
	if !useAsm {
		return false
	}
	if useAVX512 {
		blockMaxAVX512(&x[0], len(x)/32, &m[0])
	} else {
		blockMaxAVX2(&x[0], len(x)/32, &m[0])
	}
	return true
}

// Where the quants of each block of a period go (see quantActAVX512):
// element order, whole Q4_0 groups, and Q4_K halves.
var (
	actLoPlain = [1]int64{0}
	actHiPlain = [1]int64{16}
	actLoQ4_0  = [4]int64{0, 16, 32, 48}
	actHiQ4_0  = [4]int64{64, 80, 96, 112}
	actLoQ4K   = [4]int64{0, 64, 32, 96}
	actHiQ4K   = [4]int64{16, 80, 48, 112}
)

// archQuantizeAct is QuantizeAct's assembly path for the quants and the
// blocks' sums, with the scales d set; it reports whether it ran.
func archQuantizeAct(t graph.DType, x []float32, qs []byte, d []float32, sum []int32) bool {
	if !useAsm {
		return false
	}
	quant := quantActAVX512
	if !useAVX512 {
		quant = quantActAVX2
	}
	nb := len(x) / 32
	switch t {
	case graph.Q4_0:
		ng := nb / 4
		if ng > 0 {
			quant(&x[0], 4*ng, &qs[0], &d[0], &sum[0], &actLoQ4_0[0], &actHiQ4_0[0], 4)
		}
		if b := 4 * ng; b < nb {
			// The trailing blocks start at byte position 32b, a multiple of 128.
			quant(&x[32*b], nb-b, &qs[64*b], &d[b], &sum[b], &actLoPlain[0], &actHiPlain[0], 1)
		}
	case graph.Q4_K:
		quant(&x[0], nb, &qs[0], &d[0], &sum[0], &actLoQ4K[0], &actHiQ4K[0], 4)
	default:
		quant(&x[0], nb, &qs[0], &d[0], &sum[0], &actLoPlain[0], &actHiPlain[0], 1)
	}
	return true
}

//go:noescape
func gemvQ4_0AVX512(w *byte, rows int, qs *byte, init *int32, rs *float32, ng int, out *float32)

//go:noescape
func gemvQ4_0x2AVX512(wa *byte, wb *byte, rows int, qs *byte, init *int32, rs *float32, ng int, outa *float32, outb *float32)

//go:noescape
func gemvQ6Kx2AVX512(wa *byte, wb *byte, rows int, qs *byte, init *int32, scale *float32, nsb int, outa *float32, outb *float32)

//go:noescape
func gemvQ8_0x2AVX512(wa *byte, wb *byte, rows int, qs *byte, rs *float32, np int, outa *float32, outb *float32)

//go:noescape
func gemvQ8_0AVX512(w *byte, rows int, qs *byte, init *int32, rs *float32, nb int, out *float32)

//go:noescape
func gemvQ4KAVX512(w *byte, rows int, qs *byte, scale *float32, d *float32, sum *int32, nsb int, out *float32)

//go:noescape
func gemvQ6KAVX512(w *byte, rows int, qs *byte, init *int32, scale *float32, nsb int, out *float32)

//go:noescape
func gemvQ4KAVX2(w *byte, rows int, qs *byte, scale *float32, d *float32, sum *int32, nsb int, out *float32)

//go:noescape
func gemvQ6KAVX2(w *byte, rows int, qs *byte, init *int32, scale *float32, nsb int, out *float32)

//go:noescape
func gemvQ4_0AVX2(w *byte, rows int, qs *byte, init *int32, rs *float32, ng int, out *float32)

//go:noescape
func gemvQ8_0AVX2(w *byte, rows int, qs *byte, init *int32, rs *float32, nb int, out *float32)

//go:noescape
func gemvQ4_0VNNI(w *byte, rows int, qs *byte, init *int32, rs *float32, ng int, out *float32)

// archGemvAct is GemvAct's assembly path; it reports whether it ran. The
// arguments have been checked (len(out) rows of rowBytes in w, a whole
// activation buffer for k elements in act).
func archGemvAct(t graph.DType, w []byte, rowBytes int, act []byte, k int, out []float32) bool {
	if !useAsm {
		return false
	}
	l := layoutFor(t, k)
	qs, init, scale := &act[l.qs], (*int32)(unsafe.Pointer(&act[l.init])), (*float32)(unsafe.Pointer(&act[l.scale]))
	// The kernels of the level in use; both levels take the same
	// arguments. The Q4_0 and Q8_0 kernels read the super-blocks' ratios
	// and scales (rs), the K-quant ones the lane scales.
	q40, q80, q4k, q6k := gemvQ4_0AVX512, gemvQ8_0AVX512, gemvQ4KAVX512, gemvQ6KAVX512
	rs := (*float32)(unsafe.Pointer(&act[l.rs]))
	if !useAVX512 {
		q40, q80, q4k, q6k = gemvQ4_0AVX2, gemvQ8_0AVX2, gemvQ4KAVX2, gemvQ6KAVX2
		if useVNNI {
			q40 = gemvQ4_0VNNI
		}
	}
	switch t {
	case graph.Q4_0:
		ng := k / 128
		if ng == 0 {
			return false
		}
		if k%128 == 0 {
			q40(&w[0], len(out), qs, init, rs, ng, &out[0])
			return true
		}
		// Whole groups in assembly, the trailing blocks in Go, row by row.
		for r := range out {
			row := w[r*rowBytes : (r+1)*rowBytes]
			q40(&row[0], 1, qs, init, rs, ng, &out[r])
			out[r] += dotActGo(t, row, act, l, 4*ng)
		}
		return true
	case graph.Q8_0:
		q80(&w[0], len(out), qs, init, rs, k/32, &out[0])
		return true
	case graph.Q4_K:
		d, sum := (*float32)(unsafe.Pointer(&act[l.d])), (*int32)(unsafe.Pointer(&act[l.sum]))
		q4k(&w[0], len(out), qs, scale, d, sum, k/256, &out[0])
		return true
	case graph.Q6_K:
		q6k(&w[0], len(out), qs, init, scale, k/256, &out[0])
		return true
	}
	return false
}

//go:noescape
func gemmQ4_0x3AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)

//go:noescape
func gemmQ4_0x6AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)

// gemmRows6 selects the six-row Q4_0 GEMM kernel (10-20% faster than the
// three-row one on 126×64×2048 blocks: the weights' unpacking is shared by
// twice the rows; for Q8_0, whose unpacking is cheap, six rows read from
// memory were not faster than four in registers). The three-row kernel
// takes the rows past the last block of six.
const gemmRows6 = true

// gemmSlice is how many weight rows the blocks of a batched decode step's
// x rows (more than one block, at most 8 rows) take in turn: the first
// block reads them from memory, the next finds them in L1, so that the
// kernel reads memory at the pace of all the rows instead of one block's
// and then none. BenchmarkGemmActBatch (8 x rows × 98304×768 q8_0, 80 MB,
// one thread, Zen 5), 7 alternating runs: 72-88 (mean 81) G
// multiply-adds/s taking all of a tile's rows per block, 82-90 (mean 86)
// in slices of 8; q4_0, whose kernels do more work per byte, alike.
const gemmSlice = 8

//go:noescape
func gemmQ4_0x1AVX512(out *float32, qs *byte, rs *float32, w *byte, rowBytes int, nw int, ng int, cold bool)

//go:noescape
func gemmQ8_0x4AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)

//go:noescape
func gemmQ4_0x2AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)

//go:noescape
func gemmQ8_0x2AVX512(out *float32, ldo int, qs *byte, rs *float32, stride int, w *byte, rowBytes int, nw int, steps int, cold bool)

//go:noescape
func gemmQ8_0x1AVX512(out *float32, qs *byte, rs *float32, w *byte, rowBytes int, nw int, np int, cold bool)

// archGemv2 reports whether archGemvAct2 has a kernel for k elements of
// type t.
func archGemv2(t graph.DType, k int) bool {
	return useAVX512 && (t == graph.Q4_0 && k%128 == 0 || t == graph.Q8_0 && k%64 == 0 || t == graph.Q6_K)
}

// archGemvAct2 is GemvAct2's assembly path for the first n rows of each
// set (arguments checked); it reports whether it ran: Q4_0 rows of whole
// groups, Q8_0 rows of whole pairs of blocks and Q6_K rows on AVX-512, a
// row of each set at a time.
func archGemvAct2(t graph.DType, w1, w2 []byte, n int, act []byte, k int, out1, out2 []float32) bool {
	if !archGemv2(t, k) {
		return false
	}
	l := layoutFor(t, k)
	qs, init, scale := &act[l.qs], (*int32)(unsafe.Pointer(&act[l.init])), (*float32)(unsafe.Pointer(&act[l.scale]))
	rs := (*float32)(unsafe.Pointer(&act[l.rs]))
	switch t {
	case graph.Q4_0:
		gemvQ4_0x2AVX512(&w1[0], &w2[0], n, qs, init, rs, k/128, &out1[0], &out2[0])
	case graph.Q8_0:
		gemvQ8_0x2AVX512(&w1[0], &w2[0], n, qs, rs, k/64, &out1[0], &out2[0])
	default:
		gemvQ6Kx2AVX512(&w1[0], &w2[0], n, qs, init, scale, k/256, &out1[0], &out2[0])
	}
	return true
}

// archGemmAct is GemmAct's assembly path; it reports whether it ran. The
// arguments have been checked. Blocks of x rows go through the multi-row
// kernels, the rows past the last whole block through the one-row kernel
// (the same arithmetic), the last rows%4 weight rows through GemvAct.
func archGemmAct(t graph.DType, out []float32, ldo int, acts []byte, stride, m int, w []byte, rowBytes, rows, k int) bool {
	if !useAVX512 {
		return useAsm && gemmActAVX2(t, out, ldo, acts, stride, m, w, rowBytes, rows, k)
	}
	var blk, steps int
	switch t {
	case graph.Q4_0:
		blk, steps = 3, k/128
		if k%128 != 0 {
			return false
		}
	case graph.Q8_0:
		blk, steps = 4, k/64
		if k%64 != 0 {
			return false
		}
	default:
		return false
	}
	l := layoutFor(t, k)
	r4 := rows &^ 3
	ptrs := func(i int) (*byte, *float32) {
		a := acts[i*stride:]
		return &a[l.qs], (*float32)(unsafe.Pointer(&a[l.rs]))
	}
	slice := r4
	if m > blk && m <= 8 {
		slice = min(r4, gemmSlice)
	}
	for j0 := 0; j0 < r4; j0 += slice {
		n := min(slice, r4-j0)
		wj := &w[j0*rowBytes]
		// The first block of x rows reads the weights from memory and
		// prefetches ahead; the others find them in the cache.
		i := 0
		for ; t == graph.Q4_0 && gemmRows6 && i+6 <= m; i += 6 {
			qs, rs := ptrs(i)
			gemmQ4_0x6AVX512(&out[i*ldo+j0], ldo, qs, rs, stride, wj, rowBytes, n, steps, i == 0)
		}
		for ; i+blk <= m; i += blk {
			qs, rs := ptrs(i)
			if t == graph.Q4_0 {
				gemmQ4_0x3AVX512(&out[i*ldo+j0], ldo, qs, rs, stride, wj, rowBytes, n, steps, i == 0)
			} else {
				gemmQ8_0x4AVX512(&out[i*ldo+j0], ldo, qs, rs, stride, wj, rowBytes, n, steps, i == 0)
			}
		}
		for ; i+2 <= m; i += 2 {
			qs, rs := ptrs(i)
			if t == graph.Q4_0 {
				gemmQ4_0x2AVX512(&out[i*ldo+j0], ldo, qs, rs, stride, wj, rowBytes, n, steps, i == 0)
			} else {
				gemmQ8_0x2AVX512(&out[i*ldo+j0], ldo, qs, rs, stride, wj, rowBytes, n, steps, i == 0)
			}
		}
		for ; i < m; i++ {
			qs, rs := ptrs(i)
			if t == graph.Q4_0 {
				gemmQ4_0x1AVX512(&out[i*ldo+j0], qs, rs, wj, rowBytes, n, steps, i == 0)
			} else {
				gemmQ8_0x1AVX512(&out[i*ldo+j0], qs, rs, wj, rowBytes, n, steps, i == 0)
			}
		}
	}
	if r4 < rows {
		need := l.size
		for i := range m {
			GemvAct(t, w[r4*rowBytes:], rows-r4, acts[i*stride:i*stride+need], k, out[i*ldo+r4:i*ldo+rows])
		}
	}
	return true
}

// archGemmShare is GemmShareRows for a type GemmAct has kernels for: on
// both levels, both types have a two-row kernel.
func archGemmShare(graph.DType) int { return 2 }

// archIntKernels reports whether GemvAct (gemm false) or GemmAct (gemm
// true) has assembly for k elements of type t at the level in use.
func archIntKernels(t graph.DType, k int, gemm bool) bool {
	if !useAVX512 {
		// AVX2: the GEMVs, and the GEMMs of whole Q4_0 groups and Q8_0
		// pairs.
		if gemm {
			return useAsm && (t == graph.Q4_0 && k%128 == 0 || t == graph.Q8_0 && k%64 == 0)
		}
		return useAsm && (t != graph.Q4_0 || k >= 128)
	}
	switch t {
	case graph.Q4_0:
		return k >= 128 && (!gemm || k%128 == 0)
	case graph.Q8_0:
		return !gemm || k%64 == 0
	case graph.Q4_K, graph.Q6_K:
		return !gemm
	}
	return false
}

// archGemvF32 does the first rows of GemvF32 (sizes checked) and returns
// how many: on AVX-512, whole groups of four rows with GemmF32's
// arithmetic for one x row (gemm1x4F32AVX512), so that a matrix-vector
// product and a product of many x rows give each row the same bits.
func archGemvF32(w []float32, rows int, x []float32, out []float32) int {
	k := len(x)
	r4 := rows &^ 3
	if !useAVX512 || k < 16 || r4 == 0 {
		return 0
	}
	k16 := k &^ 15
	if k16 <= gemmKC {
		gemm1x4F32AVX512(&out[0], &x[0], &w[0], k, r4, k16, false)
	} else {
		// gemmF32AVX512's k-chunks, each group of rows through all of
		// them before the next, so that the rows stream in order.
		for r := 0; r < r4; r += 4 {
			for k0 := 0; k0 < k16; k0 += gemmKC {
				gemm1x4F32AVX512(&out[r], &x[k0], &w[r*k+k0], k, 4, min(gemmKC, k16-k0), k0 > 0)
			}
		}
	}
	if k16 < k {
		for r := range r4 {
			out[r] += dotF32Go(x[k16:], w[r*k+k16:(r+1)*k])
		}
	}
	return r4
}

//go:noescape
func expSumAVX512(x *float32, n int, m float32) float32

//go:noescape
func swigluAVX512(out, x, y *float32, n int)

//go:noescape
func maxAVX512(x *float32, n int) (m float32, nan bool)

//go:noescape
func maxAVX2(x *float32, n int) (m float32, nan bool)

// archMaxF32 does the first len(x)&^15 (AVX-512) or len(x)&^7 (AVX2)
// elements of MaxF32 and returns how many, their maximum and whether one
// was NaN.
func archMaxF32(x []float32) (int, float32, bool) {
	if !useAsm {
		return 0, 0, false
	}
	if useAVX512 {
		n := len(x) &^ 15
		if n == 0 {
			return 0, 0, false
		}
		m, nan := maxAVX512(&x[0], n)
		return n, m, nan
	}
	n := len(x) &^ 7
	if n == 0 {
		return 0, 0, false
	}
	m, nan := maxAVX2(&x[0], n)
	return n, m, nan
}

//go:noescape
func expSumAVX2(x *float32, n int, m float32) float32

// archExpSum does ExpSum with vector arithmetic (AVX-512, or AVX2 with its
// own scaling) and returns how many elements it did (all of them, or none
// without either) and their sum.
func archExpSum(x []float32, m float32) (int, float32) {
	n := len(x)
	if !useAsm || n == 0 {
		return 0, 0
	}
	if useAVX512 {
		return n, expSumAVX512(&x[0], n, m)
	}
	return n, expSumAVX2(&x[0], n, m)
}

// archSwiGLU does SwiGLU (SiLU when y is nil) on AVX-512 or AVX2 and
// returns how many elements it did: all of them, or none without either.
func archSwiGLU(out, x, y []float32) int {
	n := len(x)
	if !useAsm || n == 0 {
		return 0
	}
	var yp *float32
	if y != nil {
		yp = &y[0]
	}
	if useAVX512 {
		swigluAVX512(&out[0], &x[0], yp, n)
	} else {
		swigluAVX2(&out[0], &x[0], yp, n)
	}
	return n
}

//go:noescape
func swigluAVX2(out, x, y *float32, n int)

//go:noescape
func mulAVX2(out, x, y *float32, n int)

// archMul does the first len(x)&^7 elements of Mul and returns how many.
func archMul(out, x, y []float32) int {
	n := len(x) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	mulAVX2(&out[0], &x[0], &y[0], n)
	return n
}

//go:noescape
func actLanesAVX2(qs *int16, nv int, init *int32, scale *float32, d *float32, c int32, mode int)

//go:noescape
func actLanesAVX512(qs *int16, nv int, init *int32, scale *float32, d *float32, c int32, mode int)

// archActLanes fills the first nv whole vectors of 16 lanes of an
// activation buffer (see actLanes) and returns how many it did.
func archActLanes(t graph.DType, qs []int16, nv int, init []int32, scale []float32, d []float32, c int32) int {
	if !useAsm || nv == 0 {
		return 0
	}
	mode := 0
	switch t {
	case graph.Q4_K:
		mode = 1
	case graph.Q4_0:
		mode = 2
	}
	if useAVX512 {
		actLanesAVX512(&qs[0], nv, &init[0], &scale[0], &d[0], c, mode)
	} else {
		actLanesAVX2(&qs[0], nv, &init[0], &scale[0], &d[0], c, mode)
	}
	return nv
}

//go:noescape
func dotRowsF32AVX512(q *float32, d int, rows *float32, stride int, n int, out *float32)

//go:noescape
func dotRowsF16AVX512(q *float32, d int, rows *uint16, stride int, n int, out *float32)

//go:noescape
func axpyRowsF32AVX512(e *float32, rows *float32, stride int, n int, acc *float32, d int)

//go:noescape
func axpyRowsF16AVX512(e *float32, rows *uint16, stride int, n int, acc *float32, d int)

//go:noescape
func dotRowsGroupF16AVX512(q *float32, qstride int, heads int, rows *uint16, stride int, n int, out *float32, ostride int, add bool)

//go:noescape
func axpyRowsGroup4F16AVX512(e *float32, estride int, rows *uint16, stride int, n int, acc *float32, astride int)

// archDotRowsGroupF16 does the first n&^3 keys of DotRowsGroupF16 for
// heads of a multiple of 64 elements on AVX-512, 64 elements at a time,
// and returns how many.
func archDotRowsGroupF16(q []float32, g int, rows []uint16, stride, n int, out []float32, ostride int) int {
	n4, d := n&^3, len(q)/g
	if !useAVX512 || n4 == 0 || d%64 != 0 {
		return 0
	}
	for p := 0; p < d; p += 64 {
		dotRowsGroupF16AVX512(&q[p], 4*d, g, &rows[p], 2*stride, n4, &out[0], 4*ostride, p > 0)
	}
	return n4
}

// archAXPYRowsGroupF16 does AXPYRowsGroupF16 for the first g&^3 heads
// (heads of a multiple of 64 elements, AVX-512) and returns how many.
func archAXPYRowsGroupF16(e []float32, estride, g int, rows []uint16, stride, n int, acc []float32) int {
	g4, dv := g&^3, len(acc)/g
	if !useAVX512 || g4 == 0 || n == 0 || dv%64 != 0 {
		return 0
	}
	for h := 0; h < g4; h += 4 {
		for p := 0; p < dv; p += 64 {
			axpyRowsGroup4F16AVX512(&e[h*estride], 4*estride, &rows[p], 2*stride, n, &acc[h*dv+p], 4*dv)
		}
	}
	return g4
}

//go:noescape
func dotRowsF32AVX2(q *float32, d int, rows *float32, stride int, n int, out *float32)

//go:noescape
func dotRowsF16AVX2(q *float32, d int, rows *uint16, stride int, n int, out *float32)

//go:noescape
func axpyRowsF32AVX2(e *float32, rows *float32, stride int, n int, acc *float32, d int)

//go:noescape
func axpyRowsF16AVX2(e *float32, rows *uint16, stride int, n int, acc *float32, d int)

// archDotRowsF32 does the first len(out)&^3 rows of DotRowsF32 (d a
// multiple of 16 on AVX-512, of 8 on AVX2) and returns how many.
func archDotRowsF32(q, rows []float32, stride int, out []float32) int {
	n4 := len(out) &^ 3
	if !useAsm || n4 == 0 || len(q) == 0 {
		return 0
	}
	switch {
	case useAVX512 && len(q)%16 == 0:
		dotRowsF32AVX512(&q[0], len(q), &rows[0], 4*stride, n4, &out[0])
	case !useAVX512 && len(q)%8 == 0:
		dotRowsF32AVX2(&q[0], len(q), &rows[0], 4*stride, n4, &out[0])
	default:
		return 0
	}
	return n4
}

// dotRows16Kernel is the signature of the dot kernels over 16-bit rows.
type dotRows16Kernel func(q *float32, d int, rows *uint16, stride int, n int, out *float32)

// archDotRows16 does the first len(out)&^3 rows of a dot over 16-bit rows
// with the family's kernel (k512 on AVX-512 for d a multiple of 16, k256
// on AVX2 for a multiple of 8) and returns how many.
func archDotRows16(k512, k256 dotRows16Kernel, q []float32, rows []uint16, stride int, out []float32) int {
	n4 := len(out) &^ 3
	if !useAsm || n4 == 0 || len(q) == 0 {
		return 0
	}
	switch {
	case useAVX512 && len(q)%16 == 0:
		k512(&q[0], len(q), &rows[0], 2*stride, n4, &out[0])
	case !useAVX512 && len(q)%8 == 0:
		k256(&q[0], len(q), &rows[0], 2*stride, n4, &out[0])
	default:
		return 0
	}
	return n4
}

// archDotRowsF16 is archDotRowsF32 for f16 rows.
func archDotRowsF16(q []float32, rows []uint16, stride int, out []float32) int {
	return archDotRows16(dotRowsF16AVX512, dotRowsF16AVX2, q, rows, stride, out)
}

//go:noescape
func dotRowsBF16AVX512(q *float32, d int, rows *uint16, stride int, n int, out *float32)

//go:noescape
func axpyRowsBF16AVX512(e *float32, rows *uint16, stride int, n int, acc *float32, d int)

//go:noescape
func dotRowsBF16AVX2(q *float32, d int, rows *uint16, stride int, n int, out *float32)

//go:noescape
func axpyRowsBF16AVX2(e *float32, rows *uint16, stride int, n int, acc *float32, d int)

// archDotRowsBF16 is archDotRowsF16 for bf16 rows.
func archDotRowsBF16(q []float32, rows []uint16, stride int, out []float32) int {
	n4 := len(out) &^ 3
	if !useAsm || n4 == 0 || len(q) == 0 {
		return 0
	}
	switch {
	case useAVX512 && len(q)%16 == 0:
		dotRowsBF16AVX512(&q[0], len(q), &rows[0], 2*stride, n4, &out[0])
	case !useAVX512 && len(q)%8 == 0:
		dotRowsBF16AVX2(&q[0], len(q), &rows[0], 2*stride, n4, &out[0])
	default:
		return 0
	}
	return n4
}

// archAXPYRowsF32 does AXPYRowsF32 (d a multiple of 64 on AVX-512, of 32
// on AVX2) and reports whether it did.
func archAXPYRowsF32(e, rows []float32, stride int, acc []float32) bool {
	if !useAsm || len(e) == 0 || len(acc) == 0 {
		return false
	}
	switch {
	case useAVX512 && len(acc)%64 == 0:
		axpyRowsF32AVX512(&e[0], &rows[0], 4*stride, len(e), &acc[0], len(acc))
	case !useAVX512 && len(acc)%32 == 0:
		axpyRowsF32AVX2(&e[0], &rows[0], 4*stride, len(e), &acc[0], len(acc))
	default:
		return false
	}
	return true
}

// axpyRows16Kernel is the signature of the AXPY kernels over 16-bit rows.
type axpyRows16Kernel func(e *float32, rows *uint16, stride int, n int, acc *float32, d int)

// archAXPYRows16 does an AXPY over 16-bit rows with the family's kernel
// (k512 on AVX-512 for d a multiple of 64, k256 on AVX2 for a multiple of
// 32) and reports whether it did.
func archAXPYRows16(k512, k256 axpyRows16Kernel, e []float32, rows []uint16, stride int, acc []float32) bool {
	if !useAsm || len(e) == 0 || len(acc) == 0 {
		return false
	}
	switch {
	case useAVX512 && len(acc)%64 == 0:
		k512(&e[0], &rows[0], 2*stride, len(e), &acc[0], len(acc))
	case !useAVX512 && len(acc)%32 == 0:
		k256(&e[0], &rows[0], 2*stride, len(e), &acc[0], len(acc))
	default:
		return false
	}
	return true
}

// archAXPYRowsF16 is archAXPYRowsF32 for f16 rows.
func archAXPYRowsF16(e []float32, rows []uint16, stride int, acc []float32) bool {
	return archAXPYRows16(axpyRowsF16AVX512, axpyRowsF16AVX2, e, rows, stride, acc)
}

// archAXPYRowsBF16 is archAXPYRowsF32 for bf16 rows.
func archAXPYRowsBF16(e []float32, rows []uint16, stride int, acc []float32) bool {
	return archAXPYRows16(axpyRowsBF16AVX512, axpyRowsBF16AVX2, e, rows, stride, acc)
}

//go:noescape
func encodeF16AVX2(dst *uint16, src *float32, n int)

// archEncodeF16 does the first len(src)&^7 elements of EncodeF16 and
// returns how many.
func archEncodeF16(dst []uint16, src []float32) int {
	n := len(src) &^ 7
	if !useAsm || n == 0 {
		return 0
	}
	encodeF16AVX2(&dst[0], &src[0], n)
	return n
}

//go:noescape
func gemmQ8_0x4AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)

//go:noescape
func gemmQ4_0x4AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)

//go:noescape
func gemmQ8_0x2AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)

//go:noescape
func gemmQ4_0x2AVX2(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)

//go:noescape
func gemmQ4_0x4VNNI(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)

//go:noescape
func gemmQ4_0x2VNNI(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)

// gemmKernelAVX2 is the signature of the AVX2 GEMM kernels
// (actgemm_avx2_amd64.s).
type gemmKernelAVX2 func(out *float32, ldo int, qs *byte, init *int32, rs *float32, stride int, w *byte, nw int, steps int)

// gemmActAVX2 is archGemmAct on AVX2 (Q4_0 with AVX-VNNI where useVNNI):
// blocks of four x rows, then of two, through the multi-row kernels, which
// give each row the AVX2 GEMV's bits, a last odd row through the GEMV.
// When the x rows take more than one call (a batched decode step of 6 to 8
// rows), they take the weights gemmSlice rows at a time, as on AVX-512,
// so that the weights are read from memory once for all the rows.
func gemmActAVX2(t graph.DType, out []float32, ldo int, acts []byte, stride, m int, w []byte, rowBytes, rows, k int) bool {
	var x4, x2 gemmKernelAVX2
	var steps int
	switch {
	case t == graph.Q4_0 && k%128 == 0 && useVNNI:
		x4, x2, steps = gemmQ4_0x4VNNI, gemmQ4_0x2VNNI, k/128
	case t == graph.Q4_0 && k%128 == 0:
		x4, x2, steps = gemmQ4_0x4AVX2, gemmQ4_0x2AVX2, k/128
	case t == graph.Q8_0 && k%64 == 0:
		x4, x2, steps = gemmQ8_0x4AVX2, gemmQ8_0x2AVX2, k/64
	default:
		return false
	}
	l := layoutFor(t, k)
	slice := rows
	if calls := m/4 + m%4/2 + m%2; calls > 1 && m <= 8 {
		slice = min(rows, gemmSlice)
	}
	for j0 := 0; j0 < rows; j0 += slice {
		n := min(slice, rows-j0)
		wj := w[j0*rowBytes:]
		for i := 0; i < m; {
			a := acts[i*stride:]
			kernel, r := x4, 4
			switch {
			case m-i == 1:
				// The GEMV's kernel (asm for these types and k): a row's bits.
				archGemvAct(t, wj[:n*rowBytes], rowBytes, a[:l.size], k, out[i*ldo+j0:i*ldo+j0+n])
				i++
				continue
			case m-i < 4:
				kernel, r = x2, 2
			}
			kernel(&out[i*ldo+j0], ldo, &a[l.qs], (*int32)(unsafe.Pointer(&a[l.init])), (*float32)(unsafe.Pointer(&a[l.rs])), stride, &wj[0], n, steps)
			i += r
		}
	}
	return true
}

// argmaxLanes is what argmaxAVX512 leaves: per lane (32), the first
// largest value it saw and its index, and per lane (16) the largest
// magnitude as bits.
type argmaxLanes struct {
	val [32]float32
	idx [32]int32
	mag [16]uint32
}

//go:noescape
func argmaxAVX512(x *float32, n int, out *argmaxLanes)

//go:noescape
func argmaxAVX2(x *float32, n int, out *argmaxLanes)

// archArgMax does the first len(x)&^31 (AVX-512) or len(x)&^15 (AVX2)
// elements of ArgMaxF32 and returns how many, the index of their first
// largest (-1: none above -Inf), that value and their largest magnitude
// as bits.
func archArgMax(x []float32) (int, int, float32, uint32) {
	if !useAsm || len(x) > math.MaxInt32 {
		return 0, -1, 0, 0
	}
	neg := float32(math.Inf(-1))
	var l argmaxLanes
	var n int
	if useAVX512 {
		if n = len(x) &^ 31; n == 0 {
			return 0, -1, 0, 0
		}
		argmaxAVX512(&x[0], n, &l)
	} else {
		if n = len(x) &^ 15; n == 0 {
			return 0, -1, 0, 0
		}
		for j := 16; j < len(l.val); j++ {
			l.val[j] = neg // lanes the AVX2 kernel does not have
		}
		argmaxAVX2(&x[0], n, &l)
	}
	best, bv := -1, neg
	for j, v := range l.val {
		if v > neg { // the lane saw a value above -Inf
			best, bv = argmaxMerge(best, bv, int(l.idx[j]), v)
		}
	}
	return n, best, bv, slices.Max(l.mag[:])
}

//go:noescape
func ropePairsAVX2(out, x, c, s *float32, dims, heads, stride int)

//go:noescape
func ropeHalvesAVX2(out, x, c, s *float32, dims, heads, stride int)

// archRoPE does RoPE with AVX2 when dims (pairs) or dims/2 (halves) is a
// multiple of 8 and reports whether it did.
func archRoPE(out, x, c, s []float32, dims, heads, stride int, halves bool) bool {
	if !useAsm {
		return false
	}
	if halves {
		if dims%16 != 0 {
			return false
		}
		ropeHalvesAVX2(&out[0], &x[0], &c[0], &s[0], dims, heads, stride)
		return true
	}
	if dims%8 != 0 {
		return false
	}
	ropePairsAVX2(&out[0], &x[0], &c[0], &s[0], dims, heads, stride)
	return true
}

//go:noescape
func prefetchRowsAsm(p unsafe.Pointer, strideBytes int, n int, lines int)

// archPrefetchRows issues the prefetches of PrefetchRows (sizes checked).
func archPrefetchRows(p unsafe.Pointer, strideBytes, n, widthBytes int) {
	if useAsm {
		prefetchRowsAsm(p, strideBytes, n, (widthBytes+63)/64)
	}
}
