package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/golem-llm/golem/graph"
)

// Packed weights. Q8_0 and Q4_0 matrices can be repacked once, at load,
// into groups of PackedRows consecutive rows whose quants are interleaved
// so that each 32-bit lane of a 512-bit register holds two quants of one
// row: one VPDPWSSD with a pair of 16-bit activations broadcast to every
// lane then adds 32 multiply-adds of 16 different rows, the lanes' sums
// are the 16 rows' block sums with no horizontal reduction, and one
// convert and one multiply-add per block scale them for all 16 rows (the
// row-major kernels spend those per block and row). The weights of a
// group stream from one place, so a decode step reads one sequential
// stream per thread.
//
// A packed matrix is ceil(rows/16) groups, each the k/32 blocks of its 16
// rows in order; rows past the last are zero. One block of a group (16
// times the type's block size, the same bytes as the 16 rows' blocks):
//
//	scales [16]float16      row r's block scale at r
//	quants [n][16][2]byte   chunk c holds bytes 2c and 2c+1 of each row's
//	                        quants (Q8_0: n = 16, elements 2c and 2c+1;
//	                        Q4_0: n = 8, the low nibbles are elements 2c
//	                        and 2c+1, the high ones 2c+16 and 2c+17)
//
// Packed activations (PackedActBytes bytes for k elements): the row's
// quants as int16 in element order (the super-block scales of
// QuantizeAct), then the blocks' scales (scratch), then rs as in
// QuantizeAct's buffer. A packed product of lane (row) j and an x row is
//
//	acc = 0; for each super-block S: acc *= rs[S].ratio,
//	  for each block b of S: acc += float32(Σ w·q over the block) · d_b
//	result = acc · e_last
//
// with the multiply-add fused (one rounding) and the integer sum exact, so
// a row's result does not depend on how many x rows or which kernel
// computed it: a batched decode step, a prompt and a lone decode step give
// each row the same bits.

// PackedRows is the number of weight rows a packed group interleaves.
const PackedRows = 16

// packedType reports whether t has a packed layout.
func packedType(t graph.DType) bool { return t == graph.Q8_0 || t == graph.Q4_0 }

// Packable reports whether matrices of type t with rows of k elements are
// packed on this CPU (PackWeights) and multiplied packed (GemmPacked) by
// vector kernels: Q8_0 and Q4_0 on the AVX-512 family.
func Packable(t graph.DType, k int) bool {
	return packedType(t) && k > 0 && k%32 == 0 && archPacked()
}

// PackedBytes returns the size of rows rows of k elements of type t
// packed (whole groups of PackedRows), 0 when t has no packed layout or k
// is not a positive multiple of 32.
func PackedBytes(t graph.DType, rows, k int) int {
	if !packedType(t) || k <= 0 || k%32 != 0 || rows < 0 {
		return 0
	}
	groups := (rows + PackedRows - 1) / PackedRows
	return groups * PackedRows * (k / 32) * t.BlockBytes()
}

// PackWeights packs rows rows of k elements of type t from src (row major,
// as in a GGUF file) into dst, which must hold PackedBytes(t, rows, k)
// bytes. Bytes of src after the rows are not packed (but may be read).
func PackWeights(t graph.DType, dst, src []byte, rows, k int) error {
	need := PackedBytes(t, rows, k)
	if need == 0 {
		return fmt.Errorf("quant: pack %s: no packed layout for rows of %d elements", t, k)
	}
	bb, nb := t.BlockBytes(), k/32
	rb := nb * bb
	if len(src) < rows*rb || len(dst) < need {
		return fmt.Errorf("quant: pack %s: %d rows of %d bytes from %d bytes into %d (need %d)", t, rows, rb, len(src), len(dst), need)
	}
	nq := bb - 2 // quant bytes per block
	rec := PackedRows * bb
	// The assembly packs whole groups; then, row by row, each row's blocks
	// in order (the source streams once; a group's records
	// stay in the cache while its 16 rows scatter).
	// The assembly reads 2 bytes past its last row: all whole groups when
	// src has them, all but the last otherwise.
	g0 := rows / PackedRows
	if len(src) < g0*PackedRows*rb+2 {
		g0--
	}
	g0 = archPackWeights(dst, src, rb, g0, nb, bb/2)
	clear(dst[g0*nb*rec : need])
	for row := g0 * PackedRows; row < rows; row++ {
		g, r := row/PackedRows, row%PackedRows
		for b := range nb {
			blk := src[row*rb+b*bb : row*rb+(b+1)*bb]
			out := dst[(g*nb+b)*rec : (g*nb+b+1)*rec]
			binary.LittleEndian.PutUint16(out[2*r:], binary.LittleEndian.Uint16(blk))
			for c := range nq / 2 {
				binary.LittleEndian.PutUint16(out[32+32*c+2*r:], binary.LittleEndian.Uint16(blk[2+2*c:]))
			}
		}
	}
	return nil
}

// packedLayout is the byte offset of each section of a packed activation
// buffer of k elements.
type packedLayout struct{ d, rs, size, blocks, supers int }

func packedLayoutFor(k int) packedLayout {
	blocks := k / 32
	l := packedLayout{blocks: blocks, supers: (blocks + superBlocks - 1) / superBlocks}
	l.d = actRound(2 * k)
	l.rs = l.d + actRound(4*blocks)
	l.size = l.rs + actRound(8*l.supers)
	return l
}

// PackedActBytes returns the size of the buffer QuantizePackedAct fills
// for k activations, 0 unless k is a positive multiple of 32.
func PackedActBytes(k int) int {
	if k <= 0 || k%32 != 0 {
		return 0
	}
	return packedLayoutFor(k).size
}

// packedRsOffset returns where the super-block entries (rs) start in a
// packed activation buffer of k elements.
func packedRsOffset(k int) int { return packedLayoutFor(k).rs }

// QuantizePackedAct quantizes x for GemmPacked into act, which must hold
// PackedActBytes(len(x)) bytes: QuantizeAct's quants and super-block
// scales, in element order. It panics when len(x) is not a positive
// multiple of 32 or act is too short.
func QuantizePackedAct(x []float32, act []byte) {
	k := len(x)
	need := PackedActBytes(k)
	if need == 0 || len(act) < need {
		panic(fmt.Sprintf("quant: QuantizePackedAct: %d elements into %d bytes (need %d)", k, len(act), need))
	}
	l := packedLayoutFor(k)
	d := bytesF32(act[l.d:], l.blocks)
	if !archBlockMax(x, d) {
		for b := range l.blocks {
			d[b] = blockMax((*[32]float32)(x[32*b:]))
		}
	}
	superScales(d, bytesF32(act[l.rs:], 2*l.supers))
	qs := bytesI16(act, k)
	if !archQuantizePacked(x, act, d) {
		for b := range l.blocks {
			e := d[b]
			blk := qs[32*b : 32*b+32]
			if e != e {
				clear(blk)
				continue
			}
			id := 1 / e
			for j, v := range x[32*b : 32*b+32] {
				blk[j] = roundAct(float32(v * id))
			}
		}
	}
	clear(act[2*k : l.d])
	clear(act[l.rs+8*l.supers : l.size])
}

// GemmPacked sets out[i*ldo+j] = x row i · weight row j for the m x rows
// quantized by QuantizePackedAct (row i at acts[i*stride:]) and the first
// rows rows of the packed matrix w (k elements per row, w starting at a
// group). Every row gets the bits described in the package comment on
// packed weights, whatever m. It panics on sizes that do not fit.
func GemmPacked(t graph.DType, out []float32, ldo int, acts []byte, stride, m int, w []byte, rows, k int) {
	need := PackedActBytes(k)
	if !packedType(t) || need == 0 || m < 0 || rows < 0 || stride < need || ldo < rows ||
		(m > 0 && len(acts) < (m-1)*stride+need) || len(w) < PackedBytes(t, rows, k) {
		panic(fmt.Sprintf("quant: GemmPacked %s: %d activation rows of %d elements (stride %d) in %d bytes, %d weight rows in %d bytes, ldo %d",
			t, m, k, stride, len(acts), rows, len(w), ldo))
	}
	if m == 0 || rows == 0 {
		return
	}
	_ = out[(m-1)*ldo+rows-1]
	if archGemmPacked(t, out, ldo, acts, stride, m, w, rows, k) {
		return
	}
	gemmPackedGo(t, out, ldo, acts, stride, m, w, rows, k)
}

// gemmPackedGo is GemmPacked's portable code, with the kernels' arithmetic
// (a float32 multiply-add fused by computing it in float64: the product of
// two float32 values is exact there).
func gemmPackedGo(t graph.DType, out []float32, ldo int, acts []byte, stride, m int, w []byte, rows, k int) {
	l := packedLayoutFor(k)
	bb := t.BlockBytes()
	rec := PackedRows * bb
	nb := k / 32
	for i := range m {
		a := acts[i*stride:]
		qs := bytesI16(a, k)
		rs := bytesF32(a[l.rs:], 2*l.supers)
		for j := range rows {
			g, r := j/PackedRows, j%PackedRows
			var acc float32
			for b := range nb {
				if b%superBlocks == 0 {
					acc *= rs[2*(b/superBlocks)]
				}
				blk := w[(g*nb+b)*rec : (g*nb+b+1)*rec]
				d := F16ToF32(binary.LittleEndian.Uint16(blk[2*r:]))
				q := qs[32*b : 32*b+32]
				var s int32
				if t == graph.Q8_0 {
					for c := range 16 {
						s += int32(int8(blk[32+32*c+2*r]))*int32(q[2*c]) + int32(int8(blk[32+32*c+2*r+1]))*int32(q[2*c+1])
					}
				} else {
					for c := range 8 {
						lo, hi := blk[32+32*c+2*r], blk[32+32*c+2*r+1]
						s += (int32(lo&15)-8)*int32(q[2*c]) + (int32(hi&15)-8)*int32(q[2*c+1])
						s += (int32(lo>>4)-8)*int32(q[2*c+16]) + (int32(hi>>4)-8)*int32(q[2*c+17])
					}
				}
				acc = float32(math.FMA(float64(float32(s)), float64(d), float64(acc)))
			}
			out[i*ldo+j] = acc * rs[2*l.supers-1]
		}
	}
}

// GemvPacked2 sets outA to the first rowsA rows of packed matrix wA times
// the x row act (quantized by QuantizePackedAct) and outB to the first
// rowsB rows of wB times it, each row with GemmPacked's bits. Where the
// CPU has the kernel, the two runs of weights stream side by side, which a
// core reads faster than one run after the other.
func GemvPacked2(t graph.DType, outA []float32, wA []byte, rowsA int, outB []float32, wB []byte, rowsB int, act []byte, k int) {
	need := PackedActBytes(k)
	if !packedType(t) || need == 0 || len(act) < need || rowsA < 0 || rowsB < 0 || len(outA) < rowsA || len(outB) < rowsB ||
		len(wA) < PackedBytes(t, rowsA, k) || len(wB) < PackedBytes(t, rowsB, k) {
		panic(fmt.Sprintf("quant: GemvPacked2 %s: %d and %d rows of %d elements in %d and %d bytes, %d activation bytes",
			t, rowsA, rowsB, k, len(wA), len(wB), len(act)))
	}
	g := min(rowsA, rowsB) / PackedRows
	if !archGemvPacked2(t, outA, wA, outB, wB, g, act, k) {
		g = 0
	}
	gb := PackedBytes(t, PackedRows, k)
	if r := g * PackedRows; r < rowsA {
		GemmPacked(t, outA[r:], rowsA-r, act, need, 1, wA[g*gb:], rowsA-r, k)
	}
	if r := g * PackedRows; r < rowsB {
		GemmPacked(t, outB[r:], rowsB-r, act, need, 1, wB[g*gb:], rowsB-r, k)
	}
}
