//go:build cgo

package vulkan

import (
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
)

// Element-wise ops: add, mul (broadcast), scale, silu, gelu, swiglu.

func init() {
	ops.Register(graph.OpAdd, variant{Name: "default", Launch: launchBinary("add")})
	ops.Register(graph.OpMul, variant{Name: "default", Launch: launchBinary("mul")})
	ops.Register(graph.OpScale, variant{Name: "default", Launch: launchUnary("scale")})
	ops.Register(graph.OpSiLU, variant{Name: "default", Launch: launchUnary("silu")})
	ops.Register(graph.OpGELU, variant{Name: "default", Launch: launchUnary("gelu")})
	ops.Register(graph.OpSwiGLU, variant{Name: "default", Launch: launchSwiGLU})
}

// elemLocal is the workgroup size of element-wise kernels.
func elemLocal(d *deviceInfo) uint32 { return pow2Local(d, 256) }

// pow2Local returns the largest power of two ≤ want that the device allows
// in x.
func pow2Local(d *deviceInfo, want uint32) uint32 {
	lim := min(want, d.Limits.MaxInvocations, d.Limits.MaxWorkgroupSize[0])
	p := uint32(1)
	for p*2 <= lim {
		p *= 2
	}
	return p
}

// elementGrid sets the workgroup size and a 1-D grid over count invocations.
func elementGrid(c *compiler, l *launch, count int64) {
	loc := elemLocal(c.Dev)
	l.Local(loc, 1, 1)
	l.Grid1D(groups(count, int64(loc)))
}

func launchBinary(shader string) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		x, y := n.Inputs[0], n.Inputs[1]
		l := c.Launch(n, shader)
		ax, ay, ad := l.In(x), l.In(y), l.Out(n)
		l.Offset(ax, 4)
		l.Offset(ay, 4)
		l.Offset(ad, 4)
		count := n.Shape.NumElements()
		l.Int(count)
		sh := gpu.Pad4(x.Shape)
		l.Int(sh[1])
		l.Int(sh[2])
		l.Int(sh[3])
		ys := gpu.Pad4Strides(graph.BroadcastStrides(x.Shape, y.Shape))
		for _, s := range ys {
			l.Int(s)
		}
		same := uint32(0)
		if y.Shape.NumElements() == count {
			same = 1
		}
		l.U32(same)
		elementGrid(c, l, count)
		return nil
	}
}

func launchUnary(shader string) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		l := c.Launch(n, shader)
		ax, ad := l.In(n.Inputs[0]), l.Out(n)
		l.Offset(ax, 4)
		l.Offset(ad, 4)
		count := n.Shape.NumElements()
		l.Int(count)
		l.F32(n.Params.Scale)
		elementGrid(c, l, count)
		return nil
	}
}

func launchSwiGLU(c *compiler, n *graph.Node) error {
	l := c.Launch(n, "swiglu")
	ag, au, ad := l.In(n.Inputs[0]), l.In(n.Inputs[1]), l.Out(n)
	l.Offset(ag, 4)
	l.Offset(au, 4)
	l.Offset(ad, 4)
	count := n.Shape.NumElements()
	l.Int(count)
	elementGrid(c, l, count)
	return nil
}
