//go:build cgo

package vulkan

import (
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
)

// Data movement: views (no kernel), kv_write, contiguous, copy, concat.

func init() {
	noKernel := func(*compiler, *graph.Node) error { return nil }
	ops.Register(graph.OpView, variant{Name: "default", Launch: noKernel})
	ops.Register(graph.OpReshape, variant{Name: "default", Launch: noKernel})
	ops.Register(graph.OpPermute, variant{Name: "default", Launch: noKernel})
	ops.Register(graph.OpKVWrite, variant{Name: "default", Launch: launchKVWrite})
	ops.Register(graph.OpContiguous, variant{Name: "default", Supports: supportsCopy, Launch: launchCopy})
	ops.Register(graph.OpCopy, variant{Name: "default", Supports: supportsCopy, Launch: launchCopy})
	ops.Register(graph.OpConcat, variant{Name: "default", Launch: launchConcat})
}

// elemUnit is the push-constant offset unit of a non-quantized dtype.
func elemUnit(dt graph.DType) int64 {
	if gpu.Is16Bit(dt) {
		return 2
	}
	return 4
}

func launchKVWrite(c *compiler, n *graph.Node) error {
	cache, src, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	rows := src.Shape[0]
	rowLen := src.Shape.NumElements() / int64(rows)
	shader := "kv_write_" + cache.DType.String()
	l := c.Launch(n, shader)
	ac, as, ap := l.Out(cache), l.In(src), l.In(pos)
	l.Offset(ac, elemUnit(cache.DType))
	l.Offset(as, 4)
	l.Offset(ap, 4)
	l.Int(rowLen)
	l.Int(int64(rows))
	l.Int(int64(cache.Shape[0]))
	l.Status()
	l.Local(pow2Local(c.Dev, 64), 1, 1)
	l.Grid1D(int64(rows))
	return nil
}

func supportsCopy(_ *deviceInfo, n *graph.Node) error {
	_, err := gpu.CopyKernel(n.Inputs[0].DType, n.DType)
	return err
}

func launchCopy(c *compiler, n *graph.Node) error {
	x := n.Inputs[0]
	shader, err := gpu.CopyKernel(x.DType, n.DType)
	if err != nil {
		return err
	}
	count := n.Shape.NumElements()
	l := c.Launch(n, shader)
	ax, ad := l.In(x), l.Out(n)
	switch {
	case shader == "cpy_bytes":
		l.Offset(ax, 1)
		l.Offset(ad, 1)
		l.Int(n.Bytes())
		elementGrid(c, l, n.Bytes()/4+2)
		return nil
	case n.DType.IsQuantized(): // quantize
		l.Offset(ax, elemUnit(x.DType))
		l.Offset(ad, 1)
		blocks := count / int64(n.DType.BlockSize())
		l.Int(blocks)
		pushStrided(l, x)
		if n.DType == graph.Q4_K || n.DType == graph.Q6_K {
			// One workgroup of 16 per super-block (quantize_k.glsl), which
			// flags scales that do not fit an f16.
			l.Status()
			l.Local(16, 1, 1)
			l.Grid1D(blocks)
			return nil
		}
		elementGrid(c, l, blocks)
		return nil
	case x.DType.IsQuantized(): // dequantize
		l.Offset(ax, 1)
	default:
		l.Offset(ax, elemUnit(x.DType))
	}
	l.Offset(ad, elemUnit(n.DType))
	l.Int(count)
	pushStrided(l, x)
	cols := int64(x.Shape.Last())
	rb, _ := x.DType.RowBytes(cols)
	l.Int(cols)
	l.Int(rb)
	if gpu.Is16Bit(n.DType) {
		elementGrid(c, l, count/2+1)
	} else {
		elementGrid(c, l, count)
	}
	return nil
}

// pushStrided pushes the source layout of copy.glsl and quantize.glsl:
// dims 1..3 of the padded shape, then the four padded strides.
func pushStrided(l *launch, x *graph.Node) {
	sh := gpu.Pad4(x.Shape)
	l.Int(sh[1])
	l.Int(sh[2])
	l.Int(sh[3])
	st := gpu.Pad4Strides(x.Strides)
	if x.DType.IsQuantized() {
		st = gpu.Pad4Strides(x.Shape.Strides())
	}
	for _, s := range st {
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
	shader := "concat_32"
	if gpu.Is16Bit(n.DType) {
		shader = "concat_16"
	}
	u := elemUnit(n.DType)
	count := n.Shape.NumElements()
	l := c.Launch(n, shader)
	ax, ay, ad := l.In(x), l.In(y), l.Out(n)
	l.Offset(ax, u)
	l.Offset(ay, u)
	l.Offset(ad, u)
	l.Int(count)
	l.Int(int64(x.Shape[axis]) * inner)
	l.Int(int64(y.Shape[axis]) * inner)
	if u == 2 {
		elementGrid(c, l, count/2+1)
	} else {
		elementGrid(c, l, count)
	}
	return nil
}
