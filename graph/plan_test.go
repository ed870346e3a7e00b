package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// randGraph builds a random DAG of F32 ops from seed and returns the built
// graph. Shapes stay small; every op is valid by construction.
type randGraph struct {
	r    *rand.Rand
	b    *graph.Builder
	pool []*graph.Node // every F32 node made so far, any layout
	n    int           // leaf counter for names
}

func (g *randGraph) dims(rank int) []int {
	d := make([]int, rank)
	for i := range d {
		d[i] = 1 + g.r.IntN(8)
	}
	return d
}

func (g *randGraph) leaf(dims ...int) *graph.Node {
	g.n++
	if g.r.IntN(2) == 0 {
		return g.b.Weight(fmt.Sprintf("w%d", g.n), graph.F32, dims...)
	}
	return g.b.Input(fmt.Sprintf("in%d", g.n), graph.F32, dims...)
}

func (g *randGraph) push(n *graph.Node) *graph.Node {
	g.pool = append(g.pool, n)
	return n
}

// pick returns a pool node, mostly a recent one so that chains form.
func (g *randGraph) pick() *graph.Node {
	if len(g.pool) > 4 && g.r.IntN(4) != 0 {
		return g.pool[len(g.pool)-1-g.r.IntN(4)]
	}
	return g.pool[g.r.IntN(len(g.pool))]
}

func (g *randGraph) contig(n *graph.Node) *graph.Node {
	if n.IsContiguous() {
		return n
	}
	return g.push(g.b.Contiguous(n))
}

// partner returns a contiguous node of x's shape other than a leaf where possible.
func (g *randGraph) partner(x *graph.Node) *graph.Node {
	var cands []*graph.Node
	for _, n := range g.pool {
		if n.IsContiguous() && n.Shape.Equal(x.Shape) {
			cands = append(cands, n)
		}
	}
	return cands[g.r.IntN(len(cands))] // x itself is always a candidate
}

func (g *randGraph) step() {
	b := g.b
	switch g.r.IntN(11) {
	case 0, 1: // add / mul with a same-shape partner or a broadcast row
		x := g.contig(g.pick())
		var y *graph.Node
		if g.r.IntN(3) == 0 {
			y = g.leaf(x.Shape.Last())
		} else {
			y = g.partner(x)
		}
		if g.r.IntN(2) == 0 {
			g.push(b.Add(x, y))
		} else {
			g.push(b.Mul(x, y))
		}
	case 2: // unary
		x := g.contig(g.pick())
		switch g.r.IntN(4) {
		case 0:
			g.push(b.SiLU(x))
		case 1:
			g.push(b.GELU(x))
		case 2:
			g.push(b.Scale(x, 0.5))
		default:
			g.push(b.RMSNorm(x, 1e-5))
		}
	case 3: // softmax
		x := g.contig(g.pick())
		g.push(b.Softmax(x, graph.SoftmaxOpts{Causal: x.Shape.Rank() >= 2 && g.r.IntN(2) == 0}))
	case 4: // matmul with a fresh weight
		x := g.contig(g.pick())
		if x.Shape.Rank() == 0 {
			return
		}
		g.push(b.MatMul(x, g.leaf(1+g.r.IntN(8), x.Shape.Last())))
	case 5: // reshape
		x := g.contig(g.pick())
		n := int(x.Shape.NumElements())
		d := 1 + g.r.IntN(n)
		if n%d != 0 {
			g.push(b.Reshape(x, n))
		} else {
			g.push(b.Reshape(x, d, n/d))
		}
	case 6: // view: a slab of rows or a strided column
		x := g.contig(g.pick())
		if x.Shape.Rank() == 0 {
			return
		}
		st := x.Shape.Strides()
		if x.Shape.Rank() >= 2 && g.r.IntN(2) == 0 {
			r, c := x.Shape.Rows(), int64(x.Shape.Last())
			g.push(b.View(x, graph.Shape{int(r)}, []int64{c}, g.r.Int64N(c)))
			return
		}
		s0 := x.Shape[0]
		start := g.r.IntN(s0)
		shape := x.Shape.Clone()
		shape[0] = 1 + g.r.IntN(s0-start)
		g.push(b.View(x, shape, st, int64(start)*st[0]))
	case 7: // permute
		x := g.pick()
		if x.Shape.Rank() < 2 {
			return
		}
		g.push(b.Permute(x, g.r.Perm(x.Shape.Rank())...))
	case 8: // contiguous
		g.push(b.Contiguous(g.pick()))
	case 9: // concat
		x := g.contig(g.pick())
		if x.Shape.Rank() == 0 || x.Shape.NumElements() > 2048 {
			return
		}
		g.push(b.Concat(x, g.partner(x), g.r.IntN(x.Shape.Rank())))
	case 10: // a fresh leaf to start another branch
		g.push(g.leaf(g.dims(1 + g.r.IntN(3))...))
	}
}

func buildRandomGraph(seed uint64) (*graph.Graph, error) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	g := &randGraph{r: r, b: graph.NewBuilder()}
	for range 1 + r.IntN(3) {
		g.push(g.leaf(g.dims(1 + r.IntN(3))...))
	}
	steps := 3 + r.IntN(40)
	for range steps {
		g.step()
		if err := g.b.Err(); err != nil {
			return nil, fmt.Errorf("seed %d: generator made a bad op: %w", seed, err)
		}
	}
	// A random non-empty set of distinct compute nodes as outputs; the
	// newest node is always one so that the graph is not trivial.
	var outs []*graph.Node
	seen := map[*graph.Node]bool{}
	last := g.pool[len(g.pool)-1]
	if !last.Op.IsLeaf() {
		outs, seen[last] = append(outs, last), true
	}
	for _, n := range g.pool {
		if !n.Op.IsLeaf() && !seen[n] && r.IntN(6) == 0 {
			outs, seen[n] = append(outs, n), true
		}
	}
	if len(outs) == 0 {
		outs = append(outs, g.b.SiLU(g.contig(g.pool[0])))
	}
	gr, err := g.b.Build(outs...)
	if err != nil {
		return nil, fmt.Errorf("seed %d: build: %w", seed, err)
	}
	return gr, nil
}

func alignUp(v, a int64) int64 { return (v + a - 1) / a * a }

// checkPlan verifies p against g independently of the planner: placement,
// alignment, liveness and, above all, that no two tensors live at the same
// step share a byte.
func checkPlan(t testing.TB, g *graph.Graph, p *graph.Plan, align int64) {
	t.Helper()
	if align == 0 {
		align = 64
	}
	require.Equal(t, align, p.Align)
	step := map[*graph.Node]int{}
	for i, n := range g.Nodes {
		step[n] = i
	}

	// Which nodes are in the arena, and their expected lifetimes.
	type span struct{ first, last int }
	want := map[*graph.Node]*span{}
	arena := []*graph.Node{}
	for i, n := range g.Nodes {
		if g.NeedsArena(n) {
			want[n] = &span{i, i}
			arena = append(arena, n)
		}
		for _, in := range n.Inputs {
			if s, ok := want[in.Storage()]; ok && i > s.last {
				s.last = i
			}
		}
	}
	require.Equal(t, arena, p.Tensors(), "arena tensors, by ID")

	var sum, sumAligned int64
	for _, n := range g.Nodes {
		off, ok := p.Offset(n)
		root := n.Storage()
		switch {
		case n.Op.IsLeaf() || g.IsOutput(n):
			require.False(t, ok, "%s is bound by the caller, not in the arena", n)
		case n.Op.IsAlias():
			rootOff, rootOK := p.Offset(root)
			require.Equal(t, rootOK, ok, "alias %s", n)
			require.Equal(t, rootOff, off, "alias %s shares its storage's offset", n)
			first, last, lok := p.Lifetime(n)
			rf, rl, rok := p.Lifetime(root)
			require.Equal(t, [3]any{rf, rl, rok}, [3]any{first, last, lok})
		default:
			require.True(t, ok, "%s needs the arena", n)
			require.Zero(t, off%align, "%s offset %d not aligned to %d", n, off, align)
			require.GreaterOrEqual(t, off, int64(0))
			require.LessOrEqual(t, off+n.Bytes(), p.Size, "%s ends past the arena", n)
			first, last, lok := p.Lifetime(n)
			require.True(t, lok)
			require.Equal(t, want[n].first, first, "first step of %s", n)
			require.Equal(t, want[n].last, last, "last step of %s", n)
			require.Equal(t, step[n], first)
			sum += n.Bytes()
			sumAligned += max(alignUp(n.Bytes(), align), align)
		}
	}
	for _, o := range g.Outputs {
		_, _, ok := p.Lifetime(o)
		require.False(t, ok, "output %s has no arena lifetime", o)
	}
	require.LessOrEqual(t, p.Size, sumAligned, "arena is no larger than all tensors side by side")
	if align == 1 {
		require.LessOrEqual(t, p.Size, sum)
	}

	// The key property: tensors live at the same time never share bytes.
	for i, a := range arena {
		ao, _ := p.Offset(a)
		af, al, _ := p.Lifetime(a)
		for _, c := range arena[i+1:] {
			cf, cl, _ := p.Lifetime(c)
			if af > cl || cf > al {
				continue // never live together
			}
			co, _ := p.Offset(c)
			overlap := ao < co+c.Bytes() && co < ao+a.Bytes()
			require.False(t, overlap, "%s [%d,%d) live %d..%d overlaps %s [%d,%d) live %d..%d",
				a, ao, ao+a.Bytes(), af, al, c, co, co+c.Bytes(), cf, cl)
		}
	}

	// The arena must hold, at every step, everything live then.
	for s := range g.Nodes {
		var live int64
		for _, a := range arena {
			if f, l, _ := p.Lifetime(a); f <= s && s <= l {
				live += a.Bytes()
			}
		}
		require.LessOrEqual(t, live, p.Size, "step %d", s)
	}
}

func TestPlanRandomGraphs(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 60
	}
	aligns := []int64{0, 1, 4, 16, 64, 256}
	tensors, reused := 0, 0
	for seed := range uint64(n) {
		g, err := buildRandomGraph(seed)
		require.NoError(t, err)
		require.NoError(t, g.Topological())
		align := aligns[seed%uint64(len(aligns))]
		p, err := graph.PlanMemory(g, align)
		require.NoError(t, err, "seed %d", seed)
		checkPlan(t, g, p, align)
		var sum int64
		for _, a := range p.Tensors() {
			sum += alignUp(a.Bytes(), p.Align)
		}
		tensors += len(p.Tensors())
		if p.Size < sum {
			reused++
		}
	}
	require.Greater(t, tensors, n, "the generator makes arena tensors")
	require.Greater(t, reused, n/4, "memory is reused in many random graphs")
}

func FuzzPlan(f *testing.F) {
	for _, s := range []uint64{0, 1, 7, 42, 1234, 99999} {
		f.Add(s, uint8(6))
	}
	f.Fuzz(func(t *testing.T, seed uint64, alignLog uint8) {
		g, err := buildRandomGraph(seed)
		require.NoError(t, err)
		align := int64(1) << (alignLog % 13)
		p, err := graph.PlanMemory(g, align)
		require.NoError(t, err)
		checkPlan(t, g, p, align)
	})
}

func TestPlanChainReuses(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 16, 16)
	h := x
	const n = 20
	var mids []*graph.Node
	for range n {
		h = b.SiLU(h)
		mids = append(mids, h)
	}
	g, err := b.Build(h)
	require.NoError(t, err)
	p, err := graph.PlanMemory(g, 0)
	require.NoError(t, err)
	checkPlan(t, g, p, 0)
	require.Len(t, p.Tensors(), n-1)
	size := int64(16 * 16 * 4)
	require.Less(t, p.Size, int64(n-1)*size, "a chain reuses memory")
	require.Equal(t, 2*size, p.Size, "a chain ping-pongs between two buffers")
	for i, m := range mids[:n-1] {
		first, last, ok := p.Lifetime(m)
		require.True(t, ok)
		require.Equal(t, i+1, first, "%s", m)
		require.Equal(t, i+2, last, "%s is read by the next silu only", m)
	}
}

func TestPlanViewExtendsLifetime(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4, 8) // step 0
	a := b.SiLU(x)                     // 1
	r := b.Reshape(a, 32)              // 2: alias of a
	v := b.View(r, graph.Shape{8}, []int64{4}, 1)
	m1 := b.GELU(x)              // 4
	m2 := b.GELU(m1)             // 5
	m3 := b.GELU(m2)             // 6
	c := b.Contiguous(v)         // 7: reads a through two views
	out := b.Add(c, b.SiLU(c))   // 9
	extra := b.Permute(m3, 1, 0) // 10: an output view, wrapped
	g, err := b.Build(out, extra)
	require.NoError(t, err)
	require.Equal(t, []*graph.Node{x, a, r, v, m1, m2, m3, c}, g.Nodes[:8])
	p, err := graph.PlanMemory(g, 16)
	require.NoError(t, err)
	checkPlan(t, g, p, 16)

	for _, n := range []*graph.Node{a, r, v} {
		first, last, ok := p.Lifetime(n)
		require.True(t, ok)
		require.Equal(t, 1, first)
		require.Equal(t, 7, last, "a stays live until its view's reader %s runs", c)
	}
	aOff, ok := p.Offset(a)
	require.True(t, ok)
	for _, n := range []*graph.Node{r, v} {
		off, ok := p.Offset(n)
		require.True(t, ok)
		require.Equal(t, aOff, off)
	}
	// m1 and m2 are live while a is, so they must not share its bytes.
	for _, m := range []*graph.Node{m1, m2} {
		off, _ := p.Offset(m)
		require.True(t, off >= aOff+a.Bytes() || off+m.Bytes() <= aOff, "%s overlaps %s", m, a)
	}
	// m3 is read by the wrapped output through a permute.
	first, last, ok := p.Lifetime(extra)
	require.True(t, ok)
	require.Equal(t, 6, first)
	require.Equal(t, len(g.Nodes)-1, last)
	for _, n := range []*graph.Node{x, out, g.Outputs[1]} {
		_, ok := p.Offset(n)
		require.False(t, ok, "%s", n)
		_, _, ok = p.Lifetime(n)
		require.False(t, ok, "%s", n)
	}
}

func TestPlanKVWrite(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 8)
	pos := b.Input("pos", graph.I32, 2)
	k := b.Reshape(b.MatMul(x, b.Weight("wk", graph.F32, 8, 8)), 2, 2, 4)
	cache := b.State("cache", graph.F16, 16, 2, 4)
	kw := b.KVWrite(cache, k, pos)
	q := b.Reshape(b.MatMul(x, b.Weight("wq", graph.F32, 8, 8)), 2, 2, 4)
	att := b.Attention(q, kw, kw, graph.AttentionOpts{Causal: true, Pos: pos})
	out := b.MatMul(b.Reshape(att, 2, 8), b.Weight("wo", graph.F32, 8, 8))
	g, err := b.Build(out)
	require.NoError(t, err)
	p, err := graph.PlanMemory(g, 0)
	require.NoError(t, err)
	checkPlan(t, g, p, 0)

	for _, n := range []*graph.Node{cache, kw} {
		_, ok := p.Offset(n)
		require.False(t, ok, "%s lives in the caller's state", n)
	}
	kmm := k.Inputs[0]
	first, last, ok := p.Lifetime(kmm)
	require.True(t, ok)
	require.Equal(t, g.Nodes[first], kmm)
	require.Same(t, kw, g.Nodes[last], "k is live until kv_write reads it")
	_, _, ok = p.Lifetime(att)
	require.True(t, ok)
}

func TestPlanAlignment(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 3)
	out := b.Add(b.SiLU(x), b.GELU(x))
	g, err := b.Build(out)
	require.NoError(t, err)

	for _, align := range []int64{-1, -64, 3, 48, 100} {
		_, err := graph.PlanMemory(g, align)
		require.ErrorContains(t, err, "not a power of two", "align %d", align)
		require.ErrorContains(t, err, fmt.Sprint(align))
	}
	tests := []struct {
		align, size int64
	}{
		{0, 128}, // default 64: two 12-byte tensors in two 64-byte slots
		{1, 24},
		{4, 24},
		{8, 32},
		{64, 128},
		{4096, 8192},
	}
	for _, tc := range tests {
		p, err := graph.PlanMemory(g, tc.align)
		require.NoError(t, err)
		checkPlan(t, g, p, tc.align)
		require.Equal(t, tc.size, p.Size, "align %d", tc.align)
		require.Len(t, p.Tensors(), 2)
	}
}

func TestPlanNoIntermediates(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 3)
	y := b.SiLU(x)
	z := b.GELU(x)
	g, err := b.Build(y, z)
	require.NoError(t, err)
	p, err := graph.PlanMemory(g, 0)
	require.NoError(t, err)
	require.Zero(t, p.Size)
	require.Empty(t, p.Tensors())
	checkPlan(t, g, p, 0)
}
