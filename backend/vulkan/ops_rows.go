//go:build cgo

package vulkan

import (
	"encoding/binary"
	"math"

	"github.com/golem-llm/golem/graph"
)

// Row-wise ops: rms_norm, layer_norm, softmax, argmax (one workgroup per
// row, shared-memory reductions), rope, get_rows.

func init() {
	ops.Register(graph.OpRMSNorm, variant{Name: "default", Launch: launchNorm("rms_norm")})
	ops.Register(graph.OpLayerNorm, variant{Name: "default", Launch: launchNorm("layer_norm")})
	ops.Register(graph.OpSoftmax, variant{Name: "default", Launch: launchSoftmax})
	ops.Register(graph.OpArgmax, variant{Name: "default", Launch: launchArgmax})
	ops.Register(graph.OpRoPE, variant{Name: "default", Launch: launchRoPE})
	ops.Register(graph.OpGetRows, variant{Name: "default", Launch: launchGetRows})
}

// rowLocal is the workgroup size of a row reduction over cols elements: a
// power of two, at most 256.
func rowLocal(d *deviceInfo, cols int) uint32 {
	want := uint32(1)
	for want < uint32(min(cols, 256)) {
		want *= 2
	}
	return pow2Local(d, max(want, 32))
}

func launchNorm(shader string) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		cols := n.Shape.Last()
		rows := n.Shape.Rows()
		l := c.Launch(n, shader)
		ax, ad := l.In(n.Inputs[0]), l.Out(n)
		l.Offset(ax, 4)
		l.Offset(ad, 4)
		l.Int(int64(cols))
		l.Int(rows)
		l.F32(n.Params.Eps)
		l.Local(rowLocal(c.Dev, cols), 1, 1)
		l.Grid1D(rows)
		return nil
	}
}

func launchSoftmax(c *compiler, n *graph.Node) error {
	x := n.Inputs[0]
	sm := n.SoftmaxDims()
	mask := x // a placeholder binding when there is no mask
	flags := uint32(0)
	if n.Params.Causal {
		flags |= 1
	}
	if m := n.Mask(); m != nil {
		mask = m
		flags |= 2
	}
	l := c.Launch(n, "softmax")
	ax, am, ad := l.In(x), l.In(mask), l.Out(n)
	l.Offset(ax, 4)
	l.Offset(am, 4)
	l.Offset(ad, 4)
	l.Int(int64(sm.Cols))
	l.Int(int64(sm.Queries))
	l.Int(sm.Rows)
	l.F32(n.Params.Scale)
	l.U32(flags)
	l.Local(rowLocal(c.Dev, sm.Cols), 1, 1)
	l.Grid1D(sm.Rows)
	return nil
}

func launchArgmax(c *compiler, n *graph.Node) error {
	x := n.Inputs[0]
	cols := x.Shape.Last()
	rows := x.Shape.Rows()
	l := c.Launch(n, "argmax")
	ax, ad := l.In(x), l.Out(n)
	l.Offset(ax, 4)
	l.Offset(ad, 4)
	l.Int(int64(cols))
	l.Int(rows)
	l.Local(rowLocal(c.Dev, cols), 1, 1)
	l.Grid1D(rows)
	return nil
}

// ropeFreqs returns FreqScale·Theta^(−2i/Dims) for every pair i, computed in
// float64 and stored as little-endian float32.
func ropeFreqs(p graph.RoPEParams) []byte {
	out := make([]byte, 4*(p.Dims/2))
	for i := 0; i < p.Dims/2; i++ {
		f := float64(p.FreqScale) * math.Pow(float64(p.Theta), -2*float64(i)/float64(p.Dims))
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(float32(f)))
	}
	return out
}

func launchRoPE(c *compiler, n *graph.Node) error {
	x, pos := n.Inputs[0], n.Inputs[1]
	d := n.RoPEDims()
	p := n.Params.RoPE
	ff, hasFF := x, uint32(0)
	if f := n.FreqFactors(); f != nil {
		ff, hasFF = f, 1
	}
	neox := uint32(0)
	if p.Mode == graph.RoPENeoX {
		neox = 1
	}
	k := c.Constants(ropeFreqs(p))
	count := n.Shape.NumElements()
	l := c.Launch(n, "rope")
	ax, ap, af, ad := l.In(x), l.In(pos), l.In(ff), l.Out(n)
	l.Const(k)
	l.Offset(ax, 4)
	l.Offset(ap, 4)
	l.Offset(af, 4)
	l.Offset(ad, 4)
	l.Int(count)
	l.Int(int64(d.HeadDim))
	l.Int(int64(d.Heads))
	l.Int(int64(d.Seq))
	l.Int(int64(d.Dims))
	l.U32(neox)
	l.U32(hasFF)
	elementGrid(c, l, count)
	return nil
}

func launchGetRows(c *compiler, n *graph.Node) error {
	table, ids := n.Inputs[0], n.Inputs[1]
	rows, cols := table.Shape[0], table.Shape[1]
	rb, err := table.DType.RowBytes(int64(cols))
	if err != nil {
		return err
	}
	chunks, err := c.Dev.rowChunks(rows, rb)
	if err != nil {
		return err
	}
	count := n.Shape.NumElements()
	for i, ch := range chunks {
		l := c.Launch(n, "get_rows_"+table.DType.String())
		at := l.InRange(table, int64(ch[0])*rb, int64(ch[1])*rb)
		ai, ad := l.In(ids), l.Out(n)
		l.Offset(at, 1)
		l.Offset(ai, 4)
		l.Offset(ad, 4)
		l.Int(int64(cols))
		l.Int(rb)
		l.Int(count)
		l.Int(int64(rows))
		l.Int(int64(ch[0]))
		l.Int(int64(ch[1]))
		first := uint32(0)
		if i == 0 {
			first = 1
		}
		l.U32(first)
		l.Status()
		elementGrid(c, l, count)
	}
	return nil
}
