package cpu

import "github.com/golem-llm/golem/graph"

// Shape helpers shared by both tiers.

// matmulDims describes x·Wᵀ as batches of [M, K]·[N, K]ᵀ.
type matmulDims struct {
	batches, m, n, k int
	rowBytes         int64 // bytes of one row of w
}

func matmulShape(n *graph.Node) matmulDims {
	x, w := n.Inputs[0], n.Inputs[1]
	k := x.Shape.Last()
	wr := w.Shape.Rank()
	d := matmulDims{batches: 1, m: int(x.Shape.Rows()), n: w.Shape[wr-2], k: k}
	if wr > 2 {
		d.m = x.Shape[wr-2]
		for _, s := range x.Shape[:wr-2] {
			d.batches *= s
		}
	}
	d.rowBytes, _ = w.DType.RowBytes(int64(k))
	return d
}

// broadcastStrides returns, for each dimension of x, the element stride of
// contiguous y broadcast to x's shape (0 where y repeats).
func broadcastStrides(x, y graph.Shape) []int64 {
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

// attnDims describes an attention node.
type attnDims struct {
	batch, sq, hq, d, sk, hkv, dv, group int
	scale                                float64
	causal                               bool
}

func attentionShape(n *graph.Node) attnDims {
	q, k, v := n.Inputs[0], n.Inputs[1], n.Inputs[2]
	r := q.Shape.Rank()
	a := attnDims{batch: 1}
	if r == 4 {
		a.batch = q.Shape[0]
	}
	a.sq, a.hq, a.d = q.Shape[r-3], q.Shape[r-2], q.Shape[r-1]
	a.sk, a.hkv, a.dv = k.Shape[r-3], k.Shape[r-2], v.Shape[r-1]
	a.group = a.hq / a.hkv
	a.scale = float64(n.Params.Scale)
	a.causal = n.Params.Causal
	return a
}

// visible returns how many keys (a prefix 0..count-1) query i may see.
func (a *attnDims) visible(i int, pos []int32) int {
	if !a.causal {
		return a.sk
	}
	var last int64
	if pos != nil {
		last = int64(pos[i])
	} else {
		last = int64(a.sk - a.sq + i)
	}
	return int(min(max(last+1, 0), int64(a.sk)))
}

// ropeDims describes a rope node: batches × seq × heads rows of headDim.
type ropeDims struct {
	batch, seq, heads, headDim, dims int
}

func ropeShape(n *graph.Node) ropeDims {
	x := n.Inputs[0]
	r := x.Shape.Rank()
	d := ropeDims{batch: 1, seq: x.Shape[r-3], heads: x.Shape[r-2], headDim: x.Shape[r-1], dims: n.Params.RoPE.Dims}
	if r == 4 {
		d.batch = x.Shape[0]
	}
	return d
}

// ropePair returns the indices of the two elements rotated together as
// pair i, in a head of rotated width dims.
func ropePair(mode graph.RoPEMode, i, dims int) (int, int) {
	if mode == graph.RoPENeoX {
		return i, i + dims/2
	}
	return 2 * i, 2*i + 1
}
