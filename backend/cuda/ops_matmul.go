package cuda

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// Matmul: d = x·wᵀ. Variants: "auto" (the default) runs the kernel
// chooseMatMul picks for each node; "simt" (matmul.cu), "gemv" (gemv.cu)
// and "mma" (gemm.cu) force one kernel; "cublaslt" is cuBLASLt's matmul
// when the library is present (select.go describes each).

func init() {
	ops.Register(graph.OpMatMul,
		variant{Name: "auto", Supports: supportsMatMulAuto, Launch: launchMatMulAuto},
		variant{Name: mmSIMT, Supports: supportsMatMulSIMT, Launch: launchMatMulSIMT},
		variant{Name: mmGEMV, Supports: supportsMatMulGEMV, Launch: launchMatMulGEMV},
	)
}

// matmulWarps is the number of output columns (warps) per block of the
// simt kernel.
const matmulWarps = 4

// matmulPlanFor is chooseMatMul for node n on device d.
func matmulPlanFor(d *deviceInfo, n *graph.Node) matmulPlan {
	return chooseMatMul(d.CCMajor*10+d.CCMinor, d.SMCount, n.MatMulDims(), n.Inputs[1].DType)
}

func supportsMatMulAuto(d *deviceInfo, n *graph.Node) error {
	switch matmulPlanFor(d, n).Kernel {
	case mmGEMV:
		return supportsMatMulGEMV(d, n)
	}
	return supportsMatMulSIMT(d, n)
}

func launchMatMulAuto(c *compiler, n *graph.Node) error {
	switch matmulPlanFor(c.Dev, n).Kernel {
	case mmGEMV:
		return launchMatMulGEMV(c, n)
	}
	return launchMatMulSIMT(c, n)
}

func supportsMatMulSIMT(_ *deviceInfo, n *graph.Node) error {
	md := n.MatMulDims()
	if md.M > 65535 || md.Batches > 65535 {
		return fmt.Errorf("%d rows in %d batches exceed the kernel's grid (65535 each)", md.M, md.Batches)
	}
	if md.WRowBytes*int64(md.N) > 1<<32-1 && md.BatchedW {
		return fmt.Errorf("a batch of w spans more than 2³²−1 bytes")
	}
	return nil
}

func launchMatMulSIMT(c *compiler, n *graph.Node) error {
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

// gemvWarps is GEMV_WARPS of gemv.cu: warps per block, two weight rows each.
const gemvWarps = 4

func supportsMatMulGEMV(_ *deviceInfo, n *graph.Node) error {
	md := n.MatMulDims()
	if md.BatchedW {
		return fmt.Errorf("batched w: the GEMV kernels take a 2-D w")
	}
	if groups(int64(md.M), gemvRows) > 65535 {
		return fmt.Errorf("%d rows of x exceed the GEMV grid (%d passes of %d)", md.M, 65535, gemvRows)
	}
	if n.Inputs[1].DType.IsQuantized() && md.K%32 != 0 {
		return fmt.Errorf("inner size %d is not a multiple of 32", md.K)
	}
	return nil
}

func launchMatMulGEMV(c *compiler, n *graph.Node) error {
	x, w := n.Inputs[0], n.Inputs[1]
	md := n.MatMulDims()
	mr := int64(gemvRows)
	if md.M == 1 {
		mr = 1
	}
	suffix := fmt.Sprintf("_r%d", mr)
	grid := func(l *launch) {
		l.Int(int64(md.M))
		l.Int(int64(md.N))
		l.Int(int64(md.K))
		l.Int(md.WRowBytes)
		l.Local(32*gemvWarps, 1, 1)
		l.Grid(uint32(groups(int64(md.N), 2*gemvWarps)), uint32(groups(int64(md.M), mr)), 1)
	}
	if !w.DType.IsQuantized() {
		l := c.Launch(n, "gemv_"+w.DType.String()+suffix)
		l.In(x)
		l.In(w)
		l.Out(n)
		grid(l)
		return nil
	}
	// x to int8 terms in the node's temporary (hi, lo, then 16 bytes per
	// block, each at a 256-byte boundary), then the dp4a GEMV.
	blocks := int64(md.M) * int64(md.K) / 32
	loOff := (int64(md.M)*int64(md.K) + 255) &^ 255
	xdOff := 2 * loOff
	tmp := c.Temp(xdOff + 16*blocks)
	q := c.Launch(n, "q8x")
	q.In(x)
	q.Scratch(tmp)
	q.Int(blocks)
	q.Int(loOff)
	q.Int(xdOff)
	q.Local(128, 1, 1)
	q.Grid1D(groups(blocks, 4))
	l := c.Launch(n, "gemv_"+w.DType.String()+suffix)
	l.Scratch(tmp)
	l.In(w)
	l.Out(n)
	grid(l)
	l.Int(loOff)
	l.Int(xdOff)
	return nil
}
