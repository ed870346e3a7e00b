package gpu

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// addSiLUGraph builds silu(x + x) over [rows, 8] through a reshape (a
// node without launches).
func addSiLUGraph(t *testing.T, rows int) (g *graph.Graph, x, add, silu *graph.Node) {
	t.Helper()
	b := graph.NewBuilder()
	x = b.Input("x", graph.F32, rows, 8)
	add = b.Add(x, x)
	silu = b.SiLU(b.Reshape(add, rows, 8))
	g, err := b.Build(silu)
	require.NoError(t, err)
	return g, x, add, silu
}

func TestCompile(t *testing.T) {
	g, _, add, silu := addSiLUGraph(t, 3)
	var finished []*Launch
	list, err := NewCompiler(&testDev{}, g).Compile(testRegistry(), graph.OpInvalid, "", func(l *Launch) error {
		finished = append(finished, l)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, list.Launches, 4, "add, then silu once per row")
	require.Equal(t, list.Launches, finished, "finish sees every launch once, in order")
	require.Equal(t, add, list.Launches[0].Node)
	require.Equal(t, "add", list.Launches[0].Kernel)
	for _, l := range list.Launches[1:] {
		require.Equal(t, silu, l.Node)
	}
	ends, nodes := list.NodeEnds()
	require.Equal(t, []int{0, -1, -1, 1}, ends)
	require.Equal(t, []*graph.Node{add, silu}, nodes)
}

func TestCompileVariantAndErrors(t *testing.T) {
	g, _, add, _ := addSiLUGraph(t, 3)
	r := testRegistry()
	tests := []struct {
		name    string
		dev     *testDev
		op      graph.Op
		variant string
		finish  func(*Launch) error
		want    string
	}{
		{"forced variant", &testDev{fast: true, maxCols: 4}, graph.OpAdd, "fast", nil, ""},
		{"default refuses the node", &testDev{maxCols: 4}, graph.OpInvalid, "", nil,
			"node " + add.String() + `: add variant "default": rows too wide`},
		{"forced variant unavailable", &testDev{}, graph.OpAdd, "fast", nil,
			`add variant "fast": the device has no fast path`},
		{"unknown variant", &testDev{}, graph.OpAdd, "slow", nil, `op add has no variant "slow"`},
		{"finish fails", &testDev{}, graph.OpInvalid, "", func(l *Launch) error {
			if l.Kernel == "silu" {
				return errors.New("no such kernel")
			}
			return nil
		}, "kernel silu: no such kernel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := NewCompiler(tt.dev, g).Compile(r, tt.op, tt.variant, tt.finish)
			if tt.want != "" {
				require.ErrorContains(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.NotEmpty(t, list.Launches)
		})
	}
}

func TestCompileLaunchErrors(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 8)
	g, err := b.Build(b.Mul(x, x))
	require.NoError(t, err)

	r := NewRegistry[*testDev](Config{Backend: "test", Kernel: "shader"})
	_, err = NewCompiler(&testDev{}, g).Compile(r, graph.OpInvalid, "", nil)
	require.ErrorContains(t, err, "op mul is not supported by the test backend")

	r.Register(graph.OpMul, Variant[*testDev]{Name: "bad", Launch: func(c *Compiler[*testDev], n *graph.Node) error {
		l := c.Launch(n, "mul")
		l.Int(-1) // recorded in the launch, reported after the launch function
		return nil
	}})
	_, err = NewCompiler(&testDev{}, g).Compile(r, graph.OpInvalid, "", func(*Launch) error {
		t.Fatal("finish called on a failed launch")
		return nil
	})
	require.ErrorContains(t, err, "shader mul: value -1 does not fit")

	r2 := NewRegistry[*testDev](Config{Backend: "test", Kernel: "shader"})
	r2.Register(graph.OpMul, Variant[*testDev]{Name: "bad", Launch: func(*Compiler[*testDev], *graph.Node) error {
		return errors.New("no kernel for this shape")
	}})
	_, err = NewCompiler(&testDev{}, g).Compile(r2, graph.OpInvalid, "", nil)
	require.ErrorContains(t, err, `node mul "`)
	require.ErrorContains(t, err, "no kernel for this shape")
}

func TestCompilerRegions(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.I32, 4)
	table := b.Weight("t", graph.F32, 10, 4)
	rows := b.GetRows(table, x)
	g, err := b.Build(rows)
	require.NoError(t, err)

	r := NewRegistry[*testDev](Config{Backend: "test", Kernel: "kernel"})
	data := []byte{1, 2, 3}
	r.Register(graph.OpGetRows, Variant[*testDev]{Name: "default", Launch: func(c *Compiler[*testDev], n *graph.Node) error {
		s := c.Scratch(1)
		k := c.Constants(data)
		for range 2 {
			l := c.Launch(n, "rows")
			l.In(table)
			l.Scratch(s)
			l.Const(k)
			l.U32(9)
			l.Status()
		}
		return nil
	}})
	list, err := NewCompiler(&testDev{}, g).Compile(r, graph.OpInvalid, "", nil)
	require.NoError(t, err)
	data[0] = 7 // Constants keeps a copy
	require.Equal(t, [][]byte{{1, 2, 3}}, list.Consts)
	require.Equal(t, []int64{4}, list.Scratch, "at least 4 bytes")
	require.Equal(t, []*graph.Node{rows}, list.Slots, "one slot per node")
	require.Equal(t, int64(16), list.StatusBytes())
	for _, l := range list.Launches {
		require.Equal(t, []Arg{{Kind: ArgNode, Node: table}, {Kind: ArgScratch}, {Kind: ArgConst}, {Kind: ArgStatus}}, l.Args)
		require.Equal(t, []Word{{Value: 9}, {Value: 0}}, l.Words, "the status slot follows the words before it")
		w, ok := l.StatusWord()
		require.True(t, ok)
		require.Equal(t, 1, w, "StatusWord names the slot word")
		require.True(t, l.Args[1].Writes() && l.Args[3].Writes(), "scratch and status may be written")
		require.False(t, l.Args[0].Writes() || l.Args[2].Writes(), "inputs and constants are read")
	}
	_, ok := (&Launch{}).StatusWord()
	require.False(t, ok, "a launch without Status has no status word")
}

// TestCompilerTemp: every node's Temp is one scratch region, as large as
// the largest request, beside the nodes' own Scratch regions.
func TestCompilerTemp(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4)
	y := b.Scale(b.Scale(b.Scale(x, 2), 3), 4)
	g, err := b.Build(y)
	require.NoError(t, err)
	sizes := map[*graph.Node]int64{}
	for i, n := range g.Nodes {
		sizes[n] = []int64{0, 100, 1, 60}[i]
	}
	r := NewRegistry[*testDev](Config{Backend: "test", Kernel: "kernel"})
	var regions []int
	r.Register(graph.OpScale, Variant[*testDev]{Name: "default", Launch: func(c *Compiler[*testDev], n *graph.Node) error {
		own := c.Scratch(8)
		tmp := c.Temp(sizes[n])
		regions = append(regions, tmp)
		l := c.Launch(n, "scale")
		l.Scratch(own)
		l.Scratch(tmp)
		return nil
	}})
	list, err := NewCompiler(&testDev{}, g).Compile(r, graph.OpInvalid, "", nil)
	require.NoError(t, err)
	require.Equal(t, []int{1, 1, 1}, regions, "one shared region, made at the first request")
	require.Equal(t, []int64{8, 100, 8, 8}, list.Scratch, "the shared region has the largest size")
}

func TestCheckStatus(t *testing.T) {
	b := graph.NewBuilder()
	ids := b.Input("ids", graph.I32, 3)
	emb := b.GetRows(b.Weight("emb", graph.F32, 8, 4), ids)
	cache := b.State("cache", graph.F32, 4, 2)
	kv := b.KVWrite(cache, b.Input("src", graph.F32, 2, 2), b.Input("pos", graph.I32, 2))
	sm := b.Softmax(b.Input("x", graph.F32, 2), graph.SoftmaxOpts{})
	require.NoError(t, b.Err())
	list := &LaunchList{}
	for _, n := range []*graph.Node{emb, kv, sm} {
		list.slot(n)
	}
	require.Equal(t, 0, list.slot(emb), "a node keeps its slot")

	words := make([]uint32, 3*StatusWords)
	require.NoError(t, list.CheckStatus(words))

	words[StatusWords*1+0] = 2
	words[StatusWords*1+1] = uint32(0xfffffffd) // -3
	words[StatusWords*1+2] = 0
	require.EqualError(t, list.CheckStatus(words),
		kv.String()+": position -3 at index 0 is outside the cache's rows [0, 4) (2 bad elements in all)")

	words[0], words[1], words[2] = 1, 70, 1
	require.EqualError(t, list.CheckStatus(words), emb.String()+": id 70 at index 1 is outside the table's rows [0, 8)",
		"the first flagged slot")

	require.Equal(t, "bad value 5 at index 2", StatusMessage(sm, 1, 5, 2))
	cp := b.Copy(b.Input("w", graph.F32, 256), graph.Q4_K)
	require.NoError(t, b.Err())
	require.Equal(t, "block 3: scale dmin does not fit an f16 (source values too large or not finite)", StatusMessage(cp, 1, 1, 3))
	words[0] = 0
	require.ErrorContains(t, list.CheckStatus(words[:5]), "status region of 5 words holds no slot 1")
}
