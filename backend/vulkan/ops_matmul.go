//go:build cgo

package vulkan

import (
	"errors"
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// Matmul variants. "auto" (the default) runs the GEMV kernel when x has at
// most gemvMaxRows rows per batch and the tiled GEMM kernel otherwise,
// reading F16 weights through 16-bit storage when the device has it; "gemv"
// and "gemm" force one baseline kernel for every matmul node; "gemv_s16" and
// "gemm_s16" (devices with storageBuffer16BitAccess) are gemv and gemm with
// F16 weights read as float16_t, converted by the hardware (the other
// dtypes run the baseline kernels).
const (
	matmulAuto    = "auto"
	matmulGEMV    = "gemv"
	matmulGEMM    = "gemm"
	matmulGEMVS16 = "gemv_s16"
	matmulGEMMS16 = "gemm_s16"
)

const (
	// gemvMaxRows is the largest row count of x (per batch) that "auto"
	// computes with the GEMV kernel.
	gemvMaxRows = 8
	// gemvRowsPerGroup is NR of matmul_gemv.glsl: output columns per workgroup.
	gemvRowsPerGroup = 2
	// gemvMaxMR bounds MR of matmul_gemv.glsl: rows of x per pass.
	gemvMaxMR = 8
	// gemvMaxLocal is the GEMV workgroup size for long rows.
	gemvMaxLocal = 128
	// gemmLocal is the GEMM workgroup size (16×16, fixed by the shader).
	gemmLocal = 256
	// gemmTile is the GEMM output tile edge (BM = BN).
	gemmTile = 64
	// gemmShared is the GEMM kernel's shared memory in bytes.
	gemmShared = 2 * 32 * gemmTile * 4
)

func init() {
	ops.Register(graph.OpMatMul,
		variant{Name: matmulAuto, Supports: supportsMatMulAuto, Launch: launchMatMulAuto},
		variant{Name: matmulGEMV, Supports: supportsMatMulGEMV, Launch: launchMatMulGEMV},
		variant{Name: matmulGEMM, Available: gemmAvailable, Supports: supportsMatMulGEMM, Launch: launchMatMulGEMM},
		variant{Name: matmulGEMVS16, Available: storage16Available, Supports: supportsMatMulGEMV, Launch: launchMatMulGEMVS16},
		variant{Name: matmulGEMMS16, Available: func(d *deviceInfo) error {
			if err := storage16Available(d); err != nil {
				return err
			}
			return gemmAvailable(d)
		}, Supports: supportsMatMulGEMM, Launch: launchMatMulGEMMS16},
		// Registered here, after "auto", so that they are never the default.
		variant{Name: matmulGEMVVec4, Supports: supportsGEMV4, Launch: launchGEMV4("gemv4")},
		variant{Name: matmulGEMVQ8, Supports: supportsGEMVQ8, Launch: launchGEMV4("gemv_q8")},
		variant{Name: matmulGEMVDP4, Available: intDotAvailable, Supports: supportsGEMVQ8, Launch: launchGEMV4("gemv_dp4")},
		variant{Name: matmulCoopmat, Available: coopmatAvailable, Supports: supportsCoopmat, Launch: launchCoopmat},
	)
}

// gemmAvailable: the GEMM kernel needs 256 invocations in x and 16 KiB of
// shared memory (the latter every Vulkan device has).
func gemmAvailable(d *deviceInfo) error {
	lim := d.Limits
	if lim.MaxInvocations < gemmLocal || lim.MaxWorkgroupSize[0] < gemmLocal {
		return fmt.Errorf("the GEMM kernel needs workgroups of %d invocations (device: %d)", gemmLocal, lim.MaxInvocations)
	}
	if lim.MaxSharedMemory < gemmShared {
		return fmt.Errorf("the GEMM kernel needs %d bytes of shared memory (device: %d)", gemmShared, lim.MaxSharedMemory)
	}
	return nil
}

// storage16Available: feature kernels that read 16-bit data as float16_t
// need storageBuffer16BitAccess.
func storage16Available(d *deviceInfo) error {
	if !d.Features.Storage16 {
		return errors.New("the device has no 16-bit storage (storageBuffer16BitAccess)")
	}
	return nil
}

// supportsMatMul checks what every matmul kernel needs: 32-bit sizes, a
// batch count the grid can hold, and for quantized weights an inner size
// of whole blocks.
func supportsMatMul(dev *deviceInfo, n *graph.Node) error {
	d := n.MatMulDims()
	if int64(d.Batches) > int64(dev.Limits.MaxWorkgroupCount[2]) {
		return fmt.Errorf("%d batches exceed the device's grid limit %d", d.Batches, dev.Limits.MaxWorkgroupCount[2])
	}
	const lim = 1<<32 - 1
	if n.Shape.NumElements() > lim || n.Inputs[0].Shape.NumElements() > lim || n.Inputs[1].Shape.NumElements() > lim {
		return errors.New("tensors of more than 2³²−1 elements")
	}
	if w := n.Inputs[1]; w.DType.IsQuantized() && d.K%w.DType.BlockSize() != 0 {
		return fmt.Errorf("inner size %d is not a multiple of the %s block size %d", d.K, w.DType, w.DType.BlockSize())
	}
	return nil
}

// supportsMatMulGEMM adds the GEMM grid limits to supportsMatMul.
func supportsMatMulGEMM(dev *deviceInfo, n *graph.Node) error {
	if err := supportsMatMul(dev, n); err != nil {
		return err
	}
	d := n.MatMulDims()
	if t := groups(int64(d.M), gemmTile); t > int64(dev.Limits.MaxWorkgroupCount[1]) {
		return fmt.Errorf("%d rows of x need %d row tiles, more than the device's grid limit %d", d.M, t, dev.Limits.MaxWorkgroupCount[1])
	}
	if t := groups(int64(d.N), gemmTile); t > int64(dev.Limits.MaxWorkgroupCount[0]) {
		return fmt.Errorf("%d output columns need %d column tiles, more than the device's grid limit %d", d.N, t, dev.Limits.MaxWorkgroupCount[0])
	}
	return nil
}

// supportsMatMulGEMV adds lavapipe's loop budget to supportsMatMul: the
// GEMV kernel loops over the rows of x in passes of MR.
func supportsMatMulGEMV(dev *deviceInfo, n *graph.Node) error {
	if err := supportsMatMul(dev, n); err != nil {
		return err
	}
	d := n.MatMulDims()
	local, mr := gemvConfig(d, n.Inputs[1].DType)
	if it := gemvIterations(d, local, mr); !withinLoopBudget(dev, it) {
		return fmt.Errorf("the GEMV kernel would run about %d loop iterations per invocation, more than lavapipe's limit", it)
	}
	return nil
}

// supportsMatMulAuto accepts what the kernel "auto" picks accepts.
func supportsMatMulAuto(dev *deviceInfo, n *graph.Node) error {
	if autoMatMulKind(dev, n) == matmulGEMM {
		return supportsMatMulGEMM(dev, n)
	}
	return supportsMatMulGEMV(dev, n)
}

// autoMatMulKind is the kernel "auto" runs n with: GEMV for few rows of x
// (or when the device cannot run GEMM on n), GEMM otherwise.
func autoMatMulKind(dev *deviceInfo, n *graph.Node) string {
	if n.MatMulDims().M <= gemvMaxRows || gemmAvailable(dev) != nil || supportsMatMulGEMM(dev, n) != nil {
		return matmulGEMV
	}
	return matmulGEMM
}

// gemvConfig returns the GEMV workgroup size (a power of two from 32 to
// gemvMaxLocal, no larger than the row's work items) and MR.
func gemvConfig(d graph.MatMulDims, wt graph.DType) (local uint32, mr int64) {
	units := int64(d.K) // per row: elements, or groups of 8 for quantized weights
	if wt.IsQuantized() {
		units /= 8
	}
	local = 32
	for local < gemvMaxLocal && int64(local) < units {
		local *= 2
	}
	mr = min(int64(d.M), gemvMaxMR)
	if d.M > gemvMaxMR {
		mr = 4 // many rows (a forced GEMV): passes of 4
	}
	return local, mr
}

// gemvIterations estimates the loop iterations of one GEMV invocation.
func gemvIterations(d graph.MatMulDims, local uint32, mr int64) int64 {
	units := int64(d.K)
	if d.K%8 == 0 {
		units /= 8
	}
	steps := int64(0)
	for s := local; s > 1; s /= 2 {
		steps++
	}
	const nr = gemvRowsPerGroup
	perPass := groups(units, int64(local))*(mr+nr*(1+mr)+1) + 3*nr*mr + steps*(1+nr*mr) + 2
	return groups(int64(d.M), mr) * perPass
}

// launchMatMulAuto runs the kernel autoMatMulKind picks, the 16-bit
// storage one for F16 weights when the device has it.
func launchMatMulAuto(c *compiler, n *graph.Node) error {
	return launchMatMul(c, n, autoMatMulKind(c.Dev, n), storage16Available(c.Dev) == nil)
}

func launchMatMulGEMV(c *compiler, n *graph.Node) error { return launchMatMul(c, n, matmulGEMV, false) }

func launchMatMulGEMM(c *compiler, n *graph.Node) error { return launchMatMul(c, n, matmulGEMM, false) }

func launchMatMulGEMVS16(c *compiler, n *graph.Node) error {
	return launchMatMul(c, n, matmulGEMV, true)
}

func launchMatMulGEMMS16(c *compiler, n *graph.Node) error {
	return launchMatMul(c, n, matmulGEMM, true)
}

// weightUnit is the unit of w's offset and strides in the shader: bytes of
// one float32 element, of one half, or 1 (bytes) for quantized weights.
func weightUnit(dt graph.DType) int64 {
	switch dt {
	case graph.F32:
		return 4
	case graph.F16, graph.BF16:
		return 2
	}
	return 1
}

// launchMatMul records the dispatches of matmul node n with kernel kind
// (matmulGEMV or matmulGEMM): one per chunk of w rows whose bytes fit in one
// binding (a single one unless w exceeds maxStorageBufferRange). With s16,
// F16 weights use the kernel that reads them through 16-bit storage.
func launchMatMul(c *compiler, n *graph.Node, kind string, s16 bool) error {
	x, w := n.Inputs[0], n.Inputs[1]
	d := n.MatMulDims()
	m, nn, k, batches, rowBytes := int64(d.M), int64(d.N), int64(d.K), int64(d.Batches), d.WRowBytes
	shader := "matmul_" + w.DType.String() + "_" + kind
	if s16 && w.DType == graph.F16 {
		shader += "_s16"
	}
	unit := weightUnit(w.DType)
	// The shader's row stride of w: elements (halves) for float weights,
	// bytes for quantized ones.
	wRow := k
	if w.DType.IsQuantized() {
		wRow = rowBytes
	}
	chunks := [][2]int{{0, d.N}}
	if d.BatchedW {
		// A batched weight is bound whole (one [n, k] matrix per batch).
		if batches*nn*rowBytes > c.Dev.maxWindow() {
			return fmt.Errorf("batched weight %s of %d bytes exceeds one binding (maxStorageBufferRange %d)",
				w, batches*nn*rowBytes, c.Dev.Limits.MaxStorageBufferRange)
		}
	} else if nn*rowBytes > c.Dev.maxWindow() {
		var err error
		if chunks, err = c.Dev.rowChunks(d.N, rowBytes); err != nil {
			return fmt.Errorf("weight %s: %w", w, err)
		}
	}
	var wbs int64
	if d.BatchedW {
		wbs = nn * rowBytes / unit
	}
	for _, ch := range chunks {
		l := c.Launch(n, shader)
		ax := l.In(x)
		var aw int
		if len(chunks) == 1 {
			aw = l.In(w)
		} else {
			aw = l.InRange(w, int64(ch[0])*rowBytes, int64(ch[1])*rowBytes)
		}
		ad := l.Out(n)
		l.Int(m)
		l.Int(nn)
		l.Int(k)
		l.Int(int64(ch[0]))
		l.Int(int64(ch[1] - ch[0]))
		l.Offset(ax, 4)
		l.Offset(aw, unit)
		l.Offset(ad, 4)
		l.Int(m * k)
		l.Int(wbs)
		l.Int(m * nn)
		l.Int(wRow)
		cols := int64(ch[1] - ch[0])
		if kind == matmulGEMM {
			l.Local(gemmLocal, 1, 1)
			l.Grid(uint32(groups(cols, gemmTile)), uint32(groups(m, gemmTile)), uint32(batches))
			continue
		}
		local, mr := gemvConfig(d, w.DType)
		l.Local(local, 1, 1)
		l.Spec(3, gemvRowsPerGroup)
		l.Spec(4, uint32(mr))
		gx, gy := fold(groups(cols, gemvRowsPerGroup))
		l.Grid(gx, gy, uint32(batches))
	}
	return nil
}

// fold splits a 1-D count of workgroups into x·y with x ≤ 65535 (the
// shader bounds-checks the rounded-up product).
func fold(g int64) (uint32, uint32) {
	const maxX = 65535
	x := min(g, maxX)
	return uint32(x), uint32(groups(g, x))
}
