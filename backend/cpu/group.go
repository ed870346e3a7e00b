package cpu

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// Node groups. A decode step is a few hundred small nodes, and every
// parallel loop costs the threads a hand-off at its start and a wait for
// the slowest at its end. The fast tier computes some runs of independent
// nodes of one kind in one loop instead of one loop each:
//
//   - matmuls of one x (a layer's Q, K and V projections; its gate and up
//     projections), which also share x's quantization;
//   - single-query attention nodes (the sequences of a batched decode
//     step, one node each), as one loop over every node's blocks of keys
//     and one over every node's heads.
//
// A group runs at the step of its last node; the others are deferred to
// it. Deferring is sound when nothing between a node and the group's step
// reads the node's value, writes into the storage of one of its inputs, or
// gets arena memory that one of its inputs or its output still needs
// (groupSafe checks all three), so results are those of running the nodes
// one by one, bit for bit: each item of the loop is computed exactly as in
// the node's own loop.

// groupKind is the kind of nodes a group holds.
type groupKind int

const (
	groupMatMul    groupKind = iota + 1 // matmuls of one x
	groupAttention                      // single-query attention
)

// maxGroup bounds the nodes of one group (a batched decode step has one
// attention node per sequence).
const maxGroup = 64

// nodeGroup is a run of nodes computed together at the step of the last.
type nodeGroup struct {
	kind  groupKind
	nodes []*graph.Node
	attn  []*attnTask // the attention nodes' tasks during a run
}

// groupKindOf returns the kind of group node n can join, 0 for none.
func groupKindOf(n *graph.Node) groupKind {
	switch n.Op {
	case graph.OpMatMul:
		if n.MatMulDims().Batches == 1 {
			return groupMatMul
		}
	case graph.OpAttention:
		if n.AttentionDims().Sq == 1 {
			return groupAttention
		}
	}
	return 0
}

// sameGroup reports whether b can join a group that a (of kind k) started.
func (p *program) sameGroup(k groupKind, a, b *graph.Node) bool {
	if groupKindOf(b) != k {
		return false
	}
	if k == groupAttention {
		return true
	}
	// Matmuls of one x that take the same path (packed, GEMV or GEMM,
	// with or without integer dot products) over weights of one dtype.
	da, db := a.MatMulDims(), b.MatMulDims()
	wa, wb := a.Inputs[1].DType, b.Inputs[1].DType
	return a.Inputs[0] == b.Inputs[0] && wa == wb && da.K == db.K && da.M == db.M &&
		p.packedMatMul(a) == p.packedMatMul(b) &&
		useGEMV(da, wa) == useGEMV(db, wb) && (matmulAct(a, da) > 0) == (matmulAct(b, db) > 0)
}

// planGroups finds the program's node groups (fast tier only): for each
// node that can start one, the later nodes of its kind up to the first
// node that reads one of them, shortened until every member can be
// deferred to the last.
func (p *program) planGroups(plan *graph.Plan) {
	nodes := p.g.Nodes
	p.deferred = make([]bool, len(nodes))
	p.groups = make([]*nodeGroup, len(nodes))
	taken := make([]bool, len(nodes))
	for i, a := range nodes {
		k := groupKindOf(a)
		if k == 0 || taken[i] {
			continue
		}
		members := []int{i}
		for j := i + 1; j < len(nodes) && len(members) < maxGroup; j++ {
			if p.readsAny(nodes[j], members) {
				break
			}
			if !taken[j] && p.sameGroup(k, a, nodes[j]) {
				members = append(members, j)
			}
		}
		for len(members) > 1 && !p.groupSafe(members, plan) {
			members = members[:len(members)-1]
		}
		if len(members) < 2 {
			continue
		}
		g := &nodeGroup{kind: k}
		for _, m := range members {
			taken[m] = true
			p.deferred[m] = true
			g.nodes = append(g.nodes, nodes[m])
		}
		last := members[len(members)-1]
		p.deferred[last] = false
		p.groups[last] = g
	}
}

// readsAny reports whether n reads the value of one of the nodes at
// indices members, directly or through a view.
func (p *program) readsAny(n *graph.Node, members []int) bool {
	for _, in := range n.Inputs {
		r := p.root[p.idx[in]]
		for _, m := range members {
			if r == m {
				return true
			}
		}
	}
	return false
}

// groupSafe reports whether every node of members but the last can be
// computed at the last one's step instead of its own: it owns its memory;
// no node in between reads it or writes into the storage of one of its
// inputs; its inputs' arena memory and its own stay live up to that step.
func (p *program) groupSafe(members []int, plan *graph.Plan) bool {
	last := members[len(members)-1]
	member := map[int]bool{}
	for _, m := range members {
		member[m] = true
	}
	for _, m := range members[:len(members)-1] {
		n := p.g.Nodes[m]
		if p.root[m] != m || !p.liveUntil(n, last, plan) {
			return false
		}
		inputs := map[int]bool{}
		for _, in := range n.Inputs {
			r := p.root[p.idx[in]]
			inputs[r] = true
			if !p.liveUntil(p.g.Nodes[r], last, plan) {
				return false
			}
		}
		for j := m + 1; j <= last; j++ {
			o := p.g.Nodes[j]
			if member[j] {
				continue
			}
			if p.readsAny(o, []int{m}) {
				return false
			}
			if writes := !o.Op.IsAlias() || o.Op.WritesState(); writes && !o.Op.IsLeaf() && inputs[p.root[j]] {
				return false // o writes into the storage of one of n's inputs
			}
		}
	}
	return true
}

// liveUntil reports whether storage node n's memory is n's alone up to
// step last: bound (a leaf or an output, never shared) or an arena tensor
// live until then.
func (p *program) liveUntil(n *graph.Node, last int, plan *graph.Plan) bool {
	if p.bindable[p.idx[n]] {
		return true
	}
	_, end, ok := plan.Lifetime(n)
	return ok && end >= last
}

// multiTask runs the loops of a group's nodes as one: items [starts[i],
// starts[i+1]) are part i's items [0, n).
type multiTask struct {
	parts  []task
	starts []int
}

// add appends loop l's items.
func (m *multiTask) add(l loop) {
	if len(m.starts) == 0 {
		m.starts = append(m.starts, 0)
	}
	m.parts = append(m.parts, l.t)
	m.starts = append(m.starts, m.starts[len(m.starts)-1]+l.items)
}

// reset empties m, keeping its storage.
func (m *multiTask) reset() {
	clear(m.parts)
	m.parts, m.starts = m.parts[:0], m.starts[:0]
}

// items returns the loop's item count.
func (m *multiTask) items() int {
	if len(m.starts) == 0 {
		return 0
	}
	return m.starts[len(m.starts)-1]
}

func (m *multiTask) run(lo, hi, slot int) error {
	for i, t := range m.parts {
		s, e := m.starts[i], m.starts[i+1]
		if e <= lo || s >= hi || s == e {
			continue
		}
		if err := t.run(max(lo, s)-s, min(hi, e)-s, slot); err != nil {
			return err
		}
	}
	return nil
}

// part returns the part holding items [lo, hi) and their indices in it,
// or ok false when they span parts.
func (m *multiTask) part(lo, hi int) (i, plo, phi int, ok bool) {
	for i := range m.parts {
		s, e := m.starts[i], m.starts[i+1]
		if lo >= s && hi <= e {
			return i, lo - s, hi - s, true
		}
	}
	return 0, 0, 0, false
}

// pairs reports whether every part streams two runs of weight rows at
// once (see gemvTask.pairs and packedTask.pairs; a group's matmuls take
// one path, so the parts are of one type).
func (m *multiTask) pairs() bool {
	for _, t := range m.parts {
		if g, ok := t.(pairTask); !ok || !g.pairs() {
			return false
		}
	}
	return len(m.parts) > 0
}

// runPair runs two chunks side by side when each lies in one part (of
// one x, so with the same quantized activations), one after the other
// otherwise.
func (m *multiTask) runPair(lo1, hi1, lo2, hi2, slot int) error {
	i, a0, a1, ok1 := m.part(lo1, hi1)
	j, b0, b1, ok2 := m.part(lo2, hi2)
	if ok1 && ok2 {
		switch t := m.parts[i].(type) {
		case *packedTask:
			if u, ok := m.parts[j].(*packedTask); ok {
				return t.pairWith(u, a0, a1, b0, b1, slot)
			}
		case *gemvTask:
			if u, ok := m.parts[j].(*gemvTask); ok {
				return t.pairWith(u, a0, a1, b0, b1, slot)
			}
		}
	}
	if err := m.run(lo1, hi1, slot); err != nil {
		return err
	}
	return m.run(lo2, hi2, slot)
}

// runGroup computes the nodes of group g in one loop (two for attention:
// blocks of keys, then heads).
func (p *program) runGroup(g *nodeGroup) error {
	m := &p.multi
	m.reset()
	defer m.reset()
	grain := 1 << 30
	switch g.kind {
	case groupMatMul:
		defer func() {
			for _, n := range g.nodes {
				finishMatMul(p, n)
			}
		}()
		for _, n := range g.nodes {
			l, err := prepareMatMul(p, n)
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			m.add(l)
			grain = min(grain, l.grain)
		}
		return p.parallel(m.items(), grain, m)
	case groupAttention:
		defer func() {
			for _, t := range g.attn {
				t.clear()
			}
			g.attn = g.attn[:0]
		}()
		for _, n := range g.nodes {
			t := prepareAttention(p, n)
			g.attn = append(g.attn, t)
			if l, ok := t.splitLoop(); ok {
				m.add(l)
				grain = min(grain, l.grain)
			}
		}
		if err := p.parallel(m.items(), grain, m); err != nil {
			return err
		}
		m.reset()
		for _, t := range g.attn {
			if t.splitBlocks > 1 { // one block: merged by its items
				l := t.combineLoop()
				m.add(l)
				grain = min(grain, l.grain)
			}
		}
		return p.parallel(m.items(), grain, m)
	}
	return nil
}
