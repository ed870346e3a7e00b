package gpu

import (
	"errors"
	"fmt"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
)

// Program is the backend-independent half of a compiled graph on a backend
// whose buffers have type B: which nodes the caller binds and where, the
// memory plan, the launch list and its region layout, and the timings of
// the last run. Errors carry no backend prefix; the backend adds its own
// ("vulkan: bind x: ...").
type Program[B any] struct {
	// Graph is the compiled graph.
	Graph *graph.Graph
	// Plan places the intermediates in the program's arena (Plan.Size bytes).
	Plan *graph.Plan
	// List is the launch list (SetLaunches).
	List *LaunchList
	// Scratch and Consts lay out the scratch and constant regions, each in
	// one device allocation (SetLaunches).
	Scratch, Consts Regions

	index    map[*graph.Node]int
	bindable []bool
	binds    []binding[B]
	timings  []backend.OpTiming
	hasTimes bool
}

// binding is where a leaf or output lives.
type binding[B any] struct {
	buf B
	off int64
	set bool
}

// Prepare is the compile prologue. It checks g: not empty, with outputs;
// every node non-nil, listed once, after its inputs and accepted by
// validate (Registry.Validate); every output a compute node that owns its
// memory, listed once; every node's elements inside its storage node, of
// the same dtype. It plans the intermediates in one arena whose offsets
// are multiples of align (graph.PlanMemory), and marks leaves and outputs
// as bound by the caller.
func Prepare[B any](g *graph.Graph, validate func(*graph.Node) error, align int64) (*Program[B], error) {
	if g == nil || len(g.Nodes) == 0 {
		return nil, errors.New("empty graph")
	}
	if len(g.Outputs) == 0 {
		return nil, errors.New("graph has no outputs")
	}
	p := &Program[B]{Graph: g, index: make(map[*graph.Node]int, len(g.Nodes))}
	for i, n := range g.Nodes {
		if n == nil {
			return nil, fmt.Errorf("node %d is nil", i)
		}
		if _, dup := p.index[n]; dup {
			return nil, fmt.Errorf("node %s is listed twice", n)
		}
		if err := validate(n); err != nil {
			return nil, fmt.Errorf("node %s: %w", n, err)
		}
		for _, in := range n.Inputs {
			if _, ok := p.index[in]; !ok {
				return nil, fmt.Errorf("node %s reads %s, which is not before it in the graph", n, in)
			}
		}
		p.index[n] = i
	}
	if err := g.Topological(); err != nil {
		return nil, err
	}
	p.bindable = make([]bool, len(g.Nodes))
	p.binds = make([]binding[B], len(g.Nodes))
	for i, o := range g.Outputs {
		j, ok := p.index[o]
		if !ok {
			return nil, fmt.Errorf("output %d (%s) is not a node of the graph", i, o)
		}
		if o.Op.IsLeaf() || o.Op.IsAlias() {
			return nil, fmt.Errorf("output %d (%s) must be a compute node that owns its memory", i, o)
		}
		if p.bindable[j] {
			return nil, fmt.Errorf("output %s is listed twice", o)
		}
		p.bindable[j] = true
	}
	for i, n := range g.Nodes {
		if n.Op.IsLeaf() {
			p.bindable[i] = true
		}
		r := n.Storage()
		if r == nil {
			return nil, fmt.Errorf("node %s: malformed alias chain", n)
		}
		if _, ok := p.index[r]; !ok {
			return nil, fmt.Errorf("node %s lives in %s, which is not in the graph", n, r)
		}
		if lo, hi := n.Extent(); lo < 0 || hi >= r.Shape.NumElements() {
			return nil, fmt.Errorf("node %s addresses elements [%d, %d] outside its storage %s", n, lo, hi, r)
		}
		if r.DType != n.DType {
			return nil, fmt.Errorf("node %s has dtype %s but its storage %s has %s", n, n.DType, r, r.DType)
		}
	}
	plan, err := graph.PlanMemory(g, align)
	if err != nil {
		return nil, err
	}
	p.Plan = plan
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			p.timings = append(p.timings, backend.OpTiming{Node: n})
		}
	}
	return p, nil
}

// Regions is the layout of several regions in one allocation.
type Regions struct {
	// Offsets and Sizes give each region's first byte and its size, a
	// multiple of the alignment.
	Offsets, Sizes []int64
	// Total is the allocation's size in bytes.
	Total int64
}

// Layout places regions of the given sizes one after another, each
// rounded up to align bytes.
func Layout(sizes []int64, align int64) Regions {
	r := Regions{Offsets: make([]int64, len(sizes)), Sizes: make([]int64, len(sizes))}
	for i, s := range sizes {
		r.Offsets[i] = r.Total
		r.Sizes[i] = (s + align - 1) / align * align
		r.Total += r.Sizes[i]
	}
	return r
}

// SetLaunches attaches the launch list and lays out its scratch and
// constant regions at align bytes.
func (p *Program[B]) SetLaunches(ll *LaunchList, align int64) {
	p.List = ll
	count := map[*graph.Node]int{}
	for _, l := range ll.Launches {
		count[l.Node]++
	}
	for i := range p.timings {
		p.timings[i].Launches = count[p.timings[i].Node]
	}
	p.Scratch = Layout(ll.Scratch, align)
	sizes := make([]int64, len(ll.Consts))
	for i, k := range ll.Consts {
		sizes[i] = int64(len(k))
	}
	p.Consts = Layout(sizes, align)
}

// CheckBindable says why n cannot be bound: not a node of the graph, or
// neither a leaf nor an output.
func (p *Program[B]) CheckBindable(n *graph.Node) error {
	i, ok := p.index[n]
	if !ok {
		return errors.New("not a node of this program's graph")
	}
	if !p.bindable[i] {
		return errors.New("only leaves and outputs are bound")
	}
	return nil
}

// Bind records that leaf or output n lives at byte off of buf, a buffer of
// size bytes, after checking that n's bytes fit there and that off is
// aligned to n's elements (ElemAlign). The backend checks n with
// CheckBindable, and buf (its own, not freed), before.
func (p *Program[B]) Bind(n *graph.Node, buf B, size, off int64) error {
	if err := p.CheckBindable(n); err != nil {
		return err
	}
	need := n.Bytes()
	if off < 0 || off > size || need > size-off {
		return fmt.Errorf("%d bytes at offset %d do not fit the %d-byte buffer", need, off, size)
	}
	if es := ElemAlign(n.DType); off%es != 0 {
		return fmt.Errorf("offset %d is not aligned to its %d-byte elements", off, es)
	}
	p.binds[p.index[n]] = binding[B]{buf: buf, off: off, set: true}
	return nil
}

// ElemAlign is the byte alignment a bound tensor of dtype dt needs: its
// element size, and 2 for quantized data (whose blocks start with or
// contain 16-bit fields).
func ElemAlign(dt graph.DType) int64 {
	switch dt {
	case graph.F32, graph.I32:
		return 4
	case graph.F16, graph.BF16:
		return 2
	}
	return 2
}

// CheckBound says which leaf or output is not bound, or is bound to a
// buffer for which live reports false (freed), in graph order.
func (p *Program[B]) CheckBound(live func(B) bool) error {
	for i, n := range p.Graph.Nodes {
		if !p.bindable[i] {
			continue
		}
		bd := p.binds[i]
		if !bd.set {
			return fmt.Errorf("%s is not bound", n)
		}
		if !live(bd.buf) {
			return fmt.Errorf("the buffer bound to %s is %w (freed)", n, backend.ErrClosed)
		}
	}
	return nil
}

// Binds reports whether a leaf or output is bound to a buffer for which
// match reports true (for a backend that must know which programs a
// buffer's transfer concerns).
func (p *Program[B]) Binds(match func(B) bool) bool {
	for _, bd := range p.binds {
		if bd.set && match(bd.buf) {
			return true
		}
	}
	return false
}

// Unbind forgets every binding (the program is being closed).
func (p *Program[B]) Unbind() { clear(p.binds) }

// Memory says which memory an argument lives in.
type Memory uint8

const (
	// InBuffer is a buffer the caller bound (Place.Buf).
	InBuffer Memory = iota
	// InArena is the program's arena (Plan).
	InArena
	// InStatus is the program's status region.
	InStatus
	// InScratch is the program's scratch allocation (Scratch).
	InScratch
	// InConsts is the program's constant allocation (Consts).
	InConsts
)

// Place is where an argument of a launch lives once the program is bound.
type Place[B any] struct {
	// In is the memory; Buf the caller's buffer when In is InBuffer.
	In  Memory
	Buf B
	// Start and End delimit the bytes the argument spans, counted from the
	// start of that memory (buffer, arena, allocation).
	Start, End int64
	// Target is the byte the kernel's index 0 of the argument refers to:
	// the node's element 0 (which a view may place after Start), the
	// window's first byte, or a region's first byte.
	Target int64
}

// Place resolves argument a of a launch of this program. For nodes it
// needs the bindings of leaves and outputs; the error names what is
// missing.
func (p *Program[B]) Place(a Arg) (Place[B], error) {
	switch a.Kind {
	case ArgStatus:
		return Place[B]{In: InStatus, End: p.List.StatusBytes()}, nil
	case ArgScratch:
		off := p.Scratch.Offsets[a.Region]
		return Place[B]{In: InScratch, Start: off, End: off + p.Scratch.Sizes[a.Region], Target: off}, nil
	case ArgConst:
		off := p.Consts.Offsets[a.Region]
		return Place[B]{In: InConsts, Start: off, End: off + p.Consts.Sizes[a.Region], Target: off}, nil
	}
	var pl Place[B]
	r := a.Node.Storage()
	i, ok := p.index[r]
	var base int64
	switch {
	case ok && p.bindable[i]:
		bd := p.binds[i]
		if !bd.set {
			return pl, fmt.Errorf("%s is not bound", r)
		}
		pl.In, pl.Buf, base = InBuffer, bd.buf, bd.off
	default:
		off, ok := p.Plan.Offset(r)
		if !ok {
			return pl, fmt.Errorf("%s has no place in the memory plan", r)
		}
		pl.In, base = InArena, off
	}
	first, end, elem0 := Span(a.Node)
	pl.Start, pl.End, pl.Target = base+first, base+end, base+elem0
	if a.Ranged {
		pl.Start, pl.End = base+elem0+a.Lo, base+elem0+a.Hi
		pl.Target = pl.Start
	}
	return pl, nil
}

// ClearTimings forgets the timings of the last run (call before a run).
func (p *Program[B]) ClearTimings() { p.hasTimes = false }

// SetTimings stores the times of the last run: secs[k] seconds for
// nodes[k], with nodes in execution order (as LaunchList.NodeEnds lists
// them); compute nodes absent from nodes (views) took 0. It allocates
// nothing.
func (p *Program[B]) SetTimings(nodes []*graph.Node, secs []float64) {
	k := 0
	for i := range p.timings {
		p.timings[i].Seconds = 0
		if k < len(nodes) && p.timings[i].Node == nodes[k] {
			p.timings[i].Seconds = secs[k]
			k++
		}
	}
	p.hasTimes = true
}

// Timings returns a copy of the timings of every compute node in the last
// run, in execution order, or nil when there are none
// (backend.Profiler).
func (p *Program[B]) Timings() []backend.OpTiming {
	if !p.hasTimes {
		return nil
	}
	return append([]backend.OpTiming(nil), p.timings...)
}
