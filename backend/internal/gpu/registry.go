package gpu

import (
	"fmt"
	"strconv"

	"github.com/golem-llm/golem/graph"
)

// Variant is one implementation of an op on a backend whose device
// description has type D.
type Variant[D any] struct {
	// Name identifies the variant ("auto", "flash", "gemv").
	Name string
	// Available reports why the device cannot run the variant at all (a
	// missing feature); nil means every device can.
	Available func(d D) error
	// Supports reports why the variant cannot compute n on the device; nil
	// means every node that validates.
	Supports func(d D, n *graph.Node) error
	// Launch adds n's launches to the program being compiled (none for ops
	// without a kernel, such as views). It is required.
	Launch func(c *Compiler[D], n *graph.Node) error
}

// Check runs v's availability and support checks for n on d.
func (v Variant[D]) Check(d D, n *graph.Node) error {
	if v.Available != nil {
		if err := v.Available(d); err != nil {
			return err
		}
	}
	if v.Supports != nil {
		return v.Supports(d, n)
	}
	return nil
}

// Config describes the backend a Registry belongs to.
type Config struct {
	// Backend names the backend in messages ("vulkan").
	Backend string
	// Kernel is what the backend calls a kernel in messages ("shader",
	// "kernel").
	Kernel string
	// MaxElements bounds the element count of every tensor the backend
	// handles (Validate); 0 means no bound beyond the graph's own.
	MaxElements int64
}

// Registry holds the variants of every op a backend implements. Backends
// fill it from init functions (Register); it is read-only afterwards.
type Registry[D any] struct {
	cfg Config
	ops map[graph.Op][]Variant[D]
}

// NewRegistry returns an empty registry for the backend cfg describes.
func NewRegistry[D any](cfg Config) *Registry[D] {
	return &Registry[D]{cfg: cfg, ops: map[graph.Op][]Variant[D]{}}
}

// Config returns the configuration the registry was made with.
func (r *Registry[D]) Config() Config { return r.cfg }

// Register adds variants of op; the first variant ever registered for an
// op is its default. It panics on a duplicate name or a missing launch
// function (programming errors that every test run finds).
func (r *Registry[D]) Register(op graph.Op, vs ...Variant[D]) {
	for _, v := range vs {
		for _, have := range r.ops[op] {
			if have.Name == v.Name {
				panic(fmt.Sprintf("%s: variant %q of %s registered twice", r.cfg.Backend, v.Name, op))
			}
		}
		if v.Launch == nil {
			panic(fmt.Sprintf("%s: variant %q of %s has no launch", r.cfg.Backend, v.Name, op))
		}
		r.ops[op] = append(r.ops[op], v)
	}
}

// Has reports whether op has at least one variant.
func (r *Registry[D]) Has(op graph.Op) bool { return len(r.ops[op]) > 0 }

// Find returns op's variant by name ("" is the default).
func (r *Registry[D]) Find(op graph.Op, name string) (Variant[D], bool) {
	vs := r.ops[op]
	if len(vs) == 0 {
		return Variant[D]{}, false
	}
	if name == "" {
		return vs[0], true
	}
	for _, v := range vs {
		if v.Name == name {
			return v, true
		}
	}
	return Variant[D]{}, false
}

// Names returns the names of every variant of op, the default first.
func (r *Registry[D]) Names(op graph.Op) []string {
	var names []string
	for _, v := range r.ops[op] {
		names = append(names, v.Name)
	}
	return names
}

// Variants returns the names of op's variants available on d, the default
// first; nil when there are fewer than two (backend.VariantCompiler).
func (r *Registry[D]) Variants(op graph.Op, d D) []string {
	var names []string
	for _, v := range r.ops[op] {
		if v.Available == nil || v.Available(d) == nil {
			names = append(names, v.Name)
		}
	}
	if len(names) < 2 {
		return nil
	}
	return names
}

// Validate checks that n is well formed (graph.Node.Validate: arity,
// dtypes, shapes, strides and parameters, as the graph builder makes them),
// that n and its inputs are within the backend's element bound and that
// the registry has n's op. Hand-assembled graphs are checked as strictly
// as built ones, so that no kernel addresses memory outside its tensors (a
// GPU cannot report that; it corrupts memory or loses the device).
func (r *Registry[D]) Validate(n *graph.Node) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if lim := r.cfg.MaxElements; lim > 0 {
		if n.Shape.NumElements() > lim {
			return fmt.Errorf("shape %v has too many elements", n.Shape)
		}
		for i, in := range n.Inputs {
			if in.Shape.NumElements() > lim {
				return fmt.Errorf("input %d (%s): shape %v has too many elements", i, in, in.Shape)
			}
		}
	}
	if !n.Op.IsLeaf() && !r.Has(n.Op) {
		return r.unsupported(n.Op)
	}
	return nil
}

// Supports says why n cannot run on d with its op's default variant, or
// nil (backend.Backend.Supports is Supports(d, n) == nil).
func (r *Registry[D]) Supports(d D, n *graph.Node) error {
	if err := r.Validate(n); err != nil {
		return err
	}
	if n.Op.IsLeaf() {
		return nil
	}
	v, ok := r.Find(n.Op, "")
	if !ok {
		return r.unsupported(n.Op)
	}
	return v.Check(d, n)
}

// unsupported is the error for an op the registry lacks.
func (r *Registry[D]) unsupported(op graph.Op) error {
	return fmt.Errorf("op %s is not supported by the %s backend", op, r.cfg.Backend)
}

// variantLabel names a variant for messages: `matmul variant "gemv"`.
func variantLabel(op graph.Op, name string) string {
	return op.String() + " variant " + strconv.Quote(name)
}
