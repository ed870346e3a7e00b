package cuda

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// Matmul (kernels/cuda/matmul.cu): d = x·wᵀ, one warp per output element,
// weights of every dtype dequantized in the kernel.

func init() {
	ops.Register(graph.OpMatMul, variant{Name: "default", Supports: supportsMatMul, Launch: launchMatMul})
}

// matmulWarps is the number of output columns (warps) per block.
const matmulWarps = 4

func supportsMatMul(_ *deviceInfo, n *graph.Node) error {
	md := n.MatMulDims()
	if md.M > 65535 || md.Batches > 65535 {
		return fmt.Errorf("%d rows in %d batches exceed the kernel's grid (65535 each)", md.M, md.Batches)
	}
	if md.WRowBytes*int64(md.N) > 1<<32-1 && md.BatchedW {
		return fmt.Errorf("a batch of w spans more than 2³²−1 bytes")
	}
	return nil
}

func launchMatMul(c *compiler, n *graph.Node) error {
	x, w := n.Inputs[0], n.Inputs[1]
	md := n.MatMulDims()
	l := c.Launch(n, "matmul_"+w.DType.String())
	l.In(x)
	l.In(w)
	l.Out(n)
	l.Int(int64(md.M))
	l.Int(int64(md.N))
	l.Int(int64(md.K))
	l.Int(md.WRowBytes)
	l.Int(int64(md.M) * int64(md.K))
	if md.BatchedW {
		l.Int(int64(md.N) * md.WRowBytes)
	} else {
		l.U32(0)
	}
	l.Int(int64(md.M) * int64(md.N))
	l.Local(32*matmulWarps, 1, 1)
	l.Grid(uint32(groups(int64(md.N), matmulWarps)), uint32(md.M), uint32(md.Batches))
	return nil
}
