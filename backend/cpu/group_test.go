package cpu

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// TestPlanGroups checks which nodes the fast tier groups: matmuls of one
// x and single-query attention nodes, and never a node whose deferral
// would read a value before it is computed, after its input was
// overwritten, or from memory given to another tensor.
func TestPlanGroups(t *testing.T) {
	const k, n = 256, 64
	cases := []struct {
		name  string
		build func(b *graph.Builder) []*graph.Node
		want  [][]string // the groups' nodes, by name
	}{{
		name: "qkv and gate-up",
		build: func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 1, k)
			q := b.SetName(b.MatMul(x, b.Weight("wq", graph.Q8_0, n, k)), "q")
			kk := b.SetName(b.MatMul(x, b.Weight("wk", graph.Q8_0, n/2, k)), "k")
			v := b.SetName(b.MatMul(x, b.Weight("wv", graph.Q8_0, n/2, k)), "v")
			h := b.Input("h", graph.F32, 1, k)
			g := b.SetName(b.MatMul(h, b.Weight("wg", graph.F32, n, k)), "g")
			u := b.SetName(b.MatMul(h, b.Weight("wu", graph.F32, n, k)), "u")
			return []*graph.Node{b.Concat(b.Concat(q, kk, 1), v, 1), b.SwiGLU(g, u)}
		},
		want: [][]string{{"q", "k", "v"}, {"g", "u"}},
	}, {
		name: "a reader in between ends the run",
		build: func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 1, k)
			q := b.SetName(b.MatMul(x, b.Weight("wq", graph.Q8_0, n, k)), "q")
			s := b.Scale(q, 2)
			kk := b.SetName(b.MatMul(x, b.Weight("wk", graph.Q8_0, n, k)), "k")
			v := b.SetName(b.MatMul(x, b.Weight("wv", graph.Q8_0, n, k)), "v")
			return []*graph.Node{s, b.Add(kk, v)}
		},
		want: [][]string{{"k", "v"}},
	}, {
		name: "other x, other dtype or path",
		build: func(b *graph.Builder) []*graph.Node {
			x := b.Input("x", graph.F32, 1, k)
			y := b.Input("y", graph.F32, 1, k)
			x8 := b.Input("x8", graph.F32, 8, k)
			a := b.MatMul(x, b.Weight("w1", graph.Q8_0, n, k))
			c := b.MatMul(y, b.Weight("w2", graph.Q8_0, n, k))
			d := b.MatMul(x, b.Weight("w3", graph.Q4_0, n, k))
			e := b.MatMul(x8, b.Weight("w4", graph.Q4_0, n, k))
			return []*graph.Node{a, c, d, e}
		},
	}, {
		name: "an input overwritten in between",
		build: func(b *graph.Builder) []*graph.Node {
			st := b.State("st", graph.F32, 1, k)
			a := b.MatMul(st, b.Weight("w1", graph.Q8_0, n, k))
			kw := b.Scale(b.KVWrite(st, b.Input("src", graph.F32, 1, k), b.Input("pos", graph.I32, 1)), 1)
			c := b.MatMul(st, b.Weight("w2", graph.Q8_0, n, k))
			return []*graph.Node{a, kw, c}
		},
	}, {
		name: "attention of separate caches",
		build: func(b *graph.Builder) []*graph.Node {
			q := b.Input("q", graph.F32, 2, 4, 16)
			var outs []*graph.Node
			for i, name := range []string{"a0", "a1", "a2"} {
				kc := b.State("k"+name, graph.F32, 32, 2, 16)
				vc := b.State("v"+name, graph.F32, 32, 2, 16)
				pos := b.Input("p"+name, graph.I32, 1)
				kw := b.KVWrite(kc, b.Input("ks"+name, graph.F32, 1, 2, 16), pos)
				vw := b.KVWrite(vc, b.Input("vs"+name, graph.F32, 1, 2, 16), pos)
				qi := b.View(q, graph.Shape{1, 4, 16}, []int64{64, 16, 1}, int64(i%2)*64)
				outs = append(outs, b.SetName(b.Attention(qi, kw, vw, graph.AttentionOpts{Causal: true, Pos: pos}), name))
			}
			return []*graph.Node{b.Concat(b.Concat(outs[0], outs[1], 0), outs[2], 0)}
		},
		want: [][]string{{"a0", "a1", "a2"}},
	}, {
		name: "attention whose query dies before the last",
		build: func(b *graph.Builder) []*graph.Node {
			var outs []*graph.Node
			for _, name := range []string{"a0", "a1"} {
				kc := b.State("k"+name, graph.F32, 32, 2, 16)
				vc := b.State("v"+name, graph.F32, 32, 2, 16)
				q := b.Scale(b.Input("q"+name, graph.F32, 1, 4, 16), 0.5)
				outs = append(outs, b.SetName(b.Attention(q, kc, vc, graph.AttentionOpts{}), name))
			}
			return []*graph.Node{b.Concat(outs[0], outs[1], 0)}
		},
	}}
	be := newBackend(false, 2, slog.New(slog.DiscardHandler))
	defer be.Close()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := graph.NewBuilder()
			g, err := b.Build(c.build(b)...)
			require.NoError(t, err)
			p, err := compile(be, g)
			require.NoError(t, err)
			defer p.Close()
			var got [][]string
			for i, gr := range p.groups {
				if gr == nil {
					continue
				}
				var names []string
				for _, n := range gr.nodes {
					names = append(names, n.Name)
				}
				got = append(got, names)
				require.Equal(t, gr.nodes[len(gr.nodes)-1], g.Nodes[i], "a group runs at its last node's step")
				for _, n := range gr.nodes[:len(gr.nodes)-1] {
					require.True(t, p.deferred[p.idx[n]], "%s deferred", n)
				}
			}
			require.Equal(t, c.want, got)
		})
	}
}
