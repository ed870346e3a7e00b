package cpu

import (
	"math"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// attnBlock is the number of keys whose scores fastAttention computes
// before it updates the running maxima, rescales the accumulators and adds
// the values: one rescale per block instead of one per new maximum.
const attnBlock = 128

// attnRows is the number of query rows (queries × heads of one kv group)
// the blocked attention path multiplies by each block of keys at once:
// each block of keys is decoded from f16 and its values transposed once
// for these rows (BenchmarkAttention, 32 query heads over 8 kv heads of
// 128: 32 rows 99–107 GFLOP/s, 64 rows 127–133, 128 rows 142–150, 256 no
// better).
const attnRows = 128

// attnKeys is the number of keys per block of the blocked path.
const attnKeys = 64

// attnPad is the multiple of keys the blocked path pads a block to: the
// lanes of the widest GemmF32 kernel (AVX-512, 16 floats), which has no
// tail then. attnKeys is a multiple of it.
const attnPad = 16

// attentionScratch is the per-thread scratch of fastAttention, the largest
// of its paths' needs. Per-query path: for the query heads of one kv
// group, the output accumulators, running maxima, running sums and the
// scores of one block of keys, then one key and one value row converted
// from f16 or bf16. Blocked path: see runBlocked. Split path: see runSplit.
func attentionScratch(n *graph.Node) int {
	a := n.AttentionDims()
	perQuery := a.Group*(a.Dv+2+attnBlock) + a.D + a.Dv
	r := blockRows(&a)
	blocked := r*a.D + attnKeys*a.D + r*attnKeys + a.Dv*attnKeys + 2*r*a.Dv + 2*r + a.Dv
	split := a.Hq * splitMaxKeys
	return max(perQuery, blocked, split)
}

// blockRows returns the query rows of one item of the blocked path: whole
// groups of heads for attnRows/group queries (at least one query).
func blockRows(a *graph.AttentionDims) int { return blockQueries(a) * a.Group }

// blockQueries returns the number of queries of one item of the blocked
// path.
func blockQueries(a *graph.AttentionDims) int { return min(max(1, attnRows/a.Group), a.Sq) }

// useBlocked reports whether attention with several queries takes the
// blocked path: when the queries of an item make enough rows for the
// matrix products to pay off.
func useBlocked(a *graph.AttentionDims) bool { return a.Sq > 1 && blockRows(a) >= 4 }

// attnTask is fused attention with an online softmax, reading only keys up
// to the causal limit and each key and value row (converted from f16 or
// bf16) once for all the query heads that share it. It has three paths, chosen from
// the shapes only (so results never depend on the thread count):
//
//   - one query (a decode step): split over blocks of keys, every head at
//     once (split, runSplit, combine);
//   - several queries (prefill): blocks of queries × blocks of keys as
//     matrix products (runBlocked);
//   - 2 or 3 queries without grouped heads: one item per (batch, query,
//     kv head), scores a block of keys at a time (run).
type attnTask struct {
	p      *program
	a      graph.AttentionDims
	scale  float32 // the node's Params.Scale
	mask   []float32
	pos    []int32
	q, out []float32
	kf, vf []float32
	kh, vh []uint16    // 16-bit K or V (F16 or BF16: kdt, vdt)
	kdt    graph.DType // K's dtype
	vdt    graph.DType // V's dtype
	// mode says what the items are: (batch, query, kv head) for the
	// per-query path, (batch, kv head, block of queries) for runBlocked,
	// (batch, block of keys, chunk of kv heads) for runSplit, (batch,
	// query head) for combine.
	mode attnMode
	// split path: keys per block, blocks, and each block's partial result,
	// kept across runs: per (batch, block), each query head's maximum and
	// sum (2·Hq floats), then each head's dv accumulators (Hq·dv floats,
	// the heads of a kv group side by side, as the group kernels take
	// them).
	splitKeys, splitBlocks int
	// splitChunks cuts each block's kv heads into this many items, so that
	// a step of one sequence and few blocks still has work for every
	// thread (a head's partial does not depend on the others').
	splitChunks int
	partials    []float32
}

// attnMode is the kind of item an attnTask is running.
type attnMode int

const (
	attnPerQuery attnMode = iota
	attnBlocked
	attnSplit
	attnCombine
)

func (t *attnTask) run(lo, hi, slot int) error {
	switch t.mode {
	case attnBlocked:
		return t.runBlocked(lo, hi, slot)
	case attnSplit:
		return t.runSplit(lo, hi, slot)
	case attnCombine:
		return t.combine(lo, hi)
	}
	a := &t.a
	G := a.Group
	sc := t.p.scratchFor(slot)
	acc, sc := sc[:G*a.Dv], sc[G*a.Dv:]
	mx, sc := sc[:G], sc[G:]
	sum, sc := sc[:G], sc[G:]
	scores, sc := sc[:G*attnBlock], sc[G*attnBlock:]
	kbuf, vbuf := sc[:a.D], sc[a.D:a.D+a.Dv]
	scale := t.scale
	negInf := float32(math.Inf(-1))
	for it := lo; it < hi; it++ {
		g := it % a.Hkv
		bi := it / a.Hkv // batch*sq + query
		b, i := bi/a.Sq, bi%a.Sq
		nk := a.Visible(i, t.pos)
		clear(acc)
		clear(sum)
		for h := range mx {
			mx[h] = negInf
		}
		qBase := (bi*a.Hq + g*G) * a.D
		for j0 := 0; j0 < nk; j0 += attnBlock {
			nb := min(attnBlock, nk-j0)
			// Scores of the block: scores[h*attnBlock+jj].
			for jj := range nb {
				kvRow := (b*a.Sk+j0+jj)*a.Hkv + g
				var kr []float32
				if t.kh != nil {
					decodeKV(t.kdt, kbuf, t.kh[kvRow*a.D:(kvRow+1)*a.D])
					kr = kbuf
				} else {
					kr = t.kf[kvRow*a.D : (kvRow+1)*a.D]
				}
				var m float32
				if t.mask != nil {
					m = t.mask[i*a.Sk+j0+jj]
				}
				for h := range G {
					s := scale * dotF32(t.q[qBase+h*a.D:qBase+(h+1)*a.D], kr)
					scores[h*attnBlock+jj] = s + m
				}
			}
			// New maxima, rescaled accumulators, weights e^(s−max).
			for h := range G {
				sh := scores[h*attnBlock : h*attnBlock+nb]
				bm := negInf
				for _, s := range sh {
					bm = max(bm, s)
				}
				if bm == negInf {
					clear(sh)
					continue
				}
				if bm > mx[h] {
					if mx[h] != negInf {
						corr := expf(mx[h] - bm)
						sum[h] *= corr
						ah := acc[h*a.Dv : (h+1)*a.Dv]
						quant.Scale(ah, corr, ah)
					}
					mx[h] = bm
				}
				sum[h] += quant.ExpSum(sh, mx[h])
			}
			// Weighted values.
			for jj := range nb {
				used := false
				for h := range G {
					if scores[h*attnBlock+jj] != 0 {
						used = true
						break
					}
				}
				if !used {
					continue
				}
				kvRow := (b*a.Sk+j0+jj)*a.Hkv + g
				var vr []float32
				if t.vh != nil {
					decodeKV(t.vdt, vbuf, t.vh[kvRow*a.Dv:(kvRow+1)*a.Dv])
					vr = vbuf
				} else {
					vr = t.vf[kvRow*a.Dv : (kvRow+1)*a.Dv]
				}
				for h := range G {
					if e := scores[h*attnBlock+jj]; e != 0 {
						axpyF32(e, vr, acc[h*a.Dv:(h+1)*a.Dv])
					}
				}
			}
		}
		for h := range G {
			o := t.out[(bi*a.Hq+g*G+h)*a.Dv : (bi*a.Hq+g*G+h+1)*a.Dv]
			if sum[h] == 0 {
				clear(o)
				continue
			}
			quant.Scale(o, 1/sum[h], acc[h*a.Dv:(h+1)*a.Dv])
		}
	}
	return nil
}

// fastAttention runs attnTask over every (batch, query, kv head).
func fastAttention(p *program, n *graph.Node) error {
	t := prepareAttention(p, n)
	a := &t.a
	var err error
	switch {
	case a.Sq == 1:
		err = t.split(p)
	case useBlocked(a):
		t.mode = attnBlocked
		items := a.Batch * a.Hkv * ((a.Sq + blockQueries(a) - 1) / blockQueries(a))
		err = p.parallel(items, attentionGrain(a, t.pos, items), t)
	default:
		t.mode = attnPerQuery
		items := a.Batch * a.Sq * a.Hkv
		err = p.parallel(items, attentionGrain(a, t.pos, items), t)
	}
	t.clear()
	return err
}

// prepareAttention fills attention node n's task with the node's inputs
// and output; clear empties it after its loops.
func prepareAttention(p *program, n *graph.Node) *attnTask {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	t := taskFor[attnTask](p, n)
	t.p, t.a, t.scale, t.q, t.out = p, n.AttentionDims(), n.Params.Scale, p.f32(q), p.f32(n)
	t.mask, t.pos = nil, nil
	if m := n.Mask(); m != nil {
		t.mask = p.f32(m)
	}
	if ps := n.Positions(); ps != nil {
		t.pos = p.i32(ps)
	}
	t.kf, t.kh, t.vf, t.vh = nil, nil, nil, nil
	t.kdt, t.vdt = k.DType, v.DType
	if k.DType != graph.F32 {
		t.kh = p.u16(k)
	} else {
		t.kf = p.f32(k)
	}
	if v.DType != graph.F32 {
		t.vh = p.u16(v)
	} else {
		t.vf = p.f32(v)
	}
	return t
}

// clear drops the task's references to the run's buffers.
func (t *attnTask) clear() {
	t.q, t.out, t.mask, t.pos, t.kf, t.kh, t.vf, t.vh = nil, nil, nil, nil, nil, nil, nil, nil
}

// attnGrainWork is the least work (multiply-adds) worth one chunk of an
// attention loop: splitting less costs more in thread hand-off than it
// saves (stories260K's 8-wide heads are the case in point).
const attnGrainWork = 1 << 15

// attentionGrain returns the number of items per chunk that gives each
// chunk about attnGrainWork multiply-adds.
func attentionGrain(a *graph.AttentionDims, pos []int32, items int) int {
	var keys int64 // keys read by one kv head over every query
	for i := 0; i < a.Sq; i++ {
		keys += int64(a.Visible(i, pos))
	}
	work := keys * int64(a.Batch*a.Hkv*a.Group*(a.D+a.Dv))
	if work <= 0 {
		return items
	}
	return int(max(1, int64(items)*attnGrainWork/work))
}

// smallVec is the length under which the attention inner loops run in Go
// rather than calling the assembly kernels (whose call and reduction
// overhead dominates for tiny heads).
const smallVec = 32

// dotF32 returns a·b over len(a) elements.
func dotF32(a, b []float32) float32 {
	if len(a) >= smallVec {
		return quant.DotF32(a, b)
	}
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// axpyF32 adds e·x to y (len(x) elements), rounding each product.
func axpyF32(e float32, x, y []float32) {
	if len(x) >= smallVec {
		quant.AXPY(e, x, y)
		return
	}
	y = y[:len(x)]
	for i, v := range x {
		y[i] += float32(e * v)
	}
}

// runBlocked is attention as blocked matrix products (the flash-attention
// scheme): one item is a block of queries of one kv head, whose rows (the
// queries × the group's query heads, gathered into Q) are multiplied by
// blocks of attnKeys keys at a time with quant.GemmF32 (S = Q·Kᵀ), the
// online softmax updates each row's maximum and sum once per block, and
// the weights times the block's values (P·V, with V transposed into
// scratch) are added to the row accumulators, again with GemmF32.
func (t *attnTask) runBlocked(lo, hi, slot int) error {
	a := &t.a
	G, d, dv := a.Group, a.D, a.Dv
	QB := blockQueries(a)
	R := QB * G
	nqb := (a.Sq + QB - 1) / QB
	sc := t.p.scratchFor(slot)
	qs, sc := sc[:R*d], sc[R*d:]
	ks, sc := sc[:attnKeys*d], sc[attnKeys*d:]
	sm, sc := sc[:R*attnKeys], sc[R*attnKeys:]
	vt, sc := sc[:dv*attnKeys], sc[dv*attnKeys:]
	tmp, sc := sc[:R*dv], sc[R*dv:]
	acc, sc := sc[:R*dv], sc[R*dv:]
	mx, sc := sc[:R], sc[R:]
	sum, sc := sc[:R], sc[R:]
	vbuf := sc[:dv]
	scale := t.scale
	negInf := float32(math.Inf(-1))
	for it := lo; it < hi; it++ {
		qb := it % nqb
		g := (it / nqb) % a.Hkv
		b := it / nqb / a.Hkv
		i0 := qb * QB
		nq := min(QB, a.Sq-i0)
		rows := nq * G
		nk := 0
		for ii := range nq {
			q := ((b*a.Sq+i0+ii)*a.Hq + g*G) * d
			copy(qs[ii*G*d:(ii+1)*G*d], t.q[q:q+G*d])
			nk = max(nk, a.Visible(i0+ii, t.pos))
		}
		clear(acc[:rows*dv])
		clear(sum[:rows])
		for r := range rows {
			mx[r] = negInf
		}
		for j0 := 0; j0 < nk; j0 += attnKeys {
			// The block's keys, padded with zero keys (whose weights are
			// 0) to a multiple of attnPad: every key's products then sit
			// in the same lanes of the GEMMs however many keys the block
			// has, so that a query's output does not depend on the
			// queries beside it (a prompt fed in other chunks).
			nv := min(attnKeys, nk-j0)
			nb := min(attnKeys, (nv+attnPad-1)/attnPad*attnPad)
			for jj := range nv {
				kvRow := (b*a.Sk+j0+jj)*a.Hkv + g
				if t.kh != nil {
					decodeKV(t.kdt, ks[jj*d:(jj+1)*d], t.kh[kvRow*d:(kvRow+1)*d])
				} else {
					copy(ks[jj*d:(jj+1)*d], t.kf[kvRow*d:(kvRow+1)*d])
				}
			}
			clear(ks[nv*d : nb*d])
			s := sm[:rows*nb]
			quant.GemmF32(s, nb, qs, rows, ks, nb, d)
			live := false
			for r := range rows {
				i := i0 + r/G
				sr := s[r*nb : (r+1)*nb]
				vis := min(max(a.Visible(i, t.pos)-j0, 0), nb)
				// The visible keys' scores scaled (and masked), the others
				// -Inf.
				quant.Scale(sr[:vis], scale, sr[:vis])
				if t.mask != nil {
					m := t.mask[i*a.Sk+j0 : i*a.Sk+j0+vis]
					for jj, v := range m {
						sr[jj] += v
					}
				}
				for jj := vis; jj < nb; jj++ {
					sr[jj] = negInf
				}
				bm := quant.MaxF32(sr[:vis])
				if bm == negInf {
					clear(sr)
					continue
				}
				live = true
				if bm > mx[r] {
					if mx[r] != negInf {
						corr := expf(mx[r] - bm)
						sum[r] *= corr
						ar := acc[r*dv : (r+1)*dv]
						quant.Scale(ar, corr, ar)
					}
					mx[r] = bm
				}
				sum[r] += quant.ExpSum(sr, mx[r])
			}
			if !live {
				continue
			}
			// vt[c*nb+jj] = V[j0+jj][c]
			w := vt[:dv*nb]
			for jj := nv; jj < nb; jj++ {
				for c := range dv {
					w[c*nb+jj] = 0
				}
			}
			for jj := range nv {
				kvRow := (b*a.Sk+j0+jj)*a.Hkv + g
				var vr []float32
				if t.vh != nil {
					decodeKV(t.vdt, vbuf, t.vh[kvRow*dv:(kvRow+1)*dv])
					vr = vbuf
				} else {
					vr = t.vf[kvRow*dv : (kvRow+1)*dv]
				}
				for c, v := range vr {
					w[c*nb+jj] = v
				}
			}
			quant.GemmF32(tmp[:rows*dv], dv, s, rows, w, dv, nb)
			quant.AXPY(1, tmp[:rows*dv], acc[:rows*dv])
		}
		for r := range rows {
			i, h := i0+r/G, r%G
			o := t.out[((b*a.Sq+i)*a.Hq+g*G+h)*dv : ((b*a.Sq+i)*a.Hq+g*G+h+1)*dv]
			if sum[r] == 0 {
				clear(o)
				continue
			}
			quant.Scale(o, 1/sum[r], acc[r*dv:(r+1)*dv])
		}
	}
	return nil
}

// splitMaxKeys is the most keys per block of the split path.
const splitMaxKeys = 256

// splitMinKeys is the fewest keys per block of the split path: each head
// of a block costs a few kernel calls, which a short block does not pay
// for (110m, 8 sequences at 72 cached positions: blocks of 16 keys spent
// more in the calls than in the products).
const splitMinKeys = 64

// splitKeys returns the keys per block of the split path for nk visible
// keys: about nk/16 (16 blocks to share among threads), at least
// splitMinKeys and at most splitMaxKeys. It depends only on nk, so results
// do not depend on the thread count or the batch.
func splitKeys(nk int) int { return min(max((nk+15)/16, splitMinKeys), splitMaxKeys) }

// splitItems is how many items the split path's blocks make at least
// (cutting their kv heads into chunks when the blocks are fewer).
const splitItems = 16

// split runs a decode step's attention (one query per batch) split over
// the keys (flash-decoding): each item is one block of keys for a chunk of
// the kv heads (splitChunks per block), giving a partial softmax per query
// head; combine then merges the blocks' partials in block order (with one
// block, up to splitMinKeys keys, each item merges its own heads: a
// second loop would cost the threads a hand-off for a copy and a scale).
func (t *attnTask) split(p *program) error {
	l, ok := t.splitLoop()
	if !ok {
		return nil
	}
	if err := p.parallel(l.items, l.grain, l.t); err != nil || t.splitBlocks == 1 {
		return err
	}
	l = t.combineLoop()
	return p.parallel(l.items, l.grain, l.t)
}

// splitLoop readies the first loop of the split path (blocks of keys);
// ok is false when no key is visible, the output then being zeros.
func (t *attnTask) splitLoop() (l loop, ok bool) {
	a := &t.a
	nk := a.Visible(0, t.pos)
	t.splitKeys = splitKeys(max(nk, 1))
	t.splitBlocks = (nk + t.splitKeys - 1) / t.splitKeys
	need := a.Batch * t.splitBlocks * a.Hq * (a.Dv + 2)
	if len(t.partials) < need {
		// Sized for the whole cache, so that later (longer) steps reuse
		// it: at most 16 blocks up to 16·splitMaxKeys keys, then blocks
		// of splitMaxKeys.
		most := max(16, (a.Sk+splitMaxKeys-1)/splitMaxKeys)
		t.partials = make([]float32, max(need, a.Batch*most*a.Hq*(a.Dv+2)))
	}
	if t.splitBlocks == 0 {
		for i := range t.out {
			t.out[i] = 0
		}
		return loop{}, false
	}
	t.mode = attnSplit
	blocks := a.Batch * t.splitBlocks
	t.splitChunks = min(a.Hkv, max(1, (splitItems+blocks-1)/blocks))
	items := blocks * t.splitChunks
	work := int64(t.splitKeys) * int64(a.Hq*(a.D+a.Dv)) / int64(t.splitChunks)
	return loop{t, items, int(max(1, attnGrainWork/max(work, 1)))}, true
}

// combineLoop readies the second loop of the split path, which merges
// the blocks' partials per (batch, query head).
func (t *attnTask) combineLoop() loop {
	a := &t.a
	t.mode = attnCombine
	return loop{t, a.Batch * a.Hq, max(1, attnGrainWork/(t.splitBlocks*a.Dv))}
}

// runSplit computes items [lo, hi) of the split path (a block of keys and
// a chunk of its kv heads): for each query head of the chunk, the block's
// maximum score, the sum of e^(s−max) and the weighted sum of the values,
// into partials.
func (t *attnTask) runSplit(lo, hi, slot int) error {
	a := &t.a
	G, d, dv, hkv := a.Group, a.D, a.Dv, a.Hkv
	KB := t.splitKeys
	nk := a.Visible(0, t.pos)
	sc := t.p.scratchFor(slot)
	scores := sc[:a.Hq*KB]
	scale := t.scale
	negInf := float32(math.Inf(-1))
	// With grouped query heads and an f16 cache, the heads of a kv group
	// take its rows together (each f16 row converted once for them).
	grouped := G > 1 && t.kdt == graph.F16 && t.vdt == graph.F16
	for it := lo; it < hi; it++ {
		c := it % t.splitChunks
		b, blk := it/t.splitChunks/t.splitBlocks, it/t.splitChunks%t.splitBlocks
		g0, g1 := c*hkv/t.splitChunks, (c+1)*hkv/t.splitChunks // the chunk's kv heads
		h0, h1 := g0*G, g1*G
		j0 := blk * KB
		nb := min(KB, nk-j0)
		q := t.q[b*a.Hq*d : (b+1)*a.Hq*d]
		base := b*a.Sk + j0 // the block's first cache row (all kv heads of a position)
		// The block's rows of the chunk's kv heads, K now and V before the
		// weighted sums: each head's strided run of rows would start cold
		// (8 sequences of 110m: +2 % a step in 60-round in-process A/B).
		prefetchKV(t.kh, t.kf, (base*hkv+g0)*d, hkv*d, nb, (g1-g0)*d)
		if grouped {
			// The G query heads of a kv group read its key rows together.
			for g := g0; g < g1; g++ {
				quant.DotRowsGroupF16(q[g*G*d:(g+1)*G*d], G, t.kh[(base*hkv+g)*d:], hkv*d, nb, scores[g*G*KB:], KB)
			}
		}
		for h := h0; h < h1; h++ {
			g := h / G
			sh := scores[h*KB : h*KB+nb]
			switch {
			case grouped:
			case t.kh != nil:
				dotRowsKV(t.kdt, q[h*d:(h+1)*d], t.kh[(base*hkv+g)*d:], hkv*d, sh)
			default:
				quant.DotRowsF32(q[h*d:(h+1)*d], t.kf[(base*hkv+g)*d:], hkv*d, sh)
			}
			if t.mask != nil {
				m := t.mask[j0 : j0+nb]
				for jj, v := range sh {
					sh[jj] = scale*v + m[jj]
				}
			} else {
				quant.Scale(sh, scale, sh)
			}
		}
		part := t.partials[(b*t.splitBlocks+blk)*a.Hq*(dv+2):][:a.Hq*(dv+2)]
		acc := part[2*a.Hq:]
		for h := h0; h < h1; h++ {
			sh := scores[h*KB : h*KB+nb]
			bm := quant.MaxF32(sh)
			var total float32
			if bm == negInf {
				clear(sh)
			} else {
				total = quant.ExpSum(sh, bm)
			}
			part[2*h] = bm
			part[2*h+1] = total
		}
		prefetchKV(t.vh, t.vf, (base*hkv+g0)*dv, hkv*dv, nb, (g1-g0)*dv)
		clear(acc[h0*dv : h1*dv])
		for g := g0; grouped && g < g1; g++ {
			quant.AXPYRowsGroupF16(scores[g*G*KB:], KB, G, t.vh[(base*hkv+g)*dv:], hkv*dv, nb, acc[g*G*dv:(g+1)*G*dv])
		}
		for h := h0; !grouped && h < h1; h++ {
			g := h / G
			sh, ah := scores[h*KB:h*KB+nb], acc[h*dv:(h+1)*dv]
			if t.vh != nil {
				axpyRowsKV(t.vdt, sh, t.vh[(base*hkv+g)*dv:], hkv*dv, ah)
			} else {
				quant.AXPYRowsF32(sh, t.vf[(base*hkv+g)*dv:], hkv*dv, ah)
			}
		}
		if t.splitBlocks == 1 {
			// The heads' only block: merged here, the same arithmetic
			// as the combine loop, which the step then skips.
			for h := h0; h < h1; h++ {
				t.combineHead(b, h)
			}
		}
	}
	return nil
}

// combine merges the split path's partials of items [lo, hi) (batch, query
// head) in block order (combineHead).
func (t *attnTask) combine(lo, hi int) error {
	for it := lo; it < hi; it++ {
		t.combineHead(it/t.a.Hq, it%t.a.Hq)
	}
	return nil
}

// combineHead merges the partials of batch b's query head h in block
// order: with M the largest block maximum, the output is
// Σ acc·e^(max−M) / Σ sum·e^(max−M); zeros when no key is visible.
func (t *attnTask) combineHead(b, h int) {
	a := &t.a
	dv := a.Dv
	negInf := float32(math.Inf(-1))
	o := t.out[(b*a.Hq+h)*dv : (b*a.Hq+h+1)*dv]
	M := negInf
	for blk := range t.splitBlocks {
		M = max(M, t.partials[(b*t.splitBlocks+blk)*a.Hq*(dv+2)+2*h])
	}
	clear(o)
	if M == negInf {
		return
	}
	var total float32
	for blk := range t.splitBlocks {
		part := t.partials[(b*t.splitBlocks+blk)*a.Hq*(dv+2):]
		if part[2*h] == negInf {
			continue
		}
		c := expf(part[2*h] - M)
		total += c * part[2*h+1]
		axpyF32(c, part[2*a.Hq+h*dv:2*a.Hq+(h+1)*dv], o)
	}
	if total == 0 {
		clear(o)
		return
	}
	quant.Scale(o, 1/total, o)
}

// dotRowsKV is quant.DotRowsF16 or quant.DotRowsBF16 for the 16-bit KV
// cache rows of dtype dt.
func dotRowsKV(dt graph.DType, q []float32, rows []uint16, stride int, out []float32) {
	if dt == graph.BF16 {
		quant.DotRowsBF16(q, rows, stride, out)
		return
	}
	quant.DotRowsF16(q, rows, stride, out)
}

// axpyRowsKV is quant.AXPYRowsF16 or quant.AXPYRowsBF16 for the 16-bit KV
// cache rows of dtype dt.
func axpyRowsKV(dt graph.DType, e []float32, rows []uint16, stride int, acc []float32) {
	if dt == graph.BF16 {
		quant.AXPYRowsBF16(e, rows, stride, acc)
		return
	}
	quant.AXPYRowsF16(e, rows, stride, acc)
}

// prefetchKVBytes is the most that prefetchKV asks for: about the L1
// data cache. A longer block's rows are left to the kernels' own
// prefetches, which run ahead of the rows they read (prefetching the
// first 64 KiB of 110m's 196 KiB blocks at 4,096 cached positions made
// the step slower).
const prefetchKVBytes = 64 << 10

// prefetchKV prefetches n cache rows of width elements, stride apart from
// element at, of the 16-bit cache h or else the float32 cache f, when
// they take at most prefetchKVBytes.
func prefetchKV(h []uint16, f []float32, at, stride, n, width int) {
	switch {
	case h != nil && 2*n*width <= prefetchKVBytes:
		quant.PrefetchRows(h[at:], stride, n, width)
	case h == nil && 4*n*width <= prefetchKVBytes:
		quant.PrefetchRows(f[at:], stride, n, width)
	}
}
