package cpu

import (
	"math"
	"slices"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// The fast tier: multi-threaded over rows and heads with a fixed partition
// of independent items (no reduction is ever split across threads, so
// results do not depend on the thread count), float32 accumulation, the
// AVX2 vector kernels of package quant, and no allocation per run: every
// parallel loop is a task struct kept per node (taskFor).

var fastTier = &tier{
	name:    "fast",
	kernels: fastKernels(),
	scratch: fastScratch,
	shared:  fastShared,
}

func fastShared(n *graph.Node) int {
	if n.Op == graph.OpMatMul {
		return matmulShared(n)
	}
	return 0
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
	ks[graph.OpRMSNormMul] = fastRMSNormMul
	ks[graph.OpRoPEKVWrite] = fastRoPEKVWrite
	ks[graph.OpMatMulFused] = fastMatMulFused
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
	return moveScratch(n) + fusedScratch(n), 0
}

// elemGrain is the number of elements below which an elementwise loop is
// not worth splitting.
const elemGrain = 1 << 14

// unaryTask is an element-wise op over x (scale, silu, gelu).
type unaryTask struct {
	op     graph.Op
	s      float32
	x, out []float32
}

func (t *unaryTask) run(lo, hi, _ int) error {
	x, out := t.x[lo:hi], t.out[lo:hi]
	switch t.op {
	case graph.OpScale:
		quant.Scale(out, t.s, x)
	case graph.OpSiLU:
		quant.SiLU(out, x)
	case graph.OpGELU:
		for i, v := range x {
			out[i] = gelu32(v)
		}
	}
	return nil
}

func fastUnary(p *program, n *graph.Node, s float32) error {
	t := taskFor[unaryTask](p, n)
	t.op, t.s, t.x, t.out = n.Op, s, p.f32(n.Inputs[0]), p.f32(n)
	err := p.parallel(len(t.x), elemGrain, t)
	t.x, t.out = nil, nil
	return err
}

func fastScale(p *program, n *graph.Node) error { return fastUnary(p, n, n.Params.Scale) }
func fastSiLU(p *program, n *graph.Node) error  { return fastUnary(p, n, 0) }
func fastGELU(p *program, n *graph.Node) error  { return fastUnary(p, n, 0) }

// binaryTask is out = x op y with y broadcast to x (add, mul), or
// out = silu(x)·y for swiglu (same shapes). Items are elements when y has
// x's shape, rows of x otherwise.
type binaryTask struct {
	op        graph.Op
	x, y, out []float32
	last      int
	shape     graph.Shape // x's shape, for broadcast rows
	ys        []int64     // y's strides broadcast to x (nil when same shape)
	yLast     int64
}

func (t *binaryTask) run(lo, hi, _ int) error {
	if t.ys == nil {
		binaryRow(t.op, t.x[lo:hi], t.y[lo:hi], t.out[lo:hi])
		return nil
	}
	last := t.last
	for r := lo; r < hi; r++ {
		yo := rowOffset(t.shape, t.ys, 0, r)
		xr, or := t.x[r*last:(r+1)*last], t.out[r*last:(r+1)*last]
		if t.yLast == 0 {
			binaryScalar(t.op, xr, t.y[yo], or)
		} else {
			binaryRow(t.op, xr, t.y[yo:yo+int64(last)], or)
		}
	}
	return nil
}

func binaryRow(op graph.Op, x, y, out []float32) {
	y, out = y[:len(x)], out[:len(x)]
	switch op {
	case graph.OpAdd:
		// out = x + 1·y: AXPY rounds the (exact) product and adds, so
		// this is bit for bit x[i]+y[i], in AVX2. out never overlaps x or
		// y (the memory plan reuses a buffer only after its readers ran).
		copy(out, x)
		quant.AXPY(1, y, out)
	case graph.OpMul:
		quant.Mul(out, x, y)
	case graph.OpSwiGLU:
		quant.SwiGLU(out, x, y)
	}
}

func binaryScalar(op graph.Op, x []float32, y float32, out []float32) {
	out = out[:len(x)]
	switch op {
	case graph.OpAdd:
		for i, v := range x {
			out[i] = v + y
		}
	case graph.OpMul:
		quant.Scale(out, y, x)
	}
}

// fastBinary computes out = x op y with y broadcast to x, row by row.
func fastBinary(p *program, n *graph.Node) error {
	x, y := n.Inputs[0], n.Inputs[1]
	t := taskFor[binaryTask](p, n)
	t.op, t.x, t.y, t.out = n.Op, p.f32(x), p.f32(y), p.f32(n)
	grain := elemGrain
	if n.Op == graph.OpSwiGLU {
		// An exponential and a division per element: a batched decode
		// step's 8 rows of a 2048-wide FFN split across the threads.
		grain = elemGrain / 4
	}
	var err error
	if len(t.y) == len(t.x) {
		t.ys = nil
		err = p.parallel(len(t.x), grain, t)
	} else {
		if t.shape == nil {
			t.last, t.shape = x.Shape.Last(), x.Shape
			t.ys = graph.BroadcastStrides(x.Shape, y.Shape)
			if len(t.ys) > 0 {
				t.yLast = t.ys[len(t.ys)-1]
			}
		}
		err = p.parallel(len(t.x)/t.last, max(1, grain/t.last), t)
	}
	t.x, t.y, t.out = nil, nil, nil
	return err
}

func fastAdd(p *program, n *graph.Node) error    { return fastBinary(p, n) }
func fastMul(p *program, n *graph.Node) error    { return fastBinary(p, n) }
func fastSwiGLU(p *program, n *graph.Node) error { return fastBinary(p, n) }

// rowsTask applies a row op (rms_norm, layer_norm, softmax) to each row of
// x (the last dimension).
type rowsTask struct {
	op     graph.Op
	x, out []float32
	last   int
	eps    float32
	w      []float32 // rms_norm_mul's weight
	// softmax
	mask  []float32
	scale float32
	sm    graph.SoftmaxDims
}

func (t *rowsTask) run(lo, hi, _ int) error {
	last := t.last
	for r := lo; r < hi; r++ {
		x, out := t.x[r*last:(r+1)*last], t.out[r*last:(r+1)*last]
		switch t.op {
		case graph.OpRMSNorm:
			inv := float32(1 / math.Sqrt(float64(quant.DotF32(x, x)/float32(last)+t.eps)))
			quant.Scale(out, inv, x)
		case graph.OpRMSNormMul:
			inv := float32(1 / math.Sqrt(float64(quant.DotF32(x, x)/float32(last)+t.eps)))
			for i, v := range x {
				out[i] = v * inv * t.w[i]
			}
		case graph.OpLayerNorm:
			mean := sum32(x) / float32(last)
			for i, v := range x {
				out[i] = v - mean
			}
			inv := float32(1 / math.Sqrt(float64(quant.DotF32(out, out)/float32(last)+t.eps)))
			quant.Scale(out, inv, out)
		case graph.OpSoftmax:
			t.softmaxRow(r, x, out)
		}
	}
	return nil
}

func (t *rowsTask) softmaxRow(r int, xr, out []float32) {
	sk := t.last
	i := r % t.sm.Queries
	nv := t.sm.Visible(r)
	negInf := float32(math.Inf(-1))
	mx := negInf
	for j := 0; j < nv; j++ {
		l := t.scale * xr[j]
		if t.mask != nil {
			l += t.mask[i*sk+j]
		}
		out[j] = l
		mx = max(mx, l)
	}
	if mx == negInf {
		clear(out)
		return
	}
	sum := quant.ExpSum(out[:nv], mx)
	quant.Scale(out[:nv], 1/sum, out[:nv])
	clear(out[nv:])
}

// fastRows runs t (with op and the softmax fields set) over the rows of n.
func fastRows(p *program, n *graph.Node, t *rowsTask) error {
	t.op, t.x, t.out = n.Op, p.f32(n.Inputs[0]), p.f32(n)
	t.last = n.Shape.Last()
	err := p.parallel(len(t.x)/t.last, max(1, elemGrain/t.last), t)
	t.x, t.out, t.mask = nil, nil, nil
	return err
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
	t := taskFor[rowsTask](p, n)
	t.eps = n.Params.Eps
	return fastRows(p, n, t)
}

func fastLayerNorm(p *program, n *graph.Node) error {
	t := taskFor[rowsTask](p, n)
	t.eps = n.Params.Eps
	return fastRows(p, n, t)
}

func fastSoftmax(p *program, n *graph.Node) error {
	t := taskFor[rowsTask](p, n)
	t.sm = n.SoftmaxDims()
	t.mask = nil
	if m := n.Mask(); m != nil {
		t.mask = p.f32(m)
	}
	t.scale = n.Params.Scale
	return fastRows(p, n, t)
}

// ropeTask rotates the heads of each (batch, position) row. freq holds the
// angle per position of each pair, computed once per run (it depends only
// on the parameters and the frequency factors); the cosines and sines of
// the run's positions are in the program's ropeTable.
type ropeTask struct {
	p        *program
	d        graph.RoPEDims
	mode     graph.RoPEMode
	x, out   []float32
	tab      []float32 // the ropeTable's rows
	freq     []float64
	lastFF   []float32 // the frequency factors freq was computed from
	computed bool
}

func (t *ropeTask) run(lo, hi, slot int) error {
	d := t.d
	rowLen := d.Heads * d.HeadDim
	halves := t.mode == graph.RoPENeoX
	for bs := lo; bs < hi; bs++ {
		s := bs % d.Seq
		c, sn := t.tab[2*d.Dims*s:][:d.Dims], t.tab[2*d.Dims*s+d.Dims:][:d.Dims]
		xr, or := t.x[bs*rowLen:(bs+1)*rowLen], t.out[bs*rowLen:(bs+1)*rowLen]
		if d.Dims < d.HeadDim {
			copy(or, xr) // the elements past the rotated ones
		}
		quant.RoPE(or, xr, c, sn, d.Dims, d.Heads, d.HeadDim, halves)
	}
	return nil
}

// ropeTable holds, for each position of a RoPE's positions input, the
// factors quant.RoPE takes: dims cosines, then dims signed sines, laid out
// for the mode's pairs (neighbours or halves). The RoPE nodes of a run
// that rotate at the same positions by the same angles in the same mode
// (a layer's q and k, and every layer of most models) share one:
// computing it for each node took most of a node's time in a decode step
// (8 rows: 24 nodes × 256 float64 Sincos per step of 110m).
type ropeTable struct {
	pos    *graph.Node // the positions it holds, nil when none this run
	freq   []float64   // the angles per position it was computed with
	halves bool        // the mode's pairs are halves (NeoX)
	tab    []float32
}

// rows returns the table for the positions pos (node posNode, seq rows),
// the angles freq and the pairing, computing it unless the run already
// has.
func (r *ropeTable) rows(posNode *graph.Node, pos []int32, seq int, freq []float64, halves bool) []float32 {
	half := len(freq)
	dims := 2 * half
	if r.pos == posNode && r.halves == halves && slices.Equal(r.freq, freq) && len(r.tab) == 2*dims*seq {
		return r.tab
	}
	r.pos, r.halves, r.freq = posNode, halves, append(r.freq[:0], freq...)
	r.tab = slices.Grow(r.tab[:0], 2*dims*seq)[:2*dims*seq]
	for s := range seq {
		ps := float64(pos[s])
		c, sn := r.tab[2*dims*s:][:dims], r.tab[2*dims*s+dims:][:dims]
		for i, f := range freq {
			si, ci := math.Sincos(ps * f)
			j0, j1 := 2*i, 2*i+1
			if halves {
				j0, j1 = i, i+half
			}
			c[j0], c[j1] = float32(ci), float32(ci)
			sn[j0], sn[j1] = -float32(si), float32(si)
		}
	}
	return r.tab
}

func fastRoPE(p *program, n *graph.Node) error {
	t := taskFor[ropeTask](p, n)
	rp := n.Params.RoPE
	t.p, t.d, t.mode = p, n.RoPEDims(), rp.Mode
	var ff []float32
	if f := n.FreqFactors(); f != nil {
		ff = p.f32(f)
	}
	if !t.computed || !sameF32(ff, t.lastFF) {
		half := t.d.Dims / 2
		if len(t.freq) != half {
			t.freq = make([]float64, half)
		}
		for i := range half {
			factor := 1.0
			if ff != nil {
				factor = float64(ff[i])
			}
			t.freq[i] = ropeFreq(rp, i, factor)
		}
		t.lastFF = append(t.lastFF[:0], ff...)
		t.computed = true
	}
	t.x, t.out = p.f32(n.Inputs[0]), p.f32(n)
	t.tab = p.rope.rows(n.Inputs[1], p.i32(n.Inputs[1]), t.d.Seq, t.freq, rp.Mode == graph.RoPENeoX)
	// A rotated element costs about what an elementwise op's does (vector
	// kernel): a batched decode step's 8 rows of q (12 heads of 64) are
	// one chunk, cheaper than handing half of them to another thread.
	err := p.parallel(t.d.Batch*t.d.Seq, max(1, elemGrain/(t.d.Heads*t.d.HeadDim)), t)
	t.x, t.out, t.tab = nil, nil, nil
	return err
}

// sameF32 reports whether a and b hold the same values bit for bit.
func sameF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
