package graph

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Validate checks that n is well formed by the documented semantics of its
// op, as the Builder would have made it: its inputs' count, dtypes and
// shapes, its own dtype and shape, its strides and offset (an alias must
// address only elements of its input; every other node owns contiguous
// memory at offset 0) and its parameters. It checks n and its direct inputs
// only, so a graph assembled by hand is checked by validating every node.
// Backends call it before compiling a node so that no kernel can address
// memory outside its tensors.
//
// The error describes the problem without repeating n's name; callers name
// the node, as in fmt.Errorf("compile: node %s: %w", n, err).
func (n *Node) Validate() error {
	if n == nil {
		return errors.New("nil node")
	}
	if err := checkTensor(n); err != nil {
		return err
	}
	for i, in := range n.Inputs {
		if in == nil {
			return fmt.Errorf("input %d is nil", i)
		}
		if err := checkTensor(in); err != nil {
			return fmt.Errorf("input %d (%s): %w", i, in, err)
		}
	}
	if !n.Op.IsAlias() && (!n.IsContiguous() || n.Offset != 0) {
		return fmt.Errorf("a node that owns its memory must be contiguous at offset 0 (strides %v, offset %d)", n.Strides, n.Offset)
	}
	if n.Op.IsLeaf() {
		if len(n.Inputs) != 0 {
			return fmt.Errorf("a leaf has %d inputs", len(n.Inputs))
		}
		return nil
	}
	check, ok := opCheckers[n.Op]
	if !ok {
		return fmt.Errorf("unknown op %s", n.Op)
	}
	if want := wantInputs(n); len(n.Inputs) != want {
		return fmt.Errorf("has %d inputs, want %d", len(n.Inputs), want)
	}
	return check(n)
}

// Extent returns the lowest and highest element index n addresses in its
// storage: its offset plus the reach of each stride. It is meant for
// validated nodes, whose reach cannot overflow.
func (n *Node) Extent() (lo, hi int64) {
	lo, hi = n.Offset, n.Offset
	for i, d := range n.Shape {
		e := int64(d-1) * n.Strides[i]
		if e < 0 {
			lo += e
		} else {
			hi += e
		}
	}
	return lo, hi
}

// checkTensor validates the parts every node has: dtype, shape and strides.
func checkTensor(n *Node) error {
	if !n.DType.Valid() {
		return fmt.Errorf("unknown dtype %d", uint8(n.DType))
	}
	if err := n.Shape.check(); err != nil {
		return err
	}
	if r := n.Shape.Rank(); len(n.Strides) != r {
		return fmt.Errorf("%d strides for rank %d", len(n.Strides), r)
	}
	if n.DType.IsQuantized() {
		if n.Shape.Last()%n.DType.BlockSize() != 0 {
			return fmt.Errorf("last dimension %d is not a multiple of %s's block size %d", n.Shape.Last(), n.DType, n.DType.BlockSize())
		}
		if !n.IsContiguous() || n.Offset != 0 {
			return errors.New("quantized tensors must be contiguous at offset 0")
		}
	}
	return nil
}

// wantInputs returns the number of inputs n's op and parameters call for.
func wantInputs(n *Node) int {
	switch n.Op {
	case OpScale, OpRMSNorm, OpLayerNorm, OpSiLU, OpGELU,
		OpView, OpReshape, OpPermute, OpContiguous, OpCopy, OpArgmax:
		return 1
	case OpSoftmax:
		if n.Params.HasMask {
			return 2
		}
		return 1
	case OpRoPE:
		if n.Params.HasFreqFactors {
			return 3
		}
		return 2
	case OpAttention:
		k := 3
		if n.Params.HasMask {
			k++
		}
		if n.Params.HasPos {
			k++
		}
		return k
	case OpKVWrite:
		return 3
	case OpRMSNormMul, OpRoPEKVWrite, OpMatMulFused:
		return fusedInputs(n)
	}
	return 2
}

// opCheckers validates a compute node whose tensors and arity are already
// checked. The table is never modified.
var opCheckers = map[Op]func(n *Node) error{
	OpGetRows:     checkGetRows,
	OpMatMul:      checkMatMul,
	OpAdd:         checkBinary,
	OpMul:         checkBinary,
	OpScale:       checkUnary,
	OpRMSNorm:     checkUnary,
	OpLayerNorm:   checkUnary,
	OpSiLU:        checkUnary,
	OpGELU:        checkUnary,
	OpSwiGLU:      checkSwiGLU,
	OpSoftmax:     checkSoftmax,
	OpRoPE:        checkRoPE,
	OpAttention:   checkAttention,
	OpKVWrite:     checkKVWrite,
	OpView:        checkView,
	OpReshape:     checkReshape,
	OpPermute:     checkPermute,
	OpContiguous:  checkCopyLike,
	OpConcat:      checkConcat,
	OpCopy:        checkCopyLike,
	OpArgmax:      checkArgmax,
	OpRMSNormMul:  checkRMSNormMul,
	OpRoPEKVWrite: checkRoPEKVWrite,
	OpMatMulFused: checkMatMulFused,
}

var (
	f32Only = []DType{F32}
	i32Only = []DType{I32}
)

// checkInputs checks that every input is contiguous and that input i has
// one of dtypes[i] (nil or missing: any dtype).
func checkInputs(n *Node, dtypes ...[]DType) error {
	for i, in := range n.Inputs {
		if !in.IsContiguous() {
			return fmt.Errorf("input %d (%s) is not contiguous", i, in)
		}
		if i < len(dtypes) && dtypes[i] != nil && !slices.Contains(dtypes[i], in.DType) {
			return fmt.Errorf("input %d (%s) has dtype %s, want one of %v", i, in, in.DType, dtypes[i])
		}
	}
	return nil
}

// checkResult checks n's own dtype and shape.
func checkResult(n *Node, dt DType, shape Shape) error {
	if n.DType != dt {
		return fmt.Errorf("result dtype %s, want %s", n.DType, dt)
	}
	if !n.Shape.Equal(shape) {
		return fmt.Errorf("result shape %v, want %v", n.Shape, shape)
	}
	return nil
}

func checkFinite(what string, v float32) error {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return fmt.Errorf("%s %v is not finite", what, v)
	}
	return nil
}

func checkGetRows(n *Node) error {
	if err := checkInputs(n, floatWeightTypes, i32Only); err != nil {
		return err
	}
	table, ids := n.Inputs[0], n.Inputs[1]
	if table.Shape.Rank() != 2 {
		return fmt.Errorf("table %s must be 2-D", table)
	}
	if r := ids.Shape.Rank(); r < 1 || r > 2 {
		return fmt.Errorf("ids %s must be 1-D or 2-D", ids)
	}
	return checkResult(n, F32, append(ids.Shape.Clone(), table.Shape[1]))
}

func checkMatMul(n *Node) error {
	if err := checkInputs(n, f32Only, floatWeightTypes); err != nil {
		return err
	}
	x, w := n.Inputs[0], n.Inputs[1]
	if x.Shape.Rank() < 1 || w.Shape.Rank() < 2 {
		return fmt.Errorf("x %s must have rank ≥ 1 and w %s rank ≥ 2", x, w)
	}
	if w.Shape.Last() != x.Shape.Last() {
		return fmt.Errorf("inner dimensions differ: x %v, w %v", x.Shape, w.Shape)
	}
	if r := w.Shape.Rank(); r > 2 {
		if w.DType.IsQuantized() {
			return fmt.Errorf("batched w %s must be f32, f16 or bf16", w)
		}
		if x.Shape.Rank() != r || !x.Shape[:r-2].Equal(w.Shape[:r-2]) {
			return fmt.Errorf("batched w %v needs leading dims equal to x %v", w.Shape, x.Shape)
		}
	}
	shape := x.Shape.Clone()
	shape[len(shape)-1] = w.Shape[w.Shape.Rank()-2]
	return checkResult(n, F32, shape)
}

func checkBinary(n *Node) error {
	if err := checkInputs(n, f32Only, f32Only); err != nil {
		return err
	}
	x, y := n.Inputs[0], n.Inputs[1]
	if !broadcastable(x.Shape, y.Shape) {
		return fmt.Errorf("%v cannot be broadcast to %v", y.Shape, x.Shape)
	}
	return checkResult(n, F32, x.Shape)
}

func checkUnary(n *Node) error {
	if err := checkInputs(n, f32Only); err != nil {
		return err
	}
	if n.Op == OpScale {
		if err := checkFinite("scale", n.Params.Scale); err != nil {
			return err
		}
	}
	return checkResult(n, F32, n.Inputs[0].Shape)
}

func checkSwiGLU(n *Node) error {
	if err := checkInputs(n, f32Only, f32Only); err != nil {
		return err
	}
	if !n.Inputs[0].Shape.Equal(n.Inputs[1].Shape) {
		return fmt.Errorf("gate %v and up %v differ in shape", n.Inputs[0].Shape, n.Inputs[1].Shape)
	}
	return checkResult(n, F32, n.Inputs[0].Shape)
}

func checkSoftmax(n *Node) error {
	if err := checkInputs(n, f32Only, f32Only); err != nil {
		return err
	}
	if err := checkFinite("scale", n.Params.Scale); err != nil {
		return err
	}
	x := n.Inputs[0]
	r := x.Shape.Rank()
	if (n.Params.Causal || n.Params.HasMask) && r < 2 {
		return fmt.Errorf("a causal or masked softmax needs x of rank ≥ 2, got %v", x.Shape)
	}
	if n.Params.HasMask {
		if m := n.Inputs[1]; !m.Shape.Equal(Shape{x.Shape[r-2], x.Shape[r-1]}) {
			return fmt.Errorf("mask %v must be [%d %d]", m.Shape, x.Shape[r-2], x.Shape[r-1])
		}
	}
	return checkResult(n, F32, x.Shape)
}

func checkRoPE(n *Node) error {
	if err := checkInputs(n, f32Only, i32Only, f32Only); err != nil {
		return err
	}
	x, pos := n.Inputs[0], n.Inputs[1]
	p := n.Params.RoPE
	r := x.Shape.Rank()
	if r != 3 && r != 4 {
		return fmt.Errorf("x %v must be [S H D] or [B S H D]", x.Shape)
	}
	s, d := x.Shape[r-3], x.Shape[r-1]
	if !pos.Shape.Equal(Shape{s}) {
		return fmt.Errorf("positions %v must be [%d]", pos.Shape, s)
	}
	if p.Dims < 2 || p.Dims%2 != 0 || p.Dims > d {
		return fmt.Errorf("rotated dims %d must be even and in [2, %d]", p.Dims, d)
	}
	if !(p.Theta > 0) || math.IsInf(float64(p.Theta), 0) {
		return fmt.Errorf("theta %v must be positive and finite", p.Theta)
	}
	if err := checkFinite("frequency scale", p.FreqScale); err != nil {
		return err
	}
	if p.Mode != RoPENormal && p.Mode != RoPENeoX {
		return fmt.Errorf("unknown rope mode %d", p.Mode)
	}
	if ff := n.FreqFactors(); ff != nil && !ff.Shape.Equal(Shape{p.Dims / 2}) {
		return fmt.Errorf("frequency factors %v must be [%d]", ff.Shape, p.Dims/2)
	}
	return checkResult(n, F32, x.Shape)
}

func checkAttention(n *Node) error {
	dts := [][]DType{f32Only, kvTypes, kvTypes}
	if n.Params.HasMask {
		dts = append(dts, f32Only)
	}
	if n.Params.HasPos {
		dts = append(dts, i32Only)
	}
	if err := checkInputs(n, dts...); err != nil {
		return err
	}
	if err := checkFinite("scale", n.Params.Scale); err != nil {
		return err
	}
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	r := q.Shape.Rank()
	if (r != 3 && r != 4) || k.Shape.Rank() != r || v.Shape.Rank() != r {
		return fmt.Errorf("q %v, k %v, v %v must all be [S H D] or [B S H D]", q.Shape, k.Shape, v.Shape)
	}
	if r == 4 && (k.Shape[0] != q.Shape[0] || v.Shape[0] != q.Shape[0]) {
		return fmt.Errorf("batch sizes differ: q %v, k %v, v %v", q.Shape, k.Shape, v.Shape)
	}
	sq, hq, d := q.Shape[r-3], q.Shape[r-2], q.Shape[r-1]
	sk, hkv := k.Shape[r-3], k.Shape[r-2]
	if k.Shape[r-1] != d {
		return fmt.Errorf("head dims differ: q %v, k %v", q.Shape, k.Shape)
	}
	if v.Shape[r-3] != sk || v.Shape[r-2] != hkv {
		return fmt.Errorf("v %v does not match k %v", v.Shape, k.Shape)
	}
	if hq%hkv != 0 {
		return fmt.Errorf("%d query heads are not a multiple of %d kv heads", hq, hkv)
	}
	if m := n.Mask(); m != nil && !m.Shape.Equal(Shape{sq, sk}) {
		return fmt.Errorf("mask %v must be [%d %d]", m.Shape, sq, sk)
	}
	if ps := n.Positions(); ps != nil {
		if !n.Params.Causal {
			return errors.New("positions are only used with causal attention")
		}
		if !ps.Shape.Equal(Shape{sq}) {
			return fmt.Errorf("positions %v must be [%d]", ps.Shape, sq)
		}
	}
	shape := q.Shape.Clone()
	shape[r-1] = v.Shape[r-1]
	return checkResult(n, F32, shape)
}

func checkKVWrite(n *Node) error {
	if err := checkInputs(n, kvTypes, f32Only, i32Only); err != nil {
		return err
	}
	cache, src, pos := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	if root := storageRoot(cache); root == nil || root.Op != OpState {
		return fmt.Errorf("cache %s must be a state tensor", cache)
	}
	if cache.Shape.Rank() < 2 || src.Shape.Rank() != cache.Shape.Rank() || !cache.Shape[1:].Equal(src.Shape[1:]) {
		return fmt.Errorf("src %v rows do not match cache %v rows", src.Shape, cache.Shape)
	}
	if !pos.Shape.Equal(Shape{src.Shape[0]}) {
		return fmt.Errorf("positions %v must be [%d]", pos.Shape, src.Shape[0])
	}
	if n.Offset != cache.Offset {
		return fmt.Errorf("offset %d differs from its input's %d", n.Offset, cache.Offset)
	}
	if !slices.Equal(n.Strides, cache.Strides) {
		return fmt.Errorf("strides %v differ from its input's %v", n.Strides, cache.Strides)
	}
	return checkResult(n, cache.DType, cache.Shape)
}

// storageRoot is Storage for nodes not yet validated: nil when the alias
// chain is malformed (an alias without inputs, or a cycle).
func storageRoot(n *Node) *Node {
	for steps := 0; n != nil && n.Op.IsAlias(); steps++ {
		if len(n.Inputs) == 0 || steps > 1<<20 {
			return nil
		}
		n = n.Inputs[0]
	}
	return n
}

func checkView(n *Node) error {
	if err := checkInputs(n); err != nil {
		return err
	}
	x := n.Inputs[0]
	if x.DType.IsQuantized() || n.DType != x.DType {
		return fmt.Errorf("view of %s must keep its non-quantized dtype, has %s", x, n.DType)
	}
	if !withinInput(n, x) {
		return fmt.Errorf("view %v strides %v offset %d reaches outside %s", n.Shape, n.Strides, n.Offset, x)
	}
	return nil
}

// withinInput reports whether every element view n addresses lies among
// the elements of its contiguous input x. Each stride's reach is bounded by
// x's element count before it is summed, so that no product or sum can
// overflow and wrap back inside.
func withinInput(n, x *Node) bool {
	numel := x.Shape.NumElements()
	rel := n.Offset - x.Offset
	if n.Offset < x.Offset || rel >= numel {
		return false
	}
	lo, hi := rel, rel
	for i, d := range n.Shape {
		if d == 1 {
			continue
		}
		st, lim := n.Strides[i], (numel-1)/int64(d-1)
		if st < -lim || st > lim {
			return false
		}
		if e := int64(d-1) * st; e < 0 {
			lo += e
		} else {
			hi += e
		}
	}
	return lo >= 0 && hi < numel
}

func checkReshape(n *Node) error {
	if err := checkInputs(n); err != nil {
		return err
	}
	x := n.Inputs[0]
	if n.DType != x.DType {
		return fmt.Errorf("reshape changes dtype %s to %s", x.DType, n.DType)
	}
	if n.Shape.NumElements() != x.Shape.NumElements() {
		return fmt.Errorf("cannot reshape %v to %v", x.Shape, n.Shape)
	}
	if !n.IsContiguous() || n.Offset != x.Offset {
		return fmt.Errorf("reshape result must be contiguous at its input's offset %d", x.Offset)
	}
	return nil
}

func checkPermute(n *Node) error {
	x := n.Inputs[0]
	perm := n.Params.Perm
	if x.DType.IsQuantized() || n.DType != x.DType {
		return fmt.Errorf("permute of %s must keep its non-quantized dtype, has %s", x, n.DType)
	}
	if len(perm) != x.Shape.Rank() || n.Shape.Rank() != len(perm) {
		return fmt.Errorf("permutation %v for rank %d", perm, x.Shape.Rank())
	}
	seen := make([]bool, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return fmt.Errorf("%v is not a permutation", perm)
		}
		seen[p] = true
		if n.Shape[i] != x.Shape[p] || n.Strides[i] != x.Strides[p] {
			return fmt.Errorf("shape %v strides %v do not permute %s by %v", n.Shape, n.Strides, x, perm)
		}
	}
	if n.Offset != x.Offset {
		return fmt.Errorf("offset %d differs from its input's %d", n.Offset, x.Offset)
	}
	return nil
}

// checkCopyLike checks contiguous and copy: any layout in (quantized inputs
// are contiguous by checkTensor), contiguous out.
func checkCopyLike(n *Node) error {
	x := n.Inputs[0]
	want := x.DType
	if n.Op == OpCopy {
		if (x.DType == I32) != (n.DType == I32) {
			return fmt.Errorf("cannot copy %s to %s", x.DType, n.DType)
		}
		want = n.DType
	}
	return checkResult(n, want, x.Shape)
}

func checkConcat(n *Node) error {
	if err := checkInputs(n); err != nil {
		return err
	}
	x, y := n.Inputs[0], n.Inputs[1]
	if x.DType != y.DType || x.DType.IsQuantized() {
		return fmt.Errorf("dtypes %s and %s must match and not be quantized", x.DType, y.DType)
	}
	r, axis := x.Shape.Rank(), n.Params.Axis
	if y.Shape.Rank() != r || axis < 0 || axis >= r {
		return fmt.Errorf("axis %d for shapes %v and %v", axis, x.Shape, y.Shape)
	}
	shape := x.Shape.Clone()
	for i := range shape {
		if i != axis && x.Shape[i] != y.Shape[i] {
			return fmt.Errorf("shapes %v and %v differ outside axis %d", x.Shape, y.Shape, axis)
		}
	}
	shape[axis] += y.Shape[axis]
	return checkResult(n, x.DType, shape)
}

func checkArgmax(n *Node) error {
	if err := checkInputs(n, f32Only); err != nil {
		return err
	}
	x := n.Inputs[0]
	if x.Shape.Rank() == 0 {
		return fmt.Errorf("x %s must have rank ≥ 1", x)
	}
	shape := x.Shape[:x.Shape.Rank()-1].Clone()
	if len(shape) == 0 {
		shape = Shape{1}
	}
	return checkResult(n, I32, shape)
}
