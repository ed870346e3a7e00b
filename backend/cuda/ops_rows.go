package cuda

import (
	"encoding/binary"
	"math"

	"github.com/golem-llm/golem/graph"
)

// Row-wise ops (kernels/cuda/rows.cu): rms_norm, layer_norm, softmax,
// argmax (one block per row, block reductions), rope, get_rows.

func init() {
	ops.Register(graph.OpRMSNorm, variant{Name: "default", Launch: launchNorm("rms_norm_f32")})
	ops.Register(graph.OpLayerNorm, variant{Name: "default", Launch: launchNorm("layer_norm_f32")})
	ops.Register(graph.OpSoftmax, variant{Name: "default", Launch: launchSoftmax})
	ops.Register(graph.OpArgmax, variant{Name: "default", Launch: launchArgmax})
	ops.Register(graph.OpRoPE, variant{Name: "default", Launch: launchRoPE})
	ops.Register(graph.OpGetRows, variant{Name: "default", Launch: launchGetRows})
}

func launchNorm(kernel string) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		cols, rows := n.Shape.Last(), n.Shape.Rows()
		l := c.Launch(n, kernel)
		l.In(n.Inputs[0])
		l.Out(n)
		l.Int(int64(cols))
		l.Int(rows)
		l.F32(n.Params.Eps)
		l.Local(rowBlock(cols), 1, 1)
		rowGrid(l, rows)
		return nil
	}
}

func launchSoftmax(c *compiler, n *graph.Node) error {
	x := n.Inputs[0]
	sm := n.SoftmaxDims()
	mask, flags := x, uint32(0) // x stands in for an absent mask (never read)
	if n.Params.Causal {
		flags |= 1
	}
	if m := n.Mask(); m != nil {
		mask = m
		flags |= 2
	}
	l := c.Launch(n, "softmax_f32")
	l.In(x)
	l.In(mask)
	l.Out(n)
	l.Int(int64(sm.Cols))
	l.Int(int64(sm.Queries))
	l.Int(sm.Rows)
	l.F32(n.Params.Scale)
	l.U32(flags)
	l.Local(rowBlock(sm.Cols), 1, 1)
	rowGrid(l, sm.Rows)
	return nil
}

func launchArgmax(c *compiler, n *graph.Node) error {
	x := n.Inputs[0]
	cols, rows := x.Shape.Last(), x.Shape.Rows()
	l := c.Launch(n, "argmax_f32")
	l.In(x)
	l.Out(n)
	l.Int(int64(cols))
	l.Int(rows)
	l.Local(rowBlock(cols), 1, 1)
	rowGrid(l, rows)
	return nil
}

// ropeFreqs returns FreqScale·Theta^(−2i/Dims) for every pair i, computed in
// float64 and stored as little-endian float32.
func ropeFreqs(p graph.RoPEParams) []byte {
	out := make([]byte, 4*max(p.Dims/2, 1))
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
	ff, hasFF := x, uint32(0) // x stands in for absent factors (never read)
	if f := n.FreqFactors(); f != nil {
		ff, hasFF = f, 1
	}
	neox := uint32(0)
	if p.Mode == graph.RoPENeoX {
		neox = 1
	}
	k := c.Constants(ropeFreqs(p))
	count := n.Shape.NumElements()
	l := c.Launch(n, "rope_f32")
	l.In(x)
	l.In(pos)
	l.In(ff)
	l.Out(n)
	l.Const(k)
	l.Int(count)
	l.Int(int64(d.HeadDim))
	l.Int(int64(d.Heads))
	l.Int(int64(d.Seq))
	l.Int(int64(d.Dims))
	l.U32(neox)
	l.U32(hasFF)
	elementGrid(l, count)
	return nil
}

func launchGetRows(c *compiler, n *graph.Node) error {
	table, ids := n.Inputs[0], n.Inputs[1]
	rows, cols := table.Shape[0], table.Shape[1]
	rb, err := table.DType.RowBytes(int64(cols))
	if err != nil {
		return err
	}
	count := n.Shape.NumElements()
	l := c.Launch(n, "get_rows_"+table.DType.String())
	l.In(table)
	l.In(ids)
	l.Out(n)
	l.Int(int64(cols))
	l.Int(rb)
	l.Int(count)
	l.Int(int64(rows))
	l.Status() // the status pointer after d, the slot after rows
	elementGrid(l, count)
	return nil
}
