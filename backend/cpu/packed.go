package cpu

import (
	"fmt"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// Packed weights. Where the CPU runs quant's packed kernels (quant.Packable:
// Q8_0 and Q4_0 on the AVX-512 family), a weight that a program reads only
// as the w of matmuls is repacked once into groups of 16 interleaved rows
// (quant.PackWeights) and every one of those matmuls, one x row or many,
// multiplies the packed copy (quant.GemmPacked): the decode GEMV, the
// batched decode step and the prompt's GEMM then have one kernel family,
// which gives a row the same bits whatever the x rows beside it. The copy
// belongs to the bound buffer, made on the first run of a program that
// needs it and kept for every program that binds the same bytes; a write
// to the buffer drops the copies it overlaps. A buffer that wraps the
// caller's memory (a mapped model file) hands the pages it copied back to
// the kernel after packing (releasePages), so the packed copy replaces
// the mapped pages in the process's memory instead of sitting beside them.
//
// The reference tier never packs.

// packedKey names a packed copy in a buffer: rows rows of k elements of
// type dt at byte offset off.
type packedKey struct {
	off     int64
	dt      graph.DType
	rows, k int
}

// packedMatMulRows is the fewest output rows a matmul needs for its
// weights to be packed: one group.
const packedMatMulRows = quant.PackedRows

// planPacked marks the matmuls of p's graph that multiply packed weights
// and the weights they pack: 2-D leaves of a packed type (that no view
// reads) as the w of a matmul with integer dot products (matmulAct) and
// at least one group of rows. Other nodes that read such a weight (the
// token embedding rows of a model whose output projection shares them)
// read its bound bytes as before.
func (p *program) planPacked() {
	nodes := p.g.Nodes
	p.packable = make([]bool, len(nodes))
	p.packedMM = make([]bool, len(nodes))
	if p.tier != fastTier {
		return
	}
	viewed := make([]bool, len(nodes))
	for i := range nodes {
		if r := p.root[i]; r != i {
			viewed[r] = true
		}
	}
	for i, n := range nodes {
		if n.Op != graph.OpMatMul {
			continue
		}
		w := n.Inputs[1]
		wi := p.idx[w]
		if w.Op != graph.OpWeight || w.Shape.Rank() != 2 || w.Offset != 0 || viewed[wi] || n.Inputs[0] == w ||
			!quant.Packable(w.DType, int(w.Shape.Last())) {
			continue
		}
		if d := n.MatMulDims(); d.Batches == 1 && d.N >= packedMatMulRows && matmulAct(n, d) > 0 {
			p.packedMM[i], p.packable[wi] = true, true
		}
	}
}

// packedW returns the packed copy of matmul n's weights during a run, nil
// when n does not multiply packed weights.
func (p *program) packedW(n *graph.Node) []byte {
	if !p.packedMM[p.idx[n]] {
		return nil
	}
	return p.packed[p.idx[n.Inputs[1]]]
}

// packedMatMul reports whether matmul n multiplies packed weights.
func (p *program) packedMatMul(n *graph.Node) bool { return p.packedMM[p.idx[n]] }

// packedFor returns the packed copy of the matrix key names, packing it
// on first use.
func (h *hostBuffer) packedFor(key packedKey) ([]byte, error) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	if w, ok := h.packs[key]; ok {
		return w, nil
	}
	data, live := h.bytes()
	rb, err := key.dt.RowBytes(int64(key.k))
	if err != nil {
		return nil, err
	}
	src := int64(key.rows) * rb
	if !live || key.off < 0 || key.off+src > int64(len(data)) {
		return nil, fmt.Errorf("%d bytes at offset %d are outside the buffer", src, key.off)
	}
	w := alignedBytes(quant.PackedBytes(key.dt, key.rows, key.k))
	if err := quant.PackWeights(key.dt, w, data[key.off:key.off+src], key.rows, key.k); err != nil {
		return nil, err
	}
	if h.packs == nil {
		h.packs = make(map[packedKey][]byte)
	}
	h.packs[key] = w
	if h.wrapped {
		releasePages(data[key.off : key.off+src])
	}
	return w, nil
}

// dropPacked forgets the packed copies that overlap bytes [off, off+n).
func (h *hostBuffer) dropPacked(off int64, n int) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	for key := range h.packs {
		rb, _ := key.dt.RowBytes(int64(key.k))
		if key.off < off+int64(n) && off < key.off+int64(key.rows)*rb {
			delete(h.packs, key)
		}
	}
}

// resolvePacked points each packed weight of p at its packed copy (after
// resolve).
func (p *program) resolvePacked() error {
	for i, n := range p.g.Nodes {
		if !p.packable[i] {
			continue
		}
		bd := p.binds[i]
		key := packedKey{off: bd.off, dt: n.DType, rows: int(n.Shape[0]), k: int(n.Shape[1])}
		w, err := bd.buf.packedFor(key)
		if err != nil {
			return fmt.Errorf("cpu: run: packing %s: %w", n, err)
		}
		p.packed[i] = w
	}
	return nil
}

// packedTask is a matmul over packed weights: one item is a group of
// quant.PackedRows weight rows; a chunk of items is multiplied by every x
// row, in tiles of weights that stay in L2 while the x rows pass when
// there are more x rows than one kernel call takes.
type packedTask struct {
	d      graph.MatMulDims
	dt     graph.DType
	out    []float32
	w      []byte
	act    []byte // the x rows quantized by quant.QuantizePackedAct
	actRow int
	tile   int // groups per kernel call
}

// packedTileBytes is the size of the weight tile a packed GEMM of many x
// rows multiplies by all of them before the next.
const packedTileBytes = 96 << 10

func (t *packedTask) run(lo, hi, _ int) error {
	d := t.d
	gb := quant.PackedBytes(t.dt, quant.PackedRows, d.K)
	for g0 := lo; g0 < hi; g0 += t.tile {
		g1 := min(g0+t.tile, hi)
		j0, j1 := g0*quant.PackedRows, min(g1*quant.PackedRows, d.N)
		quant.GemmPacked(t.dt, t.out[j0:], d.N, t.act, t.actRow, d.M, t.w[g0*gb:g1*gb], j1-j0, d.K)
	}
	return nil
}

// pairs reports whether runPair streams two runs of weights at once: one
// x row (a decode step), where a thread reading two places of memory
// reads faster than one.
func (t *packedTask) pairs() bool { return t.d.M == 1 }

// runPair computes items [lo1, hi1) and [lo2, hi2) as run does (see
// pairWith). The pool calls it only when pairs holds.
func (t *packedTask) runPair(lo1, hi1, lo2, hi2, slot int) error {
	return t.pairWith(t, lo1, hi1, lo2, hi2, slot)
}

// pairWith computes t's items [lo1, hi1) and u's items [lo2, hi2) as run
// does, side by side (quant.GemvPacked2) when u multiplies the same
// quantized x row (u is t, or a matmul of the same x in a node group):
// every output gets GemmPacked's bits either way.
func (t *packedTask) pairWith(u *packedTask, lo1, hi1, lo2, hi2, slot int) error {
	if t.dt != u.dt || t.d.K != u.d.K || t.d.M != 1 || u.d.M != 1 || !sameBytes(t.act, u.act) {
		if err := t.run(lo1, hi1, slot); err != nil {
			return err
		}
		return u.run(lo2, hi2, slot)
	}
	gb := quant.PackedBytes(t.dt, quant.PackedRows, t.d.K)
	j0, j1 := lo1*quant.PackedRows, min(hi1*quant.PackedRows, t.d.N)
	k0, k1 := lo2*quant.PackedRows, min(hi2*quant.PackedRows, u.d.N)
	quant.GemvPacked2(t.dt, t.out[j0:j1], t.w[lo1*gb:hi1*gb], j1-j0, u.out[k0:k1], u.w[lo2*gb:hi2*gb], k1-k0, t.act[:t.actRow], t.d.K)
	return nil
}

// preparePacked readies matmul n over its packed weights w: the x rows
// quantized once (shared with the matmuls of the same x before it in the
// run), one item per group of rows.
func preparePacked(p *program, n *graph.Node, w []byte) (loop, error) {
	d := n.MatMulDims()
	dt := n.Inputs[1].DType
	ab := quant.PackedActBytes(d.K)
	act := p.shared[:d.M*ab]
	key := quantKey{x: n.Inputs[0], dt: dt, rows: d.M, k: d.K, packed: true}
	if p.quantized != key {
		p.quantized = quantKey{}
		if err := quantizeRows(p, n, dt, p.f32(n.Inputs[0]), d.M, d.K, ab, act, true); err != nil {
			return loop{}, err
		}
		p.quantized = key
	}
	groups := (d.N + quant.PackedRows - 1) / quant.PackedRows
	tile := groups
	if d.M > 8 {
		tile = max(1, packedTileBytes/quant.PackedBytes(dt, quant.PackedRows, d.K))
	}
	t := &taskFor[matmulTasks](p, n).packed
	*t = packedTask{d: d, dt: dt, out: p.f32(n), w: w, act: act, actRow: ab, tile: tile}
	// About 64K multiply-adds per chunk at least, whatever the x rows.
	return loop{t, groups, max(1, 1<<16/(quant.PackedRows*max(d.K, 1)*d.M))}, nil
}
