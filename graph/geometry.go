package graph

// Op geometry: the dimensions every backend reads from a node of an op, in
// one place, so that the CPU kernels, the GPU launch code and the benchmarks
// agree on them. Each function is defined for nodes that pass Validate (the
// builder makes only such nodes); on other nodes the result is meaningless.

// MatMulDims is the geometry of a matmul node: Batches independent products
// of an [M, K] block of x by the transpose of an [N, K] matrix of w.
type MatMulDims struct {
	// Batches is 1 for a 2-D w, which then multiplies every row of x at
	// once (M is all rows of x). For a batched w [B..., N, K] it is the
	// product of the leading dims, and M is x's second-to-last dim.
	Batches, M, N, K int
	// BatchedW is set when w has one [N, K] matrix per batch.
	BatchedW bool
	// WRowBytes is the size in bytes of one row of w (K elements).
	WRowBytes int64
}

// MatMulDims returns the geometry of matmul node n.
func (n *Node) MatMulDims() MatMulDims {
	x, w := n.Inputs[0], n.Inputs[1]
	k := x.Shape.Last()
	wr := w.Shape.Rank()
	d := MatMulDims{Batches: 1, M: int(x.Shape.Rows()), N: w.Shape[wr-2], K: k}
	if wr > 2 {
		d.BatchedW = true
		d.M = x.Shape[wr-2]
		for _, s := range x.Shape[:wr-2] {
			d.Batches *= s
		}
	}
	d.WRowBytes, _ = w.DType.RowBytes(int64(k)) // whole blocks: Validate checks w's last dim
	return d
}

// AttentionDims is the geometry of an attention node (see
// Builder.Attention): Batch × Sq queries of Hq heads of D elements against
// Sk keys of Hkv heads (D elements) and values (Dv elements).
type AttentionDims struct {
	Batch, Sq, Sk, Hq, Hkv, D, Dv int
	// Group is Hq / Hkv: query head h reads kv head h / Group.
	Group int
	// Causal is the node's Params.Causal (see Visible).
	Causal bool
}

// AttentionDims returns the geometry of attention node n.
func (n *Node) AttentionDims() AttentionDims {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	r := q.Shape.Rank()
	a := AttentionDims{Batch: 1, Causal: n.Params.Causal}
	if r == 4 {
		a.Batch = q.Shape[0]
	}
	a.Sq, a.Hq, a.D = q.Shape[r-3], q.Shape[r-2], q.Shape[r-1]
	a.Sk, a.Hkv, a.Dv = k.Shape[r-3], k.Shape[r-2], v.Shape[r-1]
	a.Group = a.Hq / a.Hkv
	return a
}

// Visible returns how many keys query i sees: keys 0 .. Visible−1. Without
// Causal every key; with it clamp(pos[i]+1, 0, Sk), or clamp(Sk−Sq+i+1, 0,
// Sk) when pos is nil (the node has no positions input).
func (a *AttentionDims) Visible(i int, pos []int32) int {
	if !a.Causal {
		return a.Sk
	}
	var last int64
	if pos != nil {
		last = int64(pos[i])
	} else {
		last = int64(a.Sk - a.Sq + i)
	}
	return int(min(max(last+1, 0), int64(a.Sk)))
}

// SoftmaxDims is the geometry of a softmax node: Rows rows of Cols logits,
// where row r is query r mod Queries of a [Queries, Cols] mask (and of the
// causal rule).
type SoftmaxDims struct {
	Rows          int64
	Cols, Queries int
	// Causal is the node's Params.Causal (see Visible).
	Causal bool
}

// SoftmaxDims returns the geometry of softmax node n. Queries is x's
// second-to-last dim (1 for a 1-D x).
func (n *Node) SoftmaxDims() SoftmaxDims {
	x := n.Inputs[0]
	d := SoftmaxDims{Rows: x.Shape.Rows(), Cols: x.Shape.Last(), Queries: 1, Causal: n.Params.Causal}
	if r := x.Shape.Rank(); r >= 2 {
		d.Queries = x.Shape[r-2]
	}
	return d
}

// Visible returns how many logits of row r take part: all Cols, or with
// Causal clamp(i+Cols−Queries+1, 0, Cols) for query i = r mod Queries (the
// last query sees every key).
func (d *SoftmaxDims) Visible(r int) int {
	if !d.Causal {
		return d.Cols
	}
	i := r % d.Queries
	return min(max(i+d.Cols-d.Queries+1, 0), d.Cols)
}

// RoPEDims is the geometry of a rope node: Batch × Seq × Heads rows of
// HeadDim elements, of which the first Dims are rotated.
type RoPEDims struct {
	Batch, Seq, Heads, HeadDim, Dims int
}

// RoPEDims returns the geometry of rope node n.
func (n *Node) RoPEDims() RoPEDims {
	x := n.Inputs[0]
	r := x.Shape.Rank()
	d := RoPEDims{Batch: 1, Seq: x.Shape[r-3], Heads: x.Shape[r-2], HeadDim: x.Shape[r-1], Dims: n.Params.RoPE.Dims}
	if r == 4 {
		d.Batch = x.Shape[0]
	}
	return d
}

// Pair returns the indices, within a head, of the two elements rotated
// together as pair i (0 ≤ i < dims/2) when dims elements are rotated:
// (2i, 2i+1) for RoPENormal, (i, i+dims/2) for RoPENeoX.
func (m RoPEMode) Pair(i, dims int) (int, int) {
	if m == RoPENeoX {
		return i, i + dims/2
	}
	return 2 * i, 2*i + 1
}

// BroadcastStrides returns, for each dimension of x, the element stride of
// a contiguous tensor of shape y broadcast to x's shape (as add and mul
// do): 0 where y has no such dimension or a dimension of 1, its row-major
// stride elsewhere. y must be broadcastable to x.
func BroadcastStrides(x, y Shape) []int64 {
	st := make([]int64, len(x))
	acc := int64(1)
	for i := 1; i <= len(y); i++ {
		dy := y[len(y)-i]
		if dy != 1 {
			st[len(x)-i] = acc
		}
		acc *= int64(dy)
	}
	return st
}
