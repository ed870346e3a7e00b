package cpu

import (
	"fmt"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// gemmMinRows is the number of x rows from which a matmul dequantizes tiles
// of w once and reuses them for every row (GEMM) instead of running a fused
// dequantize-dot per row and output (GEMV).
const gemmMinRows = 4

// gemmTileBytes is the target size of one dequantized tile of w rows.
const gemmTileBytes = 256 << 10

// gemmTileRows returns the number of w rows per GEMM tile for inner size k:
// a multiple of 4 between 4 and 64 whose float32 rows fill about
// gemmTileBytes.
func gemmTileRows(k int) int {
	nt := gemmTileBytes / (4 * k)
	return min(max(nt/4*4, 4), 64)
}

func matmulScratch(n *graph.Node) int {
	d := matmulShape(n)
	if d.m < gemmMinRows || n.Inputs[1].DType == graph.F32 {
		return 0
	}
	return gemmTileRows(d.k) * d.k
}

func fastMatMul(p *program, n *graph.Node) error {
	x, w := n.Inputs[0], n.Inputs[1]
	d := matmulShape(n)
	xv, wb, out := p.f32(x), p.bytesOf(w), p.f32(n)
	dt := w.DType
	if d.m < gemmMinRows {
		// GEMV: one fused dequantize-dot per weight row and x row.
		items := d.batches * d.n
		grain := max(1, 1<<16/max(d.k, 1))
		if dt == graph.F32 {
			wf := p.f32(w)
			return p.parallel(items, grain, func(lo, hi, _ int) error {
				for it := lo; it < hi; it++ {
					b, j := it/d.n, it%d.n
					row := wf[it*d.k : (it+1)*d.k]
					for i := 0; i < d.m; i++ {
						out[(b*d.m+i)*d.n+j] = dot32(xv[(b*d.m+i)*d.k:(b*d.m+i+1)*d.k], row)
					}
				}
				return nil
			})
		}
		if dt == graph.F16 {
			wh, tab := p.u16(w), p.b.f16Table()
			return p.parallel(items, grain, func(lo, hi, _ int) error {
				for it := lo; it < hi; it++ {
					b, j := it/d.n, it%d.n
					row := wh[it*d.k : (it+1)*d.k]
					for i := 0; i < d.m; i++ {
						out[(b*d.m+i)*d.n+j] = dotF16(tab, xv[(b*d.m+i)*d.k:(b*d.m+i+1)*d.k], row)
					}
				}
				return nil
			})
		}
		return p.parallel(items, grain, func(lo, hi, _ int) error {
			for it := lo; it < hi; it++ {
				b, j := it/d.n, it%d.n
				row := wb[int64(it)*d.rowBytes : int64(it+1)*d.rowBytes]
				for i := 0; i < d.m; i++ {
					xr := xv[(b*d.m+i)*d.k : (b*d.m+i+1)*d.k]
					out[(b*d.m+i)*d.n+j] = quant.Dot(dt, row, xr)
				}
			}
			return nil
		})
	}
	// GEMM: each item is a tile of nt weight rows of one batch, decoded once
	// into scratch (or read in place for f32) and multiplied by a block of
	// x rows. x is cut into blocks only when there are too few tiles to
	// keep every thread busy; outputs never depend on the cut.
	nt := gemmTileRows(d.k)
	tiles := (d.n + nt - 1) / nt
	mBlocks := 1
	if bt := d.batches * tiles; bt < 2*p.b.threads {
		mBlocks = min((2*p.b.threads+bt-1)/bt, (d.m+3)/4)
	}
	var wf []float32
	var wh []uint16
	var tab *[1 << 16]float32
	switch dt {
	case graph.F32:
		wf = p.f32(w)
	case graph.F16:
		wh, tab = p.u16(w), p.b.f16Table()
	}
	return p.parallel(d.batches*tiles*mBlocks, 1, func(lo, hi, slot int) error {
		for it := lo; it < hi; it++ {
			mb := it % mBlocks
			b, t := (it/mBlocks)/tiles, (it/mBlocks)%tiles
			j0 := t * nt
			rows := min(nt, d.n-j0)
			first := b*d.n + j0
			var tile []float32
			switch {
			case wf != nil:
				tile = wf[first*d.k : (first+rows)*d.k]
			case wh != nil:
				tile = p.scratchFor(slot)[:rows*d.k]
				f16Row(tab, wh[first*d.k:(first+rows)*d.k], tile)
			default:
				tile = p.scratchFor(slot)[:rows*d.k]
				src := wb[int64(first)*d.rowBytes : int64(first+rows)*d.rowBytes]
				if err := quant.Dequantize(dt, src, tile); err != nil {
					return fmt.Errorf("weight rows %d..%d: %w", first, first+rows-1, err)
				}
			}
			i0, i1 := mb*d.m/mBlocks, (mb+1)*d.m/mBlocks
			xb := xv[(b*d.m+i0)*d.k : (b*d.m+i1)*d.k]
			ob := out[(b*d.m+i0)*d.n : (b*d.m+i1)*d.n]
			gemmTile(xb, tile, ob, i1-i0, d.n, d.k, j0, rows)
		}
		return nil
	})
}

// gemmTile computes out[i][j0+r] = x[i]·tile[r] for every row i of x and
// the rows r of tile. out has n columns.
func gemmTile(x, tile, out []float32, m, n, k, j0, rows int) {
	for i := 0; i < m; i++ {
		xr := x[i*k : (i+1)*k]
		or := out[i*n+j0 : i*n+j0+rows]
		r := 0
		for ; r+4 <= rows; r += 4 {
			or[r], or[r+1], or[r+2], or[r+3] = dot4(xr,
				tile[r*k:(r+1)*k], tile[(r+1)*k:(r+2)*k],
				tile[(r+2)*k:(r+3)*k], tile[(r+3)*k:(r+4)*k])
		}
		for ; r < rows; r++ {
			or[r] = dot32(xr, tile[r*k:(r+1)*k])
		}
	}
}

// dot4 returns x·w0, x·w1, x·w2 and x·w3, sharing the loads of x.
func dot4(x, w0, w1, w2, w3 []float32) (float32, float32, float32, float32) {
	n := len(x)
	w0, w1, w2, w3 = w0[:n], w1[:n], w2[:n], w3[:n]
	var s0, s1, s2, s3 float32
	for i, v := range x {
		s0 += v * w0[i]
		s1 += v * w1[i]
		s2 += v * w2[i]
		s3 += v * w3[i]
	}
	return s0, s1, s2, s3
}

// dot32 returns x·y with four float32 accumulators.
func dot32(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b := x[i:i+4:i+4], y[i:i+4:i+4]
		s0 += a[0] * b[0]
		s1 += a[1] * b[1]
		s2 += a[2] * b[2]
		s3 += a[3] * b[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}
