package graph_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// checkTopo asserts that every node of g comes after its inputs, that every
// input is in g and that g.Nodes follows creation order.
func checkTopo(t *testing.T, g *graph.Graph) {
	t.Helper()
	require.NoError(t, g.Topological())
	pos := map[*graph.Node]int{}
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			j, ok := pos[in]
			require.True(t, ok, "%s reads %s, not before it", n, in)
			require.Less(t, j, i)
		}
		if i > 0 {
			require.Less(t, g.Nodes[i-1].ID, n.ID, "creation order")
		}
		pos[n] = i
	}
	for _, o := range g.Outputs {
		_, ok := pos[o]
		require.True(t, ok, "output %s is in the graph", o)
	}
}

func TestBuildPrunes(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 4)
	unusedW := b.Weight("unused_w", graph.F32, 3, 4)
	w := b.Weight("w", graph.Q8_0, 3, 32)
	dead := b.MatMul(x, unusedW)
	_ = b.SiLU(dead)
	a := b.SiLU(x)
	ids := b.Input("ids", graph.I32, 2)
	emb := b.GetRows(w, ids)
	m := b.Mul(a, x)
	out := b.SetName(b.Add(m, a), "out")
	require.NoError(t, b.Err())

	g, err := b.Build(out)
	require.NoError(t, err)
	require.Equal(t, []*graph.Node{x, a, m, out}, g.Nodes)
	require.Equal(t, []*graph.Node{out}, g.Outputs)
	checkTopo(t, g)
	require.Same(t, out, g.Node("out"))
	require.Same(t, x, g.Node("x"))
	require.Nil(t, g.Node("unused_w"), "pruned")
	require.Nil(t, g.Node(dead.Name), "pruned")
	require.Nil(t, g.Node("nope"))
	require.Equal(t, []*graph.Node{x}, g.Leaves(graph.OpInput))
	require.Empty(t, g.Leaves(graph.OpWeight))
	require.True(t, g.IsOutput(out))
	require.False(t, g.IsOutput(m))

	// A second graph from the same builder, e.g. another shape class.
	g2, err := b.Build(emb, out)
	require.NoError(t, err)
	require.Equal(t, []*graph.Node{x, w, a, ids, emb, m, out}, g2.Nodes)
	require.Equal(t, []*graph.Node{w}, g2.Leaves(graph.OpWeight))
	require.Equal(t, []*graph.Node{x, ids}, g2.Leaves(graph.OpInput))
	checkTopo(t, g2)
}

func TestBuildKeepsKVWriteChain(t *testing.T) {
	b := graph.NewBuilder()
	q := b.Input("q", graph.F32, 2, 4, 8)
	k := b.Input("k", graph.F32, 2, 2, 8)
	v := b.Input("v", graph.F32, 2, 2, 8)
	pos := b.Input("pos", graph.I32, 2)
	kc := b.State("cache_k", graph.F16, 16, 2, 8)
	vc := b.State("cache_v", graph.F16, 16, 2, 8)
	kw := b.KVWrite(kc, k, pos)
	vw := b.KVWrite(vc, v, pos)
	att := b.Attention(q, kw, vw, graph.AttentionOpts{Causal: true, Pos: pos})
	out := b.Reshape(att, 2, 32)
	require.NoError(t, b.Err())

	g, err := b.Build(out)
	require.NoError(t, err)
	checkTopo(t, g)
	require.Equal(t, []*graph.Node{kc, vc}, g.Leaves(graph.OpState))
	require.Equal(t, []*graph.Node{q, k, v, pos}, g.Leaves(graph.OpInput))
	require.Len(t, g.Outputs, 1)
	wrapped := g.Outputs[0]
	require.Equal(t, graph.OpContiguous, wrapped.Op, "a reshape output is wrapped")
	require.Same(t, out, wrapped.Inputs[0])
	require.Equal(t, graph.Shape{2, 32}, wrapped.Shape)
	require.Same(t, wrapped, g.Nodes[len(g.Nodes)-1])
	for _, n := range []*graph.Node{kw, vw, att, out} {
		require.Same(t, n, g.Node(n.Name))
	}
}

func TestBuildWrapsViews(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *graph.Builder, x *graph.Node) *graph.Node
	}{
		{"view", func(b *graph.Builder, x *graph.Node) *graph.Node {
			return b.View(x, graph.Shape{3}, []int64{4}, 1)
		}},
		{"reshape", func(b *graph.Builder, x *graph.Node) *graph.Node { return b.Reshape(x, 12) }},
		{"permute", func(b *graph.Builder, x *graph.Node) *graph.Node { return b.Permute(x, 1, 0) }},
		{"contiguous view", func(b *graph.Builder, x *graph.Node) *graph.Node {
			return b.View(x, graph.Shape{2, 4}, []int64{4, 1}, 4)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder()
			x := b.SiLU(b.Input("x", graph.F32, 3, 4))
			v := tc.build(b, x)
			y := b.GELU(x)
			g, err := b.Build(y, v)
			require.NoError(t, err)
			require.Len(t, g.Outputs, 2)
			require.Same(t, y, g.Outputs[0], "a compute output is kept as is")
			o := g.Outputs[1]
			require.Equal(t, graph.OpContiguous, o.Op)
			require.Same(t, v, o.Inputs[0])
			require.True(t, o.Shape.Equal(v.Shape))
			require.Equal(t, v.DType, o.DType)
			require.True(t, o.IsContiguous())
			require.Same(t, o, o.Storage())
			require.True(t, g.IsOutput(o))
			require.False(t, g.IsOutput(v))
			require.False(t, g.NeedsArena(v), "an alias owns no memory")
			require.True(t, g.NeedsArena(x), "an intermediate needs the arena")
			require.False(t, g.NeedsArena(o), "an output is bound by the caller")
			checkTopo(t, g)
		})
	}
}

func TestBuildErrors(t *testing.T) {
	other := graph.NewBuilder()
	foreign := other.SiLU(other.Input("f", graph.F32, 2))
	tests := []struct {
		name    string
		outputs func(b *graph.Builder) []*graph.Node
		want    []string
	}{
		{"no outputs", func(*graph.Builder) []*graph.Node { return nil }, []string{"no outputs"}},
		{"nil output", func(b *graph.Builder) []*graph.Node {
			return []*graph.Node{b.SiLU(b.Input("x", graph.F32, 2)), nil}
		}, []string{"output 1"}},
		{"foreign output", func(b *graph.Builder) []*graph.Node { return []*graph.Node{foreign} }, []string{"output 0", "not a node of this builder"}},
		{"weight output", func(b *graph.Builder) []*graph.Node {
			return []*graph.Node{b.Weight("w", graph.F32, 2)}
		}, []string{`weight "w"`, "leaf"}},
		{"input output", func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 2)
			return []*graph.Node{b.SiLU(x), x}
		}, []string{"output 1", `input "x"`, "leaf"}},
		{"state output", func(b *graph.Builder) []*graph.Node {
			return []*graph.Node{b.State("s", graph.F32, 2)}
		}, []string{`state "s"`, "leaf"}},
		{"kv_write output", func(b *graph.Builder) []*graph.Node {
			kw := b.KVWrite(b.State("c", graph.F32, 4, 2), b.Input("k", graph.F32, 1, 2), b.Input("p", graph.I32, 1))
			return []*graph.Node{kw}
		}, []string{"kv_write", "state"}},
		{"duplicate output", func(b *graph.Builder) []*graph.Node {
			y := b.SetName(b.SiLU(b.Input("x", graph.F32, 2)), "y")
			return []*graph.Node{y, y}
		}, []string{`"y"`, "twice"}},
		{"duplicate view output", func(b *graph.Builder) []*graph.Node {
			v := b.SetName(b.Reshape(b.SiLU(b.Input("x", graph.F32, 2, 2)), 4), "flat")
			return []*graph.Node{v, v}
		}, []string{`"flat"`, "twice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder()
			outs := tc.outputs(b)
			require.NoError(t, b.Err())
			g, err := b.Build(outs...)
			require.Nil(t, g)
			require.Error(t, err)
			require.Contains(t, err.Error(), "graph: build: ")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestBuildAfterError(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2)
	y := b.SiLU(x)
	bad := b.MatMul(x, x)
	g, err := b.Build(y)
	require.Nil(t, g)
	require.ErrorContains(t, err, "matmul")
	_, err = b.Build(bad)
	require.Equal(t, b.Err(), err)
}

func TestTopologicalRejects(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2)
	a := b.SiLU(x)
	c := b.Add(a, x)
	require.NoError(t, b.Err())
	tests := []struct {
		name string
		g    *graph.Graph
		want string
	}{
		{"reversed", &graph.Graph{Nodes: []*graph.Node{x, c, a}, Outputs: []*graph.Node{c}}, "not before it"},
		{"missing input", &graph.Graph{Nodes: []*graph.Node{a, c}, Outputs: []*graph.Node{c}}, `input "x"`},
		{"nil node", &graph.Graph{Nodes: []*graph.Node{x, nil, a}}, "node 1 is nil"},
		{"duplicate node", &graph.Graph{Nodes: []*graph.Node{x, a, a, c}}, "twice"},
		{"output not in graph", &graph.Graph{Nodes: []*graph.Node{x, a}, Outputs: []*graph.Node{c}}, "output 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tc.g.Topological() })
			require.ErrorContains(t, err, tc.want)
		})
	}
	ok := &graph.Graph{Nodes: []*graph.Node{x, a, c}, Outputs: []*graph.Node{c}}
	require.NoError(t, ok.Topological())
	require.Nil(t, ok.Node("x"), "a hand-made graph has no name index")
}

func TestBuildWrapNameClash(t *testing.T) {
	// A user name that looks like the wrapper's automatic name makes Build
	// fail with a clear error instead of reusing or shadowing the node.
	b := graph.NewBuilder()
	x := b.SiLU(b.Input("x", graph.F32, 2, 2))
	v := b.Reshape(x, 4)
	b.SetName(x, fmt.Sprintf("contiguous#%d", len(b.Nodes())))
	require.NoError(t, b.Err())
	g, err := b.Build(v)
	require.Nil(t, g)
	require.ErrorContains(t, err, "name already used")
	require.Equal(t, b.Err(), err)
}
