package graph

import "fmt"

// Graph is a built, checked computation: its nodes in topological order
// (every node after its inputs) and its outputs. A graph is built once per
// shape class (a prefill of up to N tokens, a decode of one) and run many times.
type Graph struct {
	Nodes   []*Node // reachable nodes in topological order
	Outputs []*Node // results the caller binds and reads
	byName  map[string]*Node
}

// Build checks the builder's state and returns the graph that computes the
// given outputs; nodes they do not depend on are left out. Outputs must be
// compute nodes that own their memory: a view, reshape or permute is wrapped
// in a contiguous copy (look outputs up in Graph.Outputs, not by the node
// passed in), and leaves and kv_write results are refused.
func (b *Builder) Build(outputs ...*Node) (*Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("graph: build: no outputs")
	}
	outs := make([]*Node, len(outputs))
	seenOut := map[*Node]bool{}
	for i, o := range outputs {
		if o == nil || o.owner != b || o == b.bad {
			return nil, fmt.Errorf("graph: build: output %d is not a node of this builder", i)
		}
		// Check for repeats before a view is wrapped: each wrap is a new node.
		if seenOut[o] {
			return nil, fmt.Errorf("graph: build: output %s is listed twice", o)
		}
		seenOut[o] = true
		switch {
		case o.Op.IsLeaf():
			return nil, fmt.Errorf("graph: build: output %d (%s) is a leaf; leaves are bound, not computed", i, o)
		case o.Op.WritesState():
			return nil, fmt.Errorf("graph: build: output %d (%s) is a %s; its result lives in the state it writes", i, o, o.Op)
		case o.Op.IsAlias():
			o = b.Contiguous(o)
			if b.err != nil {
				return nil, b.err
			}
		}
		outs[i] = o
	}
	// Mark what the outputs depend on; creation order is already topological
	// because a node's inputs exist before it.
	reach := make([]bool, len(b.nodes))
	stack := append([]*Node(nil), outs...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if reach[n.ID] {
			continue
		}
		reach[n.ID] = true
		stack = append(stack, n.Inputs...)
	}
	g := &Graph{Outputs: outs, byName: map[string]*Node{}}
	for _, n := range b.nodes {
		if reach[n.ID] {
			g.Nodes = append(g.Nodes, n)
			g.byName[n.Name] = n
		}
	}
	return g, nil
}

// Node returns the node with the given name, or nil.
func (g *Graph) Node(name string) *Node { return g.byName[name] }

// Leaves returns the graph's leaves of kind op (OpWeight, OpInput or OpState)
// in topological order.
func (g *Graph) Leaves(op Op) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		if n.Op == op {
			out = append(out, n)
		}
	}
	return out
}

// IsOutput reports whether n is one of g's outputs.
func (g *Graph) IsOutput(n *Node) bool {
	for _, o := range g.Outputs {
		if o == n {
			return true
		}
	}
	return false
}

// Topological reports whether every node of g comes after its inputs, every
// input is part of g, no node is nil or listed twice, and every output is part
// of g. Build always returns such a graph; backends may call it to check
// graphs from elsewhere.
func (g *Graph) Topological() error {
	pos := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		if n == nil {
			return fmt.Errorf("graph: node %d is nil", i)
		}
		if _, dup := pos[n]; dup {
			return fmt.Errorf("graph: %s appears twice in the graph", n)
		}
		for _, in := range n.Inputs {
			if _, ok := pos[in]; !ok {
				return fmt.Errorf("graph: %s reads %s, which is not before it in the graph", n, in)
			}
		}
		pos[n] = i
	}
	for i, o := range g.Outputs {
		if _, ok := pos[o]; !ok {
			return fmt.Errorf("graph: output %d (%s) is not in the graph", i, o)
		}
	}
	return nil
}
