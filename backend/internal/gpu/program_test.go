package gpu

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// testBuf is the tests' buffer type.
type testBuf struct {
	name string
	live bool
}

func TestPrepare(t *testing.T) {
	g, x, add, silu := addSiLUGraph(t, 3)
	p, err := Prepare[*testBuf](g, testRegistry().Validate, 64)
	require.NoError(t, err)
	require.Equal(t, g, p.Graph)
	require.NoError(t, p.CheckBindable(x), "leaves are bound")
	require.NoError(t, p.CheckBindable(silu), "outputs are bound")
	require.EqualError(t, p.CheckBindable(add), "only leaves and outputs are bound")
	other, _, _, _ := addSiLUGraph(t, 3)
	require.EqualError(t, p.CheckBindable(other.Nodes[0]), "not a node of this program's graph")
	off, ok := p.Plan.Offset(add)
	require.True(t, ok, "intermediates are in the arena")
	require.Zero(t, off%64)
	require.Nil(t, p.Timings(), "no timings before a run")
}

func TestPrepareErrors(t *testing.T) {
	g, x, add, silu := addSiLUGraph(t, 2)
	validate := testRegistry().Validate
	mk := func(nodes []*graph.Node, outs ...*graph.Node) *graph.Graph {
		return &graph.Graph{Nodes: nodes, Outputs: outs}
	}
	// A hand-made view that reaches past its storage, and one of the wrong dtype.
	past := &graph.Node{Op: graph.OpView, Inputs: []*graph.Node{x}, Shape: graph.Shape{2, 8}, DType: graph.F32,
		Strides: []int64{8, 1}, Offset: 4, Name: "past"}
	wrong := &graph.Node{Op: graph.OpView, Inputs: []*graph.Node{x}, Shape: graph.Shape{2, 8}, DType: graph.F16,
		Strides: []int64{8, 1}, Name: "wrong"}
	none := func(*graph.Node) error { return nil }
	tests := []struct {
		name  string
		g     *graph.Graph
		want  string
		check func(*graph.Node) error // validate unless set
	}{
		{"nil graph", nil, "empty graph", nil},
		{"no outputs", mk(g.Nodes), "graph has no outputs", nil},
		{"nil node", mk([]*graph.Node{x, nil}, add), "node 1 is nil", nil},
		{"node twice", mk([]*graph.Node{x, x, add}, add), "is listed twice", nil},
		{"input after", mk([]*graph.Node{add, x}, add), "which is not before it in the graph", nil},
		{"unsupported op", func() *graph.Graph {
			b := graph.NewBuilder()
			y := b.Input("y", graph.F32, 2)
			g, err := b.Build(b.GELU(y))
			require.NoError(t, err)
			return g
		}(), "op gelu is not supported by the test backend", nil},
		{"output not in graph", mk([]*graph.Node{x, add}, silu), "output 0 (" + silu.String() + ") is not in the graph", nil},
		{"leaf output", mk([]*graph.Node{x}, x), "must be a compute node that owns its memory", nil},
		{"output twice", mk([]*graph.Node{x, add}, add, add), "output " + add.String() + " is listed twice", nil},
		{"view outside storage", mk([]*graph.Node{x, past, add}, add), "reaches outside input", nil},
		// What Prepare checks itself, whatever the validation.
		{"view outside storage, unvalidated", mk([]*graph.Node{x, past, add}, add), "addresses elements [4, 19] outside its storage", none},
		{"storage of another dtype, unvalidated", mk([]*graph.Node{x, wrong, add}, add), "has dtype f16 but its storage", none},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := validate
			if tt.check != nil {
				check = tt.check
			}
			_, err := Prepare[*testBuf](tt.g, check, 64)
			require.ErrorContains(t, err, tt.want)
		})
	}
	_, err := Prepare[*testBuf](g, validate, 3)
	require.ErrorContains(t, err, "alignment 3 is not a power of two")
	_, err = Prepare[*testBuf](g, func(*graph.Node) error { return errors.New("nope") }, 64)
	require.ErrorContains(t, err, `node input "x" [2 8] f32: nope`)
}

func TestBind(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3) // 24 bytes
	h := b.Input("h", graph.F16, 3)    // 6 bytes
	q := b.Weight("q", graph.Q8_0, 1, 32)
	out := b.Add(x, x)
	c := b.Copy(h, graph.F32)
	g, err := b.Build(out, b.Add(c, c), b.GetRows(q, b.Input("i", graph.I32, 1)))
	require.NoError(t, err)
	p, err := Prepare[*testBuf](g, func(*graph.Node) error { return nil }, 64)
	require.NoError(t, err)
	buf := &testBuf{live: true}
	tests := []struct {
		name      string
		n         *graph.Node
		size, off int64
		want      string
	}{
		{"fits", x, 24, 0, ""},
		{"at the end", x, 64, 40, ""},
		{"too small", x, 20, 0, "24 bytes at offset 0 do not fit the 20-byte buffer"},
		{"past the end", x, 64, 48, "24 bytes at offset 48 do not fit the 64-byte buffer"},
		{"negative offset", x, 64, -4, "24 bytes at offset -4 do not fit"},
		{"misaligned f32", x, 64, 2, "offset 2 is not aligned to its 4-byte elements"},
		{"f16 at 2", h, 64, 2, ""},
		{"misaligned f16", h, 64, 3, "offset 3 is not aligned to its 2-byte elements"},
		{"quantized at 2", q, 64, 2, ""},
		{"misaligned quantized", q, 64, 1, "offset 1 is not aligned to its 2-byte elements"},
		{"intermediate", c, 64, 0, "only leaves and outputs are bound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Bind(tt.n, buf, tt.size, tt.off)
			if tt.want == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.want)
			}
		})
	}
}

func TestCheckBoundAndPlace(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4, 8)
	v := b.View(x, graph.Shape{2, 8}, []int64{8, 1}, 16) // rows 2 and 3 of x
	add := b.Add(v, v)
	out := b.SiLU(add)
	g, err := b.Build(out)
	require.NoError(t, err)
	p, err := Prepare[*testBuf](g, func(*graph.Node) error { return nil }, 64)
	require.NoError(t, err)
	live := func(b *testBuf) bool { return b.live }

	require.EqualError(t, p.CheckBound(live), x.String()+" is not bound")
	in, ob := &testBuf{name: "in", live: true}, &testBuf{name: "out"}
	require.NoError(t, p.Bind(x, in, 1024, 256))
	require.EqualError(t, p.CheckBound(live), out.String()+" is not bound")
	require.NoError(t, p.Bind(out, ob, 64, 0))
	require.EqualError(t, p.CheckBound(live), "the buffer bound to "+out.String()+" was freed")
	ob.live = true
	require.NoError(t, p.CheckBound(live))

	p.SetLaunches(&LaunchList{Scratch: []int64{4, 100}, Consts: [][]byte{make([]byte, 70)}, Slots: []*graph.Node{add}}, 64)
	require.Equal(t, Regions{Offsets: []int64{0, 64}, Sizes: []int64{64, 128}, Total: 192}, p.Scratch)
	require.Equal(t, Regions{Offsets: []int64{0}, Sizes: []int64{128}, Total: 128}, p.Consts)

	arena, ok := p.Plan.Offset(add)
	require.True(t, ok)
	tests := []struct {
		name string
		a    Arg
		want Place[*testBuf]
	}{
		{"bound leaf", Arg{Kind: ArgNode, Node: x}, Place[*testBuf]{In: InBuffer, Buf: in, Start: 256, End: 384, Target: 256}},
		{"view of a bound leaf", Arg{Kind: ArgNode, Node: v}, Place[*testBuf]{In: InBuffer, Buf: in, Start: 320, End: 384, Target: 320}},
		{"window of a view", Arg{Kind: ArgNode, Node: v, Ranged: true, Lo: 32, Hi: 64},
			Place[*testBuf]{In: InBuffer, Buf: in, Start: 352, End: 384, Target: 352}},
		{"arena", Arg{Kind: ArgNode, Node: add}, Place[*testBuf]{In: InArena, Start: arena, End: arena + 64, Target: arena}},
		{"output", Arg{Kind: ArgNode, Node: out}, Place[*testBuf]{In: InBuffer, Buf: ob, End: 64}},
		{"status", Arg{Kind: ArgStatus}, Place[*testBuf]{In: InStatus, End: 16}},
		{"scratch", Arg{Kind: ArgScratch, Region: 1}, Place[*testBuf]{In: InScratch, Start: 64, End: 192, Target: 64}},
		{"constants", Arg{Kind: ArgConst}, Place[*testBuf]{In: InConsts, End: 128}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.Place(tt.a)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	p.Unbind()
	_, err = p.Place(Arg{Kind: ArgNode, Node: v})
	require.EqualError(t, err, x.String()+" is not bound", "the error names the storage node")
}

func TestTimings(t *testing.T) {
	g, _, add, silu := addSiLUGraph(t, 2)
	p, err := Prepare[*testBuf](g, testRegistry().Validate, 64)
	require.NoError(t, err)
	require.Nil(t, p.Timings())
	p.SetTimings([]*graph.Node{add, silu}, []float64{2, 3})
	got := p.Timings()
	require.Len(t, got, 3, "every compute node, views included")
	require.Equal(t, add, got[0].Node)
	require.Equal(t, 2.0, got[0].Seconds)
	require.Equal(t, graph.OpReshape, got[1].Node.Op)
	require.Zero(t, got[1].Seconds)
	require.Equal(t, 3.0, got[2].Seconds)
	got[0].Seconds = 99
	require.Equal(t, 2.0, p.Timings()[0].Seconds, "a copy")
	p.ClearTimings()
	require.Nil(t, p.Timings())
}
