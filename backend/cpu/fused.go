package cpu

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// Kernels of the fused ops (graph/fused.go): rms_norm_mul, rope_kv_write
// and matmul_fused, in both tiers. The reference computes each as its
// unfused composition in float64; the fast tier in float32 with the vector
// kernels of package quant.

// refRMSNormMul normalises each row in float64 and multiplies by w.
func refRMSNormMul(p *program, n *graph.Node) error {
	eps := float64(n.Params.Eps)
	w := p.f32(n.Inputs[1])
	refRows(p, n, func(_ int, x, out []float32) {
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(ss/float64(len(x))+eps)
		for i, v := range x {
			out[i] = float32(float64(v) * inv * float64(w[i]))
		}
	})
	return nil
}

// fastRMSNormMul is rms_norm followed by the weight multiply, per row.
func fastRMSNormMul(p *program, n *graph.Node) error {
	t := taskFor[rowsTask](p, n)
	last := n.Shape.Last()
	*t = rowsTask{op: graph.OpRMSNormMul, x: p.f32(n.Inputs[0]), out: p.f32(n), last: last, eps: n.Params.Eps, w: p.f32(n.Inputs[1])}
	err := p.parallel(len(t.x)/last, max(1, elemGrain/last), t)
	*t = rowsTask{}
	return err
}

// ropeKVRows returns the checked positions of a rope_kv_write node.
func ropeKVPositions(p *program, n *graph.Node) ([]int32, error) {
	ctx := n.Inputs[0].Shape[0]
	pv := p.i32(n.Inputs[2])
	for i, ps := range pv {
		if ps < 0 || int(ps) >= ctx {
			return nil, fmt.Errorf("position %d at index %d is outside the cache's rows [0, %d)", ps, i, ctx)
		}
	}
	return pv, nil
}

// ropeKVWrite rotates each row of x (as refRoPE does, angles from freq)
// and stores it at its position's cache row. Rows are written in order so
// that a repeated position keeps the last row.
func ropeKVWrite(p *program, n *graph.Node, freq func(i int) float64, row []float32) error {
	pv, err := ropeKVPositions(p, n)
	if err != nil {
		return err
	}
	cache, x := n.Inputs[0], n.Inputs[1]
	rp := n.Params.RoPE
	heads, hd := x.Shape[1], x.Shape[2]
	rowLen := heads * hd
	xv := p.f32(x)
	for s, ps := range pv {
		copy(row, xv[s*rowLen:(s+1)*rowLen])
		for h := 0; h < heads; h++ {
			base := h * hd
			for i := 0; i < rp.Dims/2; i++ {
				sin, cos := math.Sincos(float64(ps) * freq(i))
				i0, i1 := rp.Mode.Pair(i, rp.Dims)
				x0, x1 := float64(xv[s*rowLen+base+i0]), float64(xv[s*rowLen+base+i1])
				row[base+i0] = float32(x0*cos - x1*sin)
				row[base+i1] = float32(x0*sin + x1*cos)
			}
		}
		switch cache.DType {
		case graph.F32:
			copy(p.f32(cache)[int(ps)*rowLen:], row)
		case graph.F16, graph.BF16:
			encodeKV(cache.DType, p.u16(cache)[int(ps)*rowLen:(int(ps)+1)*rowLen], row)
		default:
			return fmt.Errorf("cache dtype %s is not supported", cache.DType)
		}
	}
	return nil
}

// refRoPEKVWrite computes every angle in float64 as refRoPE does.
func refRoPEKVWrite(p *program, n *graph.Node) error {
	rp := n.Params.RoPE
	var ff []float32
	if n.Params.HasFreqFactors {
		ff = p.f32(n.Inputs[3])
	}
	freq := func(i int) float64 {
		factor := 1.0
		if ff != nil {
			factor = float64(ff[i])
		}
		return ropeFreq(rp, i, factor)
	}
	return ropeKVWrite(p, n, freq, p.scratchFor(0)[:n.Inputs[1].Shape[1]*n.Inputs[1].Shape[2]])
}

// ropeKVTask keeps the frequency table of a fast rope_kv_write node.
type ropeKVTask struct {
	freq   []float64
	lastFF []float32
	ok     bool
}

// fastRoPEKVWrite caches the frequency table between runs (recomputed
// when the frequency factors change).
func fastRoPEKVWrite(p *program, n *graph.Node) error {
	t := taskFor[ropeKVTask](p, n)
	rp := n.Params.RoPE
	var ff []float32
	if n.Params.HasFreqFactors {
		ff = p.f32(n.Inputs[3])
	}
	if !t.ok || !sameF32(ff, t.lastFF) {
		t.freq = make([]float64, rp.Dims/2)
		for i := range t.freq {
			factor := 1.0
			if ff != nil {
				factor = float64(ff[i])
			}
			t.freq[i] = ropeFreq(rp, i, factor)
		}
		t.lastFF = append(t.lastFF[:0], ff...)
		t.ok = true
	}
	return ropeKVWrite(p, n, func(i int) float64 { return t.freq[i] }, p.scratchFor(0)[:n.Inputs[1].Shape[1]*n.Inputs[1].Shape[2]])
}

// fusedRowsScratch is the per-thread float32 scratch of rope_kv_write.
func fusedScratch(n *graph.Node) int {
	if n.Op == graph.OpRoPEKVWrite {
		x := n.Inputs[1]
		return x.Shape[1] * x.Shape[2]
	}
	return 0
}

// fusedNormRow sets h = x / sqrt(mean(x²)+eps) ⊙ g in float64 (ref) and
// rounds to float32, as the unfused rms_norm_mul's output is.
func fusedNormRow64(h, x, g []float32, eps float64) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := 1 / math.Sqrt(ss/float64(len(x))+eps)
	for i, v := range x {
		h[i] = float32(float64(v) * inv * float64(g[i]))
	}
}

// refMatMulFused computes each product as a float64 dot of the (normed)
// row of x with a weight row, then the epilogue in float64.
func refMatMulFused(p *program, n *graph.Node) error {
	x, norm, ws, res := n.FusedInputs()
	d := n.FusedDims()
	f := n.Params.Fused
	xv, out := p.f32(x), p.f32(n)
	var rv []float32
	if res != nil {
		rv = p.f32(res)
	}
	h := make([]float32, d.K)
	for r := 0; r < d.Rows; r++ {
		xr := xv[r*d.K : (r+1)*d.K]
		if norm != nil {
			fusedNormRow64(h, xr, p.f32(norm), float64(n.Params.Eps))
		} else {
			copy(h, xr)
		}
		o := out[r*d.Cols : (r+1)*d.Cols]
		dot := func(w *graph.Node, j int) float64 {
			return quant.DotF64(w.DType, p.bytesOf(w)[int64(j)*d.WRowBytes:], h)
		}
		if f.SwiGLU {
			for j := 0; j < d.Cols; j++ {
				v := silu64(dot(ws[0], j)) * dot(ws[1], j)
				if rv != nil {
					v += float64(rv[r*d.Cols+j])
				}
				o[j] = float32(v)
			}
			continue
		}
		c := 0
		for i, w := range ws {
			for j := 0; j < d.N[i]; j++ {
				v := dot(w, j)
				if rv != nil {
					v += float64(rv[r*d.Cols+c])
				}
				o[c] = float32(v)
				c++
			}
		}
	}
	return nil
}

// fusedTask is a fast matmul_fused: the normed rows of x are made once
// (single-threaded; they are few), then the output columns are split
// among threads in groups, each a float32 dot per row.
type fusedTask struct {
	n      *graph.Node
	p      *program
	d      graph.FusedDims
	h      []float32 // normed rows (kept between runs)
	out    []float32
	res    []float32
	starts []int // first output column of each weight
}

const fusedColGroup = 16

func (t *fusedTask) dot(w *graph.Node, j int, hr []float32) float32 {
	k := t.d.K
	switch w.DType {
	case graph.F32:
		return quant.DotF32(hr, t.p.f32(w)[j*k:(j+1)*k])
	case graph.F16:
		return quant.DotF16(t.p.u16(w)[j*k:(j+1)*k], hr)
	}
	return quant.Dot(w.DType, t.p.bytesOf(w)[int64(j)*t.d.WRowBytes:int64(j+1)*t.d.WRowBytes], hr)
}

func (t *fusedTask) run(lo, hi, _ int) error {
	_, _, ws, _ := t.n.FusedInputs()
	f := t.n.Params.Fused
	d := t.d
	for it := lo; it < hi; it++ {
		for c := it * fusedColGroup; c < min((it+1)*fusedColGroup, d.Cols); c++ {
			w, j := ws[0], c
			if !f.SwiGLU {
				for i := len(ws) - 1; i >= 0; i-- {
					if c >= t.starts[i] {
						w, j = ws[i], c-t.starts[i]
						break
					}
				}
			}
			for r := 0; r < d.Rows; r++ {
				hr := t.h[r*d.K : (r+1)*d.K]
				v := t.dot(w, j, hr)
				if f.SwiGLU {
					v = v / (1 + expf(-v)) * t.dot(ws[1], j, hr)
				}
				if t.res != nil {
					v += t.res[r*d.Cols+c]
				}
				t.out[r*d.Cols+c] = v
			}
		}
	}
	return nil
}

func fastMatMulFused(p *program, n *graph.Node) error {
	x, norm, ws, res := n.FusedInputs()
	t := taskFor[fusedTask](p, n)
	d := n.FusedDims()
	t.n, t.p, t.d, t.out = n, p, d, p.f32(n)
	t.res = nil
	if res != nil {
		t.res = p.f32(res)
	}
	if len(t.h) != d.Rows*d.K {
		t.h = make([]float32, d.Rows*d.K)
	}
	xv := p.f32(x)
	if norm != nil {
		g := p.f32(norm)
		for r := 0; r < d.Rows; r++ {
			xr, hr := xv[r*d.K:(r+1)*d.K], t.h[r*d.K:(r+1)*d.K]
			inv := float32(1 / math.Sqrt(float64(quant.DotF32(xr, xr)/float32(d.K)+n.Params.Eps)))
			for i, v := range xr {
				hr[i] = v * inv * g[i]
			}
		}
	} else {
		copy(t.h, xv[:d.Rows*d.K])
	}
	t.starts = t.starts[:0]
	c := 0
	for i := range ws {
		t.starts = append(t.starts, c)
		c += d.N[i]
	}
	groups := (d.Cols + fusedColGroup - 1) / fusedColGroup
	err := p.parallel(groups, max(1, 1<<16/(fusedColGroup*max(d.K, 1)*d.Rows)), t)
	t.out, t.res = nil, nil
	return err
}
