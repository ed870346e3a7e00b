package cuda

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// Fused ops (graph/fused.go), which graph.Fuse makes of a compiled graph
// for the nodes Supports accepts: rms_norm_mul and rope_kv_write
// (rows.cu), and matmul_fused for few rows of x (gemv.cu: the GEMV kernels
// with up to three weights and a SwiGLU or residual epilogue; its norm
// runs first, into scratch: rms_norm_mul for float weights, rms_norm_q8x,
// which also quantizes x, for quantized ones). A matmul_fused over more rows
// than gemvRows is not supported, so prefill graphs keep their matmuls
// (the tensor-core GEMM).

func init() {
	ops.Register(graph.OpRMSNormMul, variant{Name: "default", Launch: launchRMSNormMul})
	ops.Register(graph.OpRoPEKVWrite, variant{Name: "default", Launch: launchRoPEKVWrite})
	ops.Register(graph.OpMatMulFused, variant{Name: "default", Supports: supportsMatMulFused, Launch: launchMatMulFused})
}

func launchRMSNormMul(c *compiler, n *graph.Node) error {
	cols := int64(n.Shape.Last())
	rows := n.Shape.NumElements() / max(cols, 1)
	l := c.Launch(n, "rms_norm_mul_f32")
	l.In(n.Inputs[0])
	l.In(n.Inputs[1])
	l.Out(n)
	l.Int(cols)
	l.Int(rows)
	l.F32(n.Params.Eps)
	l.Local(rowBlock(int(cols)), 1, 1)
	rowGrid(l, rows)
	return nil
}

func launchRoPEKVWrite(c *compiler, n *graph.Node) error {
	cache, x, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	p := n.Params.RoPE
	ff, hasFF := x, uint32(0) // x stands in for absent factors (never read)
	if n.Params.HasFreqFactors {
		ff, hasFF = n.Inputs[3], 1
	}
	neox := uint32(0)
	if p.Mode == graph.RoPENeoX {
		neox = 1
	}
	kernel := "rope_kv_write_" + cache.DType.String()
	k := c.Constants(ropeFreqs(p))
	rows := x.Shape[0]
	l := c.Launch(n, kernel)
	l.Out(cache)
	l.In(x)
	l.In(pos)
	l.In(ff)
	l.Const(k)
	l.Int(int64(x.Shape[2]))
	l.Int(int64(x.Shape[1]))
	l.Int(int64(rows))
	l.Int(int64(cache.Shape[0]))
	l.Int(int64(p.Dims))
	l.U32(neox)
	l.U32(hasFF)
	l.Status() // the status pointer after freq, the slot last
	l.Local(128, 1, 1)
	l.Grid(uint32(rows), 1, 1)
	return nil
}

func supportsMatMulFused(_ *deviceInfo, n *graph.Node) error {
	fd := n.FusedDims()
	_, _, ws, _ := n.FusedInputs()
	switch {
	case fd.Rows > gemvRows:
		return fmt.Errorf("matmul_fused takes at most %d rows of x (prefill keeps its matmuls), got %d", gemvRows, fd.Rows)
	case ws[0].DType.IsQuantized() && fd.K%32 != 0:
		return fmt.Errorf("inner size %d is not a multiple of 32", fd.K)
	}
	return nil
}

// Flag bits of the fused GEMV kernels (gemv.cu).
const (
	fusedSwiGLU   = 2
	fusedResidual = 4
)

func launchMatMulFused(c *compiler, n *graph.Node) error {
	x, norm, ws, res := n.FusedInputs()
	fd := n.FusedDims()
	f := n.Params.Fused
	dt := ws[0].DType
	mr := int64(gemvRows)
	if fd.Rows == 1 {
		mr = 1
	}
	rows, k := int64(fd.Rows), int64(fd.K)
	// The node's scratch: x normed (float weights with a norm), or x's
	// int8 terms (quantized weights; normed in the same pass with a norm).
	xnBytes := int64(0)
	if norm != nil && !dt.IsQuantized() {
		xnBytes = 4 * rows * k
	}
	q8 := q8xLayout(0, rows, k)
	need := max(xnBytes, 4)
	if dt.IsQuantized() {
		need = q8.end
	}
	tmp := c.Temp(need)
	switch {
	case norm != nil && dt.IsQuantized():
		l := c.Launch(n, "rms_norm_q8x")
		l.In(x)
		l.In(norm)
		l.Scratch(tmp)
		l.Int(k)
		l.Int(rows)
		l.F32(n.Params.Eps)
		q8.push(l)
		l.Local(128, 1, 1)
		l.Grid(uint32(rows), 1, 1)
	case dt.IsQuantized():
		launchQ8X(c, n, x, tmp, q8)
	case norm != nil:
		l := c.Launch(n, "rms_norm_mul_f32")
		l.In(x)
		l.In(norm)
		l.Scratch(tmp)
		l.Int(k)
		l.Int(rows)
		l.F32(n.Params.Eps)
		l.Local(rowBlock(int(k)), 1, 1)
		rowGrid(l, rows)
	}
	flags := uint32(0)
	var nn [3]int64
	for i, v := range fd.N {
		nn[i] = int64(v)
	}
	warps := groups(int64(fd.Cols), 2)
	if f.SwiGLU {
		flags |= fusedSwiGLU
		warps = int64(fd.Cols)
	}
	if f.Residual {
		flags |= fusedResidual
	}
	w1, w2 := ws[0], ws[0]
	if len(ws) > 1 {
		w1 = ws[1]
	}
	if len(ws) > 2 {
		w2 = ws[2]
	}
	r := x // stands in for an absent residual (never read)
	if res != nil {
		r = res
	}
	l := c.Launch(n, fmt.Sprintf("fused_%s_r%d", dt, mr))
	if dt.IsQuantized() || norm != nil {
		l.Scratch(tmp) // x's int8 terms, or the normed x
	} else {
		l.In(x)
	}
	l.In(ws[0])
	l.In(w1)
	l.In(w2)
	l.In(r)
	l.Out(n)
	l.Int(rows)
	l.Int(k)
	l.Int(fd.WRowBytes)
	l.Int(nn[0])
	l.Int(nn[1])
	l.Int(int64(fd.Cols))
	l.U32(flags)
	if dt.IsQuantized() {
		q8.push(l)
	}
	l.Local(32*gemvWarps, 1, 1)
	l.Grid(uint32(groups(warps, gemvWarps)), uint32(groups(rows, mr)), 1)
	return nil
}
