package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/golem-llm/golem/graph"
)

// Integer dot products. A row of float32 activations x is quantized once
// (QuantizeAct) to 16-bit integers with one float32 scale per super-block
// of 8 blocks of 32 elements (256 elements; the last super-block of a
// row may have fewer blocks): e = max|x|/32767 over the super-block and q
// = round(x/e). Every quantized weight row is then multiplied by it with
// integer multiply-adds of 16-bit words (AVX-512 VNNI VPDPWSSD, AVX2
// VPMADDWD): exact int32 sums per weight block, scaled by the weight
// block's scale. One scale for 8 blocks is what lets the Q8_0 and Q4_0
// kernels (every family but the portable one) do without a multiply per
// block: they add each block's
// sum times the weight scale into accumulators kept in units of the
// current super-block's scale, rescale the accumulators by e_{S-1}/e_S
// when a super-block S begins, and multiply the row's sum by the last
// super-block's scale once at the end. The weights' quants, bytes or
// nibbles, become words without shuffles: the even and odd bytes of each
// 64-byte step go to separate registers (a mask and shifts), and the
// activations are stored in the same split. 16-bit activations keep
// matmul outputs within float32-like error (NMSE ~1e-9 per block of 32,
// ~1e-8 per super-block); 8-bit ones, as llama.cpp's q8_0/q8_K, give NMSE
// ~3e-5 per matmul, which adds up over a model's layers to a KL divergence
// of 2–6e-4 on the synthetic models, past the parity gate.
//
// Super-block scales. With m_S = max|x|/32767 over super-block S and M the
// largest m_S of the row, e_S = max(m_S, M·2⁻⁶⁴, 2⁻¹²⁶) (1 when the row is
// all zeros; NaN when S holds a NaN or an infinity, its quants then 0):
// the floor keeps every ratio e_{S-1}/e_S within 2^±64, so that the
// rescaled accumulators neither overflow nor lose the earlier
// super-blocks (an element below the floor is below 2⁻⁶⁴ of the row's
// largest and quantizes to 0).
//
// Positions. Each element i has a byte position p = actOrder(t, k, i):
// where its weight quant sits in the kernels' 64-byte steps of unpacked
// quants (Q4_0: each group of four blocks is the blocks' low nibbles,
// then their high nibbles; Q4_K: each half super-block is its sub-blocks
// 0 and 2, then 1 and 3; Q8_0 and Q6_K: element order). A lane is 4
// consecutive positions: the 4 bytes one int32 lane of a kernel adds up
// (the lanes of a Q4_0 group's two steps add into the same accumulator,
// so Q4_0 has one lane per 8 elements). The activation of position p is
// stored as int16 at actPos(p): in each 64-byte step, the 32 even
// positions first, then the 32 odd ones.
//
// The activation buffer (ActBytes bytes) holds, for weight type t:
//
//	qs    [k']int16      the quantized elements at actPos (k' = k rounded
//	                     up to 64)
//	init  [lanes]int32   per lane, -c·Σq over the lane: the correction for
//	                     the constant c the kernels add to t's quants
//	                     (Q4_0: 8, Q6_K: 32; Q8_0 and Q4_K: none)
//	scale [lanes]float32 e of the lane's super-block
//	d     [k/32]float32  e of each block's super-block, in element order
//	sum   [k/32]int32    Σq of each block (Q4_K's mins)
//	rs    [S][2]float32  per super-block S: e_{S-1}/e_S (1 for S = 0), e_S

// actAlign aligns each section of an activation buffer.
const actAlign = 64

// actLayout is the byte offset of each section of an activation buffer
// for k elements and weight type t.
type actLayout struct {
	k, blocks, lanes, supers          int
	qs, init, scale, d, sum, rs, size int
}

// superBlocks is the number of blocks of 32 that share a scale.
const superBlocks = 8

// actMax is the largest quant: |x| ≤ max|x| maps to at most actMax.
const actMax = 32767

// intDot reports whether weights of type t have integer dot products.
func intDot(t graph.DType) bool {
	switch t {
	case graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K:
		return true
	}
	return false
}

// actRound rounds n up to a multiple of actAlign.
func actRound(n int) int { return (n + actAlign - 1) &^ (actAlign - 1) }

// layoutFor returns the activation layout for k elements of type t (k a
// positive multiple of t's block size, t with integer dot products).
func layoutFor(t graph.DType, k int) actLayout {
	l := actLayout{k: k, blocks: k / 32, lanes: k / 4, supers: (k/32 + superBlocks - 1) / superBlocks}
	if t == graph.Q4_0 {
		l.lanes = k / 8
	}
	l.init = 2 * actRound(k)
	l.scale = l.init + actRound(4*l.lanes)
	l.d = l.scale + actRound(4*l.lanes)
	l.sum = l.d + actRound(4*l.blocks)
	l.rs = l.sum + actRound(4*l.blocks)
	l.size = l.rs + actRound(8*l.supers)
	return l
}

// ActBytes returns the size of the buffer QuantizeAct fills for k
// activations to be multiplied by rows of weight type t: 0 when t has no
// integer dot product (F32, F16, BF16) or k is not a positive multiple of
// t's block size. Every integer kernel reads the whole buffer, so it
// needs no other argument checks.
func ActBytes(t graph.DType, k int) int {
	if !intDot(t) || k <= 0 || k%t.BlockSize() != 0 {
		return 0
	}
	return layoutFor(t, k).size
}

// IntGemv reports whether GemvAct has a vector kernel for k elements of
// type t on this CPU, faster than Dot row by row; without one GemvAct
// runs portable Go code, slower than Dot's vector kernels.
func IntGemv(t graph.DType, k int) bool {
	return ActBytes(t, k) > 0 && archIntKernels(t, k, false)
}

// IntGemv2 reports whether GemvAct2 has a two-stream kernel for k
// elements of type t on this CPU (otherwise it is two GemvAct calls).
func IntGemv2(t graph.DType, k int) bool {
	return ActBytes(t, k) > 0 && archGemv2(t, k)
}

// IntGemm reports whether GemmAct has a vector kernel for k elements of
// type t on this CPU, faster than decoding the weights to float32 for
// GemmF32.
func IntGemm(t graph.DType, k int) bool {
	return ActBytes(t, k) > 0 && archIntKernels(t, k, true)
}

// GemmShareRows returns the fewest x rows for which GemmAct over k
// elements of type t shares each unpacked weight block among rows (two
// for Q8_0 and Q4_0 on AVX-512 and AVX2), 0 when it has no kernel that does:
// below it, GemvAct per row is as fast or faster.
func GemmShareRows(t graph.DType, k int) int {
	if !IntGemm(t, k) {
		return 0
	}
	return archGemmShare(t)
}

// actOrder returns the byte position of element i (see the package
// comment on integer dot products). Trailing Q4_0 blocks outside a whole
// group of four keep element order.
func actOrder(t graph.DType, k, i int) int {
	switch t {
	case graph.Q4_0:
		g := i / 128
		if (g+1)*128 > k {
			return i
		}
		b, j := (i%128)/32, i%32
		return 128*g + 64*(j/16) + 16*b + j%16
	case graph.Q4_K:
		h, e := i/128, i%128
		sb, j := e/32, e%32
		return 128*h + 64*(sb%2) + 32*(sb/2) + j
	}
	return i
}

// actPos is the int16 index in qs of byte position p: in each 64-byte
// step the even positions, then the odd ones.
func actPos(p int) int { return p&^63 + (p&1)*32 + (p&63)/2 }

// elemAt is the inverse of actOrder for the orders whose lanes stay in
// one block (all but Q4_0's, which the callers handle): the element at
// byte position p.
func elemAt(t graph.DType, p int) int {
	if t == graph.Q4_K {
		h, e := p/128, p%128
		half, r := e/64, e%64
		return 128*h + 32*(2*(r/32)+half) + r%32
	}
	return p
}

// actConst is the constant the kernels add to t's quants to make them
// non-negative words (and the lane corrections take back out).
func actConst(t graph.DType) int32 {
	switch t {
	case graph.Q4_0:
		return 8
	case graph.Q6_K:
		return 32
	}
	return 0
}

// QuantizeAct quantizes the activations x for integer dot products with
// rows of type t into act, which must hold ActBytes(t, len(x)) bytes. A
// super-block holding NaN or an infinity gets a NaN scale, so that every
// dot product with it is NaN, as the float32 product would be. It panics when
// t has no integer dot product, len(x) is not a positive multiple of t's
// block size, or act is too short.
func QuantizeAct(t graph.DType, x []float32, act []byte) {
	k := len(x)
	need := ActBytes(t, k)
	if need == 0 || len(act) < need {
		panic(fmt.Sprintf("quant: QuantizeAct %s: %d elements into %d bytes (need %d)", t, k, len(act), need))
	}
	l := layoutFor(t, k)
	qs := bytesI16(act[l.qs:], l.init/2)
	d := bytesF32(act[l.d:], l.blocks)
	sum := bytesI32(act[l.sum:], l.blocks)
	if !archBlockMax(x, d) {
		for b := range l.blocks {
			d[b] = blockMax((*[32]float32)(x[32*b:]))
		}
	}
	superScales(d, bytesF32(act[l.rs:], 2*l.supers))
	if !archQuantizeAct(t, x, act[l.qs:l.init], d, sum) {
		for b := range l.blocks {
			sum[b] = quantActBlock((*[32]float32)(x[32*b:]), d[b], t, k, b, qs)
		}
	}
	actLanes(t, l, act)
}

// blockMax returns max|x| over a block, NaN when it holds a NaN or an
// infinity (as archBlockMax does).
func blockMax(x *[32]float32) float32 {
	var mbits uint32 // max |x| as bits: the order of non-negative floats
	for _, v := range x {
		mbits = max(mbits, math.Float32bits(v)&0x7fffffff)
	}
	if mbits >= 0x7f800000 {
		return float32(math.NaN())
	}
	return math.Float32frombits(mbits)
}

// superScales turns the blocks' max|x| in d into the scale e of each
// block's super-block (see the package comment on super-block scales) and
// fills rs with each super-block's e_{S-1}/e_S and e_S.
func superScales(d, rs []float32) {
	floor := float32(0x1p-126)
	var big float32 // the largest m_S
	for b0 := 0; b0 < len(d); b0 += superBlocks {
		m := float32(0)
		for _, v := range d[b0:min(b0+superBlocks, len(d))] {
			if v != v {
				m = v
				break
			}
			m = max(m, v)
		}
		m /= actMax
		if m == m {
			big = max(big, m)
		}
		d[b0] = m // m_S, for the second pass
	}
	floor = max(floor, big*0x1p-64)
	prev := float32(1)
	for S, b0 := 0, 0; b0 < len(d); S, b0 = S+1, b0+superBlocks {
		e := d[b0]
		switch {
		case e != e: // NaN
		case big == 0:
			e = 1
		default:
			e = max(e, floor)
		}
		for b := b0; b < min(b0+superBlocks, len(d)); b++ {
			d[b] = e
		}
		rs[2*S], rs[2*S+1] = prev/e, e
		if S == 0 {
			rs[0] = 1
		}
		prev = e
	}
}

// actHalves returns the byte positions of the two 16-element halves of
// block b (each half's positions are consecutive).
func actHalves(t graph.DType, k, b int) (lo, hi int) {
	return actOrder(t, k, 32*b), actOrder(t, k, 32*b+16)
}

// quantActBlock quantizes block b of the activations with its
// super-block's scale e into qs and returns the sum of its quants (zeros
// and 0 when e is NaN).
func quantActBlock(x *[32]float32, e float32, t graph.DType, k, b int, qs []int16) int32 {
	lo, hi := actHalves(t, k, b)
	// The even elements of a half go to consecutive slots from actPos of
	// its first position, the odd ones 32 slots later.
	elo, ehi := actPos(lo), actPos(hi)
	if e != e {
		for j := range 16 {
			qs[elo+j/2+32*(j&1)], qs[ehi+j/2+32*(j&1)] = 0, 0
		}
		return 0
	}
	id := 1 / e
	var s int32
	for j, v := range x[:16] {
		q := roundAct(float32(v * id))
		qs[elo+j/2+32*(j&1)] = q
		s += int32(q)
	}
	for j, v := range x[16:] {
		q := roundAct(float32(v * id))
		qs[ehi+j/2+32*(j&1)] = q
		s += int32(q)
	}
	return s
}

// roundAct rounds v (|v| ≤ actMax plus rounding) to the nearest integer,
// ties to even, as the assembly's VCVTPS2DQ does: adding and subtracting
// 1.5·2²³ rounds a float32 of magnitude below 2²² exactly that way.
func roundAct(v float32) int16 {
	const magic = 12582912
	r := int32(float32(v+magic) - magic)
	return int16(min(max(r, -actMax), actMax))
}

// actLanes fills the lane corrections and scales of an activation buffer
// whose quants, block scales and sums are set, and clears the padding
// after each section (the kernels read whole 64-byte steps).
func actLanes(t graph.DType, l actLayout, act []byte) {
	k := l.k
	qs := bytesI16(act[l.qs:], l.init/2)
	d := bytesF32(act[l.d:], l.blocks)
	init := bytesI32(act[l.init:], l.lanes)
	scale := bytesF32(act[l.scale:], l.lanes)
	if k%64 != 0 {
		// The unused positions of the last step.
		for p := k; p < k&^63+64; p++ {
			qs[actPos(p)] = 0
		}
	}
	clear(act[l.init+4*l.lanes : l.scale])
	clear(act[l.scale+4*l.lanes : l.d])
	clear(act[l.d+4*l.blocks : l.sum])
	clear(act[l.sum+4*l.blocks : l.rs])
	clear(act[l.rs+8*l.supers : l.size])
	c := actConst(t)
	// step returns the 16 lane sums of the 64-byte step at position p0 (a
	// multiple of 64): its even positions are qs[p0:p0+32], its odd ones
	// qs[p0+32:p0+64], and lane l holds positions 4l..4l+3.
	var sums [16]int32
	step := func(p0 int) *[16]int32 {
		e, o := (*[32]int16)(qs[p0:]), (*[32]int16)(qs[p0+32:])
		for l := range sums {
			sums[l] = int32(e[2*l]) + int32(e[2*l+1]) + int32(o[2*l]) + int32(o[2*l+1])
		}
		return &sums
	}
	ng := 0 // whole Q4_0 groups
	if t == graph.Q4_0 {
		ng = k / 128
		for g := archActLanes(t, qs, ng, init, scale, d, c); g < ng; g++ {
			// Lane i of group g: positions 4i..4i+3 of its low-nibble
			// step and of its high-nibble step, all of block 4g+i/4.
			lo := *step(128 * g)
			hi := step(128*g + 64)
			for i := range 16 {
				init[16*g+i] = -c * (lo[i] + hi[i])
				scale[16*g+i] = d[4*g+i/4]
			}
		}
		// Trailing blocks: lanes of 8 consecutive elements.
		for ln := 16 * ng; ln < l.lanes; ln++ {
			e := 128*ng + 8*(ln-16*ng)
			var s int32
			for j := range 8 {
				s += int32(qs[actPos(e+j)])
			}
			init[ln], scale[ln] = -c*s, d[e/32]
		}
		return
	}
	for p0 := 64 * archActLanes(t, qs, k/64, init, scale, d, c); p0 < k; p0 += 64 {
		sums := step(p0)
		n := min(16, (k-p0)/4) // a last half step (Q8_0) has 8 lanes
		for i := range n {
			ln := p0/4 + i
			init[ln] = -c * sums[i]
			scale[ln] = d[elemAt(t, 4*ln)/32]
		}
	}
}

// bytesF32 views the first n float32 values of b.
func bytesF32(b []byte, n int) []float32 {
	_ = b[4*n-1]
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// bytesI32 views the first n int32 values of b.
func bytesI32(b []byte, n int) []int32 {
	_ = b[4*n-1]
	return unsafe.Slice((*int32)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// bytesI16 views the first n int16 values of b.
func bytesI16(b []byte, n int) []int16 {
	_ = b[2*n-1]
	return unsafe.Slice((*int16)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// checkAct panics unless rows rows of type t, each of k elements, fit in
// w and act holds an activation buffer for k elements and t; it returns
// the bytes of one row.
func checkAct(fn string, t graph.DType, w []byte, rows int, act []byte, k int) int {
	need := ActBytes(t, k)
	if need == 0 {
		panic(fmt.Sprintf("quant: %s: no integer dot product for %d elements of %s", fn, k, t))
	}
	if len(act) < need {
		panic(fmt.Sprintf("quant: %s %s: activation buffer has %d bytes, %d elements need %d", fn, t, len(act), k, need))
	}
	rb, err := t.RowBytes(int64(k))
	if err != nil {
		panic(fmt.Sprintf("quant: %s: %v", fn, err))
	}
	if rows < 0 || int64(len(w)) < rb*int64(rows) {
		panic(fmt.Sprintf("quant: %s %s: %d rows of %d bytes do not fit in %d bytes", fn, t, rows, rb, len(w)))
	}
	return int(rb)
}

// DotAct returns the dot product of one row of type t (k elements) with
// the activations act quantized for t by QuantizeAct. It panics on
// programmer error, as GemvAct does.
func DotAct(t graph.DType, row []byte, act []byte, k int) float32 {
	var out [1]float32
	GemvAct(t, row, 1, act, k, out[:])
	return out[0]
}

// GemvAct sets out[r] to the dot product of row r of w (rows rows of type
// t, k elements each, stored one after another) with the activations act
// quantized for t by QuantizeAct. The integer products are exact; they
// are scaled in float32. It checks its arguments once for all rows and
// panics on programmer error: t has no integer dot product, k is not a
// positive multiple of t's block size, w is shorter than rows rows, act is
// shorter than ActBytes(t, k), or out than rows.
func GemvAct(t graph.DType, w []byte, rows int, act []byte, k int, out []float32) {
	rb := checkAct("GemvAct", t, w, rows, act, k)
	out = out[:rows]
	if rows == 0 || archGemvAct(t, w, rb, act, k, out) {
		return
	}
	l := layoutFor(t, k)
	for r := range out {
		out[r] = dotActGo(t, w[r*rb:(r+1)*rb], act, l, 0)
	}
}

// GemvAct2 is GemvAct on two sets of rows of w1 and w2 (len(out1) and
// len(out2) rows of type t, k elements each) with the same activations,
// each row getting GemvAct's bits. Where a kernel exists (Q4_0, Q8_0 and
// Q6_K on AVX-512) it multiplies a row of each set at a time, reading the two
// sets as two streams of memory, which a core reads faster than one: on
// Zen 5, 600 MB of q4_0 rows of 2048 elements in calls of 2×2048 rows,
// 23 to 27 GB/s on one thread, 45 to 50 GB/s on two. Elsewhere it is two
// GemvAct calls. It panics on programmer error as GemvAct does.
func GemvAct2(t graph.DType, w1 []byte, out1 []float32, w2 []byte, out2 []float32, act []byte, k int) {
	rb := checkAct("GemvAct2", t, w1, len(out1), act, k)
	checkAct("GemvAct2", t, w2, len(out2), act, k)
	// Both sets' first n rows side by side, the longer set's rest alone.
	n := min(len(out1), len(out2))
	if n == 0 || !archGemvAct2(t, w1, w2, n, act, k, out1, out2) {
		n = 0
	}
	GemvAct(t, w1[n*rb:], len(out1)-n, act, k, out1[n:])
	GemvAct(t, w2[n*rb:], len(out2)-n, act, k, out2[n:])
}

// GemmAct sets out[i*ldo+r] to the dot product of weight row r (rows rows
// of type t, k elements each, one after another in w) with x row i, for
// i < m: the activations of x row i quantized by QuantizeAct at
// acts[i*stride:]. Each output is computed the same way whatever m is
// and however the caller cuts the x rows into calls. It checks its
// arguments once and panics on programmer error, as GemvAct does, or when
// stride is shorter than ActBytes(t, k), ldo < rows or out is too short.
func GemmAct(t graph.DType, out []float32, ldo int, acts []byte, stride, m int, w []byte, rows, k int) {
	need := ActBytes(t, k)
	if m < 0 || stride < need || ldo < rows || (m > 0 && len(acts) < (m-1)*stride+need) {
		panic(fmt.Sprintf("quant: GemmAct %s: %d activation rows of %d bytes (stride %d) in %d bytes, ldo %d for %d rows",
			t, m, need, stride, len(acts), ldo, rows))
	}
	if m == 0 || rows == 0 {
		return
	}
	rb := checkAct("GemmAct", t, w, rows, acts, k)
	_ = out[(m-1)*ldo+rows-1]
	if archGemmAct(t, out, ldo, acts, stride, m, w, rb, rows, k) {
		return
	}
	for i := range m {
		GemvAct(t, w, rows, acts[i*stride:i*stride+need], k, out[i*ldo:i*ldo+rows])
	}
}

// dotActGo is the portable integer dot product of one row, from block b0
// on (the kernels leave trailing Q4_0 blocks to it).
func dotActGo(t graph.DType, row, act []byte, l actLayout, b0 int) float32 {
	k := l.k
	qs := bytesI16(act[l.qs:], l.init/2)
	d := bytesF32(act[l.d:], l.blocks)
	q := func(i int) int32 { return int32(qs[actPos(actOrder(t, k, i))]) }
	var sum float32
	switch t {
	case graph.Q8_0:
		for b := b0; b < l.blocks; b++ {
			blk := row[b*q8Block : (b+1)*q8Block]
			var s int32
			for j := range 32 {
				s += int32(int8(blk[2+j])) * q(32*b+j)
			}
			sum += F16ToF32(binary.LittleEndian.Uint16(blk)) * d[b] * float32(s)
		}
	case graph.Q4_0:
		for b := b0; b < l.blocks; b++ {
			blk := row[b*q4Block : (b+1)*q4Block]
			var s int32
			for j := range 16 {
				s += (int32(blk[2+j]&0xf) - 8) * q(32*b+j)
				s += (int32(blk[2+j]>>4) - 8) * q(32*b+16+j)
			}
			sum += F16ToF32(binary.LittleEndian.Uint16(blk)) * d[b] * float32(s)
		}
	case graph.Q4_K:
		bsum := bytesI32(act[l.sum:], l.blocks)
		for sb := range k / 256 {
			blk := row[sb*q4KBlock : (sb+1)*q4KBlock]
			dd := F16ToF32(binary.LittleEndian.Uint16(blk[0:]))
			dmin := F16ToF32(binary.LittleEndian.Uint16(blk[2:]))
			sc := (*[12]byte)(blk[q4KScales:])
			var acc, macc float32
			for j := range 8 {
				s, m := scaleMinK4(j, sc)
				c := j / 2
				var is int32
				for e := range 32 {
					b := blk[q4KQs+32*c+e]
					if j%2 == 1 {
						b >>= 4
					}
					is += int32(b&0xf) * q(256*sb+32*j+e)
				}
				b := 8*sb + j
				acc += float32(s) * d[b] * float32(is)
				macc += float32(m) * d[b] * float32(bsum[b])
			}
			sum += dd*acc - dmin*macc
		}
	case graph.Q6_K:
		for sb := range k / 256 {
			blk := row[sb*q6KBlock : (sb+1)*q6KBlock]
			dd := F16ToF32(binary.LittleEndian.Uint16(blk[q6KD:]))
			var acc float32
			for h := range 2 {
				ql := blk[64*h:]
				qh := blk[q6KQh+32*h:]
				sc := blk[q6KScales+8*h:]
				for g := range 8 { // 16-element scale groups of the half
					var is int32
					for e := 16 * g; e < 16*g+16; e++ {
						l, part := e%32, e/32
						var v byte
						switch part {
						case 0:
							v = ql[l]&0xf | (qh[l]&3)<<4
						case 1:
							v = ql[l+32]&0xf | (qh[l]>>2&3)<<4
						case 2:
							v = ql[l]>>4 | (qh[l]>>4&3)<<4
						default:
							v = ql[l+32]>>4 | (qh[l]>>6&3)<<4
						}
						is += (int32(v) - 32) * q(256*sb+128*h+e)
					}
					acc += float32(int8(sc[g])) * d[(256*sb+128*h+16*g)/32] * float32(is)
				}
			}
			sum += dd * acc
		}
	}
	return sum
}
