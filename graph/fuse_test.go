package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// llamaBlock builds one Llama block over s tokens with unfused ops and
// returns the graph; extra outputs are added by outs.
func llamaBlock(t *testing.T, s int, outs func(b *graph.Builder, named map[string]*graph.Node) []*graph.Node) *graph.Graph {
	t.Helper()
	const d, heads, kvHeads, hd, ffn, ctx = 64, 4, 2, 16, 96, 16
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, s, d)
	pos := b.Input("pos", graph.I32, s)
	named := map[string]*graph.Node{}
	norm := func(v *graph.Node, w string) *graph.Node {
		n := b.Mul(b.RMSNorm(v, 1e-5), b.Weight(w, graph.F32, d))
		named[w] = n
		return n
	}
	rope := graph.RoPEParams{Theta: 10000}
	h := norm(x, "attn_norm")
	q := b.SetName(b.MatMul(h, b.Weight("wq", graph.Q8_0, heads*hd, d)), "q")
	k := b.SetName(b.MatMul(h, b.Weight("wk", graph.Q8_0, kvHeads*hd, d)), "k")
	v := b.SetName(b.MatMul(h, b.Weight("wv", graph.Q8_0, kvHeads*hd, d)), "v")
	named["q"], named["k"], named["v"] = q, k, v
	qr := b.RoPE(b.Reshape(q, s, heads, hd), pos, nil, rope)
	kr := b.RoPE(b.Reshape(k, s, kvHeads, hd), pos, nil, rope)
	kw := b.KVWrite(b.State("ck", graph.F16, ctx, kvHeads, hd), kr, pos)
	vw := b.KVWrite(b.State("cv", graph.F16, ctx, kvHeads, hd), b.Reshape(v, s, kvHeads, hd), pos)
	a := b.Reshape(b.Attention(qr, kw, vw, graph.AttentionOpts{Causal: true, Pos: pos}), s, heads*hd)
	x = b.SetName(b.Add(x, b.MatMul(a, b.Weight("wo", graph.Q8_0, d, heads*hd))), "ffn_inp")
	named["ffn_inp"] = x
	h = norm(x, "ffn_norm")
	f := b.SwiGLU(b.MatMul(h, b.Weight("wg", graph.Q8_0, ffn, d)), b.MatMul(h, b.Weight("wu", graph.Q8_0, ffn, d)))
	x = b.Add(x, b.MatMul(f, b.Weight("wd", graph.Q8_0, d, ffn)))
	logits := b.SetName(b.MatMul(norm(x, "out_norm"), b.Weight("wout", graph.Q8_0, 40, d)), "logits")
	all := []*graph.Node{logits}
	if outs != nil {
		all = append(all, outs(b, named)...)
	}
	g, err := b.Build(all...)
	require.NoError(t, err)
	return g
}

func opCounts(g *graph.Graph) map[graph.Op]int {
	m := map[graph.Op]int{}
	for _, n := range g.Nodes {
		m[n.Op]++
	}
	return m
}

func all(*graph.Node) bool { return true }

func TestFuseDecodeBlock(t *testing.T) {
	g := llamaBlock(t, 1, nil)
	f, err := graph.Fuse(g, all)
	require.NoError(t, err)
	c := opCounts(f.Graph)
	// QKV with the attention norm, the output projection with its residual,
	// gate and up with the ffn norm and swiglu, down with its residual, the
	// logits with the output norm.
	require.Equal(t, 5, c[graph.OpMatMulFused], "%v", c)
	require.Equal(t, 6, f.Count, "and one rope_kv_write: %v", c)
	require.Equal(t, 1, c[graph.OpRoPEKVWrite])
	require.Equal(t, 1, c[graph.OpKVWrite])
	require.Equal(t, 1, c[graph.OpRoPE])
	for _, op := range []graph.Op{graph.OpMatMul, graph.OpRMSNorm, graph.OpMul, graph.OpAdd, graph.OpSwiGLU} {
		require.Zero(t, c[op], "%s left unfused: %v", op, c)
	}
	// Leaves are the caller's nodes; the output owns its memory.
	for _, n := range g.Leaves(graph.OpWeight) {
		require.Same(t, n, f.Map[n])
	}
	out := f.Map[g.Outputs[0]]
	require.Equal(t, f.Graph.Outputs[0], out)
	require.Equal(t, graph.OpMatMulFused, out.Op)
	require.Equal(t, "logits", out.Name)
	require.True(t, out.Params.Fused.Norm)
	// The q, k and v values are views of one product, named as before.
	q := f.Graph.Node("q")
	require.Equal(t, graph.OpView, q.Op)
	cat := q.Inputs[0]
	require.Equal(t, 3, cat.Params.Fused.Parts)
	require.Equal(t, int64(64), f.Graph.Node("k").Offset)
	require.Equal(t, int64(96), f.Graph.Node("v").Offset)
	require.NoError(t, f.Graph.Topological())
	for _, n := range f.Graph.Nodes {
		require.NoError(t, n.Validate(), "%s", n)
	}
	// The input graph is unchanged.
	require.Equal(t, opCounts(llamaBlock(t, 1, nil)), opCounts(g))
}

func TestFusePrefillBlock(t *testing.T) {
	g := llamaBlock(t, 5, nil)
	f, err := graph.Fuse(g, all)
	require.NoError(t, err)
	c := opCounts(f.Graph)
	// Several rows: no concatenation (its parts would be strided), so the
	// attention norm stays a separate rms_norm_mul read by three matmuls.
	require.Equal(t, 3, c[graph.OpMatMul], "%v", c)
	require.Equal(t, 1, c[graph.OpRMSNormMul])
	require.Equal(t, 4, c[graph.OpMatMulFused], "%v", c)
}

func TestFuseRespectsSupports(t *testing.T) {
	g := llamaBlock(t, 1, nil)
	f, err := graph.Fuse(g, func(*graph.Node) bool { return false })
	require.NoError(t, err)
	require.Same(t, g, f.Graph)
	require.Zero(t, f.Count)
	for _, n := range g.Nodes {
		require.Same(t, n, f.Map[n])
	}
	// Without norm prologues and residuals: the next smaller candidates.
	f, err = graph.Fuse(g, func(n *graph.Node) bool {
		return n.Op != graph.OpMatMulFused || (!n.Params.Fused.Norm && !n.Params.Fused.Residual)
	})
	require.NoError(t, err)
	c := opCounts(f.Graph)
	require.Equal(t, 2, c[graph.OpMatMulFused], "cat and swiglu: %v", c)
	require.Equal(t, 3, c[graph.OpRMSNormMul], "%v", c)
	require.Equal(t, 2, c[graph.OpAdd], "%v", c)
}

func TestFuseKeepsOutputs(t *testing.T) {
	// q and the first residual are outputs: q stays a matmul that owns its
	// memory (no concatenation); the residual add's value is the fused
	// output projection's result, which owns its memory and takes its name.
	g := llamaBlock(t, 1, func(b *graph.Builder, named map[string]*graph.Node) []*graph.Node {
		return []*graph.Node{named["q"], named["ffn_inp"]}
	})
	f, err := graph.Fuse(g, all)
	require.NoError(t, err)
	require.Len(t, f.Graph.Outputs, 3)
	for i, o := range g.Outputs {
		m := f.Map[o]
		require.Same(t, f.Graph.Outputs[i], m)
		require.False(t, m.Op.IsAlias(), "%s", m)
		require.Equal(t, o.Name, m.Name)
	}
	require.Equal(t, graph.OpMatMul, f.Map[g.Outputs[1]].Op)
	res := f.Map[g.Outputs[2]]
	require.Equal(t, graph.OpMatMulFused, res.Op)
	require.True(t, res.Params.Fused.Residual)
}
