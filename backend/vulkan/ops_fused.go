//go:build cgo

package vulkan

import (
	"errors"
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// The fused ops (graph/fused.go): rms_norm_mul, rope_kv_write and
// matmul_fused. The backend compiles every graph through graph.Fuse
// (program.go), so supporting them here is what turns a model's decode
// step into fewer dispatches.
//
// matmul_fused has two variants: "sg" (the default where the device has
// subgroup arithmetic in compute shaders) reduces its partial sums with
// subgroupAdd, "gemv" through a shared-memory tree (every device). Both
// take at most fusedMaxRows rows of x: larger products stay unfused (GEMM).
const (
	fusedSG   = "sg"
	fusedGEMV = "gemv"
	// fusedMaxRows is the most rows of x a matmul_fused launch takes.
	fusedMaxRows = 8
	// fusedBindings is the matmul_fused kernels' binding count.
	fusedBindings = 7
)

func init() {
	ops.Register(graph.OpRMSNormMul, variant{Name: "default", Launch: launchRMSNormMul})
	ops.Register(graph.OpRoPEKVWrite, variant{Name: "default", Launch: launchRoPEKVWrite})
	ops.Register(graph.OpMatMulFused,
		variant{Name: "auto", Available: fusedAvailable, Supports: supportsFused, Launch: launchFusedAuto},
		variant{Name: fusedSG, Available: fusedSGAvailable, Supports: supportsFused, Launch: launchFused(true)},
		variant{Name: fusedGEMV, Available: fusedAvailable, Supports: supportsFused, Launch: launchFused(false)},
	)
}

func launchRMSNormMul(c *compiler, n *graph.Node) error {
	cols := n.Shape.Last()
	rows := n.Shape.Rows()
	l := c.Launch(n, "rms_norm_mul")
	ax, aw, ad := l.In(n.Inputs[0]), l.In(n.Inputs[1]), l.Out(n)
	l.Offset(ax, 4)
	l.Offset(aw, 4)
	l.Offset(ad, 4)
	l.Int(int64(cols))
	l.Int(rows)
	l.F32(n.Params.Eps)
	l.Local(rowLocal(c.Dev, cols), 1, 1)
	l.Grid1D(rows)
	return nil
}

func launchRoPEKVWrite(c *compiler, n *graph.Node) error {
	cache, x, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	p := n.Params.RoPE
	ff, hasFF := x, uint32(0)
	if n.Params.HasFreqFactors {
		ff, hasFF = n.Inputs[3], 1
	}
	neox := uint32(0)
	if p.Mode == graph.RoPENeoX {
		neox = 1
	}
	shader := "rope_kv_write_" + cache.DType.String()
	k := c.Constants(ropeFreqs(p))
	rows := x.Shape[0]
	l := c.Launch(n, shader)
	ac, ax, ap, af := l.Out(cache), l.In(x), l.In(pos), l.In(ff)
	l.Const(k)
	l.Offset(ac, elemUnit(cache.DType))
	l.Offset(ax, 4)
	l.Offset(ap, 4)
	l.Offset(af, 4)
	l.Int(int64(x.Shape[2]))
	l.Int(int64(x.Shape[1]))
	l.Int(int64(rows))
	l.Int(int64(cache.Shape[0]))
	l.Int(int64(p.Dims))
	l.U32(neox)
	l.U32(hasFF)
	l.Status()
	l.Local(pow2Local(c.Dev, 64), 1, 1)
	l.Grid1D(int64(rows))
	return nil
}

// fusedAvailable: the matmul_fused kernels bind seven buffers.
func fusedAvailable(d *deviceInfo) error {
	if m := d.Limits.MaxStorageBuffers; m > 0 && m < fusedBindings {
		return fmt.Errorf("matmul_fused binds %d storage buffers (device: %d per stage)", fusedBindings, m)
	}
	return nil
}

// fusedSGAvailable: the "sg" kernel needs subgroup arithmetic in compute.
func fusedSGAvailable(d *deviceInfo) error {
	if err := fusedAvailable(d); err != nil {
		return err
	}
	if d.Limits.SubgroupOps&(subgroupBasic|subgroupArithmetic) != subgroupBasic|subgroupArithmetic {
		return errors.New("the device has no subgroup arithmetic in compute shaders")
	}
	return nil
}

func supportsFused(d *deviceInfo, n *graph.Node) error {
	fd := n.FusedDims()
	if fd.Rows > fusedMaxRows {
		return fmt.Errorf("matmul_fused takes at most %d rows of x, got %d", fusedMaxRows, fd.Rows)
	}
	_, _, ws, _ := n.FusedInputs()
	for _, w := range ws {
		if b := w.Bytes(); b > d.maxWindow() {
			return fmt.Errorf("weight %s (%d bytes) exceeds one binding (maxStorageBufferRange %d)", w, b, d.Limits.MaxStorageBufferRange)
		}
	}
	return nil
}

func launchFusedAuto(c *compiler, n *graph.Node) error {
	return launchFused(fusedSGAvailable(c.Dev) == nil)(c, n)
}

// fusedLocal is the matmul_fused workgroup size: a power of two from 32 to
// 128, no larger than the row's work items.
func fusedLocal(d *deviceInfo, items int) uint32 {
	want := uint32(32)
	for want < 128 && int(want) < items {
		want *= 2
	}
	return pow2Local(d, want)
}

func launchFused(sg bool) func(c *compiler, n *graph.Node) error {
	return func(c *compiler, n *graph.Node) error {
		x, norm, ws, res := n.FusedInputs()
		fd := n.FusedDims()
		f := n.Params.Fused
		dt := ws[0].DType
		shader := "matmul_fused_" + dt.String()
		if sg {
			shader += "_sg"
		}
		items := fd.K
		unit := elemUnit(dt)
		if dt.IsQuantized() {
			items, unit = fd.K/8, 1
		}
		l := c.Launch(n, shader)
		g, r := x, x
		if norm != nil {
			g = norm
		}
		if res != nil {
			r = res
		}
		w1, w2 := ws[0], ws[0]
		if len(ws) > 1 {
			w1 = ws[1]
		}
		if len(ws) > 2 {
			w2 = ws[2]
		}
		ax, ag, aw0, aw1, aw2, ar, ad := l.In(x), l.In(g), l.In(ws[0]), l.In(w1), l.In(w2), l.In(r), l.Out(n)
		var nn [3]int
		copy(nn[:], fd.N)
		const nr = 2
		g0 := groups(int64(nn[0]), nr)
		g1 := g0 + groups(int64(nn[1]), nr)
		total := g1 + groups(int64(nn[2]), nr)
		flags := uint32(0)
		if f.Norm {
			flags |= 1
		}
		if f.SwiGLU {
			flags |= 2
			nn[1], nn[2], total = 0, 0, g0
		}
		if f.Residual {
			flags |= 4
		}
		l.Int(int64(fd.Rows))
		l.Int(int64(fd.K))
		l.Int(int64(fd.Cols))
		l.Int(int64(nn[0]))
		l.Int(int64(nn[1]))
		l.Int(int64(nn[2]))
		l.Int(g0)
		l.Int(g1)
		l.Offset(ax, 4)
		l.Offset(ag, 4)
		l.Offset(aw0, unit)
		l.Offset(aw1, unit)
		l.Offset(aw2, unit)
		l.Offset(ar, 4)
		l.Offset(ad, 4)
		if dt.IsQuantized() {
			l.Int(fd.WRowBytes)
		} else {
			l.Int(int64(fd.K))
		}
		l.F32(n.Params.Eps)
		l.U32(flags)
		l.Local(fusedLocal(c.Dev, items), 1, 1)
		l.Spec(3, nr)
		l.Spec(4, uint32(min(fd.Rows, fusedMaxRows)))
		l.Spec(5, max(c.Dev.Limits.MinSubgroupSize, 1))
		l.Grid1D(total)
		return nil
	}
}
