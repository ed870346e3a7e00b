package gpu

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// LaunchList is what compiling a graph's launches produces: the launches
// in execution order and the program regions they bind.
type LaunchList struct {
	// Launches in execution order; a node's launches are consecutive.
	Launches []*Launch
	// Slots lists the node of each status slot (Launch.Status).
	Slots []*graph.Node
	// Scratch holds the byte size of each scratch region.
	Scratch []int64
	// Consts holds the content of each constant region.
	Consts [][]byte

	slots map[*graph.Node]int
}

// slot returns n's status slot, assigning one on first use.
func (ll *LaunchList) slot(n *graph.Node) int {
	if s, ok := ll.slots[n]; ok {
		return s
	}
	if ll.slots == nil {
		ll.slots = map[*graph.Node]int{}
	}
	s := len(ll.Slots)
	ll.slots[n] = s
	ll.Slots = append(ll.Slots, n)
	return s
}

// NodeEnds marks where each node's work ends, for per-node timings: nodes
// lists every node with launches, in execution order, and ends[i] is k
// when launch i is the last launch of nodes[k], -1 otherwise. A backend
// takes a timestamp (records an event) after each such launch; node k's
// time is then the span between the marks k−1 (or the start) and k.
func (ll *LaunchList) NodeEnds() (ends []int, nodes []*graph.Node) {
	last := map[*graph.Node]int{}
	for i, l := range ll.Launches {
		last[l.Node] = i
	}
	ends = make([]int, len(ll.Launches))
	for i, l := range ll.Launches {
		ends[i] = -1
		if last[l.Node] == i {
			ends[i] = len(nodes)
			nodes = append(nodes, l.Node)
		}
	}
	return ends, nodes
}

// Compiler turns the compute nodes of a graph into launches for a device
// described by D. Launch functions (Variant.Launch) call its methods.
type Compiler[D any] struct {
	// Dev is the device the program is compiled for.
	Dev D
	// Graph is the graph being compiled.
	Graph *graph.Graph

	list *LaunchList
	temp int // the scratch region Temp shares, or -1
}

// NewCompiler returns a compiler of g for dev.
func NewCompiler[D any](dev D, g *graph.Graph) *Compiler[D] {
	return &Compiler[D]{Dev: dev, Graph: g, list: &LaunchList{}, temp: -1}
}

// Launch starts a launch of kernel for n and returns it for the launch
// function to describe.
func (c *Compiler[D]) Launch(n *graph.Node, kernel string) *Launch {
	l := &Launch{Node: n, Kernel: kernel, list: c.list}
	c.list.Launches = append(c.list.Launches, l)
	return l
}

// Scratch reserves bytes (at least 4) of device scratch for the program
// and returns its region index (bind it with Launch.Scratch). Its content
// is undefined at the start of every run.
func (c *Compiler[D]) Scratch(bytes int64) int {
	c.list.Scratch = append(c.list.Scratch, max(bytes, 4))
	return len(c.list.Scratch) - 1
}

// Temp reserves bytes (at least 4) of device scratch that every node's
// temporaries share, and returns its region index (bind it with
// Launch.Scratch): one region, as large as the largest request. Its
// content is undefined when a node's first launch starts and stays valid
// across that node's launches, for a node's intermediate results (a
// converted operand, partial sums) that no later node reads. Launches run
// in order, one after another, on the backends that use it.
func (c *Compiler[D]) Temp(bytes int64) int {
	bytes = max(bytes, 4)
	if c.temp < 0 {
		c.list.Scratch = append(c.list.Scratch, bytes)
		c.temp = len(c.list.Scratch) - 1
	}
	c.list.Scratch[c.temp] = max(c.list.Scratch[c.temp], bytes)
	return c.temp
}

// Constants stores a copy of data in a read-only device region, uploaded
// once when the program is made, and returns its index (bind it with
// Launch.Const).
func (c *Compiler[D]) Constants(data []byte) int {
	c.list.Consts = append(c.list.Consts, append([]byte(nil), data...))
	return len(c.list.Consts) - 1
}

// Compile runs the launch function of every compute node of the graph, in
// order: the default variant of each op, except that nodes of op use
// variant (when op is not graph.OpInvalid). finish, which may be nil, is
// called once for each launch, in order, after its node's launch function
// returned: it checks the launch against the device and makes its kernel
// object. Errors name the node, the variant or the kernel.
func (c *Compiler[D]) Compile(r *Registry[D], op graph.Op, variant string, finish func(*Launch) error) (*LaunchList, error) {
	cfg := r.Config()
	for _, n := range c.Graph.Nodes {
		if n.Op.IsLeaf() {
			continue
		}
		vname := ""
		if n.Op == op {
			vname = variant
		}
		v, ok := r.Find(n.Op, vname)
		if !ok {
			if vname != "" {
				return nil, fmt.Errorf("node %s: op %s has no variant %q", n, n.Op, vname)
			}
			return nil, fmt.Errorf("node %s: %w", n, r.unsupported(n.Op))
		}
		if err := v.Check(c.Dev, n); err != nil {
			return nil, fmt.Errorf("node %s: %s: %w", n, variantLabel(n.Op, v.Name), err)
		}
		first := len(c.list.Launches)
		if err := v.Launch(c, n); err != nil {
			return nil, fmt.Errorf("node %s: %w", n, err)
		}
		for _, l := range c.list.Launches[first:] {
			err := l.err
			if err == nil && finish != nil {
				err = finish(l)
			}
			if err != nil {
				return nil, fmt.Errorf("node %s: %s %s: %w", n, cfg.Kernel, l.Kernel, err)
			}
		}
	}
	return c.list, nil
}
