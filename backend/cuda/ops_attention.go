package cuda

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/graph"
)

// Attention (kernels/cuda/attention.cu): fused, with an online softmax,
// one block per (query, head, batch).

func init() {
	ops.Register(graph.OpAttention, variant{Name: "default", Supports: supportsAttention, Launch: launchAttention})
}

// Flag bits of the attention kernel's flags word.
const (
	attnCausal = 1 << iota
	attnMask
	attnPos
)

// attnMaxD is the largest head dimension (D and Dv) the kernel takes.
const attnMaxD = 512

func supportsAttention(_ *deviceInfo, n *graph.Node) error {
	a := n.AttentionDims()
	if a.D > attnMaxD || a.Dv > attnMaxD {
		return fmt.Errorf("head dims %d and %d: the kernel takes at most %d", a.D, a.Dv, attnMaxD)
	}
	if a.Sq > 1<<31-1 || a.Hq > 65535 || a.Batch > 65535 {
		return fmt.Errorf("%d queries, %d heads, %d batches exceed the kernel's grid", a.Sq, a.Hq, a.Batch)
	}
	return nil
}

func launchAttention(c *compiler, n *graph.Node) error {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	a := n.AttentionDims()
	mask, pos, flags := q, q, uint32(0) // q stands in for absent inputs (never read)
	if a.Causal {
		flags |= attnCausal
	}
	if m := n.Mask(); m != nil {
		mask = m
		flags |= attnMask
	}
	if p := n.Positions(); p != nil {
		pos = p
		flags |= attnPos
	}
	scale := n.Params.Scale
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(a.D)))
	}
	l := c.Launch(n, "attention_"+k.DType.String()+"_"+v.DType.String())
	l.In(q)
	l.In(k)
	l.In(v)
	l.In(mask)
	l.In(pos)
	l.Out(n)
	l.Int(int64(a.Sq))
	l.Int(int64(a.Sk))
	l.Int(int64(a.Hq))
	l.Int(int64(a.Hkv))
	l.Int(int64(a.D))
	l.Int(int64(a.Dv))
	l.F32(scale)
	l.U32(flags)
	l.Local(128, 1, 1)
	l.Grid(uint32(a.Sq), uint32(a.Hq), uint32(a.Batch))
	return nil
}
