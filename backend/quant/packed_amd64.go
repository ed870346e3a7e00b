//go:build amd64 && !purego

package quant

import (
	"github.com/golem-llm/golem/graph"
)

//go:noescape
func gemmPackedQ8_0x8AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func gemmPackedQ8_0x4AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func gemmPackedQ8_0x2AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func gemmPackedQ8_0x1AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func gemmPackedQ4_0x8AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func gemmPackedQ4_0x4AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func gemmPackedQ4_0x2AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func gemmPackedQ4_0x1AVX512(out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int)

//go:noescape
func quantPackedAVX512(x *float32, nb int, qs *byte, d *float32)

// packedKernel runs the packed kernel of type t for n x rows (8, 4, 2 or
// 1); a switch, not function values, so that out does not escape.
func packedKernel(t graph.DType, n int, out *float32, ldo int, qs *byte, stride int, rsoff int, w *byte, groups int, nb int) {
	switch {
	case t == graph.Q8_0 && n == 8:
		gemmPackedQ8_0x8AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	case t == graph.Q8_0 && n == 4:
		gemmPackedQ8_0x4AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	case t == graph.Q8_0 && n == 2:
		gemmPackedQ8_0x2AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	case t == graph.Q8_0:
		gemmPackedQ8_0x1AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	case n == 8:
		gemmPackedQ4_0x8AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	case n == 4:
		gemmPackedQ4_0x4AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	case n == 2:
		gemmPackedQ4_0x2AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	default:
		gemmPackedQ4_0x1AVX512(out, ldo, qs, stride, rsoff, w, groups, nb)
	}
}

// archPacked reports whether the packed kernels run here: the AVX-512
// family.
func archPacked() bool { return useAVX512 }

// archQuantizePacked is QuantizePackedAct's assembly path for the quants,
// with the scales d set; it reports whether it ran.
func archQuantizePacked(x []float32, act []byte, d []float32) bool {
	if !useAVX512 {
		return false
	}
	quantPackedAVX512(&x[0], len(x)/32, &act[0], &d[0])
	return true
}

// archGemmPacked is GemmPacked's assembly path (sizes checked): the x
// rows eight, four, two or one at a time against the whole groups, a
// last partial group through a scratch tile.
func archGemmPacked(t graph.DType, out []float32, ldo int, acts []byte, stride, m int, w []byte, rows, k int) bool {
	if !useAVX512 {
		return false
	}
	nb := k / 32
	rsoff := packedRsOffset(k)
	full := rows / PackedRows
	for i := 0; i < m; {
		n := 8
		switch r := m - i; {
		case r >= 8:
		case r >= 4:
			n = 4
		case r >= 2:
			n = 2
		default:
			n = 1
		}
		if full > 0 {
			packedKernel(t, n, &out[i*ldo], ldo, &acts[i*stride], stride, rsoff, &w[0], full, nb)
		}
		if rem := rows - full*PackedRows; rem > 0 {
			var tail [8 * PackedRows]float32
			packedKernel(t, n, &tail[0], PackedRows, &acts[i*stride], stride, rsoff, &w[full*nb*PackedRows*t.BlockBytes()], 1, nb)
			for r := range n {
				copy(out[(i+r)*ldo+full*PackedRows:(i+r)*ldo+rows], tail[r*PackedRows:r*PackedRows+rem])
			}
		}
		i += n
	}
	return true
}

//go:noescape
func gemmPackedQ8_0x1x2AVX512(outA, outB *float32, qs *byte, rsoff int, wA, wB *byte, groups int, nb int)

//go:noescape
func gemmPackedQ4_0x1x2AVX512(outA, outB *float32, qs *byte, rsoff int, wA, wB *byte, groups int, nb int)

// archGemvPacked2 is GemvPacked2's assembly path for the first g groups of
// both matrices (sizes checked); it reports whether it ran.
func archGemvPacked2(t graph.DType, outA []float32, wA []byte, outB []float32, wB []byte, g int, act []byte, k int) bool {
	if !useAVX512 {
		return false
	}
	if g == 0 {
		return true
	}
	kern := gemmPackedQ8_0x1x2AVX512
	if t == graph.Q4_0 {
		kern = gemmPackedQ4_0x1x2AVX512
	}
	kern(&outA[0], &outB[0], &act[0], packedRsOffset(k), &wA[0], &wB[0], g, k/32)
	return true
}

//go:noescape
func packAVX512(dst *byte, src *byte, rb int, groups int, nb int, nu int)

// archPackWeights packs the first groups whole groups of PackWeights
// (sizes checked; the rows after them hold at least one more group) and
// returns how many it packed.
func archPackWeights(dst, src []byte, rb, groups, nb, nu int) int {
	if !useAVX512 || groups <= 0 {
		return 0
	}
	packAVX512(&dst[0], &src[0], rb, groups, nb, nu)
	return groups
}
