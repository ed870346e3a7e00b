package graph

import (
	"fmt"
	"sort"
)

// Plan places every intermediate tensor of a graph in one arena. Leaves and
// outputs are bound by the caller and are not in the arena; views and
// kv_write share their input's storage. A buffer is reused once every node
// that reads it (directly or through a view) has run.
type Plan struct {
	Size    int64            // arena bytes
	Align   int64            // every offset is a multiple of Align
	offsets map[*Node]int64  // storage nodes in the arena
	live    map[*Node][2]int // [first, last] step indices of each arena tensor
}

// Offset returns the arena byte offset of n's storage node, and false when n's
// storage is not in the arena (a leaf or an output).
func (p *Plan) Offset(n *Node) (int64, bool) {
	off, ok := p.offsets[n.Storage()]
	return off, ok
}

// Lifetime returns the first and last step (index in Graph.Nodes) during
// which the arena tensor n is live.
func (p *Plan) Lifetime(n *Node) (first, last int, ok bool) {
	l, ok := p.live[n.Storage()]
	return l[0], l[1], ok
}

// Tensors returns the storage nodes placed in the arena.
func (p *Plan) Tensors() []*Node {
	out := make([]*Node, 0, len(p.offsets))
	for n := range p.offsets {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// NeedsArena reports whether n owns memory that the plan must place: a
// compute node that is neither an alias nor a graph output.
func (g *Graph) NeedsArena(n *Node) bool {
	return !n.Op.IsLeaf() && !n.Op.IsAlias() && !g.IsOutput(n)
}

func alignUp(v, a int64) int64 { return (v + a - 1) / a * a }

// PlanMemory computes a liveness-based arena plan for g with offsets aligned
// to align bytes (a power of two; 0 means 64).
func PlanMemory(g *Graph, align int64) (*Plan, error) {
	if align == 0 {
		align = 64
	}
	if align < 0 || align&(align-1) != 0 {
		return nil, fmt.Errorf("graph: plan: alignment %d is not a power of two", align)
	}
	step := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		step[n] = i
	}
	last := map[*Node]int{}
	for i, n := range g.Nodes {
		if g.NeedsArena(n) {
			last[n] = i
		}
		for _, in := range n.Inputs {
			root := in.Storage()
			if _, ok := last[root]; ok && i > last[root] {
				last[root] = i
			}
		}
	}
	p := &Plan{Align: align, offsets: map[*Node]int64{}, live: map[*Node][2]int{}}
	type block struct {
		off, size int64
		n         *Node
	}
	var active []block // sorted by offset
	for i, n := range g.Nodes {
		// Free tensors whose last reader ran before this step.
		kept := active[:0]
		for _, a := range active {
			if last[a.n] >= i {
				kept = append(kept, a)
			}
		}
		active = kept
		if !g.NeedsArena(n) {
			continue
		}
		size := alignUp(n.Bytes(), align)
		if size == 0 {
			size = align
		}
		// Best fit among the gaps between live blocks; else the end.
		best, bestGap := int64(-1), int64(-1)
		prevEnd := int64(0)
		for _, a := range active {
			if gap := a.off - prevEnd; gap >= size && (bestGap < 0 || gap < bestGap) {
				best, bestGap = prevEnd, gap
			}
			prevEnd = max(prevEnd, alignUp(a.off+a.size, align))
		}
		if best < 0 {
			best = prevEnd
		}
		blk := block{off: best, size: size, n: n}
		at := sort.Search(len(active), func(j int) bool { return active[j].off >= best })
		active = append(active, block{})
		copy(active[at+1:], active[at:])
		active[at] = blk
		p.offsets[n] = best
		p.live[n] = [2]int{i, last[n]}
		if end := best + size; end > p.Size {
			p.Size = end
		}
	}
	return p, nil
}
