package cpu

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// validateNode checks that n is well formed (graph.Node.Validate: its op,
// arity, dtypes, shapes, strides and parameters, as the graph builder would
// have made them, so kernels never index outside their tensors) and that
// the cpu backend has a kernel for its op. Graphs assembled by hand are
// checked just as strictly.
func validateNode(n *graph.Node) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if !n.Op.IsLeaf() && refTier.kernels[n.Op] == nil {
		return fmt.Errorf("op %s is not supported by the cpu backend", n.Op)
	}
	return nil
}

// storageRoot returns the node whose memory n lives in. The compiler calls
// it only on validated nodes, whose alias chains are well formed.
func storageRoot(n *graph.Node) *graph.Node { return n.Storage() }

// extent returns the lowest and highest element index n addresses in its storage.
func extent(n *graph.Node) (lo, hi int64) { return n.Extent() }
