package cpu

import (
	"math"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// The reference tier: plain loops, one thread, float64 accumulation. Every
// kernel here is written to be obviously right rather than fast; it is the
// oracle the fast tier and the GPU backends are checked against.

var refTier = &tier{
	name:    "reference",
	kernels: refKernels(),
	scratch: refScratch,
}

func refKernels() map[graph.Op]kernel {
	ks := moveKernels()
	ks[graph.OpMatMul] = refMatMul
	ks[graph.OpAdd] = refAdd
	ks[graph.OpMul] = refMul
	ks[graph.OpScale] = refScale
	ks[graph.OpRMSNorm] = refRMSNorm
	ks[graph.OpLayerNorm] = refLayerNorm
	ks[graph.OpSiLU] = refSiLU
	ks[graph.OpGELU] = refGELU
	ks[graph.OpSwiGLU] = refSwiGLU
	ks[graph.OpSoftmax] = refSoftmax
	ks[graph.OpRoPE] = refRoPE
	ks[graph.OpAttention] = refAttention
	ks[graph.OpRMSNormMul] = refRMSNormMul
	ks[graph.OpRoPEKVWrite] = refRoPEKVWrite
	ks[graph.OpMatMulFused] = refMatMulFused
	return ks
}

func refScratch(n *graph.Node) (int, int) {
	if n.Op == graph.OpAttention {
		a := n.AttentionDims()
		return 0, a.Sk + a.Dv
	}
	return moveScratch(n) + fusedScratch(n), 0
}

// refMatMul computes every output as one float64 dot product.
func refMatMul(p *program, n *graph.Node) error {
	x, w := n.Inputs[0], n.Inputs[1]
	d := n.MatMulDims()
	xv, wb, out := p.f32(x), p.bytesOf(w), p.f32(n)
	for b := 0; b < d.Batches; b++ {
		for i := 0; i < d.M; i++ {
			xr := xv[(b*d.M+i)*d.K : (b*d.M+i+1)*d.K]
			for j := 0; j < d.N; j++ {
				row := wb[int64(b*d.N+j)*d.WRowBytes:]
				out[(b*d.M+i)*d.N+j] = float32(quant.DotF64(w.DType, row, xr))
			}
		}
	}
	return nil
}

// refBinary applies f to every element of x and the element of y broadcast
// to it, by explicit index arithmetic.
func refBinary(p *program, n *graph.Node, f func(a, b float64) float64) error {
	x, y := n.Inputs[0], n.Inputs[1]
	xv, yv, out := p.f32(x), p.f32(y), p.f32(n)
	ys := graph.BroadcastStrides(x.Shape, y.Shape)
	for e := range xv {
		yi, rest := int64(0), e
		for dim := len(x.Shape) - 1; dim >= 0; dim-- {
			yi += int64(rest%x.Shape[dim]) * ys[dim]
			rest /= x.Shape[dim]
		}
		out[e] = float32(f(float64(xv[e]), float64(yv[yi])))
	}
	return nil
}

func refAdd(p *program, n *graph.Node) error {
	return refBinary(p, n, func(a, b float64) float64 { return a + b })
}

func refMul(p *program, n *graph.Node) error {
	return refBinary(p, n, func(a, b float64) float64 { return a * b })
}

// refUnary applies f to every element.
func refUnary(p *program, n *graph.Node, f func(float64) float64) error {
	xv, out := p.f32(n.Inputs[0]), p.f32(n)
	for i, v := range xv {
		out[i] = float32(f(float64(v)))
	}
	return nil
}

func refScale(p *program, n *graph.Node) error {
	s := float64(n.Params.Scale)
	return refUnary(p, n, func(v float64) float64 { return s * v })
}

func silu64(v float64) float64 { return v / (1 + math.Exp(-v)) }

func gelu64(v float64) float64 {
	const c = 0.7978845608028654 // sqrt(2/pi)
	return 0.5 * v * (1 + math.Tanh(c*(v+0.044715*v*v*v)))
}

func refSiLU(p *program, n *graph.Node) error { return refUnary(p, n, silu64) }

func refGELU(p *program, n *graph.Node) error { return refUnary(p, n, gelu64) }

func refSwiGLU(p *program, n *graph.Node) error {
	return refBinary(p, n, func(g, u float64) float64 { return silu64(g) * u })
}

// refRows calls f on each row (last dimension) of x and the matching row of n.
func refRows(p *program, n *graph.Node, f func(r int, x, out []float32)) {
	xv, out := p.f32(n.Inputs[0]), p.f32(n)
	last := n.Shape.Last()
	for r := 0; r < len(xv)/last; r++ {
		f(r, xv[r*last:(r+1)*last], out[r*last:(r+1)*last])
	}
}

func refRMSNorm(p *program, n *graph.Node) error {
	eps := float64(n.Params.Eps)
	refRows(p, n, func(_ int, x, out []float32) {
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		inv := 1 / math.Sqrt(ss/float64(len(x))+eps)
		for i, v := range x {
			out[i] = float32(float64(v) * inv)
		}
	})
	return nil
}

func refLayerNorm(p *program, n *graph.Node) error {
	eps := float64(n.Params.Eps)
	refRows(p, n, func(_ int, x, out []float32) {
		var sum float64
		for _, v := range x {
			sum += float64(v)
		}
		mean := sum / float64(len(x))
		var ss float64
		for _, v := range x {
			d := float64(v) - mean
			ss += d * d
		}
		inv := 1 / math.Sqrt(ss/float64(len(x))+eps)
		for i, v := range x {
			out[i] = float32((float64(v) - mean) * inv)
		}
	})
	return nil
}

// refSoftmax: softmax(scale·x + mask) per row; keys hidden by the causal
// rule or a −Inf mask get 0, and a row with nothing visible is all zeros.
func refSoftmax(p *program, n *graph.Node) error {
	d := n.SoftmaxDims()
	sk := d.Cols
	var mask []float32
	if m := n.Mask(); m != nil {
		mask = p.f32(m)
	}
	scale := float64(n.Params.Scale)
	refRows(p, n, func(r int, xr, out []float32) {
		i := r % d.Queries
		nv := d.Visible(r)
		logit := func(j int) float64 {
			if j >= nv {
				return math.Inf(-1)
			}
			l := scale * float64(xr[j])
			if mask != nil {
				l += float64(mask[i*sk+j])
			}
			return l
		}
		mx := math.Inf(-1)
		for j := range xr {
			mx = math.Max(mx, logit(j))
		}
		if math.IsInf(mx, -1) {
			clear(out)
			return
		}
		var sum float64
		for j := range xr {
			sum += math.Exp(logit(j) - mx)
		}
		for j := range xr {
			out[j] = float32(math.Exp(logit(j)-mx) / sum)
		}
	})
	return nil
}

// ropeFreq returns the angle per position of pair i:
// FreqScale·Theta^(−2i/Dims) / factor.
func ropeFreq(rp graph.RoPEParams, i int, factor float64) float64 {
	return float64(rp.FreqScale) * math.Pow(float64(rp.Theta), -2*float64(i)/float64(rp.Dims)) / factor
}

func refRoPE(p *program, n *graph.Node) error {
	x := n.Inputs[0]
	pos := p.i32(n.Inputs[1])
	var ff []float32
	if f := n.FreqFactors(); f != nil {
		ff = p.f32(f)
	}
	rp := n.Params.RoPE
	d := n.RoPEDims()
	xv, out := p.f32(x), p.f32(n)
	copy(out, xv)
	for b := 0; b < d.Batch; b++ {
		for s := 0; s < d.Seq; s++ {
			for h := 0; h < d.Heads; h++ {
				base := ((b*d.Seq+s)*d.Heads + h) * d.HeadDim
				for i := 0; i < d.Dims/2; i++ {
					factor := 1.0
					if ff != nil {
						factor = float64(ff[i])
					}
					angle := float64(pos[s]) * ropeFreq(rp, i, factor)
					sin, cos := math.Sincos(angle)
					i0, i1 := rp.Mode.Pair(i, d.Dims)
					x0, x1 := float64(xv[base+i0]), float64(xv[base+i1])
					out[base+i0] = float32(x0*cos - x1*sin)
					out[base+i1] = float32(x0*sin + x1*cos)
				}
			}
		}
	}
	return nil
}

// refAttention computes each (batch, query, head) with an explicit score
// vector and a float64 softmax.
func refAttention(p *program, n *graph.Node) error {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	a := n.AttentionDims()
	scale := float64(n.Params.Scale)
	var mask []float32
	if m := n.Mask(); m != nil {
		mask = p.f32(m)
	}
	var pos []int32
	if ps := n.Positions(); ps != nil {
		pos = p.i32(ps)
	}
	qv, out := p.f32(q), p.f32(n)
	kAt := floatReader(p, k)
	vAt := floatReader(p, v)
	scratch := p.scratch64For(0)
	scores, acc := scratch[:a.Sk], scratch[a.Sk:a.Sk+a.Dv]
	for b := 0; b < a.Batch; b++ {
		for i := 0; i < a.Sq; i++ {
			nk := a.Visible(i, pos)
			for h := 0; h < a.Hq; h++ {
				g := h / a.Group
				qr := qv[((b*a.Sq+i)*a.Hq+h)*a.D:][:a.D]
				o := out[((b*a.Sq+i)*a.Hq+h)*a.Dv:][:a.Dv]
				mx := math.Inf(-1)
				for j := 0; j < nk; j++ {
					kb := ((b*a.Sk+j)*a.Hkv + g) * a.D
					var dot float64
					for t := 0; t < a.D; t++ {
						dot += float64(qr[t]) * kAt(kb+t)
					}
					s := scale * dot
					if mask != nil {
						s += float64(mask[i*a.Sk+j])
					}
					scores[j] = s
					mx = math.Max(mx, s)
				}
				if math.IsInf(mx, -1) {
					clear(o)
					continue
				}
				var sum float64
				clear(acc)
				for j := 0; j < nk; j++ {
					w := math.Exp(scores[j] - mx)
					sum += w
					vb := ((b*a.Sk+j)*a.Hkv + g) * a.Dv
					for t := range acc {
						acc[t] += w * vAt(vb+t)
					}
				}
				for t := range o {
					o[t] = float32(acc[t] / sum)
				}
			}
		}
	}
	return nil
}

// floatReader returns element access to contiguous F32, F16 or BF16 node n.
func floatReader(p *program, n *graph.Node) func(i int) float64 {
	switch n.DType {
	case graph.F16:
		h := p.u16(n)
		return func(i int) float64 { return float64(quant.F16ToF32(h[i])) }
	case graph.BF16:
		h := p.u16(n)
		return func(i int) float64 { return float64(quant.BF16ToF32(h[i])) }
	}
	f := p.f32(n)
	return func(i int) float64 { return float64(f[i]) }
}
