package graph_test

import (
	"math"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// validOps builds one node of every op with the builder and returns them by name.
func validOps(t *testing.T) map[string]*graph.Node {
	t.Helper()
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 4)
	q := b.Input("q", graph.F32, 3, 4, 8)
	k := b.Input("k", graph.F16, 5, 2, 8)
	pos := b.Input("pos", graph.I32, 3)
	cache := b.State("cache", graph.F32, 6, 4)
	ops := map[string]*graph.Node{
		"x":          x,
		"get_rows":   b.GetRows(b.Weight("emb", graph.Q8_0, 10, 32), b.Input("ids", graph.I32, 3)),
		"matmul":     b.MatMul(x, b.Weight("w", graph.F16, 3, 4)),
		"matmul-q":   b.MatMul(b.Input("xq", graph.F32, 2, 256), b.Weight("wq", graph.Q4_K, 3, 256)),
		"add":        b.Add(x, b.Input("row", graph.F32, 4)),
		"mul":        b.Mul(x, b.Input("col", graph.F32, 2, 1)),
		"scale":      b.Scale(x, 0.5),
		"rms_norm":   b.RMSNorm(x, 1e-6),
		"layer_norm": b.LayerNorm(x, 1e-5),
		"silu":       b.SiLU(x),
		"gelu":       b.GELU(x),
		"swiglu":     b.SwiGLU(x, x),
		"softmax":    b.Softmax(x, graph.SoftmaxOpts{Causal: true, Mask: b.Input("m", graph.F32, 2, 4)}),
		"rope":       b.RoPE(q, pos, b.Weight("ff", graph.F32, 2), graph.RoPEParams{Dims: 4, Theta: 10000}),
		"attention": b.Attention(q, k, k, graph.AttentionOpts{Causal: true,
			Mask: b.Input("am", graph.F32, 3, 5), Pos: pos}),
		"kv_write":   b.KVWrite(cache, x, b.Input("kvpos", graph.I32, 2)),
		"view":       b.View(x, graph.Shape{2, 2}, []int64{4, 2}, 1),
		"reshape":    b.Reshape(x, 8),
		"permute":    b.Permute(x, 1, 0),
		"contiguous": b.Contiguous(b.Permute(x, 1, 0)),
		"concat":     b.Concat(x, x, 0),
		"copy":       b.Copy(b.View(x, graph.Shape{2}, []int64{-3}, 4), graph.F16),
		"argmax":     b.Argmax(x),
	}
	require.NoError(t, b.Err())
	return ops
}

// edit returns a copy of n (with its own slices) changed by f.
func edit(n *graph.Node, f func(m *graph.Node)) *graph.Node {
	m := *n
	m.Inputs = slices.Clone(n.Inputs)
	m.Shape = n.Shape.Clone()
	m.Strides = slices.Clone(n.Strides)
	m.Params.Perm = slices.Clone(n.Params.Perm)
	f(&m)
	return &m
}

func TestValidateBuilderNodes(t *testing.T) {
	for name, n := range validOps(t) {
		require.NoError(t, n.Validate(), "%s: %s", name, n)
	}
}

func TestValidateRejects(t *testing.T) {
	v := validOps(t)
	x := &graph.Node{ID: 0, Op: graph.OpInput, Name: "x", Shape: graph.Shape{2}, Strides: []int64{1}, DType: graph.F32}
	hand := func(op graph.Op, dt graph.DType, shape graph.Shape, ins ...*graph.Node) *graph.Node {
		return &graph.Node{ID: 1, Op: op, Name: "n", Inputs: ins, Shape: shape, Strides: shape.Strides(), DType: dt}
	}
	cases := []struct {
		name string
		node *graph.Node
		want string
	}{
		// Hand-built nodes, as the backends' compile tests make them.
		{"nil", nil, "nil node"},
		{"invalid-op", hand(graph.OpInvalid, graph.F32, graph.Shape{2}, x), "unknown op invalid"},
		{"unknown-op", hand(graph.Op(200), graph.F32, graph.Shape{2}, x), "unknown op op(200)"},
		{"bad-dtype", hand(graph.OpSiLU, graph.I32, graph.Shape{2}, x), "result dtype i32, want f32"},
		{"bad-shape", hand(graph.OpSiLU, graph.F32, graph.Shape{3}, x), "result shape [3], want [2]"},
		{"bad-arity", hand(graph.OpAdd, graph.F32, graph.Shape{2}, x), "has 1 inputs, want 2"},
		{"nil-input", hand(graph.OpSiLU, graph.F32, graph.Shape{2}, nil), "input 0 is nil"},
		{"leaf-inputs", hand(graph.OpWeight, graph.F32, graph.Shape{2}, x), "a leaf has 1 inputs"},
		{"view-past-end", edit(hand(graph.OpView, graph.F32, graph.Shape{2}, x), func(m *graph.Node) { m.Offset = 1 }), "reaches outside"},
		{"view-wrapping-stride", edit(hand(graph.OpView, graph.F32, graph.Shape{3}, hand(graph.OpInput, graph.F32, graph.Shape{3})),
			func(m *graph.Node) { m.Strides = []int64{math.MinInt64} }), "reaches outside"},

		// Tensor checks, on the node and on its inputs.
		{"unknown-dtype", edit(v["x"], func(m *graph.Node) { m.DType = 99 }), "unknown dtype 99"},
		{"zero-dim", edit(v["silu"], func(m *graph.Node) { m.Shape[0] = 0 }), "non-positive dimension"},
		{"too-many-elements", edit(v["x"], func(m *graph.Node) { m.Shape = graph.Shape{1 << 30, 1 << 30}; m.Strides = m.Shape.Strides() }), "too many elements"},
		{"rank", edit(v["x"], func(m *graph.Node) { m.Shape = make(graph.Shape, graph.MaxRank+1) }), "rank"},
		{"stride-count", edit(v["silu"], func(m *graph.Node) { m.Strides = m.Strides[:1] }), "1 strides for rank 2"},
		{"owner-strided", edit(v["silu"], func(m *graph.Node) { m.Strides = []int64{1, 2} }), "must be contiguous at offset 0"},
		{"owner-offset", edit(v["silu"], func(m *graph.Node) { m.Offset = 3 }), "must be contiguous at offset 0"},
		{"quant-block", edit(v["matmul-q"].Inputs[1], func(m *graph.Node) { m.Shape[1] = 100; m.Strides = m.Shape.Strides() }), "not a multiple of q4_k's block size 256"},
		{"input-error", edit(v["silu"], func(m *graph.Node) { m.Inputs[0] = edit(m.Inputs[0], func(in *graph.Node) { in.DType = 99 }) }), `input 0 (input "x"`},
		{"input-not-contiguous", edit(v["silu"], func(m *graph.Node) {
			m.Inputs[0] = v["permute"]
			m.Shape = graph.Shape{4, 2}
			m.Strides = m.Shape.Strides()
		}), "is not contiguous"},

		// Op checks.
		{"get_rows-ids-dtype", edit(v["get_rows"], func(m *graph.Node) { m.Inputs[1] = v["x"] }), "input 1 (input \"x\" [2 4] f32) has dtype f32, want one of [i32]"},
		{"get_rows-table-rank", edit(v["get_rows"], func(m *graph.Node) { m.Inputs[0] = v["reshape"] }), "must be 2-D"},
		{"matmul-inner-dims", edit(v["matmul-q"], func(m *graph.Node) { m.Inputs[0] = v["x"] }), "inner dimensions differ"},
		{"matmul-x-dtype", edit(v["matmul-q"], func(m *graph.Node) { m.Inputs[0] = v["matmul-q"].Inputs[1] }), "has dtype q4_k, want one of [f32]"},
		{"add-broadcast", edit(v["add"], func(m *graph.Node) { m.Inputs[1] = v["concat"] }), "cannot be broadcast"},
		{"scale-nan", edit(v["scale"], func(m *graph.Node) { m.Params.Scale = float32(math.NaN()) }), "scale NaN is not finite"},
		{"swiglu-shapes", edit(v["swiglu"], func(m *graph.Node) { m.Inputs[1] = v["concat"] }), "differ in shape"},
		{"softmax-mask-shape", edit(v["softmax"], func(m *graph.Node) { m.Inputs[1] = v["concat"] }), "mask [4 4] must be [2 4]"},
		{"softmax-no-mask-input", edit(v["softmax"], func(m *graph.Node) { m.Params.HasMask = false }), "has 2 inputs, want 1"},
		{"softmax-scale", edit(v["softmax"], func(m *graph.Node) { m.Params.Scale = float32(math.Inf(1)) }), "not finite"},
		{"rope-dims", edit(v["rope"], func(m *graph.Node) { m.Params.RoPE.Dims = 3 }), "rotated dims 3"},
		{"rope-theta", edit(v["rope"], func(m *graph.Node) { m.Params.RoPE.Theta = 0 }), "theta 0 must be positive"},
		{"rope-mode", edit(v["rope"], func(m *graph.Node) { m.Params.RoPE.Mode = 7 }), "unknown rope mode 7"},
		{"rope-freq-factors", edit(v["rope"], func(m *graph.Node) { m.Params.RoPE.Dims = 8 }), "frequency factors [2] must be [4]"},
		{"rope-positions", edit(v["rope"], func(m *graph.Node) { m.Inputs[1] = v["kv_write"].Inputs[2] }), "positions [2] must be [3]"},
		{"attention-not-causal", edit(v["attention"], func(m *graph.Node) { m.Params.Causal = false }), "positions are only used with causal attention"},
		{"attention-kv-mismatch", edit(v["attention"], func(m *graph.Node) { m.Inputs[1] = v["rope"].Inputs[0] }), "v [5 2 8] does not match k"},
		{"attention-v-dtype", edit(v["attention"], func(m *graph.Node) { m.Inputs[2] = v["get_rows"].Inputs[0] }), "has dtype q8_0"},
		{"kv_write-not-state", edit(v["kv_write"], func(m *graph.Node) { m.Inputs[0] = v["x"] }), "must be a state tensor"},
		{"kv_write-offset", edit(v["kv_write"], func(m *graph.Node) { m.Offset = 4 }), "offset 4 differs from its input's 0"},
		{"view-dtype", edit(v["view"], func(m *graph.Node) { m.DType = graph.F16 }), "must keep its non-quantized dtype"},
		{"reshape-count", edit(v["reshape"], func(m *graph.Node) { m.Shape = graph.Shape{7}; m.Strides = []int64{1} }), "cannot reshape [2 4] to [7]"},
		{"permute-perm", edit(v["permute"], func(m *graph.Node) { m.Params.Perm = []int{1, 1} }), "is not a permutation"},
		{"permute-strides", edit(v["permute"], func(m *graph.Node) { m.Strides = []int64{4, 1} }), "do not permute"},
		{"contiguous-dtype", edit(v["contiguous"], func(m *graph.Node) { m.DType = graph.F16 }), "result dtype f16, want f32"},
		{"copy-i32", edit(v["copy"], func(m *graph.Node) { m.DType = graph.I32 }), "cannot copy f32 to i32"},
		{"concat-axis", edit(v["concat"], func(m *graph.Node) { m.Params.Axis = 2 }), "axis 2 for shapes"},
		{"argmax-dtype", edit(v["argmax"], func(m *graph.Node) { m.DType = graph.F32 }), "result dtype f32, want i32"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorContains(t, c.node.Validate(), c.want)
		})
	}
}

func TestExtent(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 3, 4)
	cases := []struct {
		name   string
		node   *graph.Node
		lo, hi int64
	}{
		{"contiguous", x, 0, 11},
		{"permute", b.Permute(x, 1, 0), 0, 11},
		{"window", b.View(x, graph.Shape{2, 2}, []int64{4, 1}, 5), 5, 10},
		{"reversed", b.View(x, graph.Shape{3}, []int64{-4}, 8), 0, 8},
	}
	require.NoError(t, b.Err())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo, hi := c.node.Extent()
			require.Equal(t, [2]int64{c.lo, c.hi}, [2]int64{lo, hi})
		})
	}
}
