package cpu

import (
	"fmt"
	"sync"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// Packed weights. Where the CPU runs quant's packed kernels (quant.Packable:
// Q8_0 and Q4_0 on the AVX-512 family), a weight that a program multiplies
// as the w of matmuls is repacked once into groups of 16 interleaved rows
// (quant.PackWeights) and every one of those matmuls, one x row or many,
// multiplies the packed copy (quant.GemmPacked; other nodes that read the
// weight read its bound bytes): the decode GEMV, the
// batched decode step and the prompt's GEMM then have one kernel family,
// which gives a row the same bits whatever the x rows beside it. The copy
// belongs to the bound buffer, made on the first run of a program that
// needs it and kept for every program that binds the same bytes; a write
// to the buffer drops the copies it overlaps. A buffer that wraps the
// caller's memory (a mapped model file) hands the pages it copied back to
// the kernel as each chunk is packed (releaseWith), so the packed copy
// replaces the mapped pages in the process's memory instead of sitting
// beside them.
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
	if !p.packedMM[p.index(n)] {
		return nil
	}
	return p.packed[p.index(n.Inputs[1])].b
}

// packedMatMul reports whether matmul n multiplies packed weights.
func (p *program) packedMatMul(n *graph.Node) bool { return p.packedMM[p.index(n)] }

// packedRef is one packed weight: its bytes in a chunk of packed memory,
// which the reference keeps alive.
type packedRef struct {
	mem *packedMem
	b   []byte
}

// packedAlign aligns each packed weight in its chunk.
const packedAlign = 64

// packedChunk is the size of the chunks packedArena maps (larger for a
// larger weight).
const packedChunk = 64 << 20

// packedArena hands out memory for packed weights from a few large chunks
// rather than a mapping per weight, whose last huge page would be mostly
// unused (a model's buffers hold one tensor each: 155 mappings made
// TinyLlama's packed weights take 755 MB of huge pages for 583 MB). A chunk
// is unmapped when every weight in it is released and a newer chunk is
// being filled.
type packedArena struct {
	mu     sync.Mutex
	cur    *packedMem
	used   int
	closed bool // the backend is closed: no chunk is kept for later weights
}

// alloc returns n bytes for a packed weight.
func (a *packedArena) alloc(n int) (packedRef, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	step := (n + packedAlign - 1) &^ (packedAlign - 1)
	if a.cur == nil || a.used+step > len(a.cur.b) {
		m, err := newPackedMem(max(packedChunk, (step+hugePage-1)&^(hugePage-1)))
		if err != nil {
			return packedRef{}, err
		}
		if a.cur != nil && a.cur.live == 0 {
			a.cur.free()
		}
		a.cur, a.used = m, 0
	}
	r := packedRef{mem: a.cur, b: a.cur.b[a.used : a.used+n : a.used+n]}
	a.used += step
	a.cur.live++
	return r, nil
}

// close unmaps the chunk being filled if nothing in it is live (the
// backend is closing; chunks still holding weights go when those are
// released, or are garbage).
func (a *packedArena) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.cur != nil && a.cur.live == 0 {
		a.cur.free()
		a.cur = nil
	}
}

// release gives r's memory back: its chunk is unmapped once nothing in it
// is live, unless it is the chunk being filled of an open backend.
func (a *packedArena) release(r packedRef) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.mem == nil {
		return
	}
	r.mem.live--
	if r.mem.live == 0 && (r.mem != a.cur || a.closed) {
		r.mem.free()
		if r.mem == a.cur {
			a.cur = nil
		}
	}
}

// packedFor returns the packed copies of the matrices keys name, in
// order, packing with pack those not packed yet into memory from the
// backend's packedArena; release: the source pages may be handed back
// (the buffer wraps the caller's memory, see releasePages).
func (h *hostBuffer) packedFor(keys []packedKey, pack func(key packedKey, dst, src []byte, release bool) error) ([]packedRef, error) {
	// h.mu before h.pmu, as Write and Free take them.
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.freed {
		return nil, fmt.Errorf("buffer is %w (freed)", backend.ErrClosed)
	}
	data := h.data
	h.pmu.Lock()
	defer h.pmu.Unlock()
	refs := make([]packedRef, len(keys))
	var missing []int
	for i, key := range keys {
		if r, ok := h.packs[key]; ok {
			refs[i] = r
			continue
		}
		rb, err := key.dt.RowBytes(int64(key.k))
		if err != nil {
			return nil, err
		}
		if src := int64(key.rows) * rb; key.off < 0 || key.off+src > int64(len(data)) {
			return nil, fmt.Errorf("%d bytes at offset %d are outside the %d-byte buffer", src, key.off, len(data))
		}
		missing = append(missing, i)
	}
	if len(missing) == 0 {
		return refs, nil
	}
	if h.packs == nil {
		h.packs = make(map[packedKey]packedRef)
	}
	for _, i := range missing {
		key := keys[i]
		r, err := h.owner.packs.alloc(quant.PackedBytes(key.dt, key.rows, key.k))
		if err != nil {
			return nil, err
		}
		rb, _ := key.dt.RowBytes(int64(key.k))
		src := data[key.off : key.off+int64(key.rows)*rb]
		if err := pack(key, r.b, src, h.wrapped); err != nil {
			h.owner.packs.release(r)
			return nil, err
		}
		refs[i] = r
		h.packs[key] = r
	}
	return refs, nil
}

// dropPacked releases the packed copies that overlap bytes [off, off+n).
// A program still pointing at one sees packGen move and resolves again
// before its next run touches it. The caller (Write) holds h.mu.
func (h *hostBuffer) dropPacked(off int64, n int) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	for key := range h.packs {
		rb, _ := key.dt.RowBytes(int64(key.k))
		if key.off < off+int64(n) && off < key.off+int64(key.rows)*rb {
			h.owner.packs.release(h.packs[key])
			delete(h.packs, key)
			h.packGen.Add(1)
		}
	}
}

// freePacked releases every packed copy (the buffer is freed; the caller
// holds h.mu).
func (h *hostBuffer) freePacked() {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	for _, r := range h.packs {
		h.owner.packs.release(r)
	}
	h.packs = nil
	h.packGen.Add(1)
}

// resolvePacked points each packed weight of p at its packed copy (after
// resolve), packing those not packed yet on the pool's threads. The copies
// of the last run stand while their buffer's copies are unchanged
// (packGen), so a run normally allocates nothing here.
func (p *program) resolvePacked() error {
	var byBuf map[*hostBuffer][]int
	for i := range p.g.Nodes {
		if !p.packable[i] {
			continue
		}
		h := p.binds[i].buf
		if p.packed[i].b != nil && p.packedGen[i] == h.packGen.Load() {
			continue
		}
		if byBuf == nil {
			byBuf = map[*hostBuffer][]int{}
		}
		byBuf[h] = append(byBuf[h], i)
	}
	for h, nodes := range byBuf {
		keys := make([]packedKey, len(nodes))
		for j, i := range nodes {
			n := p.g.Nodes[i]
			keys[j] = packedKey{off: p.binds[i].off, dt: n.DType, rows: int(n.Shape[0]), k: int(n.Shape[1])}
		}
		refs, err := h.packedFor(keys, func(key packedKey, dst, src []byte, release bool) error {
			t := &packTask{dt: key.dt, dst: dst, src: src, rows: key.rows, k: key.k, advice: -1}
			if release {
				t.advice = releaseAdvice(src)
			}
			groups := (key.rows + quant.PackedRows - 1) / quant.PackedRows
			return p.parallel(groups, 1, t)
		})
		if err != nil {
			return fmt.Errorf("cpu: run: packing weights: %w", err)
		}
		for j, i := range nodes {
			p.packed[i], p.packedGen[i] = refs[j], h.packGen.Load()
		}
	}
	return nil
}

// packTask packs the groups of rows of one weight (quant.PackWeights) on
// the pool's threads, each chunk handing its source pages back as soon as
// it is packed (advice ≥ 0, see releaseWith): the copy never sits beside
// the whole of a large weight's source (a 279 MB embedding packed last
// raised the peak RSS by up to 0.2 GB).
type packTask struct {
	dt       graph.DType
	dst, src []byte
	rows, k  int
	advice   int
}

func (t *packTask) run(lo, hi, _ int) error {
	gb := quant.PackedBytes(t.dt, quant.PackedRows, t.k)
	rb, err := t.dt.RowBytes(int64(t.k))
	if err != nil {
		return err
	}
	r0, r1 := lo*quant.PackedRows, min(hi*quant.PackedRows, t.rows)
	// src runs on to the weight's end: the packing may read past a
	// chunk's rows (not past the weight).
	if err := quant.PackWeights(t.dt, t.dst[lo*gb:hi*gb], t.src[int64(r0)*rb:], r1-r0, t.k); err != nil {
		return err
	}
	if t.advice >= 0 {
		releaseWith(t.src[int64(r0)*rb:int64(r1)*rb], t.advice)
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
	if err := quantizeInput(p, n, dt, p.f32(n.Inputs[0]), d.M, d.K, ab, act, true); err != nil {
		return loop{}, err
	}
	groups := (d.N + quant.PackedRows - 1) / quant.PackedRows
	tile := groups
	if d.M > 8 {
		tile = max(1, packedTileBytes/quant.PackedBytes(dt, quant.PackedRows, d.K))
	}
	t := &taskFor[matmulTasks](p, n).packed
	*t = packedTask{d: d, dt: dt, out: p.f32(n), w: w, act: act, actRow: ab, tile: tile}
	// About 64K multiply-adds per chunk at least, and 4 groups: a kernel
	// call costs its arguments' checks and a warm-up prefetch (8
	// sequences of 110m q8_0, 6 alternating rounds: 1,332 → 1,368
	// tokens/s with the 4-group floor).
	return loop{t, groups, max(4, 1<<16/(quant.PackedRows*max(d.K, 1)*d.M))}, nil
}
