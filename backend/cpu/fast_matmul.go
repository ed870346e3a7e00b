package cpu

import (
	"fmt"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// gemmMinRows is the number of x rows from which a matmul dequantizes tiles
// of w once and reuses them for every row (GEMM) instead of running a fused
// dequantize-dot per row and output (GEMV). Measured on one thread with
// the 110M model's matrices (768×768, 2048×768, 768×2048; f32, q8_0,
// q4_0): GEMM is 5–25 % faster than GEMV already at 2 rows and 30–40 %
// faster at 3, so every multi-row product takes the GEMM path.
const gemmMinRows = 2

// gemvMaxRows is the most x rows a matmul over quantized weights runs as
// a GEMV: each weight row is read once per group of x rows and multiplied
// by each of them as by one x row alone (quant.GemvAct on each row's own
// quantized activations, or quant.DotRows, which gives each x row exactly
// what quant.Dot gives it). A batched decode step of up to this many
// sequences then gives each sequence the bits it gets alone. Where the
// integer GEMM exists (quant.IntGemm), useGEMV sends quant.GemmShareRows or
// more of these rows to it instead: it gives each row GemvAct's bits too
// and unpacks each weight block once for two to six rows (110m q8_0, 8
// sequences: 453 -> 657 tokens/s on Zen 5, 2 threads). On 768-wide rows in cache, DotRows of 8 x rows
// ran about as fast as the float GEMM (q8_0 37 against 39 GB/s of
// weights, q4_0 19 against 17), and from memory it also saves the GEMM's
// dequantized copy; at 16 rows the GEMM's register blocking was faster
// (43 against 33 GB/s for q8_0).
const gemvMaxRows = 8

// gemvXBytes bounds the x rows a multi-row GEMV multiplies by a group of
// weight rows before the next x rows, so that both stay in L1: 8 rows of
// 768 floats, 4 of 2048 (the multi-row kernels take 8, 4 or 2 rows).
const gemvXBytes = 32 << 10

// gemvXRows returns how many x rows of k floats a multi-row GEMV takes at
// a time: 4 to 8, within gemvXBytes when it can.
func gemvXRows(k int) int { return min(max(gemvXBytes/(4*max(k, 1)), 4), 8) }

// gemmTileBytes is the target size of one dequantized tile of w rows.
const gemmTileBytes = 256 << 10

// gemmL1Bytes is the target size of the w rows a GEMM multiplies by every
// row of an x block before moving on: they stay in the L1 cache while the
// x rows stream from L2. 24 KiB beat 12 KiB, 48 KiB and no blocking by
// 2–11 % on 128-row products with the 110M model's matrices.
const gemmL1Bytes = 24 << 10

// gemmTileRows returns the number of w rows per GEMM tile for inner size k:
// a multiple of 4 between 4 and 64 whose float32 rows fill about
// gemmTileBytes.
func gemmTileRows(k int) int {
	nt := gemmTileBytes / (4 * k)
	return min(max(nt/4*4, 4), 64)
}

// intMinRows is the number of weight rows from which a matmul quantizes
// its x rows to 8 bits and uses integer dot products: quantizing a row
// costs about as much as a few float dot products of it, so below this
// the float path is as fast (and a product of very few outputs keeps
// float32 accuracy).
const intMinRows = 16

// matmulAct returns the bytes of one x row quantized for the integer dot
// products of matmul n (GEMV or GEMM, whichever its rows take), 0 when n
// takes the float path.
func matmulAct(n *graph.Node, d graph.MatMulDims) int {
	dt := n.Inputs[1].DType
	if d.N < intMinRows {
		return 0
	}
	if useGEMV(d, dt) && !quant.IntGemv(dt, d.K) || !useGEMV(d, dt) && !quant.IntGemm(dt, d.K) {
		return 0
	}
	return quant.ActBytes(dt, d.K)
}

// intTileBytes is the size of the weight tile of an integer GEMM item:
// the x rows pass it in blocks of three or four while it stays in L2.
const intTileBytes = 96 << 10

// quantTask quantizes the x rows of a matmul for integer dot products.
type quantTask struct {
	dt     graph.DType
	k      int
	x      []float32
	act    []byte
	ab     int
	packed bool // for packed weights (quant.QuantizePackedAct)
}

func (t *quantTask) run(lo, hi, _ int) error {
	for r := lo; r < hi; r++ {
		t.row(r)
	}
	return nil
}

// row quantizes x row r.
func (t *quantTask) row(r int) {
	x, act := t.x[r*t.k:(r+1)*t.k], t.act[r*t.ab:(r+1)*t.ab]
	if t.packed {
		quant.QuantizePackedAct(x, act)
		return
	}
	quant.QuantizeAct(t.dt, x, act)
}

// quantKey names the quantized x rows the program's shared scratch holds:
// matmul input x for weights of type dt, rows rows of k elements.
type quantKey struct {
	x       *graph.Node
	dt      graph.DType
	rows, k int
	packed  bool
}

// quantizeInput quantizes matmul n's x rows into act (the start of
// p.shared) unless the matmul before it in this run left the same rows
// there: the Q, K and V projections of a layer share their input, as do
// the gate and up projections. A node's values do not change within a
// run, and only matmuls write p.shared.
func quantizeInput(p *program, n *graph.Node, dt graph.DType, x []float32, rows, k, ab int, act []byte, packed bool) error {
	key := quantKey{x: n.Inputs[0], dt: dt, rows: rows, k: k, packed: packed}
	if p.quantized == key {
		return nil
	}
	p.quantized = quantKey{}
	if err := quantizeRows(p, n, dt, x, rows, k, ab, act, packed); err != nil {
		return err
	}
	p.quantized = key
	return nil
}

// quantizeRows quantizes the rows x rows of k elements into act (ab
// bytes each; for packed weights: quant.QuantizePackedAct), on the pool's
// threads when there are many.
func quantizeRows(p *program, n *graph.Node, dt graph.DType, x []float32, rows, k, ab int, act []byte, packed bool) error {
	t := taskFor[matmulTasks](p, n)
	q := &t.quant
	*q = quantTask{dt: dt, k: k, x: x, act: act, ab: ab, packed: packed}
	if rows == 1 {
		q.row(0)
		*q = quantTask{}
		return nil
	}
	// A quantized element costs several elementwise passes (its block's
	// maximum, the scaling and rounding, the lane sums): a quarter of an
	// elementwise loop's grain, so that a batched decode step's 8 rows of
	// 768 split across the threads.
	err := p.parallel(rows, max(1, elemGrain/4/k), q)
	*q = quantTask{}
	return err
}

// matmulTasks is a matmul node's loop state: the quantization of its x
// rows, then its GEMV or GEMM.
type matmulTasks struct {
	quant  quantTask
	gemv   gemvTask
	gemm   gemmTask
	packed packedTask
}

// matmulShared is the size of the x rows a matmul quantizes for integer
// dot products (quant.QuantizeAct), shared by its threads.
func matmulShared(n *graph.Node) int {
	d := n.MatMulDims()
	return d.Batches * d.M * matmulAct(n, d)
}

func matmulScratch(n *graph.Node) int {
	d := n.MatMulDims()
	if useGEMV(d, n.Inputs[1].DType) || n.Inputs[1].DType == graph.F32 || matmulAct(n, d) > 0 {
		return 0
	}
	return gemmTileRows(d.K) * d.K
}

// useGEMV reports whether a matmul runs as GEMV tasks: one x row, or up to
// gemvMaxRows over quantized weights. Each x row of a GEMV is multiplied
// as it would be alone (integer dot products on its own quantized
// activations, quant.DotRows, or quant.Dot), so a batched decode step
// gives each sequence the bits it gets alone.
func useGEMV(d graph.MatMulDims, wt graph.DType) bool {
	if d.M < gemmMinRows {
		return true
	}
	if d.M > gemvMaxRows || wt.BlockSize() == 1 {
		return false
	}
	// A few x rows over quantized weights: from quant.GemmShareRows rows
	// the integer GEMM, where it exists, gives each row the bits of the
	// integer GEMV it gets alone (quant.GemmAct) while sharing each
	// weight block's unpacking among the rows; with fewer, its one-row
	// kernel per row is slower than the GEMV (110m q8_0, 2 sequences
	// before the two-row kernel: 245-295 against 386-396 tokens/s).
	share := quant.GemmShareRows(wt, d.K)
	return share == 0 || d.M < share || d.N < intMinRows || !quant.IntGemv(wt, d.K)
}

// gemvTask is a matmul with one x row per batch (a decode step), or a few
// over quantized weights (see gemvMaxRows): one item
// is a group of gemvGroup weight rows of one batch, multiplied by the x
// row with a fused dequantize-dot, so that each weight byte is read once
// per run. A chunk of items is a contiguous run of weight rows: each
// thread streams its own part of the matrix.
type gemvTask struct {
	d      graph.MatMulDims
	dt     graph.DType
	x, out []float32
	wf     []float32 // F32 weights
	wh     []uint16  // F16 weights
	wb     []byte    // the weights' bytes (other types read them)
	act    []byte    // the x rows quantized for integer dot products (nil: none)
	actRow int       // bytes of one quantized x row
}

// gemvAheadBytes is how far ahead of the row being multiplied a GEMV over
// quantized weights touches the weight stream (see touch). On a synthetic
// TinyLlama 1.1B in q4_0 (0.6 GB, far larger than the caches) touching
// raised decode from 9.5 to 16.3 tok/s; 1–16 KiB ahead all did about as
// well. On 32768×4096 matrices, one thread: +15–25 % for q8_0, +20–35 %
// for q4_0. f32 and f16 rows, whose dots are lighter per byte so that the
// hardware prefetcher keeps up, gained nothing and are not touched.
const gemvAheadBytes = 2048

// keep uses b, so that the loads of touch are not optimised away.
//
//go:noinline
func keep(b byte) {}

// touch reads one byte of every cache line of b, so that the lines are on
// their way into the cache before the dot product needs them: the loads
// are independent, so the core has many misses in flight at once, where
// the dequantize-dot alone is too slow per byte to keep the hardware
// prefetcher ahead. Go has no prefetch instruction; a load is the portable
// stand-in.
func touch(b []byte) byte {
	var s byte
	for i := 0; i < len(b); i += 64 {
		s += b[i]
	}
	return s
}

// gemvGroup is the number of consecutive weight rows of one GEMV item: the
// f32 and f16 kernels multiply rows four at a time (sharing the loads of
// x), from a multiple of four. Items, not rows, are what the threads
// split, so every row is computed the same way whatever the thread count.
const gemvGroup = 4

func (t *gemvTask) run(lo, hi, _ int) error {
	if t.act != nil || t.wf != nil || t.wh != nil {
		t.runRows(lo, hi)
		return nil
	}
	d := t.d
	groups := (d.N + gemvGroup - 1) / gemvGroup
	ahead := 1 << 30 // rows; no touching
	if t.dt.BlockSize() > 1 && d.M == 1 {
		ahead = max(1, gemvAheadBytes/int(d.WRowBytes))
	}
	var sink byte
	for it := lo; it < hi; it++ {
		b, j0 := it/groups, (it%groups)*gemvGroup
		j1 := min(j0+gemvGroup, d.N)
		xb := t.x[b*d.M*d.K : (b+1)*d.M*d.K]
		ob := t.out[b*d.M*d.N : (b+1)*d.M*d.N]
		first := b*d.N + j0 // weight row of (b, j0)
		if d.M > 1 {
			// The item's weight rows against a few x rows at a time, so
			// that both stay in L1.
			xr := gemvXRows(d.K)
			for i0 := 0; i0 < d.M; i0 += xr {
				i1 := min(i0+xr, d.M)
				for j := j0; j < j1; j++ {
					r := int64(first + j - j0)
					quant.DotRows(t.dt, t.wb[r*d.WRowBytes:(r+1)*d.WRowBytes], xb[i0*d.K:i1*d.K], i1-i0, ob[i0*d.N+j:], d.N)
				}
			}
			continue
		}
		for j := j0; j < j1; j++ {
			r := first + j - j0
			if a := int64(r + ahead); a < int64(d.Batches*d.N) && ahead < 1<<30 {
				sink += touch(t.wb[a*d.WRowBytes : (a+1)*d.WRowBytes])
			}
			for i := 0; i < d.M; i++ {
				ob[i*d.N+j] = quant.Dot(t.dt, t.wb[int64(r)*d.WRowBytes:int64(r+1)*d.WRowBytes], xb[i*d.K:(i+1)*d.K])
			}
		}
	}
	keep(sink)
	return nil
}

// pairs reports whether runPair reads two streams of weights: one x row
// over weights with a two-stream integer kernel (quant.IntGemv2).
func (t *gemvTask) pairs() bool { return t.act != nil && t.d.M == 1 && quant.IntGemv2(t.dt, t.d.K) }

// runPair computes items [lo1, hi1) and [lo2, hi2) as run does (see
// pairWith). The pool calls it only when pairs holds.
func (t *gemvTask) runPair(lo1, hi1, lo2, hi2, slot int) error {
	return t.pairWith(t, lo1, hi1, lo2, hi2, slot)
}

// pairWith computes t's items [lo1, hi1) and u's items [lo2, hi2) as run
// does, the two runs of weight rows side by side (quant.GemvAct2) when u
// multiplies the same quantized x row (u is t, or a matmul of the same x
// in a node group) and each run lies in one batch, one after the other
// otherwise. Either way every output gets GemvAct's bits. Both tasks'
// pairs hold: the pool asks once per loop before it pairs chunks.
func (t *gemvTask) pairWith(u *gemvTask, lo1, hi1, lo2, hi2, slot int) error {
	b1, j0, j1, n1 := t.span(lo1, hi1)
	b2, k0, k1, n2 := u.span(lo2, hi2)
	if n1 != hi1 || n2 != hi2 || b1 != b2 || t.dt != u.dt || !sameBytes(t.act, u.act) {
		if err := t.run(lo1, hi1, slot); err != nil {
			return err
		}
		return u.run(lo2, hi2, slot)
	}
	w := func(g *gemvTask, j0, j1 int) []byte {
		first := int64(b1*g.d.N + j0)
		return g.wb[first*g.d.WRowBytes : (first+int64(j1-j0))*g.d.WRowBytes]
	}
	o1, o2 := t.out[b1*t.d.N:(b1+1)*t.d.N], u.out[b1*u.d.N:(b1+1)*u.d.N]
	quant.GemvAct2(t.dt, w(t, j0, j1), o1[j0:j1], w(u, k0, k1), o2[k0:k1], t.act[b1*t.actRow:(b1+1)*t.actRow], t.d.K)
	return nil
}

// sameBytes reports whether a and b are the same bytes.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// span returns the batch b of item it and the weight rows [j0, j1) of
// that batch's items in [it, hi), which end before item next.
func (t *gemvTask) span(it, hi int) (b, j0, j1, next int) {
	d := t.d
	groups := (d.N + gemvGroup - 1) / gemvGroup
	b, g := it/groups, it%groups
	end := min(groups, g+hi-it) // this batch's items in [it, hi)
	return b, g * gemvGroup, min(end*gemvGroup, d.N), it + end - g
}

// runRows computes items [lo, hi) with one matrix-vector call per x row
// for the chunk's run of weight rows of each batch (the kernels stream
// the rows and prefetch ahead themselves): quant.GemvAct with integer dot
// products, quant.GemvF32 or quant.GemvF16.
func (t *gemvTask) runRows(lo, hi int) {
	d := t.d
	for it := lo; it < hi; {
		b, j0, j1, next := t.span(it, hi)
		first := b*d.N + j0
		for i := 0; i < d.M; i++ {
			r := b*d.M + i
			o := t.out[r*d.N+j0 : r*d.N+j1]
			x := t.x[r*d.K : (r+1)*d.K]
			switch {
			case t.act != nil:
				w := t.wb[int64(first)*d.WRowBytes : int64(first+j1-j0)*d.WRowBytes]
				quant.GemvAct(t.dt, w, j1-j0, t.act[r*t.actRow:(r+1)*t.actRow], d.K, o)
			case t.wf != nil:
				quant.GemvF32(t.wf[first*d.K:(first+j1-j0)*d.K], j1-j0, x, o)
			default:
				quant.GemvF16(t.wh[first*d.K:(first+j1-j0)*d.K], j1-j0, x, o)
			}
		}
		it = next
	}
}

// gemmTask is a matmul with many x rows: one item is a tile of nt weight
// rows of one batch, decoded once into scratch (or read in place for f32)
// and multiplied by a block of x rows. x is cut into blocks only when there
// are too few tiles to keep every thread busy; outputs never depend on the
// cut.
type gemmTask struct {
	p                 *program
	d                 graph.MatMulDims
	dt                graph.DType
	nt, tiles, blocks int
	x, out            []float32
	wf                []float32
	wh                []uint16
	wb                []byte
	act               []byte // the x rows quantized for integer dot products (nil: none)
	actRow            int    // bytes of one quantized x row
}

func (t *gemmTask) run(lo, hi, slot int) error {
	d := t.d
	if t.act != nil {
		for it := lo; it < hi; it++ {
			mb := it % t.blocks
			b, tl := (it/t.blocks)/t.tiles, (it/t.blocks)%t.tiles
			j0 := tl * t.nt
			rows := min(t.nt, d.N-j0)
			first := int64(b*d.N + j0)
			w := t.wb[first*d.WRowBytes : (first+int64(rows))*d.WRowBytes]
			i0, i1 := mb*d.M/t.blocks, (mb+1)*d.M/t.blocks
			r0 := b*d.M + i0
			quant.GemmAct(t.dt, t.out[r0*d.N+j0:], d.N, t.act[r0*t.actRow:], t.actRow, i1-i0, w, rows, d.K)
		}
		return nil
	}
	for it := lo; it < hi; it++ {
		mb := it % t.blocks
		b, tl := (it/t.blocks)/t.tiles, (it/t.blocks)%t.tiles
		j0 := tl * t.nt
		rows := min(t.nt, d.N-j0)
		first := b*d.N + j0
		var tile []float32
		switch {
		case t.wf != nil:
			tile = t.wf[first*d.K : (first+rows)*d.K]
		case t.wh != nil:
			tile = t.p.scratchFor(slot)[:rows*d.K]
			quant.DecodeF16(tile, t.wh[first*d.K:(first+rows)*d.K])
		default:
			tile = t.p.scratchFor(slot)[:rows*d.K]
			src := t.wb[int64(first)*d.WRowBytes : int64(first+rows)*d.WRowBytes]
			if err := quant.Dequantize(t.dt, src, tile); err != nil {
				return fmt.Errorf("weight rows %d..%d: %w", first, first+rows-1, err)
			}
		}
		i0, i1 := mb*d.M/t.blocks, (mb+1)*d.M/t.blocks
		xb := t.x[(b*d.M+i0)*d.K : (b*d.M+i1)*d.K]
		ob := t.out[(b*d.M+i0)*d.N : (b*d.M+i1)*d.N]
		gemmBlock(ob[j0:], d.N, xb, i1-i0, tile, rows, d.K)
	}
	return nil
}

// gemmBlock sets out[i*ldo+r] = x[i]·w[r] for the m rows of x and the rows
// rows of w (k columns each), a few w rows at a time so that they stay in
// L1 while every x row passes by.
func gemmBlock(out []float32, ldo int, x []float32, m int, w []float32, rows, k int) {
	step := min(max(gemmL1Bytes/(4*k)/4*4, 4), rows)
	for r := 0; r < rows; r += step {
		s := min(step, rows-r)
		quant.GemmF32(out[r:], ldo, x, m, w[r*k:(r+s)*k], s, k)
	}
}

func fastMatMul(p *program, n *graph.Node) error {
	l, err := prepareMatMul(p, n)
	if err != nil {
		return err
	}
	err = p.parallel(l.items, l.grain, l.t)
	finishMatMul(p, n)
	return err
}

// loop is one node's parallel loop: task t over items [0, items) in
// chunks of at least grain items.
type loop struct {
	t            task
	items, grain int
}

// prepareMatMul readies matmul n's loop: its GEMV or GEMM task, with the
// x rows quantized for integer dot products where it takes them.
// finishMatMul clears the task after the loop.
func prepareMatMul(p *program, n *graph.Node) (loop, error) {
	if pw := p.packedW(n); pw != nil {
		return preparePacked(p, n, pw)
	}
	x, w := n.Inputs[0], n.Inputs[1]
	d := n.MatMulDims()
	xv, out := p.f32(x), p.f32(n)
	var wf []float32
	var wh []uint16
	var wb []byte
	switch w.DType {
	case graph.F32:
		wf = p.f32(w)
	case graph.F16:
		wh = p.u16(w)
	default:
		wb = p.bytesOf(w)
	}
	if useGEMV(d, w.DType) {
		t := &taskFor[matmulTasks](p, n).gemv
		*t = gemvTask{d: d, dt: w.DType, x: xv, out: out, wf: wf, wh: wh, wb: p.bytesOf(w)}
		if ab := matmulAct(n, d); ab > 0 {
			// Quantize each x row once; every thread reads them.
			t.act, t.actRow = p.shared[:d.Batches*d.M*ab], ab
			if err := quantizeInput(p, n, w.DType, xv, d.Batches*d.M, d.K, ab, t.act, false); err != nil {
				return loop{}, err
			}
		}
		groups := (d.N + gemvGroup - 1) / gemvGroup
		// About 64K multiply-adds per chunk, whatever the x rows.
		return loop{t, d.Batches * groups, max(1, 1<<16/(gemvGroup*max(d.K, 1)*d.M))}, nil
	}
	t := &taskFor[matmulTasks](p, n).gemm
	nt := gemmTileRows(d.K)
	var act []byte
	ab := matmulAct(n, d)
	if ab > 0 {
		nt = max(4, intTileBytes/int(d.WRowBytes)/4*4)
		if d.M <= gemvMaxRows {
			// A batched decode step: 8 tiles per thread at least, so
			// that the threads end close together.
			per := (d.Batches*d.N + 8*p.b.threads - 1) / (8 * p.b.threads)
			nt = min(nt, max(16, (per+3)/4*4))
		}
		act = p.shared[:d.Batches*d.M*ab]
		if err := quantizeInput(p, n, w.DType, xv, d.Batches*d.M, d.K, ab, act, false); err != nil {
			return loop{}, err
		}
	}
	tiles := (d.N + nt - 1) / nt
	blocks := 1
	if bt := d.Batches * tiles; bt < 2*p.b.threads {
		blocks = min((2*p.b.threads+bt-1)/bt, (d.M+3)/4)
	}
	*t = gemmTask{p: p, d: d, dt: w.DType, nt: nt, tiles: tiles, blocks: blocks,
		x: xv, out: out, wf: wf, wh: wh, wb: wb, act: act, actRow: ab}
	return loop{t, d.Batches * tiles * blocks, 1}, nil
}

// finishMatMul clears matmul n's task, so that it keeps no reference to
// bound buffers between runs.
func finishMatMul(p *program, n *graph.Node) {
	t := taskFor[matmulTasks](p, n)
	t.gemv, t.gemm, t.packed = gemvTask{}, gemmTask{}, packedTask{}
}
