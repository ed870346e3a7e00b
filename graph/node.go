package graph

import "fmt"

// Node is one tensor of a graph: a leaf (weight, input, state) or the result
// of an op over earlier nodes. Nodes are made by a Builder and are read-only
// once the graph is built.
type Node struct {
	ID     int     // index in creation order, unique within its builder
	Op     Op      // what computes the node
	Inputs []*Node // operands, in the order documented on the builder method
	Shape  Shape   // outermost-first
	DType  DType   // element type
	Params Params  // op parameters
	Name   string  // unique name within the graph ("blk.3.attn_q")

	// Strides holds the element stride of each dimension and Offset the
	// element offset of element zero, both relative to the storage node
	// (see Storage). Nodes that own their memory are contiguous with offset 0.
	Strides []int64
	Offset  int64

	owner *Builder
}

// String names the node for messages: `matmul "blk.3.attn_q" [7 64] f32`.
func (n *Node) String() string {
	if n == nil {
		return "<nil node>"
	}
	return fmt.Sprintf("%s %q %v %s", n.Op, n.Name, n.Shape, n.DType)
}

// Storage returns the node whose memory n lives in: n itself, or for views
// and kv_write the storage of the first input.
func (n *Node) Storage() *Node {
	for n.Op.IsAlias() {
		n = n.Inputs[0]
	}
	return n
}

// Bytes returns the size in bytes of a contiguous tensor of n's shape and dtype.
func (n *Node) Bytes() int64 {
	b, err := n.DType.RowBytes(n.Shape.NumElements())
	if err != nil {
		return 0
	}
	return b
}

// IsContiguous reports whether n's elements are laid out row-major without
// gaps starting at its offset (dimensions of size 1 may have any stride).
func (n *Node) IsContiguous() bool {
	want := int64(1)
	for i := len(n.Shape) - 1; i >= 0; i-- {
		if n.Shape[i] != 1 && n.Strides[i] != want {
			return false
		}
		want *= int64(n.Shape[i])
	}
	return true
}

// Mask returns the explicit mask input of a softmax or attention node, or nil.
func (n *Node) Mask() *Node {
	if !n.Params.HasMask {
		return nil
	}
	switch n.Op {
	case OpSoftmax:
		return n.Inputs[1]
	case OpAttention:
		return n.Inputs[3]
	}
	return nil
}

// Positions returns the query-position input of an attention node, or nil.
func (n *Node) Positions() *Node {
	if n.Op != OpAttention || !n.Params.HasPos {
		return nil
	}
	i := 3
	if n.Params.HasMask {
		i++
	}
	return n.Inputs[i]
}

// FreqFactors returns the frequency-factor input of a rope node, or nil.
func (n *Node) FreqFactors() *Node {
	if n.Op != OpRoPE || !n.Params.HasFreqFactors {
		return nil
	}
	return n.Inputs[2]
}
