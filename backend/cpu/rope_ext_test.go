package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// TestRoPETableShared checks that RoPE nodes of one run, which share the
// cosines and sines of their positions when their angles agree, give each
// the bits of the node alone: nodes with the same angles (a layer's q and
// k), others in between (other dims, frequency factors, another positions
// input), over runs with new positions and new factors.
func TestRoPETableShared(t *testing.T) {
	const seq, heads, hd = 5, 3, 16
	r := rand.New(rand.NewPCG(71, 72))
	type node struct {
		pos string
		ff  bool
		p   graph.RoPEParams
	}
	nodes := []node{
		{"pos", false, graph.RoPEParams{Theta: 10000}},
		{"pos", false, graph.RoPEParams{Theta: 10000}},
		{"pos", true, graph.RoPEParams{Mode: graph.RoPENeoX, Dims: 8, Theta: 500000}},
		{"pos2", false, graph.RoPEParams{Theta: 10000}},
		{"pos", false, graph.RoPEParams{Theta: 10000, FreqScale: 0.5}},
		{"pos", false, graph.RoPEParams{Theta: 10000}}, // as the first: the next run's first reuses nothing stale
	}
	// build adds nd to b, declaring each input once per builder.
	build := func(b *graph.Builder, nd node) *graph.Node {
		leaf := func(name string, mk func() *graph.Node) *graph.Node {
			for _, n := range b.Nodes() {
				if n.Op.IsLeaf() && n.Name == name {
					return n
				}
			}
			return mk()
		}
		x := leaf("x", func() *graph.Node { return b.Input("x", graph.F32, seq, heads, hd) })
		pos := leaf(nd.pos, func() *graph.Node { return b.Input(nd.pos, graph.I32, seq) })
		var ff *graph.Node
		if nd.ff {
			ff = leaf("ff", func() *graph.Node { return b.Weight("ff", graph.F32, 4) })
		}
		return b.RoPE(x, pos, ff, nd.p)
	}
	for _, threads := range []int{1, 2} {
		t.Run(fmt.Sprintf("t%d", threads), func(t *testing.T) {
			b := graph.NewBuilder()
			var outs []*graph.Node
			for _, nd := range nodes {
				outs = append(outs, build(b, nd))
			}
			g, err := b.Build(outs...)
			require.NoError(t, err)
			p := prepare(t, open(t, "cpu", threads), g, nil)
			for run := range 3 {
				data := map[string][]byte{"x": f32s(randF32(r, seq*heads*hd, 1)...), "ff": f32s(randF32(r, 4, 2)...)}
				for _, name := range []string{"pos", "pos2"} {
					pos := make([]int32, seq)
					for i := range pos {
						pos[i] = int32(r.IntN(4096))
					}
					data[name] = i32s(pos...)
				}
				for name, d := range data {
					p.set(name, d)
				}
				p.run()
				for i, nd := range nodes {
					b := graph.NewBuilder()
					want := runGraph(t, "cpu", threads, b, data, build(b, nd))[0]
					require.Equal(t, want, p.f32(g.Outputs[i]), "run %d, node %d", run, i)
				}
			}
		})
	}
}
