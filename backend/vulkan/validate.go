//go:build cgo

package vulkan

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// maxElements is the vulkan backend's bound on the element count of every
// tensor it handles, lower than the graph's own (1<<50).
const maxElements = 1 << 40

// validateNode checks that n is well formed (graph.Node.Validate: arity,
// dtypes, shapes, strides and parameters, as the graph builder makes them),
// that n and its inputs are within the backend's size limit and that the
// backend implements n's op. Graphs assembled by hand are checked as
// strictly, so that no kernel addresses memory outside its tensors (a GPU
// cannot report that; it corrupts or loses the device).
func validateNode(n *graph.Node) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if n.Shape.NumElements() > maxElements {
		return fmt.Errorf("shape %v has too many elements", n.Shape)
	}
	for i, in := range n.Inputs {
		if in.Shape.NumElements() > maxElements {
			return fmt.Errorf("input %d (%s): shape %v has too many elements", i, in, in.Shape)
		}
	}
	if !n.Op.IsLeaf() && len(ops[n.Op]) == 0 {
		return fmt.Errorf("op %s is not supported by the vulkan backend", n.Op)
	}
	return nil
}

// storageRoot returns the node whose memory n lives in. It is called only
// on validated nodes, whose alias chains are well formed.
func storageRoot(n *graph.Node) *graph.Node { return n.Storage() }

// extent returns the lowest and highest element index n addresses in its storage.
func extent(n *graph.Node) (lo, hi int64) { return n.Extent() }
