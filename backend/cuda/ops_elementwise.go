package cuda

import (
	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
)

// Element-wise ops (kernels/cuda/elementwise.cu): add, mul (y broadcast),
// scale, silu, gelu, swiglu.

func init() {
	ops.Register(graph.OpAdd, variant{Name: "default", Launch: launchBinary("add_f32")})
	ops.Register(graph.OpMul, variant{Name: "default", Launch: launchBinary("mul_f32")})
	ops.Register(graph.OpScale, variant{Name: "default", Launch: launchScale})
	ops.Register(graph.OpSiLU, variant{Name: "default", Launch: launchUnary("silu_f32")})
	ops.Register(graph.OpGELU, variant{Name: "default", Launch: launchUnary("gelu_f32")})
	ops.Register(graph.OpSwiGLU, variant{Name: "default", Launch: launchSwiGLU})
}

func launchBinary(kernel string) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		x, y := n.Inputs[0], n.Inputs[1]
		l := c.Launch(n, kernel)
		l.In(x)
		l.In(y)
		l.Out(n)
		count := n.Shape.NumElements()
		l.Int(count)
		sh := gpu.Pad4(x.Shape)
		l.Int(sh[1])
		l.Int(sh[2])
		l.Int(sh[3])
		for _, s := range gpu.Pad4Strides(graph.BroadcastStrides(x.Shape, y.Shape)) {
			l.Int(s)
		}
		same := uint32(0)
		if y.Shape.NumElements() == count {
			same = 1
		}
		l.U32(same)
		elementGrid(l, count)
		return nil
	}
}

func launchScale(c *compiler, n *graph.Node) error {
	l := c.Launch(n, "scale_f32")
	l.In(n.Inputs[0])
	l.Out(n)
	count := n.Shape.NumElements()
	l.Int(count)
	l.F32(n.Params.Scale)
	elementGrid(l, count)
	return nil
}

func launchUnary(kernel string) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		l := c.Launch(n, kernel)
		l.In(n.Inputs[0])
		l.Out(n)
		count := n.Shape.NumElements()
		l.Int(count)
		elementGrid(l, count)
		return nil
	}
}

func launchSwiGLU(c *compiler, n *graph.Node) error {
	l := c.Launch(n, "swiglu_f32")
	l.In(n.Inputs[0])
	l.In(n.Inputs[1])
	l.Out(n)
	count := n.Shape.NumElements()
	l.Int(count)
	elementGrid(l, count)
	return nil
}
