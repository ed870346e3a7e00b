package cpu

import (
	"math"

	"github.com/golem-llm/golem/graph"
)

// The fast tier: multi-threaded over rows and heads with a fixed partition
// of independent items (no reduction is ever split across threads, so
// results do not depend on the thread count), float32 accumulation.

var fastTier = &tier{
	name:    "fast",
	kernels: fastKernels(),
	scratch: fastScratch,
}

func fastKernels() map[graph.Op]kernel {
	ks := moveKernels()
	ks[graph.OpMatMul] = fastMatMul
	ks[graph.OpAdd] = fastAdd
	ks[graph.OpMul] = fastMul
	ks[graph.OpScale] = fastScale
	ks[graph.OpRMSNorm] = fastRMSNorm
	ks[graph.OpLayerNorm] = fastLayerNorm
	ks[graph.OpSiLU] = fastSiLU
	ks[graph.OpGELU] = fastGELU
	ks[graph.OpSwiGLU] = fastSwiGLU
	ks[graph.OpSoftmax] = fastSoftmax
	ks[graph.OpRoPE] = fastRoPE
	ks[graph.OpAttention] = fastAttention
	return ks
}

func fastScratch(n *graph.Node) (int, int) {
	switch n.Op {
	case graph.OpMatMul:
		return matmulScratch(n), 0
	case graph.OpAttention:
		return attentionScratch(n), 0
	case graph.OpRoPE:
		return n.Params.RoPE.Dims, 0
	}
	return moveScratch(n), 0
}

// elemGrain is the number of elements below which an elementwise loop is
// not worth splitting.
const elemGrain = 1 << 14

// fastElementwise applies f to chunks of x and the matching chunks of n.
func fastElementwise(p *program, n *graph.Node, f func(x, out []float32)) error {
	xv, out := p.f32(n.Inputs[0]), p.f32(n)
	return p.parallel(len(xv), elemGrain, func(lo, hi, _ int) error {
		f(xv[lo:hi], out[lo:hi])
		return nil
	})
}

func fastScale(p *program, n *graph.Node) error {
	s := n.Params.Scale
	return fastElementwise(p, n, func(x, out []float32) {
		out = out[:len(x)]
		for i, v := range x {
			out[i] = s * v
		}
	})
}

func silu32(v float32) float32 { return v / (1 + float32(math.Exp(float64(-v)))) }

func fastSiLU(p *program, n *graph.Node) error {
	return fastElementwise(p, n, func(x, out []float32) {
		out = out[:len(x)]
		for i, v := range x {
			out[i] = silu32(v)
		}
	})
}

func fastGELU(p *program, n *graph.Node) error {
	const c = 0.7978845608028654 // sqrt(2/pi)
	return fastElementwise(p, n, func(x, out []float32) {
		out = out[:len(x)]
		for i, v := range x {
			t := float32(math.Tanh(float64(c * (v + 0.044715*v*v*v))))
			out[i] = 0.5 * v * (1 + t)
		}
	})
}

// fastBinary computes out = f(x, y) with y broadcast to x, row by row.
func fastBinary(p *program, n *graph.Node, f func(x, y, out []float32), fs func(x []float32, y float32, out []float32)) error {
	x, y := n.Inputs[0], n.Inputs[1]
	xv, yv, out := p.f32(x), p.f32(y), p.f32(n)
	if len(yv) == len(xv) {
		return p.parallel(len(xv), elemGrain, func(lo, hi, _ int) error {
			f(xv[lo:hi], yv[lo:hi], out[lo:hi])
			return nil
		})
	}
	last := x.Shape.Last()
	rows := len(xv) / last
	ys := broadcastStrides(x.Shape, y.Shape)
	yLast := int64(0)
	if len(ys) > 0 {
		yLast = ys[len(ys)-1]
	}
	return p.parallel(rows, max(1, elemGrain/last), func(lo, hi, _ int) error {
		for r := lo; r < hi; r++ {
			yo := rowOffset(x.Shape, ys, 0, r)
			xr, or := xv[r*last:(r+1)*last], out[r*last:(r+1)*last]
			if yLast == 0 {
				fs(xr, yv[yo], or)
			} else {
				f(xr, yv[yo:yo+int64(last)], or)
			}
		}
		return nil
	})
}

func fastAdd(p *program, n *graph.Node) error {
	return fastBinary(p, n,
		func(x, y, out []float32) {
			y, out = y[:len(x)], out[:len(x)]
			for i, v := range x {
				out[i] = v + y[i]
			}
		},
		func(x []float32, y float32, out []float32) {
			out = out[:len(x)]
			for i, v := range x {
				out[i] = v + y
			}
		})
}

func fastMul(p *program, n *graph.Node) error {
	return fastBinary(p, n,
		func(x, y, out []float32) {
			y, out = y[:len(x)], out[:len(x)]
			for i, v := range x {
				out[i] = v * y[i]
			}
		},
		func(x []float32, y float32, out []float32) {
			out = out[:len(x)]
			for i, v := range x {
				out[i] = v * y
			}
		})
}

func fastSwiGLU(p *program, n *graph.Node) error {
	gv, uv, out := p.f32(n.Inputs[0]), p.f32(n.Inputs[1]), p.f32(n)
	return p.parallel(len(gv), elemGrain, func(lo, hi, _ int) error {
		g, u, o := gv[lo:hi], uv[lo:hi], out[lo:hi]
		for i, v := range g {
			o[i] = silu32(v) * u[i]
		}
		return nil
	})
}

// fastRows calls f on rows [lo, hi) of x (last dimension) in parallel.
func fastRows(p *program, n *graph.Node, f func(r int, x, out []float32)) error {
	xv, out := p.f32(n.Inputs[0]), p.f32(n)
	last := n.Shape.Last()
	return p.parallel(len(xv)/last, max(1, elemGrain/last), func(lo, hi, _ int) error {
		for r := lo; r < hi; r++ {
			f(r, xv[r*last:(r+1)*last], out[r*last:(r+1)*last])
		}
		return nil
	})
}

// sumSq returns Σx² with four float32 accumulators.
func sumSq(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0] * v[0]
		s1 += v[1] * v[1]
		s2 += v[2] * v[2]
		s3 += v[3] * v[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func sum32(x []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += v[0]
		s1 += v[1]
		s2 += v[2]
		s3 += v[3]
	}
	for ; i < len(x); i++ {
		s0 += x[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func fastRMSNorm(p *program, n *graph.Node) error {
	eps := n.Params.Eps
	return fastRows(p, n, func(_ int, x, out []float32) {
		inv := float32(1 / math.Sqrt(float64(sumSq(x)/float32(len(x))+eps)))
		out = out[:len(x)]
		for i, v := range x {
			out[i] = v * inv
		}
	})
}

func fastLayerNorm(p *program, n *graph.Node) error {
	eps := n.Params.Eps
	return fastRows(p, n, func(_ int, x, out []float32) {
		mean := sum32(x) / float32(len(x))
		out = out[:len(x)]
		for i, v := range x {
			out[i] = v - mean
		}
		inv := float32(1 / math.Sqrt(float64(sumSq(out)/float32(len(x))+eps)))
		for i := range out {
			out[i] *= inv
		}
	})
}

func fastSoftmax(p *program, n *graph.Node) error {
	x := n.Inputs[0]
	sk := x.Shape.Last()
	sq := 1
	if r := x.Shape.Rank(); r >= 2 {
		sq = x.Shape[r-2]
	}
	var mask []float32
	if m := n.Mask(); m != nil {
		mask = p.f32(m)
	}
	scale := n.Params.Scale
	causal := n.Params.Causal
	negInf := float32(math.Inf(-1))
	return fastRows(p, n, func(r int, xr, out []float32) {
		i := r % sq
		nv := sk
		if causal {
			nv = min(max(i+sk-sq+1, 0), sk)
		}
		out = out[:sk]
		mx := negInf
		for j := 0; j < nv; j++ {
			l := scale * xr[j]
			if mask != nil {
				l += mask[i*sk+j]
			}
			out[j] = l
			mx = max(mx, l)
		}
		if mx == negInf {
			clear(out)
			return
		}
		var sum float32
		for j := 0; j < nv; j++ {
			e := float32(math.Exp(float64(out[j] - mx)))
			out[j] = e
			sum += e
		}
		inv := 1 / sum
		for j := 0; j < nv; j++ {
			out[j] *= inv
		}
		clear(out[nv:])
	})
}

func fastRoPE(p *program, n *graph.Node) error {
	x := n.Inputs[0]
	pos := p.i32(n.Inputs[1])
	var ff []float32
	if f := n.FreqFactors(); f != nil {
		ff = p.f32(f)
	}
	rp := n.Params.RoPE
	d := ropeShape(n)
	half := d.dims / 2
	xv, out := p.f32(x), p.f32(n)
	rowLen := d.heads * d.headDim
	return p.parallel(d.batch*d.seq, 1, func(lo, hi, slot int) error {
		tab := p.scratchFor(slot)[:d.dims]
		cosT, sinT := tab[:half], tab[half:]
		for bs := lo; bs < hi; bs++ {
			s := bs % d.seq
			for i := range half {
				factor := 1.0
				if ff != nil {
					factor = float64(ff[i])
				}
				sn, cs := math.Sincos(float64(pos[s]) * ropeFreq(rp, i, factor))
				cosT[i], sinT[i] = float32(cs), float32(sn)
			}
			xr, or := xv[bs*rowLen:(bs+1)*rowLen], out[bs*rowLen:(bs+1)*rowLen]
			copy(or, xr)
			for h := 0; h < d.heads; h++ {
				xh, oh := xr[h*d.headDim:(h+1)*d.headDim], or[h*d.headDim:(h+1)*d.headDim]
				if rp.Mode == graph.RoPENeoX {
					x0, x1 := xh[:half], xh[half:d.dims]
					o0, o1 := oh[:half], oh[half:d.dims]
					for i := range half {
						a, b := x0[i], x1[i]
						o0[i] = a*cosT[i] - b*sinT[i]
						o1[i] = a*sinT[i] + b*cosT[i]
					}
				} else {
					for i := range half {
						a, b := xh[2*i], xh[2*i+1]
						oh[2*i] = a*cosT[i] - b*sinT[i]
						oh[2*i+1] = a*sinT[i] + b*cosT[i]
					}
				}
			}
		}
		return nil
	})
}
