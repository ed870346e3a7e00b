package cuda

import (
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
)

// Data movement (kernels/cuda/move.cu): views (no kernel), kv_write,
// contiguous, copy, concat.

func init() {
	ops.Register(graph.OpView, variant{Name: "default", Launch: noKernel})
	ops.Register(graph.OpReshape, variant{Name: "default", Launch: noKernel})
	ops.Register(graph.OpPermute, variant{Name: "default", Launch: noKernel})
	ops.Register(graph.OpKVWrite, variant{Name: "default", Launch: launchKVWrite})
	ops.Register(graph.OpContiguous, variant{Name: "default", Supports: supportsCopy, Launch: launchCopy})
	ops.Register(graph.OpCopy, variant{Name: "default", Supports: supportsCopy, Launch: launchCopy})
	ops.Register(graph.OpConcat, variant{Name: "default", Launch: launchConcat})
}

func launchKVWrite(c *compiler, n *graph.Node) error {
	cache, src, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	rows := src.Shape[0]
	rowLen := src.Shape.NumElements() / int64(rows)
	kernel := "kv_write_" + cache.DType.String()
	l := c.Launch(n, kernel)
	l.Out(cache)
	l.In(src)
	l.In(pos)
	l.Int(rowLen)
	l.Int(int64(rows))
	l.Int(int64(cache.Shape[0]))
	l.Status()
	l.Local(128, 1, 1)
	l.Grid(uint32(rows), 1, 1)
	return nil
}

func supportsCopy(_ *deviceInfo, n *graph.Node) error {
	_, err := gpu.CopyKernel(n.Inputs[0].DType, n.DType)
	return err
}

func launchCopy(c *compiler, n *graph.Node) error {
	x := n.Inputs[0]
	kernel, err := gpu.CopyKernel(x.DType, n.DType)
	if err != nil {
		return err
	}
	count := n.Shape.NumElements()
	l := c.Launch(n, kernel)
	l.In(x)
	l.Out(n)
	switch {
	case kernel == "cpy_bytes":
		l.Int(n.Bytes())
		elementGrid(l, n.Bytes())
	case n.DType == graph.Q4_K || n.DType == graph.Q6_K: // quantize, reporting scales that overflow
		blocks := count / int64(n.DType.BlockSize())
		l.Status()
		l.Int(blocks)
		pushStrided(l, x)
		elementGrid(l, blocks)
	case n.DType.IsQuantized(): // quantize
		blocks := count / int64(n.DType.BlockSize())
		l.Int(blocks)
		pushStrided(l, x)
		elementGrid(l, blocks)
	case x.DType.IsQuantized(): // dequantize (the source is contiguous)
		cols := int64(x.Shape.Last())
		rb, _ := x.DType.RowBytes(cols)
		l.Int(count)
		l.Int(cols)
		l.Int(rb)
		elementGrid(l, count)
	default:
		l.Int(count)
		pushStrided(l, x)
		elementGrid(l, count)
	}
	return nil
}

// pushStrided pushes a strided source's layout: dims 1..3 of the shape
// padded to 4-D, then the four padded element strides.
func pushStrided(l *launch, x *graph.Node) {
	sh := gpu.Pad4(x.Shape)
	l.Int(sh[1])
	l.Int(sh[2])
	l.Int(sh[3])
	for _, s := range gpu.Pad4Strides(x.Strides) {
		l.Stride(s)
	}
}

func launchConcat(c *compiler, n *graph.Node) error {
	x, y := n.Inputs[0], n.Inputs[1]
	axis := n.Params.Axis
	inner := int64(1)
	for _, d := range n.Shape[axis+1:] {
		inner *= int64(d)
	}
	kernel := "concat_32"
	if gpu.Is16Bit(n.DType) {
		kernel = "concat_16"
	}
	count := n.Shape.NumElements()
	l := c.Launch(n, kernel)
	l.In(x)
	l.In(y)
	l.Out(n)
	l.Int(count)
	l.Int(int64(x.Shape[axis]) * inner)
	l.Int(int64(y.Shape[axis]) * inner)
	elementGrid(l, count)
	return nil
}
