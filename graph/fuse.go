package graph

import (
	"fmt"
	"strings"
)

// Fused is a graph rewritten by Fuse, with the correspondence to the graph
// it came from.
type Fused struct {
	// Graph is the rewritten graph. Its leaves are the original leaf nodes
	// (the same pointers); its outputs hold the original outputs' values.
	Graph *Graph
	// Map gives, for each node of the original graph whose value the
	// rewritten graph still holds, the node holding it: the node itself
	// when nothing it depends on changed, a copy reading rewritten inputs,
	// a fused node, or a view of one. Intermediates fused away are absent.
	// Every leaf and output of the original graph is present, mapped to a
	// leaf or an output of Graph, so a backend binds what its caller binds
	// to Map[n].
	Map map[*Node]*Node
	// Count is the number of fused nodes made.
	Count int
}

// Fuse rewrites g into fused ops where supports accepts them (a backend's
// Supports), leaving the rest of g as it is:
//
//   - Mul(RMSNorm(x), w) with w [D] becomes RMSNormMul(x, w);
//   - KVWrite(cache, RoPE(x, pos, ff), pos) becomes RoPEKVWrite;
//   - matmuls of one x by 2-D weights of one dtype become one MatMulFused:
//     SwiGLU(x·gᵀ, x·uᵀ) as one with SwiGLU; two or three matmuls of a
//     single-row x as one concatenation, whose parts the consumers read
//     through views (contiguous, since x has one row); an RMSNorm ⊙ w
//     that feeds only those matmuls as its Norm; an Add of the result
//     and a tensor of its shape as its Residual.
//
// Nodes that are outputs of g are never fused away, so every output keeps
// owning its memory. The rewritten graph lists the leaves first. A candidate supports rejects is tried smaller (without
// the residual, then without the norm) and otherwise left unfused. g is
// not modified; when nothing is fused, the result's Graph is g.
func Fuse(g *Graph, supports func(*Node) bool) (*Fused, error) {
	if err := g.Topological(); err != nil {
		return nil, fmt.Errorf("graph: fuse: %w", err)
	}
	f := &fuser{g: g, supports: supports, users: map[*Node][]*Node{}, pos: map[*Node]int{}}
	for i, n := range g.Nodes {
		f.pos[n] = i
		for _, in := range n.Inputs {
			f.users[in] = append(f.users[in], n)
		}
	}
	f.plan()
	return f.rebuild()
}

// group is one fused node to make: the original nodes it replaces and how
// its value is read.
type group struct {
	node   *Node   // the fused node (inputs: original nodes, remapped at rebuild)
	at     int     // the original step it is emitted at
	absorb []*Node // original nodes fused away (their value is gone or a view)
	// views: original node → the element offset of its value in node's
	// result (cat parts); the root's value is the whole result otherwise.
	views map[*Node]int64
	root  *Node // the original node whose value is the whole result (nil for cats)
}

type fuser struct {
	g        *Graph
	supports func(*Node) bool
	users    map[*Node][]*Node
	pos      map[*Node]int
	groups   []*group
	taken    map[*Node]bool
}

// private reports whether n is an intermediate read only by the nodes in
// readers (each at least once) and not an output.
func (f *fuser) private(n *Node, readers ...*Node) bool {
	if f.g.IsOutput(n) || n.Op.IsLeaf() || f.taken[n] {
		return false
	}
	for _, u := range f.users[n] {
		ok := false
		for _, r := range readers {
			if u == r {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return len(f.users[n]) > 0
}

func (f *fuser) take(g *group) {
	for _, n := range g.absorb {
		f.taken[n] = true
	}
	if g.root != nil {
		f.taken[g.root] = true
	}
	for n := range g.views {
		f.taken[n] = true
	}
	f.groups = append(f.groups, g)
}

// plainMatMul reports whether n is a matmul by a 2-D weight leaf.
func plainMatMul(n *Node) bool {
	return n.Op == OpMatMul && n.Inputs[1].Shape.Rank() == 2 && n.Inputs[1].Op == OpWeight
}

// normOf returns the RMSNorm ⊙ w feeding x (x = Mul(RMSNorm(x0), w)),
// or nils.
func (f *fuser) normOf(x *Node) (mul, norm, w *Node) {
	if x.Op != OpMul || x.Inputs[0].Op != OpRMSNorm {
		return nil, nil, nil
	}
	norm, w = x.Inputs[0], x.Inputs[1]
	if !w.Shape.Equal(Shape{x.Shape.Last()}) || !f.private(norm, x) {
		return nil, nil, nil
	}
	return x, norm, w
}

func (f *fuser) plan() {
	f.taken = map[*Node]bool{}
	// Matmul groups first (they may absorb norms), in graph order.
	for _, n := range f.g.Nodes {
		if f.taken[n] {
			continue
		}
		switch {
		case n.Op == OpSwiGLU:
			f.planSwiGLU(n)
		case plainMatMul(n):
			f.planMatMuls(n)
		}
	}
	for _, n := range f.g.Nodes {
		if f.taken[n] {
			continue
		}
		switch n.Op {
		case OpMul:
			f.planRMSNormMul(n)
		case OpKVWrite:
			f.planRoPEKVWrite(n)
		}
	}
}

// fusedNode makes a matmul_fused node over original inputs, or nil when
// the shapes do not allow one.
func fusedNode(name string, x *Node, ws []*Node, norm *Node, eps float32, swiglu bool, res *Node) *Node {
	p := Params{Eps: eps, Fused: FusedMatMul{Parts: len(ws), Norm: norm != nil, SwiGLU: swiglu, Residual: res != nil}}
	ins := []*Node{x}
	if norm != nil {
		ins = append(ins, norm)
	}
	ins = append(ins, ws...)
	if res != nil {
		ins = append(ins, res)
	}
	shape, err := fusedMatMulShape(x, ws, p.Fused)
	if err != nil {
		return nil
	}
	n := &Node{Op: OpMatMulFused, Inputs: ins, Shape: shape, DType: F32, Params: p, Name: name, Strides: shape.Strides()}
	if checkMatMulFused(n) != nil {
		return nil
	}
	return n
}

// matmulGroup tries a matmul_fused over x with weights ws replacing the
// nodes members (whose last is the root unless cat), largest first:
// with the norm feeding x (when private to members) and the residual add
// consuming root (when given), then without them. It records the group
// and reports whether one was accepted.
func (f *fuser) matmulGroup(members []*Node, ws []*Node, swiglu, cat bool, root *Node, name string) bool {
	x := members[0].Inputs[0]
	mul, norm, nw := f.normOf(x)
	if mul != nil && !f.private(mul, members...) {
		mul = nil
	}
	var add, res *Node
	if root != nil && !cat {
		if us := f.users[root]; len(us) == 1 && us[0].Op == OpAdd && !f.g.IsOutput(root) && !f.taken[us[0]] {
			a := us[0]
			other := a.Inputs[0]
			if other == root {
				other = a.Inputs[1]
			}
			if a.Inputs[0] != a.Inputs[1] && other.Shape.Equal(root.Shape) {
				add, res = a, other
			}
		}
	}
	type try struct{ norm, res bool }
	for _, t := range []try{{true, true}, {true, false}, {false, true}, {false, false}} {
		if (t.norm && mul == nil) || (t.res && add == nil) {
			continue
		}
		if !t.norm && !t.res && len(ws) == 1 {
			return false // a plain matmul: nothing to fuse
		}
		in, nrm, eps := x, (*Node)(nil), float32(0)
		if t.norm {
			in, nrm, eps = norm.Inputs[0], nw, norm.Params.Eps
		}
		var r *Node
		gname := name
		if t.res {
			r, gname = res, add.Name
		}
		n := fusedNode(gname, in, ws, nrm, eps, swiglu, r)
		if n == nil || !f.supports(n) {
			continue
		}
		g := &group{node: n}
		g.absorb = append(g.absorb, members...)
		if t.norm {
			g.absorb = append(g.absorb, mul, norm)
		}
		switch {
		case cat:
			g.views = map[*Node]int64{}
			var off int64
			for _, m := range members {
				g.views[m] = off
				off += int64(m.Shape.NumElements())
			}
			g.absorb = nil
			if t.norm {
				g.absorb = []*Node{mul, norm}
			}
			g.at = f.pos[members[0]]
		case t.res:
			g.root = add
			g.absorb = append(g.absorb, root)
			g.at = f.pos[add]
		default:
			g.root = root
			g.at = f.pos[root]
		}
		f.take(g)
		return true
	}
	return false
}

func (f *fuser) planSwiGLU(s *Node) {
	gt, up := s.Inputs[0], s.Inputs[1]
	if !plainMatMul(gt) || !plainMatMul(up) || gt == up || gt.Inputs[0] != up.Inputs[0] ||
		gt.Inputs[1].DType != up.Inputs[1].DType || !f.private(gt, s) || !f.private(up, s) {
		return
	}
	f.matmulGroup([]*Node{gt, up}, []*Node{gt.Inputs[1], up.Inputs[1]}, true, false, s, s.Name)
}

func (f *fuser) planMatMuls(n *Node) {
	x := n.Inputs[0]
	// Siblings: later plain matmuls of the same x by weights of n's dtype.
	members := []*Node{n}
	if x.Shape.Rows() == 1 && !f.g.IsOutput(n) {
		for _, u := range f.users[x] {
			if u != n && plainMatMul(u) && !f.taken[u] && f.pos[u] > f.pos[n] && u.Inputs[0] == x &&
				u.Inputs[1].DType == n.Inputs[1].DType && !f.g.IsOutput(u) && !f.swigluHalf(u) &&
				len(members) < MaxFusedParts {
				members = append(members, u)
			}
		}
	}
	if len(members) > 1 {
		ws := make([]*Node, len(members))
		names := make([]string, len(members))
		for i, m := range members {
			ws[i] = m.Inputs[1]
			names[i] = m.Name
		}
		if f.matmulGroup(members, ws, false, true, nil, strings.Join(names, "+")) {
			return
		}
	}
	if f.swigluHalf(n) {
		return
	}
	f.matmulGroup([]*Node{n}, []*Node{n.Inputs[1]}, false, false, n, n.Name)
}

// swigluHalf reports whether matmul n is the gate or up product of a
// swiglu (planSwiGLU handles those).
func (f *fuser) swigluHalf(n *Node) bool {
	us := f.users[n]
	return len(us) == 1 && us[0].Op == OpSwiGLU && plainMatMul(us[0].Inputs[0]) && plainMatMul(us[0].Inputs[1]) &&
		us[0].Inputs[0].Inputs[0] == us[0].Inputs[1].Inputs[0]
}

func (f *fuser) planRMSNormMul(mul *Node) {
	if mul.Inputs[0].Op != OpRMSNorm {
		return
	}
	norm, w := mul.Inputs[0], mul.Inputs[1]
	if !w.Shape.Equal(Shape{mul.Shape.Last()}) || !f.private(norm, mul) {
		return
	}
	n := &Node{Op: OpRMSNormMul, Inputs: []*Node{norm.Inputs[0], w}, Shape: mul.Shape, DType: F32,
		Params: Params{Eps: norm.Params.Eps}, Name: mul.Name, Strides: mul.Shape.Strides()}
	if checkRMSNormMul(n) != nil || !f.supports(n) {
		return
	}
	f.take(&group{node: n, at: f.pos[mul], absorb: []*Node{norm}, root: mul})
}

func (f *fuser) planRoPEKVWrite(kw *Node) {
	cache, src, pos := kw.Inputs[0], kw.Inputs[1], kw.Inputs[2]
	if src.Op != OpRoPE || src.Inputs[1] != pos || !f.private(src, kw) {
		return
	}
	ins := []*Node{cache, src.Inputs[0], pos}
	if ff := src.FreqFactors(); ff != nil {
		ins = append(ins, ff)
	}
	n := &Node{Op: OpRoPEKVWrite, Inputs: ins, Shape: kw.Shape, DType: kw.DType,
		Params: Params{RoPE: src.Params.RoPE, HasFreqFactors: src.Params.HasFreqFactors},
		Name:   kw.Name, Strides: kw.Strides, Offset: kw.Offset}
	if checkRoPEKVWrite(n) != nil || !f.supports(n) {
		return
	}
	f.take(&group{node: n, at: f.pos[kw], absorb: []*Node{src}, root: kw})
}

// rebuild emits the rewritten graph.
func (f *fuser) rebuild() (*Fused, error) {
	g := f.g
	out := &Fused{Map: map[*Node]*Node{}, Count: len(f.groups)}
	if len(f.groups) == 0 {
		for _, n := range g.Nodes {
			out.Map[n] = n
		}
		out.Graph = g
		return out, nil
	}
	at := map[int][]*group{}
	for _, gr := range f.groups {
		at[gr.at] = append(at[gr.at], gr)
	}
	nextID := 0
	names := map[string]bool{}
	for _, n := range g.Nodes {
		nextID = max(nextID, n.ID+1)
		names[n.Name] = true
	}
	uniq := func(name string) string {
		if !names[name] {
			names[name] = true
			return name
		}
		for i := 2; ; i++ {
			if c := fmt.Sprintf("%s#%d", name, i); !names[c] {
				names[c] = true
				return c
			}
		}
	}
	ng := &Graph{byName: map[string]*Node{}}
	emit := func(n *Node) {
		ng.Nodes = append(ng.Nodes, n)
		ng.byName[n.Name] = n
	}
	var missing *Node
	// remap returns ins mapped to the rewritten graph and whether any
	// changed; nil when one has no value there (missing names it).
	remap := func(ins []*Node) ([]*Node, bool) {
		changed := false
		outs := make([]*Node, len(ins))
		for i, in := range ins {
			m, ok := out.Map[in]
			if !ok {
				missing = in
				return nil, false
			}
			outs[i] = m
			changed = changed || m != in
		}
		return outs, changed
	}
	// Leaves first: a fused node may read a weight declared after the first
	// node it replaces (the builder declares each weight where it is used).
	for _, n := range g.Nodes {
		if n.Op.IsLeaf() {
			out.Map[n] = n
			emit(n)
		}
	}
	for i, n := range g.Nodes {
		if n.Op.IsLeaf() {
			continue
		}
		for _, gr := range at[i] {
			fn := gr.node
			ins, _ := remap(fn.Inputs)
			if ins == nil {
				return nil, fmt.Errorf("graph: fuse: %s reads %s, a value fused away", fn, missing)
			}
			fn.Inputs = ins
			fn.ID = nextID
			nextID++
			if gr.root != nil {
				fn.Name = gr.root.Name // the root is gone: its name moves to the fused node
			} else {
				fn.Name = uniq(fn.Name)
			}
			emit(fn)
			if gr.root != nil {
				out.Map[gr.root] = fn
			}
			for _, m := range orderedViews(gr.views, f.pos) {
				off := gr.views[m]
				v := &Node{ID: nextID, Op: OpView, Inputs: []*Node{fn}, Shape: m.Shape.Clone(), DType: F32,
					Name: m.Name, Strides: m.Shape.Strides(), Offset: fn.Offset + off}
				nextID++
				emit(v)
				out.Map[m] = v
			}
		}
		if f.taken[n] {
			continue
		}
		ins, changed := remap(n.Inputs)
		if ins == nil && len(n.Inputs) > 0 {
			return nil, fmt.Errorf("graph: fuse: %s reads %s, a value fused away", n, missing)
		}
		if !changed {
			out.Map[n] = n
			emit(n)
			continue
		}
		c := *n
		c.Inputs = ins
		c.ID = nextID
		nextID++
		if n.Op.IsAlias() {
			// An alias of a remapped input addresses the same elements of
			// the new storage: shift by the storage's offset change.
			c.Offset = n.Offset - n.Inputs[0].Offset + ins[0].Offset
		}
		out.Map[n] = &c
		emit(&c)
	}
	for _, o := range g.Outputs {
		m, ok := out.Map[o]
		if !ok || m.Op.IsAlias() || m.Op.IsLeaf() {
			return nil, fmt.Errorf("graph: fuse: output %s has no owned value after fusion", o)
		}
		ng.Outputs = append(ng.Outputs, m)
	}
	for _, n := range ng.Nodes {
		if err := n.Validate(); err != nil {
			return nil, fmt.Errorf("graph: fuse: %s: %w", n, err)
		}
	}
	if err := ng.Topological(); err != nil {
		return nil, fmt.Errorf("graph: fuse: %w", err)
	}
	out.Graph = ng
	return out, nil
}

// orderedViews returns the keys of views in graph order.
func orderedViews(views map[*Node]int64, pos map[*Node]int) []*Node {
	out := make([]*Node, 0, len(views))
	for m := range views {
		out = append(out, m)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && pos[out[j]] < pos[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
