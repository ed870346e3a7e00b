package graph

import (
	"errors"
	"fmt"
	"math"
)

// Fused ops compute in one node what a few ops compute in several, so that
// a GPU backend runs one kernel (one dispatch, one pass over memory) where
// the unfused graph runs several. Models never need them: Fuse rewrites a
// built graph into them for the backends that support them, and every
// backend still runs the unfused graph. Each has a float64 reference on
// the CPU and parity cases against the unfused ops' semantics.

// MaxFusedParts is the most weights one matmul_fused node multiplies.
const MaxFusedParts = 3

// RMSNormMul returns RMSNorm(x, eps) ⊙ w in one op: each row (last
// dimension, D elements) of F32 x becomes x / sqrt(mean(x²) + eps) · w,
// w an F32 vector [D]. It equals Mul(RMSNorm(x, eps), w).
func (b *Builder) RMSNormMul(x, w *Node, eps float32) *Node {
	const op = OpRMSNormMul
	if !b.usable(op, x, w) || !b.requireContiguous(op, x, w) ||
		!b.requireDType(op, x, 0, F32) || !b.requireDType(op, w, 1, F32) {
		return b.bad
	}
	if !w.Shape.Equal(Shape{x.Shape.Last()}) {
		return b.fail(op, "", "weight %s must be [%d]", w.Shape, x.Shape.Last())
	}
	return b.add(op, x.Shape, F32, Params{Eps: eps}, x, w)
}

// RoPEKVWrite applies rotary embedding to F32 x [S, H, D] at the I32
// positions pos [S] (freqFactors and p as in RoPE) and stores the rotated
// rows into the state cache [Ctx, H, D] (F32, F16 or BF16: KVTypes) at
// rows pos, as KVWrite(cache, RoPE(x, pos, freqFactors, p), pos) does: it
// returns the cache after the write, sharing its storage. Positions outside
// [0, Ctx) are a run-time error.
func (b *Builder) RoPEKVWrite(cache, x, pos, freqFactors *Node, p RoPEParams) *Node {
	const op = OpRoPEKVWrite
	ins := []*Node{cache, x, pos}
	if freqFactors != nil {
		ins = append(ins, freqFactors)
	}
	if !b.usable(op, ins...) || !b.requireContiguous(op, ins...) ||
		!b.requireDType(op, cache, 0, kvTypes...) || !b.requireDType(op, x, 1, F32) || !b.requireDType(op, pos, 2, I32) {
		return b.bad
	}
	if freqFactors != nil && !b.requireDType(op, freqFactors, 3, F32) {
		return b.bad
	}
	if p.Dims == 0 && x.Shape.Rank() == 3 {
		p.Dims = x.Shape[2]
	}
	if p.FreqScale == 0 {
		p.FreqScale = 1
	}
	n := &Node{Op: op, Inputs: ins, Shape: cache.Shape, DType: cache.DType,
		Params: Params{RoPE: p, HasFreqFactors: freqFactors != nil}, Strides: cache.Strides, Offset: cache.Offset}
	if err := checkRoPEKVWrite(n); err != nil {
		return b.fail(op, "", "%w", err)
	}
	out := b.add(op, cache.Shape, cache.DType, n.Params, ins...)
	if out != b.bad {
		out.Strides, out.Offset = cache.Strides, cache.Offset
	}
	return out
}

// FusedMatMulOpts configures MatMulFused.
type FusedMatMulOpts struct {
	Norm     *Node   // optional F32 [K]: x becomes RMSNorm(x, Eps) ⊙ Norm before the products
	Eps      float32 // the norm's epsilon
	SwiGLU   bool    // the result is silu(x·w₀ᵀ) ⊙ (x·w₁ᵀ) (two weights of equal rows)
	Residual *Node   // optional F32 of the result's shape, added last
}

// MatMulFused multiplies F32 x [..., M, K] by one to MaxFusedParts 2-D
// weights wᵢ [Nᵢ, K] of one dtype (any matmul weight dtype) in one op:
//
//	h = x, or RMSNorm(x, Eps) ⊙ Norm with o.Norm
//	y = concat(h·w₀ᵀ, h·w₁ᵀ, ...) along the last dimension: F32 [..., M, ΣNᵢ]
//	    (or silu(h·w₀ᵀ) ⊙ (h·w₁ᵀ), [..., M, N₀], with o.SwiGLU)
//	y = y + Residual with o.Residual
//
// It equals the matching composition of RMSNormMul, MatMul, Concat,
// SwiGLU and Add.
func (b *Builder) MatMulFused(x *Node, ws []*Node, o FusedMatMulOpts) *Node {
	const op = OpMatMulFused
	ins := []*Node{x}
	if o.Norm != nil {
		ins = append(ins, o.Norm)
	}
	ins = append(ins, ws...)
	if o.Residual != nil {
		ins = append(ins, o.Residual)
	}
	if !b.usable(op, ins...) || !b.requireContiguous(op, ins...) {
		return b.bad
	}
	p := Params{Eps: o.Eps, Fused: FusedMatMul{Parts: len(ws), Norm: o.Norm != nil, SwiGLU: o.SwiGLU, Residual: o.Residual != nil}}
	shape, err := fusedMatMulShape(x, ws, p.Fused)
	if err != nil {
		return b.fail(op, "", "%w", err)
	}
	n := &Node{Op: op, Inputs: ins, Shape: shape, DType: F32, Params: p, Strides: shape.Strides()}
	if err := checkMatMulFused(n); err != nil {
		return b.fail(op, "", "%w", err)
	}
	return b.add(op, shape, F32, p, ins...)
}

// FusedInputs returns the inputs of a matmul_fused node by role: x, the
// norm weight (nil without Norm), the weights and the residual (nil
// without Residual). It is meant for validated nodes.
func (n *Node) FusedInputs() (x, norm *Node, ws []*Node, res *Node) {
	f := n.Params.Fused
	i := 1
	if f.Norm {
		norm = n.Inputs[1]
		i++
	}
	ws = n.Inputs[i : i+f.Parts]
	if f.Residual {
		res = n.Inputs[i+f.Parts]
	}
	return n.Inputs[0], norm, ws, res
}

// FusedDims is the geometry of a matmul_fused node: Rows rows of x (all
// leading dimensions) of K elements; weight i has N[i] rows; Cols is the
// result's last dimension; WRowBytes the bytes of one weight row.
type FusedDims struct {
	Rows, K, Cols int
	N             []int
	WRowBytes     int64
}

// FusedDims returns the geometry of matmul_fused node n.
func (n *Node) FusedDims() FusedDims {
	x, _, ws, _ := n.FusedInputs()
	d := FusedDims{Rows: int(x.Shape.Rows()), K: x.Shape.Last(), Cols: n.Shape.Last()}
	for _, w := range ws {
		d.N = append(d.N, w.Shape[0])
	}
	d.WRowBytes, _ = ws[0].DType.RowBytes(int64(d.K))
	return d
}

// fusedMatMulShape returns the result shape of a matmul_fused node.
func fusedMatMulShape(x *Node, ws []*Node, f FusedMatMul) (Shape, error) {
	if len(ws) < 1 || len(ws) > MaxFusedParts {
		return nil, fmt.Errorf("%d weights, want 1 to %d", len(ws), MaxFusedParts)
	}
	if x.Shape.Rank() < 1 {
		return nil, fmt.Errorf("x %s must have rank ≥ 1", x)
	}
	cols := 0
	for i, w := range ws {
		if w.Shape.Rank() != 2 || w.Shape[1] != x.Shape.Last() {
			return nil, fmt.Errorf("weight %d %s must be [N %d]", i, w.Shape, x.Shape.Last())
		}
		if w.DType != ws[0].DType {
			return nil, fmt.Errorf("weight %d has dtype %s, weight 0 %s: all must match", i, w.DType, ws[0].DType)
		}
		cols += w.Shape[0]
	}
	if f.SwiGLU {
		if len(ws) != 2 || ws[0].Shape[0] != ws[1].Shape[0] {
			return nil, errors.New("swiglu needs two weights of equal rows")
		}
		cols = ws[0].Shape[0]
	}
	shape := x.Shape.Clone()
	shape[len(shape)-1] = cols
	return shape, nil
}

func checkRMSNormMul(n *Node) error {
	if err := checkInputs(n, f32Only, f32Only); err != nil {
		return err
	}
	x, w := n.Inputs[0], n.Inputs[1]
	if !w.Shape.Equal(Shape{x.Shape.Last()}) {
		return fmt.Errorf("weight %v must be [%d]", w.Shape, x.Shape.Last())
	}
	if err := checkFinite("eps", n.Params.Eps); err != nil {
		return err
	}
	return checkResult(n, F32, x.Shape)
}

func checkRoPEKVWrite(n *Node) error {
	dts := [][]DType{kvTypes, f32Only, i32Only}
	if n.Params.HasFreqFactors {
		dts = append(dts, f32Only)
	}
	if err := checkInputs(n, dts...); err != nil {
		return err
	}
	cache, x, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	if root := storageRoot(cache); root == nil || root.Op != OpState {
		return fmt.Errorf("cache %s must be a state tensor", cache)
	}
	if x.Shape.Rank() != 3 || cache.Shape.Rank() != 3 || !cache.Shape[1:].Equal(x.Shape[1:]) {
		return fmt.Errorf("x %v must be [S H D] with the rows of cache %v", x.Shape, cache.Shape)
	}
	if !pos.Shape.Equal(Shape{x.Shape[0]}) {
		return fmt.Errorf("positions %v must be [%d]", pos.Shape, x.Shape[0])
	}
	p := n.Params.RoPE
	if err := checkRoPEParams(p, x.Shape[2]); err != nil {
		return err
	}
	if n.Params.HasFreqFactors {
		if ff := n.Inputs[3]; !ff.Shape.Equal(Shape{p.Dims / 2}) {
			return fmt.Errorf("frequency factors %v must be [%d]", ff.Shape, p.Dims/2)
		}
	}
	if n.Offset != cache.Offset || !equalStrides(n.Strides, cache.Strides) {
		return errors.New("must alias its cache (same strides and offset)")
	}
	return checkResult(n, cache.DType, cache.Shape)
}

// checkRoPEParams checks rotary parameters for head dim d.
func checkRoPEParams(p RoPEParams, d int) error {
	if p.Dims < 2 || p.Dims%2 != 0 || p.Dims > d {
		return fmt.Errorf("rotated dims %d must be even and in [2, %d]", p.Dims, d)
	}
	if p.Theta <= 0 || math.IsInf(float64(p.Theta), 0) || math.IsNaN(float64(p.Theta)) {
		return fmt.Errorf("theta %v must be positive", p.Theta)
	}
	if err := checkFinite("frequency scale", p.FreqScale); err != nil {
		return err
	}
	if p.Mode != RoPENormal && p.Mode != RoPENeoX {
		return fmt.Errorf("unknown rope mode %d", p.Mode)
	}
	return nil
}

func equalStrides(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkMatMulFused(n *Node) error {
	f := n.Params.Fused
	if f.Parts < 1 || f.Parts > MaxFusedParts {
		return fmt.Errorf("%d weights, want 1 to %d", f.Parts, MaxFusedParts)
	}
	x, norm, ws, res := n.FusedInputs()
	dts := [][]DType{f32Only}
	if f.Norm {
		dts = append(dts, f32Only)
	}
	for range ws {
		dts = append(dts, floatWeightTypes)
	}
	if f.Residual {
		dts = append(dts, f32Only)
	}
	if err := checkInputs(n, dts...); err != nil {
		return err
	}
	shape, err := fusedMatMulShape(x, ws, f)
	if err != nil {
		return err
	}
	if norm != nil {
		if !norm.Shape.Equal(Shape{x.Shape.Last()}) {
			return fmt.Errorf("norm weight %v must be [%d]", norm.Shape, x.Shape.Last())
		}
		if err := checkFinite("eps", n.Params.Eps); err != nil {
			return err
		}
	}
	if res != nil && !res.Shape.Equal(shape) {
		return fmt.Errorf("residual %v must be %v", res.Shape, shape)
	}
	return checkResult(n, F32, shape)
}

// fusedInputs returns the input count a fused node's parameters call for.
func fusedInputs(n *Node) int {
	switch n.Op {
	case OpRMSNormMul:
		return 2
	case OpRoPEKVWrite:
		if n.Params.HasFreqFactors {
			return 4
		}
		return 3
	}
	f := n.Params.Fused
	k := 1 + f.Parts
	if f.Norm {
		k++
	}
	if f.Residual {
		k++
	}
	return k
}
