package gpu

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// testDev is the device description of the tests' backend.
type testDev struct {
	fast    bool // a feature the "fast" variants need
	maxCols int  // the widest row the "default" add takes (0: any)
}

var errNoFast = errors.New("the device has no fast path")

func fastAvailable(d *testDev) error {
	if !d.fast {
		return errNoFast
	}
	return nil
}

func addSupports(d *testDev, n *graph.Node) error {
	if d.maxCols > 0 && n.Shape.Last() > d.maxCols {
		return errors.New("rows too wide")
	}
	return nil
}

// launchAdd is a launch function as a backend writes one: x, y, out and
// three words.
func launchAdd(c *Compiler[*testDev], n *graph.Node) error {
	l := c.Launch(n, "add")
	ax, ay, ad := l.In(n.Inputs[0]), l.In(n.Inputs[1]), l.Out(n)
	l.Offset(ax, 4)
	l.Offset(ay, 4)
	l.Offset(ad, 4)
	l.Int(n.Shape.NumElements())
	l.Local(64, 1, 1)
	l.Grid1D((n.Shape.NumElements() + 63) / 64)
	return nil
}

// testRegistry is a small backend: add (default, fast), silu (one launch
// per row, to give a node several launches), views without kernels.
func testRegistry() *Registry[*testDev] {
	r := NewRegistry[*testDev](Config{Backend: "test", Kernel: "kernel", MaxElements: 1 << 20})
	r.Register(graph.OpAdd,
		Variant[*testDev]{Name: "default", Supports: addSupports, Launch: launchAdd},
		Variant[*testDev]{Name: "fast", Available: fastAvailable, Launch: launchAdd},
	)
	r.Register(graph.OpSiLU, Variant[*testDev]{Name: "default", Launch: func(c *Compiler[*testDev], n *graph.Node) error {
		for range n.Shape.Rows() {
			l := c.Launch(n, "silu")
			l.In(n.Inputs[0])
			l.Out(n)
			l.Local(32, 1, 1)
			l.Grid(1, 1, 1)
		}
		return nil
	}})
	none := func(*Compiler[*testDev], *graph.Node) error { return nil }
	r.Register(graph.OpReshape, Variant[*testDev]{Name: "default", Launch: none})
	r.Register(graph.OpView, Variant[*testDev]{Name: "default", Launch: none})
	return r
}

func TestRegistryFind(t *testing.T) {
	r := testRegistry()
	v, ok := r.Find(graph.OpAdd, "")
	require.True(t, ok)
	require.Equal(t, "default", v.Name, "the first variant registered is the default")
	v, ok = r.Find(graph.OpAdd, "fast")
	require.True(t, ok)
	require.Equal(t, "fast", v.Name)
	_, ok = r.Find(graph.OpAdd, "slow")
	require.False(t, ok)
	_, ok = r.Find(graph.OpMatMul, "")
	require.False(t, ok)
	require.True(t, r.Has(graph.OpAdd))
	require.False(t, r.Has(graph.OpMatMul))
	require.Equal(t, []string{"default", "fast"}, r.Names(graph.OpAdd))
	require.Equal(t, "test", r.Config().Backend)
}

func TestRegistryVariants(t *testing.T) {
	r := testRegistry()
	require.Equal(t, []string{"default", "fast"}, r.Variants(graph.OpAdd, &testDev{fast: true}))
	require.Nil(t, r.Variants(graph.OpAdd, &testDev{}), "one available variant lists none")
	require.Nil(t, r.Variants(graph.OpSiLU, &testDev{fast: true}))
	require.Nil(t, r.Variants(graph.OpMatMul, &testDev{fast: true}))
}

func TestRegistryRegisterPanics(t *testing.T) {
	r := testRegistry()
	require.PanicsWithValue(t, `test: variant "fast" of add registered twice`, func() {
		r.Register(graph.OpAdd, Variant[*testDev]{Name: "fast", Launch: launchAdd})
	})
	require.PanicsWithValue(t, `test: variant "x" of mul has no launch`, func() {
		r.Register(graph.OpMul, Variant[*testDev]{Name: "x"})
	})
}

func TestRegistryValidateAndSupports(t *testing.T) {
	r := testRegistry()
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4, 8)
	wide := b.Input("wide", graph.F32, 1, 1<<20+1)
	add := b.Add(x, x)
	mul := b.Mul(x, x)
	argmax := b.Argmax(wide)
	require.NoError(t, b.Err())
	dev := &testDev{maxCols: 4}

	// A hand-made node that graph.Node.Validate refuses.
	bad := &graph.Node{Op: graph.OpAdd, Inputs: []*graph.Node{x}, Shape: graph.Shape{4, 8}, DType: graph.F32, Strides: []int64{8, 1}}

	tests := []struct {
		name     string
		n        *graph.Node
		validate string // "" for no error
		supports string
	}{
		{"leaf", x, "", ""},
		{"add too wide for the default", add, "", "rows too wide"},
		{"op without variants", mul, "op mul is not supported by the test backend", "op mul is not supported by the test backend"},
		{"input beyond the element bound", argmax, "input 0 (" + wide.String() + "): shape [1 1048577] has too many elements", "too many elements"},
		{"leaf beyond the element bound", wide, "shape [1 1048577] has too many elements", "too many elements"},
		{"malformed", bad, "has 1 inputs, want 2", "has 1 inputs, want 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Validate(tt.n)
			if tt.validate == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.validate)
			}
			err = r.Supports(dev, tt.n)
			if tt.supports == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.supports)
			}
		})
	}
}

func TestVariantCheck(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 8)
	add := b.Add(x, x)
	require.NoError(t, b.Err())
	v := Variant[*testDev]{Name: "fast", Available: fastAvailable, Supports: addSupports, Launch: launchAdd}
	require.ErrorIs(t, v.Check(&testDev{}, add), errNoFast, "availability first")
	require.ErrorContains(t, v.Check(&testDev{fast: true, maxCols: 4}, add), "rows too wide")
	require.NoError(t, v.Check(&testDev{fast: true}, add))
	require.NoError(t, Variant[*testDev]{Launch: launchAdd}.Check(&testDev{}, add), "no checks: every node")
}
