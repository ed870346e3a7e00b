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

// gemvMaxRows is the most x rows a matmul over weights with a multi-row
// dot kernel (quant.HasDotRows: q8_0 and q4_0 on amd64) runs as a GEMV:
// each weight row is read once and multiplied by every x row with
// quant.DotRows, which gives each x row exactly what a one-row product
// gives it. A batched decode step of up to this many sequences then gives
// each sequence the bits it gets alone. On 768-wide rows in cache, DotRows
// of 8 x rows ran about as fast as the GEMM (q8_0 37 against 39 GB/s of
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

func matmulScratch(n *graph.Node) int {
	d := n.MatMulDims()
	if useGEMV(d, n.Inputs[1].DType) || n.Inputs[1].DType == graph.F32 {
		return 0
	}
	return gemmTileRows(d.K) * d.K
}

// useGEMV reports whether a matmul runs as GEMV tasks: one x row, or up to
// gemvMaxRows over weights with a multi-row dot kernel.
func useGEMV(d graph.MatMulDims, wt graph.DType) bool {
	return d.M < gemmMinRows || (d.M <= gemvMaxRows && quant.HasDotRows(wt))
}

// gemvTask is a matmul with one x row per batch (a decode step): one item
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

// gemvGroup is the number of consecutive weight rows of one GEMV item: f32
// rows are multiplied four at a time (quant.Dot4F32 shares the loads of x
// and the call overhead: +13 % on the 110M f32 decode step, +15 % on
// stories260K's, against one DotF32 per row). Items, not rows, are what the threads split, so
// every row is computed the same way whatever the thread count.
const gemvGroup = 4

func (t *gemvTask) run(lo, hi, _ int) error {
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
		if t.wf != nil && j1-j0 == 4 {
			w := t.wf[first*d.K : (first+4)*d.K]
			for i := 0; i < d.M; i++ {
				o := ob[i*d.N+j0 : i*d.N+j0+4]
				o[0], o[1], o[2], o[3] = quant.Dot4F32(xb[i*d.K:(i+1)*d.K],
					w[:d.K], w[d.K:2*d.K], w[2*d.K:3*d.K], w[3*d.K:])
			}
			continue
		}
		if t.wf == nil && t.wh == nil && d.M > 1 {
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
				xr := xb[i*d.K : (i+1)*d.K]
				switch {
				case t.wf != nil:
					ob[i*d.N+j] = quant.DotF32(xr, t.wf[r*d.K:(r+1)*d.K])
				case t.wh != nil:
					ob[i*d.N+j] = quant.DotF16(t.wh[r*d.K:(r+1)*d.K], xr)
				default:
					ob[i*d.N+j] = quant.Dot(t.dt, t.wb[int64(r)*d.WRowBytes:int64(r+1)*d.WRowBytes], xr)
				}
			}
		}
	}
	keep(sink)
	return nil
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
}

func (t *gemmTask) run(lo, hi, slot int) error {
	d := t.d
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
		t := taskFor[gemvTask](p, n)
		*t = gemvTask{d: d, dt: w.DType, x: xv, out: out, wf: wf, wh: wh, wb: p.bytesOf(w)}
		groups := (d.N + gemvGroup - 1) / gemvGroup
		// About 64K multiply-adds per chunk, whatever the x rows.
		err := p.parallel(d.Batches*groups, max(1, 1<<16/(gemvGroup*max(d.K, 1)*d.M)), t)
		*t = gemvTask{}
		return err
	}
	t := taskFor[gemmTask](p, n)
	nt := gemmTileRows(d.K)
	tiles := (d.N + nt - 1) / nt
	blocks := 1
	if bt := d.Batches * tiles; bt < 2*p.b.threads {
		blocks = min((2*p.b.threads+bt-1)/bt, (d.M+3)/4)
	}
	*t = gemmTask{p: p, d: d, dt: w.DType, nt: nt, tiles: tiles, blocks: blocks,
		x: xv, out: out, wf: wf, wh: wh, wb: wb}
	err := p.parallel(d.Batches*tiles*blocks, 1, t)
	*t = gemmTask{}
	return err
}
