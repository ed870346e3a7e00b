package cuda

import (
	"errors"
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
		variant{Name: mmMMA, Available: tensorCores, Supports: supportsMatMulMMA, Launch: launchMatMulMMA},
		variant{Name: mmCublasLt, Available: cublasLtAvailable, Supports: supportsMatMulCublasLt, Launch: launchMatMulCublasLt},
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
	case mmMMA:
		return supportsMatMulMMA(d, n)
	}
	return supportsMatMulSIMT(d, n)
}

func launchMatMulAuto(c *compiler, n *graph.Node) error {
	switch p := matmulPlanFor(c.Dev, n); p.Kernel {
	case mmGEMV:
		return launchMatMulGEMV(c, n)
	case mmMMA:
		return launchGEMM(c, n, p)
	}
	return launchMatMulSIMT(c, n)
}

// tensorCores: the mma.sync kernels need sm_80 (golem's minimum anyway).
func tensorCores(d *deviceInfo) error {
	if d.CCMajor*10+d.CCMinor < 80 {
		return fmt.Errorf("tensor-core kernels need sm_80 (device: sm_%d%d)", d.CCMajor, d.CCMinor)
	}
	return nil
}

func supportsMatMulMMA(_ *deviceInfo, n *graph.Node) error {
	md := n.MatMulDims()
	wt := n.Inputs[1].DType
	switch {
	case md.BatchedW:
		return fmt.Errorf("batched w: the GEMM takes a 2-D w")
	case !mmaWeight(wt):
		return fmt.Errorf("%s weights: the tensor-core GEMM takes f16, bf16 and quantized weights", wt)
	case groups(int64(md.M), gemmTile) > 65535:
		return fmt.Errorf("%d rows of x exceed the GEMM grid", md.M)
	}
	return nil
}

// launchMatMulMMA forces the tensor-core GEMM with the tile and split-K
// auto would use.
func launchMatMulMMA(c *compiler, n *graph.Node) error {
	return launchGEMM(c, n, gemmPlan(c.Dev.SMCount, n.MatMulDims()))
}

// launchGEMM converts x to 16-bit floats in the node's temporary, runs
// the tile kernel (split ways over K) and, with a split, adds the
// partial tiles.
func launchGEMM(c *compiler, n *graph.Node, p matmulPlan) error {
	x, w := n.Inputs[0], n.Inputs[1]
	md := n.MatMulDims()
	split := p.Split
	kp := groups(int64(md.K), gemmTileK) * gemmTileK
	kTiles := kp / gemmTileK
	tiles := groups(kTiles, int64(split))
	split = int(groups(kTiles, tiles)) // no empty split
	half := "f16"
	if w.DType == graph.BF16 {
		half = "bf16"
	}
	xhBytes := (int64(md.M)*kp*2 + 255) &^ 255
	partBytes := int64(0)
	if split > 1 {
		partBytes = int64(split) * int64(md.M) * int64(md.N) * 4
	}
	tmp := c.Temp(xhBytes + partBytes)
	cv := c.Launch(n, "gemm_x_"+half)
	cv.In(x)
	cv.Scratch(tmp)
	cv.Int(int64(md.M) * kp)
	cv.Int(int64(md.K))
	cv.Int(kp)
	cv.Local(256, 1, 1)
	cv.Grid1D(groups(int64(md.M)*kp, 256))
	// gemm.cu's Gemm64 and Gemm128: 4 warps and 3 stages, 8 warps and 4.
	kernel, stages, threads := "gemm_"+w.DType.String(), int64(3), uint32(128)
	if p.Tile == gemmBigTile {
		kernel, stages, threads = kernel+"_t128", 4, 256
	}
	l := c.Launch(n, kernel)
	l.Scratch(tmp)
	l.In(w)
	if split > 1 {
		l.Scratch(tmp)
	} else {
		l.Out(n)
	}
	l.Int(int64(md.M))
	l.Int(int64(md.N))
	l.Int(int64(md.K))
	l.Int(kp)
	l.Int(md.WRowBytes)
	l.Int(tiles)
	if split > 1 {
		l.Int(xhBytes / 4)
	} else {
		l.U32(0)
	}
	tile := int64(p.Tile)
	l.Local(threads, 1, 1)
	l.Spec(specDynamicShared, uint32(stages*2*tile*gemmTileK*2))
	l.Grid(uint32(groups(int64(md.N), tile)), uint32(groups(int64(md.M), tile)), uint32(split))
	if split > 1 {
		count := int64(md.M) * int64(md.N)
		r := c.Launch(n, "gemm_reduce")
		r.Scratch(tmp)
		r.Out(n)
		r.Int(count)
		r.Int(int64(split))
		r.Int(xhBytes / 4)
		r.Local(256, 1, 1)
		r.Grid1D(groups(count, 256))
	}
	return nil
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
	// x to int8 terms in the node's temporary, then the dp4a GEMV.
	q8 := q8xLayout(0, int64(md.M), int64(md.K))
	tmp := c.Temp(q8.end)
	launchQ8X(c, n, x, tmp, q8)
	l := c.Launch(n, "gemv_"+w.DType.String()+suffix)
	l.Scratch(tmp)
	l.In(w)
	l.Out(n)
	grid(l)
	q8.push(l)
	return nil
}

// q8x is where kernel q8x puts x's int8 terms in a scratch region: hi,
// lo and the block data (16 bytes per 32 elements), each at a 256-byte
// boundary, from byte start; end is the first byte past them.
type q8x struct{ blocks, hi, lo, xd, end int64 }

func q8xLayout(start, rows, k int64) q8x {
	quants := (rows*k + 255) &^ 255
	hi := (start + 255) &^ 255
	l := q8x{blocks: rows * k / 32, hi: hi, lo: hi + quants, xd: hi + 2*quants}
	l.end = l.xd + 16*l.blocks
	return l
}

// push pushes the layout's three offsets as words.
func (q q8x) push(l *launch) {
	l.Int(q.hi)
	l.Int(q.lo)
	l.Int(q.xd)
}

// launchQ8X quantizes x into region tmp at layout q.
func launchQ8X(c *compiler, n, x *graph.Node, tmp int, q q8x) {
	l := c.Launch(n, "q8x")
	l.In(x)
	l.Scratch(tmp)
	l.Int(q.blocks)
	q.push(l)
	l.Local(128, 1, 1)
	l.Grid1D(groups(q.blocks, 4))
}

// cublasLtKernel is the kernel name of a launch that is cuBLASLt's matmul
// (the backend makes a plan instead of finding a kernel).
const cublasLtKernel = "cublaslt"

// cublasLtWorkspace is the workspace cuBLASLt's algorithms may use.
const cublasLtWorkspace = 4 << 20

func cublasLtAvailable(d *deviceInfo) error {
	if d.CublasLt != "" {
		return errors.New(d.CublasLt)
	}
	return nil
}

func supportsMatMulCublasLt(_ *deviceInfo, n *graph.Node) error {
	md := n.MatMulDims()
	if wt := n.Inputs[1].DType; md.BatchedW || (wt != graph.F16 && wt != graph.BF16) {
		return fmt.Errorf("cuBLASLt multiplies 2-D f16 and bf16 weights (w %s)", n.Inputs[1])
	}
	return nil
}

// launchMatMulCublasLt converts x to the weights' 16-bit type (as the
// tensor-core GEMM does) and calls cuBLASLt's matmul with f32
// accumulation and output; the node's temporary holds x's copy and the
// workspace.
func launchMatMulCublasLt(c *compiler, n *graph.Node) error {
	x, w := n.Inputs[0], n.Inputs[1]
	md := n.MatMulDims()
	kp := groups(int64(md.K), 8) * 8 // 16-byte rows
	half, bf16 := "f16", uint32(0)
	if w.DType == graph.BF16 {
		half, bf16 = "bf16", 1
	}
	wsOff := (int64(md.M)*kp*2 + 255) &^ 255
	tmp := c.Temp(wsOff + cublasLtWorkspace)
	cv := c.Launch(n, "gemm_x_"+half)
	cv.In(x)
	cv.Scratch(tmp)
	cv.Int(int64(md.M) * kp)
	cv.Int(int64(md.K))
	cv.Int(kp)
	cv.Local(256, 1, 1)
	cv.Grid1D(groups(int64(md.M)*kp, 256))
	l := c.Launch(n, cublasLtKernel)
	l.In(w)
	l.Scratch(tmp)
	l.Out(n)
	l.Scratch(tmp)
	l.Int(int64(md.M))
	l.Int(int64(md.N))
	l.Int(int64(md.K))
	l.Int(kp)
	l.U32(bf16)
	l.Int(wsOff)
	l.Int(cublasLtWorkspace)
	l.Local(1, 1, 1)
	l.Grid(1, 1, 1)
	return nil
}
