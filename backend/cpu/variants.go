package cpu

import (
	"fmt"
	"maps"
	"strings"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
)

// Names of the CPU backend's attention implementations, as listed by
// Variants(graph.OpAttention).
const (
	// VariantFused is the fast tier's fused attention: online softmax,
	// float32 accumulation, threads over (batch, query, kv head). It is the
	// default of the fast tier ("cpu").
	VariantFused = "fused"
	// VariantRef is the reference tier's attention: an explicit score
	// vector and a float64 softmax on one thread. It is the default of the
	// reference tier ("cpu:ref").
	VariantRef = "ref"
)

var _ backend.VariantCompiler = (*cpuBackend)(nil)

// opVariant is one implementation of an op: its kernel and the per-thread
// scratch (float32, float64 elements) the kernel needs for a node.
type opVariant struct {
	kernel  kernel
	scratch func(n *graph.Node) (int, int)
}

// opVariants lists, per op, every implementation selectable with
// CompileVariant. The tables are built once and never modified.
var opVariants = map[graph.Op]map[string]opVariant{
	graph.OpAttention: {
		VariantFused: {kernel: fastAttention, scratch: fastScratch},
		VariantRef:   {kernel: refAttention, scratch: refScratch},
	},
}

// Variants implements backend.VariantCompiler: for attention, the tier's own
// implementation first ("fused" on "cpu", "ref" on "cpu:ref"), then the
// other; nil for every other op.
func (b *cpuBackend) Variants(op graph.Op) []string {
	if op != graph.OpAttention {
		return nil
	}
	if b.ref {
		return []string{VariantRef, VariantFused}
	}
	return []string{VariantFused, VariantRef}
}

// CompileVariant implements backend.VariantCompiler: g is compiled with the
// backend's own tier, except that every node of op runs implementation
// variant. The reference attention runs on the calling goroutine; the fused
// one on the backend's threads.
func (b *cpuBackend) CompileVariant(g *graph.Graph, op graph.Op, variant string) (backend.Program, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	names := b.Variants(op)
	if len(names) == 0 {
		return nil, fmt.Errorf("cpu: compile variant %q of %s: the op has only one implementation", variant, op)
	}
	v, ok := opVariants[op][variant]
	if !ok {
		return nil, fmt.Errorf("cpu: compile: unknown %s variant %q (have %s)", op, variant, strings.Join(names, ", "))
	}
	p, err := compile(b, g)
	if err != nil {
		return nil, err
	}
	if variant == names[0] {
		return p, nil // the tier's own kernel
	}
	base := p.tier
	t := &tier{
		name:    fmt.Sprintf("%s with %s %s", base.name, variant, op),
		kernels: maps.Clone(base.kernels),
		scratch: func(n *graph.Node) (int, int) {
			if n.Op == op {
				return v.scratch(n)
			}
			return base.scratch(n)
		},
	}
	t.kernels[op] = v.kernel
	p.retier(t)
	return p, nil
}

// retier switches a freshly compiled program to tier t, which must have a
// kernel for every op the program's tier has, and resizes the per-thread
// scratch to what t's kernels need.
func (p *program) retier(t *tier) {
	need, need64 := 0, 0
	for _, n := range p.g.Nodes {
		if !n.Op.IsLeaf() {
			a, b := t.scratch(n)
			need, need64 = max(need, a), max(need64, b)
		}
	}
	p.tier = t
	for i := range p.scratch {
		if len(p.scratch[i]) < need {
			p.scratch[i] = make([]float32, need)
		}
		if len(p.scratch64[i]) < need64 {
			p.scratch64[i] = make([]float64, need64)
		}
	}
}
