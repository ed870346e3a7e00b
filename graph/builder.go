package graph

import (
	"fmt"
	"math"
)

// Builder makes nodes and checks each op's shapes and dtypes as it is added.
// The first error is kept (later calls then return a placeholder node and do
// nothing), so model code can build a whole graph and check Err or Build once,
// as bufio.Scanner does. Errors name the node being built.
type Builder struct {
	nodes []*Node
	err   error
	bad   *Node
	names map[string]*Node
	scope string
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	b := &Builder{names: map[string]*Node{}}
	b.bad = &Node{ID: -1, Op: OpInvalid, Name: "<invalid>", Shape: Shape{1}, Strides: []int64{1}, owner: b}
	return b
}

// Err returns the first error met while building, or nil.
func (b *Builder) Err() error { return b.err }

// Nodes returns every node made so far, in creation order.
func (b *Builder) Nodes() []*Node { return b.nodes }

// SetScope sets a prefix for the automatic names of nodes made from now on
// ("blk.3" gives "blk.3.matmul#12"), so errors and reports name the layer.
func (b *Builder) SetScope(prefix string) { b.scope = prefix }

func (b *Builder) autoName(op Op) string {
	if b.scope != "" {
		return fmt.Sprintf("%s.%s#%d", b.scope, op, len(b.nodes))
	}
	return fmt.Sprintf("%s#%d", op, len(b.nodes))
}

func (b *Builder) fail(op Op, name string, format string, args ...any) *Node {
	if name == "" {
		name = b.autoName(op)
	}
	if b.err == nil {
		b.err = fmt.Errorf("graph: %s %q: "+format, append([]any{op, name}, args...)...)
	}
	return b.bad
}

// usable reports whether every input is a valid node of this builder; it
// records an error when one is not.
func (b *Builder) usable(op Op, ins ...*Node) bool {
	if b.err != nil {
		return false
	}
	for i, in := range ins {
		if in == nil {
			b.fail(op, "", "input %d is nil", i)
			return false
		}
		if in.owner != b {
			b.fail(op, "", "input %d (%s) belongs to another builder", i, in)
			return false
		}
	}
	return true
}

func (b *Builder) add(op Op, shape Shape, dt DType, p Params, ins ...*Node) *Node {
	return b.addNamed("", op, shape, dt, p, ins...)
}

func (b *Builder) addNamed(name string, op Op, shape Shape, dt DType, p Params, ins ...*Node) *Node {
	if name == "" {
		name = b.autoName(op)
	}
	if _, dup := b.names[name]; dup {
		return b.fail(op, name, "name already used by %s", b.names[name])
	}
	n := &Node{
		ID:      len(b.nodes),
		Op:      op,
		Inputs:  ins,
		Shape:   shape.Clone(),
		DType:   dt,
		Params:  p,
		Strides: shape.Strides(),
		owner:   b,
	}
	n.Name = name
	if err := shape.check(); err != nil {
		return b.fail(op, n.Name, "%w", err)
	}
	if dt.IsQuantized() && shape.Last()%dt.BlockSize() != 0 {
		return b.fail(op, n.Name, "last dimension %d is not a multiple of %s's block size %d", shape.Last(), dt, dt.BlockSize())
	}
	b.nodes = append(b.nodes, n)
	b.names[name] = n
	return n
}

// SetName gives n a name (unique within the graph; checked by Build) and returns n.
func (b *Builder) SetName(n *Node, name string) *Node {
	if n == b.bad || b.err != nil {
		return n
	}
	if n == nil {
		b.fail(OpInvalid, name, "cannot name a nil node")
		return n
	}
	if n.owner != b {
		b.fail(n.Op, n.Name, "cannot name %s: it belongs to another builder", n)
		return n
	}
	if name == "" {
		b.fail(n.Op, n.Name, "empty name")
		return n
	}
	if prev, ok := b.names[name]; ok && prev != n {
		b.fail(n.Op, name, "name already used by %s", prev)
		return n
	}
	delete(b.names, n.Name)
	n.Name = name
	b.names[name] = n
	return n
}

func (b *Builder) leaf(op Op, name string, dt DType, dims []int) *Node {
	if b.err != nil {
		return b.bad
	}
	if !dt.Valid() {
		return b.fail(op, name, "unknown dtype %d", uint8(dt))
	}
	if name == "" {
		return b.fail(op, name, "a leaf needs a name")
	}
	return b.addNamed(name, op, Shape(dims), dt, Params{})
}

// Weight declares a read-only parameter tensor, bound once (any dtype).
func (b *Builder) Weight(name string, dt DType, dims ...int) *Node {
	return b.leaf(OpWeight, name, dt, dims)
}

// Input declares a tensor bound on every run (token ids, positions, masks).
func (b *Builder) Input(name string, dt DType, dims ...int) *Node {
	return b.leaf(OpInput, name, dt, dims)
}

// State declares a persistent tensor owned by the caller, such as a KV cache.
func (b *Builder) State(name string, dt DType, dims ...int) *Node {
	return b.leaf(OpState, name, dt, dims)
}

func (b *Builder) requireContiguous(op Op, ins ...*Node) bool {
	for i, in := range ins {
		if !in.IsContiguous() {
			b.fail(op, "", "input %d (%s) is not contiguous; add a contiguous node", i, in)
			return false
		}
	}
	return true
}

func (b *Builder) requireDType(op Op, in *Node, idx int, allowed ...DType) bool {
	for _, d := range allowed {
		if in.DType == d {
			return true
		}
	}
	b.fail(op, "", "input %d (%s) has dtype %s, want one of %v", idx, in, in.DType, allowed)
	return false
}

var floatWeightTypes = []DType{F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K}

// GetRows gathers rows of table [V, D] (any float dtype) by the I32 ids of
// shape [N] or [B, N], giving F32 of shape ids.Shape+[D]. Ids outside [0, V)
// are a run-time error.
func (b *Builder) GetRows(table, ids *Node) *Node {
	const op = OpGetRows
	if !b.usable(op, table, ids) || !b.requireContiguous(op, table, ids) ||
		!b.requireDType(op, table, 0, floatWeightTypes...) || !b.requireDType(op, ids, 1, I32) {
		return b.bad
	}
	if table.Shape.Rank() != 2 {
		return b.fail(op, "", "table %s must be 2-D", table)
	}
	if r := ids.Shape.Rank(); r < 1 || r > 2 {
		return b.fail(op, "", "ids %s must be 1-D or 2-D", ids)
	}
	shape := append(ids.Shape.Clone(), table.Shape[1])
	return b.add(op, shape, F32, Params{}, table, ids)
}

// MatMul computes x·Wᵀ: x is F32 [..., M, K], w is [N, K] in any float dtype
// (or F32/F16 [..., N, K] with the same leading dims as x), giving F32 [..., M, N].
func (b *Builder) MatMul(x, w *Node) *Node {
	const op = OpMatMul
	if !b.usable(op, x, w) || !b.requireContiguous(op, x, w) ||
		!b.requireDType(op, x, 0, F32) || !b.requireDType(op, w, 1, floatWeightTypes...) {
		return b.bad
	}
	if x.Shape.Rank() < 1 || w.Shape.Rank() < 2 {
		return b.fail(op, "", "x %s must have rank ≥ 1 and w %s rank ≥ 2", x, w)
	}
	k := x.Shape.Last()
	if w.Shape.Last() != k {
		return b.fail(op, "", "inner dimensions differ: x %s, w %s", x.Shape, w.Shape)
	}
	if r := w.Shape.Rank(); r > 2 {
		if w.DType.IsQuantized() {
			return b.fail(op, "", "batched w %s must be f32, f16 or bf16", w)
		}
		if x.Shape.Rank() != r || !x.Shape[:r-2].Equal(w.Shape[:r-2]) {
			return b.fail(op, "", "batched w %s needs leading dims equal to x %s", w.Shape, x.Shape)
		}
	}
	n := w.Shape[w.Shape.Rank()-2]
	shape := x.Shape.Clone()
	shape[len(shape)-1] = n
	return b.add(op, shape, F32, Params{}, x, w)
}

// broadcastable reports whether b can be broadcast to a: aligned from the
// right, each dimension of b equals a's or is 1, and b's rank is ≤ a's.
func broadcastable(a, b Shape) bool {
	if len(b) > len(a) {
		return false
	}
	for i := 1; i <= len(b); i++ {
		db, da := b[len(b)-i], a[len(a)-i]
		if db != da && db != 1 {
			return false
		}
	}
	return true
}

func (b *Builder) binary(op Op, x, y *Node) *Node {
	if !b.usable(op, x, y) || !b.requireContiguous(op, x, y) ||
		!b.requireDType(op, x, 0, F32) || !b.requireDType(op, y, 1, F32) {
		return b.bad
	}
	if !broadcastable(x.Shape, y.Shape) {
		return b.fail(op, "", "%s cannot be broadcast to %s", y.Shape, x.Shape)
	}
	return b.add(op, x.Shape, F32, Params{}, x, y)
}

// Add returns x + y, with y broadcast to x's shape (see Mul). Both F32.
func (b *Builder) Add(x, y *Node) *Node { return b.binary(OpAdd, x, y) }

// Mul returns x ⊙ y elementwise, with y broadcast to x's shape: aligned from
// the right, each dimension of y equals x's or is 1. Both F32.
func (b *Builder) Mul(x, y *Node) *Node { return b.binary(OpMul, x, y) }

func (b *Builder) unary(op Op, x *Node, p Params) *Node {
	if !b.usable(op, x) || !b.requireContiguous(op, x) || !b.requireDType(op, x, 0, F32) {
		return b.bad
	}
	return b.add(op, x.Shape, F32, p, x)
}

// Scale returns s·x (F32).
func (b *Builder) Scale(x *Node, s float32) *Node { return b.unary(OpScale, x, Params{Scale: s}) }

// RMSNorm normalises each row (last dimension) of x: x / sqrt(mean(x²) + eps).
// Any learned weight is applied with Mul.
func (b *Builder) RMSNorm(x *Node, eps float32) *Node {
	return b.unary(OpRMSNorm, x, Params{Eps: eps})
}

// LayerNorm normalises each row of x to zero mean and unit variance:
// (x − mean) / sqrt(var + eps). Any affine weight and bias are applied with Mul and Add.
func (b *Builder) LayerNorm(x *Node, eps float32) *Node {
	return b.unary(OpLayerNorm, x, Params{Eps: eps})
}

// SiLU returns x·σ(x) elementwise.
func (b *Builder) SiLU(x *Node) *Node { return b.unary(OpSiLU, x, Params{}) }

// GELU returns the tanh approximation 0.5x(1+tanh(√(2/π)(x+0.044715x³))) elementwise.
func (b *Builder) GELU(x *Node) *Node { return b.unary(OpGELU, x, Params{}) }

// SwiGLU returns silu(gate) ⊙ up; both F32 of the same shape.
func (b *Builder) SwiGLU(gate, up *Node) *Node {
	const op = OpSwiGLU
	if !b.usable(op, gate, up) || !b.requireContiguous(op, gate, up) ||
		!b.requireDType(op, gate, 0, F32) || !b.requireDType(op, up, 1, F32) {
		return b.bad
	}
	if !gate.Shape.Equal(up.Shape) {
		return b.fail(op, "", "gate %s and up %s differ in shape", gate.Shape, up.Shape)
	}
	return b.add(op, gate.Shape, F32, Params{}, gate, up)
}

// SoftmaxOpts configures Softmax.
type SoftmaxOpts struct {
	Scale  float32 // multiplies x before the mask (0 means 1)
	Causal bool    // x is [..., Sq, Sk]: query row i sees keys j ≤ i + Sk − Sq
	Mask   *Node   // optional additive F32 mask [Sq, Sk], broadcast over leading dims
}

// Softmax returns softmax(scale·x + mask) over the last dimension of F32 x.
func (b *Builder) Softmax(x *Node, o SoftmaxOpts) *Node {
	const op = OpSoftmax
	ins := []*Node{x}
	if o.Mask != nil {
		ins = append(ins, o.Mask)
	}
	if !b.usable(op, ins...) || !b.requireContiguous(op, ins...) || !b.requireDType(op, x, 0, F32) {
		return b.bad
	}
	if o.Scale == 0 {
		o.Scale = 1
	}
	if (o.Causal || o.Mask != nil) && x.Shape.Rank() < 2 {
		return b.fail(op, "", "a causal or masked softmax needs x of rank ≥ 2, got %s", x.Shape)
	}
	if o.Mask != nil {
		if !b.requireDType(op, o.Mask, 1, F32) {
			return b.bad
		}
		r := x.Shape.Rank()
		if !o.Mask.Shape.Equal(Shape{x.Shape[r-2], x.Shape[r-1]}) {
			return b.fail(op, "", "mask %s must be [%d %d]", o.Mask.Shape, x.Shape[r-2], x.Shape[r-1])
		}
	}
	return b.add(op, x.Shape, F32, Params{Scale: o.Scale, Causal: o.Causal, HasMask: o.Mask != nil}, ins...)
}

// RoPE applies rotary position embedding to F32 x of shape [S, H, D] (or
// [B, S, H, D]) using the I32 positions pos [S]; freqFactors, if not nil, is
// an F32 [Dims/2] divisor of each pair's frequency (Llama 3 scaling).
func (b *Builder) RoPE(x, pos, freqFactors *Node, p RoPEParams) *Node {
	const op = OpRoPE
	ins := []*Node{x, pos}
	if freqFactors != nil {
		ins = append(ins, freqFactors)
	}
	if !b.usable(op, ins...) || !b.requireContiguous(op, ins...) ||
		!b.requireDType(op, x, 0, F32) || !b.requireDType(op, pos, 1, I32) {
		return b.bad
	}
	r := x.Shape.Rank()
	if r != 3 && r != 4 {
		return b.fail(op, "", "x %s must be [S H D] or [B S H D]", x.Shape)
	}
	s, d := x.Shape[r-3], x.Shape[r-1]
	if !pos.Shape.Equal(Shape{s}) {
		return b.fail(op, "", "positions %s must be [%d]", pos.Shape, s)
	}
	if p.Dims == 0 {
		p.Dims = d
	}
	if p.Dims < 2 || p.Dims%2 != 0 || p.Dims > d {
		return b.fail(op, "", "rotated dims %d must be even and in [2, %d]", p.Dims, d)
	}
	if p.Theta <= 0 || math.IsInf(float64(p.Theta), 0) || math.IsNaN(float64(p.Theta)) {
		return b.fail(op, "", "theta %v must be positive", p.Theta)
	}
	if p.FreqScale == 0 {
		p.FreqScale = 1
	}
	if p.Mode != RoPENormal && p.Mode != RoPENeoX {
		return b.fail(op, "", "unknown rope mode %d", p.Mode)
	}
	if freqFactors != nil {
		if !b.requireDType(op, freqFactors, 2, F32) {
			return b.bad
		}
		if !freqFactors.Shape.Equal(Shape{p.Dims / 2}) {
			return b.fail(op, "", "frequency factors %s must be [%d]", freqFactors.Shape, p.Dims/2)
		}
	}
	return b.add(op, x.Shape, F32, Params{RoPE: p, HasFreqFactors: freqFactors != nil}, ins...)
}

// AttentionOpts configures Attention.
type AttentionOpts struct {
	Scale  float32 // logit scale; 0 means 1/sqrt(head dim)
	Causal bool    // mask keys after each query's position
	Mask   *Node   // optional additive F32 mask [Sq, Sk]
	Pos    *Node   // optional I32 [Sq] absolute query positions for Causal; default Sk−Sq+i
}

// Attention is fused scaled-dot-product attention. q is F32 [Sq, Hq, D],
// k is [Sk, Hkv, D] and v is [Sk, Hkv, Dv], each in F32, F16 or BF16
// (KVTypes; k and v may differ), a leading batch dimension B on all three
// allowed, with Hq a multiple of Hkv (grouped-query heads: query head h
// reads kv head h/(Hq/Hkv)). The result is F32 [Sq, Hq, Dv].
// With Causal, query i sees key j only when j ≤ pos[i]; keys past every
// position are never read, so k and v may be a whole KV cache.
func (b *Builder) Attention(q, k, v *Node, o AttentionOpts) *Node {
	const op = OpAttention
	ins := []*Node{q, k, v}
	if o.Mask != nil {
		ins = append(ins, o.Mask)
	}
	if o.Pos != nil {
		ins = append(ins, o.Pos)
	}
	if !b.usable(op, ins...) || !b.requireContiguous(op, ins...) || !b.requireDType(op, q, 0, F32) ||
		!b.requireDType(op, k, 1, kvTypes...) || !b.requireDType(op, v, 2, kvTypes...) {
		return b.bad
	}
	r := q.Shape.Rank()
	if (r != 3 && r != 4) || k.Shape.Rank() != r || v.Shape.Rank() != r {
		return b.fail(op, "", "q %s, k %s, v %s must all be [S H D] or [B S H D]", q.Shape, k.Shape, v.Shape)
	}
	if r == 4 && (k.Shape[0] != q.Shape[0] || v.Shape[0] != q.Shape[0]) {
		return b.fail(op, "", "batch sizes differ: q %s, k %s, v %s", q.Shape, k.Shape, v.Shape)
	}
	sq, hq, d := q.Shape[r-3], q.Shape[r-2], q.Shape[r-1]
	sk, hkv, dk := k.Shape[r-3], k.Shape[r-2], k.Shape[r-1]
	if dk != d {
		return b.fail(op, "", "head dims differ: q %s, k %s", q.Shape, k.Shape)
	}
	if v.Shape[r-3] != sk || v.Shape[r-2] != hkv {
		return b.fail(op, "", "v %s does not match k %s", v.Shape, k.Shape)
	}
	if hq%hkv != 0 {
		return b.fail(op, "", "%d query heads are not a multiple of %d kv heads", hq, hkv)
	}
	if o.Scale == 0 {
		o.Scale = float32(1 / math.Sqrt(float64(d)))
	}
	if o.Mask != nil {
		if !b.requireDType(op, o.Mask, 3, F32) {
			return b.bad
		}
		if !o.Mask.Shape.Equal(Shape{sq, sk}) {
			return b.fail(op, "", "mask %s must be [%d %d]", o.Mask.Shape, sq, sk)
		}
	}
	if o.Pos != nil {
		if !o.Causal {
			return b.fail(op, "", "positions are only used with Causal")
		}
		if !b.requireDType(op, o.Pos, len(ins)-1, I32) {
			return b.bad
		}
		if !o.Pos.Shape.Equal(Shape{sq}) {
			return b.fail(op, "", "positions %s must be [%d]", o.Pos.Shape, sq)
		}
	} else if o.Causal && sq > sk {
		return b.fail(op, "", "causal attention with %d queries over %d keys needs positions", sq, sk)
	}
	shape := q.Shape.Clone()
	shape[r-1] = v.Shape[r-1]
	return b.add(op, shape, F32, Params{Scale: o.Scale, Causal: o.Causal, HasMask: o.Mask != nil, HasPos: o.Pos != nil}, ins...)
}

// KVWrite stores the F32 rows src [S, ...] into the state cache [Ctx, ...]
// (F32, F16 or BF16: KVTypes; same trailing dims) at the I32 row positions
// pos [S], rounded to the cache's type (to nearest, ties to even), and
// returns the cache after the write (it shares the cache's storage).
// Positions outside [0, Ctx) are a run-time error. Consumers of the result
// run after the write.
func (b *Builder) KVWrite(cache, src, pos *Node) *Node {
	const op = OpKVWrite
	if !b.usable(op, cache, src, pos) || !b.requireContiguous(op, cache, src, pos) ||
		!b.requireDType(op, cache, 0, kvTypes...) || !b.requireDType(op, src, 1, F32) || !b.requireDType(op, pos, 2, I32) {
		return b.bad
	}
	if root := cache.Storage(); root.Op != OpState {
		return b.fail(op, "", "cache %s must be a state tensor, not %s", cache, root.Op)
	}
	if cache.Shape.Rank() < 2 || src.Shape.Rank() != cache.Shape.Rank() || !cache.Shape[1:].Equal(src.Shape[1:]) {
		return b.fail(op, "", "src %s rows do not match cache %s rows", src.Shape, cache.Shape)
	}
	if !pos.Shape.Equal(Shape{src.Shape[0]}) {
		return b.fail(op, "", "positions %s must be [%d]", pos.Shape, src.Shape[0])
	}
	n := b.add(op, cache.Shape, cache.DType, Params{}, cache, src, pos)
	if n != b.bad {
		n.Strides, n.Offset = cache.Strides, cache.Offset
	}
	return n
}

// View returns a strided window into contiguous x, sharing its storage: the
// element at index (i0, i1, ...) is x's flat element offset + Σ iₖ·strides[k].
// The window must lie inside x. Not for quantized dtypes.
func (b *Builder) View(x *Node, shape Shape, strides []int64, offset int64) *Node {
	const op = OpView
	if !b.usable(op, x) || !b.requireContiguous(op, x) {
		return b.bad
	}
	if x.DType.IsQuantized() {
		return b.fail(op, "", "cannot view quantized %s", x)
	}
	if len(strides) != len(shape) {
		return b.fail(op, "", "%d strides for shape %s", len(strides), shape)
	}
	if err := shape.check(); err != nil {
		return b.fail(op, "", "%w", err)
	}
	// Bound offset and every stride's reach by x's element count before
	// summing, so that no product or sum can overflow and wrap back inside.
	numel := x.Shape.NumElements()
	outside := offset < 0 || offset >= numel
	lo, hi := offset, offset
	for i, d := range shape {
		if outside || d == 1 {
			continue
		}
		st := strides[i]
		if st < -(numel-1)/int64(d-1) || st > (numel-1)/int64(d-1) {
			outside = true
			continue
		}
		if ext := int64(d-1) * st; ext < 0 {
			lo += ext
		} else {
			hi += ext
		}
	}
	if outside || lo < 0 || hi >= numel {
		return b.fail(op, "", "view %s strides %v offset %d reaches outside %s", shape, strides, offset, x)
	}
	n := b.add(op, shape, x.DType, Params{}, x)
	if n != b.bad {
		n.Strides, n.Offset = append([]int64(nil), strides...), x.Offset+offset
	}
	return n
}

// Reshape returns contiguous x with a new shape of the same element count,
// sharing its storage.
func (b *Builder) Reshape(x *Node, dims ...int) *Node {
	const op = OpReshape
	if !b.usable(op, x) || !b.requireContiguous(op, x) {
		return b.bad
	}
	shape := Shape(dims)
	if err := shape.check(); err != nil {
		return b.fail(op, "", "%w", err)
	}
	if shape.NumElements() != x.Shape.NumElements() {
		return b.fail(op, "", "cannot reshape %s to %s", x.Shape, shape)
	}
	n := b.add(op, shape, x.DType, Params{}, x)
	if n != b.bad {
		n.Offset = x.Offset
	}
	return n
}

// Permute reorders x's dimensions without moving data: output dimension i
// is input dimension perm[i]. The result is usually not contiguous.
func (b *Builder) Permute(x *Node, perm ...int) *Node {
	const op = OpPermute
	if !b.usable(op, x) {
		return b.bad
	}
	if x.DType.IsQuantized() {
		return b.fail(op, "", "cannot permute quantized %s", x)
	}
	if len(perm) != x.Shape.Rank() {
		return b.fail(op, "", "permutation %v for rank %d", perm, x.Shape.Rank())
	}
	seen := make([]bool, len(perm))
	shape := make(Shape, len(perm))
	strides := make([]int64, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return b.fail(op, "", "%v is not a permutation", perm)
		}
		seen[p] = true
		shape[i], strides[i] = x.Shape[p], x.Strides[p]
	}
	n := b.add(op, shape, x.DType, Params{Perm: append([]int(nil), perm...)}, x)
	if n != b.bad {
		n.Strides, n.Offset = strides, x.Offset
	}
	return n
}

// Contiguous copies x (which may be a strided view) into a new contiguous tensor.
func (b *Builder) Contiguous(x *Node) *Node {
	const op = OpContiguous
	if !b.usable(op, x) {
		return b.bad
	}
	if x.DType.IsQuantized() && !x.IsContiguous() {
		return b.fail(op, "", "quantized %s must be contiguous", x)
	}
	return b.add(op, x.Shape, x.DType, Params{}, x)
}

// Concat joins contiguous x and y of the same dtype along axis; all other
// dimensions must match.
func (b *Builder) Concat(x, y *Node, axis int) *Node {
	const op = OpConcat
	if !b.usable(op, x, y) || !b.requireContiguous(op, x, y) {
		return b.bad
	}
	if x.DType != y.DType || x.DType.IsQuantized() {
		return b.fail(op, "", "dtypes %s and %s must match and not be quantized", x.DType, y.DType)
	}
	r := x.Shape.Rank()
	if axis < 0 {
		axis += r
	}
	if y.Shape.Rank() != r || axis < 0 || axis >= r {
		return b.fail(op, "", "axis %d for shapes %s and %s", axis, x.Shape, y.Shape)
	}
	shape := x.Shape.Clone()
	for i := range shape {
		if i != axis && x.Shape[i] != y.Shape[i] {
			return b.fail(op, "", "shapes %s and %s differ outside axis %d", x.Shape, y.Shape, axis)
		}
	}
	shape[axis] += y.Shape[axis]
	return b.add(op, shape, x.DType, Params{Axis: axis}, x, y)
}

// Copy converts x (possibly strided) to a contiguous tensor of dtype dt.
// Float types convert among each other (quantizing or dequantizing as
// needed; quantized sources must be contiguous); I32 copies only to I32.
func (b *Builder) Copy(x *Node, dt DType) *Node {
	const op = OpCopy
	if !b.usable(op, x) {
		return b.bad
	}
	if !dt.Valid() {
		return b.fail(op, "", "unknown dtype %d", uint8(dt))
	}
	if (x.DType == I32) != (dt == I32) {
		return b.fail(op, "", "cannot copy %s to %s", x.DType, dt)
	}
	if x.DType.IsQuantized() && !x.IsContiguous() {
		return b.fail(op, "", "quantized %s must be contiguous", x)
	}
	return b.add(op, x.Shape, dt, Params{}, x)
}

// Argmax returns, for each row of F32 x [..., N], the index of its largest
// element (the first one on ties) as I32 of shape [...] ([1] for a vector).
func (b *Builder) Argmax(x *Node) *Node {
	const op = OpArgmax
	if !b.usable(op, x) || !b.requireContiguous(op, x) || !b.requireDType(op, x, 0, F32) {
		return b.bad
	}
	if x.Shape.Rank() == 0 {
		return b.fail(op, "", "x %s must have rank ≥ 1", x)
	}
	shape := x.Shape[:x.Shape.Rank()-1].Clone()
	if len(shape) == 0 {
		shape = Shape{1}
	}
	return b.add(op, shape, I32, Params{}, x)
}
