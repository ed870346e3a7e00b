//go:build cgo

package vulkan

import (
	"errors"
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// The cooperative-matrix GEMM (kernels/vulkan/matmul_<w>_gemm_coopmat):
// matmul variant "gemm_coopmat", available only on devices that report
// VK_KHR_cooperative_matrix with the kernel's shape and the features its
// SPIR-V declares. It is a variant, not part of "auto": no device golem's
// CI has cooperative matrices, so the kernel has not run anywhere yet;
// golem bench and the variant tests on a GPU (make gpu-bundle) run it.

// matmulCoopmat is the variant's name.
const matmulCoopmat = "gemm_coopmat"

// coopmatGEMMShape is the kernel's shape: 16×8×16, f16 A and B, f32
// accumulator and result, subgroup scope.
var coopmatGEMMShape = coopShape{M: 16, N: 8, K: 16, A: compF16, B: compF16, C: compF32, Result: compF32, Scope: scopeSubgroup}

// coopmatTile is the output tile edge of a workgroup (32×32).
const coopmatTile = 32

// coopmatAvailable selects the coopmat kernels: the device has
// VK_KHR_cooperative_matrix (enabled at device creation) with the
// kernel's shape, 16-bit floats (shaderFloat16), the Vulkan memory model
// the SPIR-V declares, subgroups in compute, and workgroups of four
// subgroups.
func coopmatAvailable(d *deviceInfo) error {
	f := d.Features
	switch {
	case !f.CoopMat:
		return errors.New("the device has no VK_KHR_cooperative_matrix")
	case !f.Float16:
		return errors.New("the cooperative-matrix kernels need shaderFloat16")
	case !f.MemoryModel:
		return errors.New("the cooperative-matrix kernels need the Vulkan memory model")
	case d.Limits.SubgroupOps&subgroupBasic == 0 || d.Limits.SubgroupSize == 0:
		return errors.New("the cooperative-matrix kernels need subgroups in compute shaders")
	case 4*d.Limits.SubgroupSize > min(d.Limits.MaxInvocations, d.Limits.MaxWorkgroupSize[0]):
		return fmt.Errorf("workgroups of 4 subgroups of %d exceed the device's %d invocations", d.Limits.SubgroupSize, d.Limits.MaxInvocations)
	}
	for _, s := range f.CoopMatShapes {
		if s == coopmatGEMMShape {
			return nil
		}
	}
	return fmt.Errorf("the device's cooperative matrices do not include %d×%d×%d f16 → f32 at subgroup scope", coopmatGEMMShape.M, coopmatGEMMShape.N, coopmatGEMMShape.K)
}

func supportsCoopmat(d *deviceInfo, n *graph.Node) error {
	if err := coopmatAvailable(d); err != nil {
		return err
	}
	return supportsMatMulGEMM(d, n)
}

func launchCoopmat(c *compiler, n *graph.Node) error {
	x, w := n.Inputs[0], n.Inputs[1]
	d := n.MatMulDims()
	m, nn, k, batches, rowBytes := int64(d.M), int64(d.N), int64(d.K), int64(d.Batches), d.WRowBytes
	unit := weightUnit(w.DType)
	wRow := k
	if w.DType.IsQuantized() {
		wRow = rowBytes
	}
	chunks := [][2]int{{0, d.N}}
	if !d.BatchedW && nn*rowBytes > c.Dev.maxWindow() {
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
		l := c.Launch(n, "matmul_"+w.DType.String()+"_gemm_coopmat")
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
		l.Local(4*c.Dev.Limits.SubgroupSize, 1, 1)
		l.Grid(uint32(groups(int64(ch[1]-ch[0]), coopmatTile)), uint32(groups(m, coopmatTile)), uint32(batches))
	}
	return nil
}

// attnFlashCoopmat is the cooperative-matrix flash attention variant
// (kernels/vulkan/attention_flash_coopmat): offered only where
// coopmatFlashAvailable accepts the device, never by "auto"; like the
// GEMM it has not run anywhere yet (no device golem's CI has cooperative
// matrices).
const attnFlashCoopmat = "flash_coopmat"

// coopmatFlashShared is the kernel's shared memory in bytes for head dims
// d and dv: f16 query (16 rows), key and value tiles (32 rows) and
// probabilities, f32 scores, P·V and output tiles, three f32 and one uint
// per query row.
func coopmatFlashShared(d, dv int64) int64 {
	return 2*(16*d+32*d+32*dv+16*32) + 4*(16*32+2*16*dv) + 4*4*16
}

// coopmatFlashAvailable: the GEMM's requirements (coopmatAvailable) and
// 16-bit storage (K and V are read as float16_t).
func coopmatFlashAvailable(d *deviceInfo) error {
	if err := coopmatAvailable(d); err != nil {
		return err
	}
	return storage16Available(d)
}

func supportsFlashCoopmat(dev *deviceInfo, n *graph.Node) error {
	if err := coopmatFlashAvailable(dev); err != nil {
		return err
	}
	if err := supportsAttn(n); err != nil {
		return err
	}
	a := n.AttentionDims()
	if a.D%16 != 0 || a.Dv%8 != 0 {
		return fmt.Errorf("head dims %d and %d: the cooperative-matrix kernel needs D a multiple of 16 and Dv of 8", a.D, a.Dv)
	}
	if s := coopmatFlashShared(int64(a.D), int64(a.Dv)); s > int64(dev.Limits.MaxSharedMemory) {
		return fmt.Errorf("head dims %d and %d need %d bytes of shared memory (device: %d)", a.D, a.Dv, s, dev.Limits.MaxSharedMemory)
	}
	lim := dev.Limits.MaxWorkgroupCount
	if groups(int64(a.Sq), 16) > int64(lim[0]) || int64(a.Hq) > int64(lim[1]) || int64(a.Batch) > int64(lim[2]) {
		return fmt.Errorf("grid of %d×%d×%d query tiles, heads and batches exceeds the device's %v", groups(int64(a.Sq), 16), a.Hq, a.Batch, lim)
	}
	return nil
}

func launchFlashCoopmat(c *compiler, n *graph.Node) error {
	a := n.AttentionDims()
	l := c.Launch(n, "attention_flash_coopmat")
	attnArgs(l, n, a, -1, 0, 0)
	l.Local(4*c.Dev.Limits.SubgroupSize, 1, 1)
	l.Spec(3, uint32(a.D))
	l.Spec(4, uint32(a.Dv))
	l.Grid(uint32(groups(int64(a.Sq), 16)), uint32(a.Hq), uint32(a.Batch))
	return nil
}
