package graph_test

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// checkNode asserts the op, shape and dtype of a freshly built node and that
// the builder has no error.
func checkNode(t *testing.T, b *graph.Builder, n *graph.Node, op graph.Op, shape graph.Shape, dt graph.DType) {
	t.Helper()
	require.NoError(t, b.Err())
	require.NotNil(t, n)
	require.Equal(t, op, n.Op, "op of %s", n)
	require.True(t, shape.Equal(n.Shape), "shape of %s: want %v", n, shape)
	require.Equal(t, dt, n.DType, "dtype of %s", n)
	require.Len(t, n.Strides, len(n.Shape))
	require.GreaterOrEqual(t, n.ID, 0)
	require.Same(t, n, b.Nodes()[n.ID])
}

func TestBuilderLeaves(t *testing.T) {
	b := graph.NewBuilder()
	w := b.Weight("tok_embd", graph.Q4_K, 100, 256)
	in := b.Input("tokens", graph.I32, 7)
	st := b.State("cache_k", graph.F16, 64, 2, 8)
	sc := b.Input("scalar", graph.F32)
	checkNode(t, b, w, graph.OpWeight, graph.Shape{100, 256}, graph.Q4_K)
	checkNode(t, b, in, graph.OpInput, graph.Shape{7}, graph.I32)
	checkNode(t, b, st, graph.OpState, graph.Shape{64, 2, 8}, graph.F16)
	checkNode(t, b, sc, graph.OpInput, graph.Shape{}, graph.F32)
	require.Equal(t, "tok_embd", w.Name)
	require.Equal(t, []int64{16, 8, 1}, st.Strides)
	require.Zero(t, st.Offset)
	require.Empty(t, w.Inputs)
	require.True(t, st.IsContiguous())
	require.Same(t, st, st.Storage())
	require.Equal(t, int64(100*144), w.Bytes())
	require.Equal(t, int64(64*2*8*2), st.Bytes())
	require.Equal(t, []*graph.Node{w, in, st, sc}, b.Nodes())
	for i, n := range b.Nodes() {
		require.Equal(t, i, n.ID)
	}
	require.Equal(t, `weight "tok_embd" [100 256] q4_k`, w.String())
}

func TestBuilderValidOps(t *testing.T) {
	tests := []struct {
		name   string
		build  func(b *graph.Builder) *graph.Node
		op     graph.Op
		shape  graph.Shape
		dt     graph.DType
		params func(t *testing.T, n *graph.Node)
	}{
		{
			name: "get_rows 1-D ids",
			build: func(b *graph.Builder) *graph.Node {
				return b.GetRows(b.Weight("e", graph.Q4_K, 100, 256), b.Input("ids", graph.I32, 7))
			},
			op: graph.OpGetRows, shape: graph.Shape{7, 256}, dt: graph.F32,
		},
		{
			name: "get_rows 2-D ids",
			build: func(b *graph.Builder) *graph.Node {
				return b.GetRows(b.Weight("e", graph.F16, 10, 4), b.Input("ids", graph.I32, 2, 3))
			},
			op: graph.OpGetRows, shape: graph.Shape{2, 3, 4}, dt: graph.F32,
		},
		{
			name: "matmul quantized w",
			build: func(b *graph.Builder) *graph.Node {
				return b.MatMul(b.Input("x", graph.F32, 7, 64), b.Weight("w", graph.Q8_0, 128, 64))
			},
			op: graph.OpMatMul, shape: graph.Shape{7, 128}, dt: graph.F32,
		},
		{
			name: "matmul vector x",
			build: func(b *graph.Builder) *graph.Node {
				return b.MatMul(b.Input("x", graph.F32, 256), b.Weight("w", graph.Q6_K, 3, 256))
			},
			op: graph.OpMatMul, shape: graph.Shape{3}, dt: graph.F32,
		},
		{
			name: "matmul 3-D x with 2-D w",
			build: func(b *graph.Builder) *graph.Node {
				return b.MatMul(b.Input("x", graph.F32, 2, 5, 32), b.Weight("w", graph.Q4_0, 6, 32))
			},
			op: graph.OpMatMul, shape: graph.Shape{2, 5, 6}, dt: graph.F32,
		},
		{
			name: "matmul batched f16 w",
			build: func(b *graph.Builder) *graph.Node {
				return b.MatMul(b.Input("x", graph.F32, 4, 7, 64), b.Input("w", graph.F16, 4, 9, 64))
			},
			op: graph.OpMatMul, shape: graph.Shape{4, 7, 9}, dt: graph.F32,
		},
		{
			name: "add same shape",
			build: func(b *graph.Builder) *graph.Node {
				return b.Add(b.Input("x", graph.F32, 2, 3), b.Input("y", graph.F32, 2, 3))
			},
			op: graph.OpAdd, shape: graph.Shape{2, 3}, dt: graph.F32,
		},
		{
			name: "add broadcast row",
			build: func(b *graph.Builder) *graph.Node {
				return b.Add(b.Input("x", graph.F32, 2, 3, 4), b.Weight("bias", graph.F32, 4))
			},
			op: graph.OpAdd, shape: graph.Shape{2, 3, 4}, dt: graph.F32,
		},
		{
			name: "mul broadcast ones",
			build: func(b *graph.Builder) *graph.Node {
				return b.Mul(b.Input("x", graph.F32, 2, 3, 4), b.Input("y", graph.F32, 1, 3, 1))
			},
			op: graph.OpMul, shape: graph.Shape{2, 3, 4}, dt: graph.F32,
		},
		{
			name: "mul scalar",
			build: func(b *graph.Builder) *graph.Node {
				return b.Mul(b.Input("x", graph.F32, 5), b.Input("y", graph.F32))
			},
			op: graph.OpMul, shape: graph.Shape{5}, dt: graph.F32,
		},
		{
			name:  "scale",
			build: func(b *graph.Builder) *graph.Node { return b.Scale(b.Input("x", graph.F32, 3), 0.5) },
			op:    graph.OpScale, shape: graph.Shape{3}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) { require.Equal(t, float32(0.5), n.Params.Scale) },
		},
		{
			name:  "rms_norm",
			build: func(b *graph.Builder) *graph.Node { return b.RMSNorm(b.Input("x", graph.F32, 3, 8), 1e-5) },
			op:    graph.OpRMSNorm, shape: graph.Shape{3, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) { require.Equal(t, float32(1e-5), n.Params.Eps) },
		},
		{
			name:  "layer_norm",
			build: func(b *graph.Builder) *graph.Node { return b.LayerNorm(b.Input("x", graph.F32, 3, 8), 1e-6) },
			op:    graph.OpLayerNorm, shape: graph.Shape{3, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) { require.Equal(t, float32(1e-6), n.Params.Eps) },
		},
		{
			name:  "silu",
			build: func(b *graph.Builder) *graph.Node { return b.SiLU(b.Input("x", graph.F32, 2, 2, 2, 2)) },
			op:    graph.OpSiLU, shape: graph.Shape{2, 2, 2, 2}, dt: graph.F32,
		},
		{
			name:  "gelu",
			build: func(b *graph.Builder) *graph.Node { return b.GELU(b.Input("x", graph.F32, 9)) },
			op:    graph.OpGELU, shape: graph.Shape{9}, dt: graph.F32,
		},
		{
			name: "swiglu",
			build: func(b *graph.Builder) *graph.Node {
				return b.SwiGLU(b.Input("g", graph.F32, 3, 16), b.Input("u", graph.F32, 3, 16))
			},
			op: graph.OpSwiGLU, shape: graph.Shape{3, 16}, dt: graph.F32,
		},
		{
			name: "softmax plain",
			build: func(b *graph.Builder) *graph.Node {
				return b.Softmax(b.Input("x", graph.F32, 10), graph.SoftmaxOpts{})
			},
			op: graph.OpSoftmax, shape: graph.Shape{10}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, float32(1), n.Params.Scale, "scale 0 means 1")
				require.False(t, n.Params.Causal)
				require.False(t, n.Params.HasMask)
				require.Nil(t, n.Mask())
				require.Len(t, n.Inputs, 1)
			},
		},
		{
			name: "softmax causal masked",
			build: func(b *graph.Builder) *graph.Node {
				x := b.Input("x", graph.F32, 4, 3, 5)
				return b.Softmax(x, graph.SoftmaxOpts{Scale: 0.125, Causal: true, Mask: b.Input("mask", graph.F32, 3, 5)})
			},
			op: graph.OpSoftmax, shape: graph.Shape{4, 3, 5}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, float32(0.125), n.Params.Scale)
				require.True(t, n.Params.Causal)
				require.True(t, n.Params.HasMask)
				require.NotNil(t, n.Mask())
				require.Equal(t, "mask", n.Mask().Name)
			},
		},
		{
			name: "rope defaults",
			build: func(b *graph.Builder) *graph.Node {
				return b.RoPE(b.Input("x", graph.F32, 5, 4, 64), b.Input("pos", graph.I32, 5), nil,
					graph.RoPEParams{Theta: 10000})
			},
			op: graph.OpRoPE, shape: graph.Shape{5, 4, 64}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, graph.RoPEParams{Mode: graph.RoPENormal, Dims: 64, Theta: 10000, FreqScale: 1}, n.Params.RoPE)
				require.False(t, n.Params.HasFreqFactors)
				require.Nil(t, n.FreqFactors())
				require.Len(t, n.Inputs, 2)
			},
		},
		{
			name: "rope neox partial with freq factors batched",
			build: func(b *graph.Builder) *graph.Node {
				return b.RoPE(b.Input("x", graph.F32, 2, 5, 4, 64), b.Input("pos", graph.I32, 5),
					b.Weight("rope_freqs", graph.F32, 16),
					graph.RoPEParams{Mode: graph.RoPENeoX, Dims: 32, Theta: 500000, FreqScale: 0.25})
			},
			op: graph.OpRoPE, shape: graph.Shape{2, 5, 4, 64}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, graph.RoPEParams{Mode: graph.RoPENeoX, Dims: 32, Theta: 500000, FreqScale: 0.25}, n.Params.RoPE)
				require.True(t, n.Params.HasFreqFactors)
				require.Equal(t, "rope_freqs", n.FreqFactors().Name)
			},
		},
		{
			name: "attention gqa default scale",
			build: func(b *graph.Builder) *graph.Node {
				return b.Attention(b.Input("q", graph.F32, 3, 8, 16), b.State("k", graph.F16, 10, 2, 16),
					b.State("v", graph.F16, 10, 2, 24), graph.AttentionOpts{})
			},
			op: graph.OpAttention, shape: graph.Shape{3, 8, 24}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, float32(0.25), n.Params.Scale)
				require.Nil(t, n.Mask())
				require.Nil(t, n.Positions())
				require.Len(t, n.Inputs, 3)
			},
		},
		{
			name: "attention causal without positions",
			build: func(b *graph.Builder) *graph.Node {
				return b.Attention(b.Input("q", graph.F32, 3, 4, 8), b.Input("k", graph.F32, 3, 4, 8),
					b.Input("v", graph.F32, 3, 4, 8), graph.AttentionOpts{Causal: true, Scale: 2})
			},
			op: graph.OpAttention, shape: graph.Shape{3, 4, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, float32(2), n.Params.Scale)
				require.True(t, n.Params.Causal)
			},
		},
		{
			name: "attention batched with mask and positions",
			build: func(b *graph.Builder) *graph.Node {
				return b.Attention(b.Input("q", graph.F32, 2, 3, 4, 8), b.Input("k", graph.F32, 2, 6, 1, 8),
					b.Input("v", graph.F32, 2, 6, 1, 8), graph.AttentionOpts{
						Causal: true, Mask: b.Input("mask", graph.F32, 3, 6), Pos: b.Input("pos", graph.I32, 3),
					})
			},
			op: graph.OpAttention, shape: graph.Shape{2, 3, 4, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.True(t, n.Params.HasMask)
				require.True(t, n.Params.HasPos)
				require.Equal(t, "mask", n.Mask().Name)
				require.Equal(t, "pos", n.Positions().Name)
				require.Len(t, n.Inputs, 5)
			},
		},
		{
			name: "attention positions without mask",
			build: func(b *graph.Builder) *graph.Node {
				return b.Attention(b.Input("q", graph.F32, 4, 2, 8), b.Input("k", graph.F32, 2, 2, 8),
					b.Input("v", graph.F32, 2, 2, 8), graph.AttentionOpts{Causal: true, Pos: b.Input("pos", graph.I32, 4)})
			},
			op: graph.OpAttention, shape: graph.Shape{4, 2, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Nil(t, n.Mask())
				require.Equal(t, "pos", n.Positions().Name)
				require.Len(t, n.Inputs, 4)
			},
		},
		{
			name: "attention bf16 k and v",
			build: func(b *graph.Builder) *graph.Node {
				return b.Attention(b.Input("q", graph.F32, 1, 4, 8), b.State("k", graph.BF16, 16, 2, 8),
					b.State("v", graph.BF16, 16, 2, 8), graph.AttentionOpts{Causal: true, Pos: b.Input("pos", graph.I32, 1)})
			},
			op: graph.OpAttention, shape: graph.Shape{1, 4, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, graph.BF16, n.Inputs[1].DType)
				require.Equal(t, graph.BF16, n.Inputs[2].DType)
			},
		},
		{
			name: "kv_write bf16 cache",
			build: func(b *graph.Builder) *graph.Node {
				return b.KVWrite(b.State("cache", graph.BF16, 32, 2, 8), b.Input("k", graph.F32, 3, 2, 8), b.Input("pos", graph.I32, 3))
			},
			op: graph.OpKVWrite, shape: graph.Shape{32, 2, 8}, dt: graph.BF16,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, "cache", n.Storage().Name)
			},
		},
		{
			name: "kv_write f16 cache",
			build: func(b *graph.Builder) *graph.Node {
				return b.KVWrite(b.State("cache", graph.F16, 32, 2, 8), b.Input("k", graph.F32, 3, 2, 8), b.Input("pos", graph.I32, 3))
			},
			op: graph.OpKVWrite, shape: graph.Shape{32, 2, 8}, dt: graph.F16,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, "cache", n.Storage().Name)
				require.True(t, n.IsContiguous())
			},
		},
		{
			name: "view rows",
			build: func(b *graph.Builder) *graph.Node {
				return b.View(b.Input("x", graph.F32, 4, 6), graph.Shape{2, 6}, []int64{6, 1}, 12)
			},
			op: graph.OpView, shape: graph.Shape{2, 6}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, []int64{6, 1}, n.Strides)
				require.Equal(t, int64(12), n.Offset)
				require.True(t, n.IsContiguous())
			},
		},
		{
			name: "reshape",
			build: func(b *graph.Builder) *graph.Node {
				return b.Reshape(b.Input("x", graph.F32, 4, 6), 2, 3, 4)
			},
			op: graph.OpReshape, shape: graph.Shape{2, 3, 4}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) { require.Equal(t, []int64{12, 4, 1}, n.Strides) },
		},
		{
			name: "reshape quantized",
			build: func(b *graph.Builder) *graph.Node {
				return b.Reshape(b.Weight("w", graph.Q8_0, 4, 64), 8, 32)
			},
			op: graph.OpReshape, shape: graph.Shape{8, 32}, dt: graph.Q8_0,
		},
		{
			name: "permute",
			build: func(b *graph.Builder) *graph.Node {
				return b.Permute(b.Input("x", graph.I32, 2, 3, 4), 1, 2, 0)
			},
			op: graph.OpPermute, shape: graph.Shape{3, 4, 2}, dt: graph.I32,
			params: func(t *testing.T, n *graph.Node) {
				require.Equal(t, []int{1, 2, 0}, n.Params.Perm)
				require.Equal(t, []int64{4, 1, 12}, n.Strides)
				require.False(t, n.IsContiguous())
			},
		},
		{
			name: "contiguous of permute",
			build: func(b *graph.Builder) *graph.Node {
				return b.Contiguous(b.Permute(b.Input("x", graph.F16, 2, 3), 1, 0))
			},
			op: graph.OpContiguous, shape: graph.Shape{3, 2}, dt: graph.F16,
			params: func(t *testing.T, n *graph.Node) {
				require.True(t, n.IsContiguous())
				require.Same(t, n, n.Storage())
			},
		},
		{
			name: "contiguous quantized",
			build: func(b *graph.Builder) *graph.Node {
				return b.Contiguous(b.Weight("w", graph.Q4_0, 2, 32))
			},
			op: graph.OpContiguous, shape: graph.Shape{2, 32}, dt: graph.Q4_0,
		},
		{
			name: "concat negative axis",
			build: func(b *graph.Builder) *graph.Node {
				return b.Concat(b.Input("x", graph.F32, 2, 3), b.Input("y", graph.F32, 2, 5), -1)
			},
			op: graph.OpConcat, shape: graph.Shape{2, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) { require.Equal(t, 1, n.Params.Axis) },
		},
		{
			name: "concat axis 0 f16",
			build: func(b *graph.Builder) *graph.Node {
				return b.Concat(b.State("x", graph.F16, 4, 2, 3), b.Input("y", graph.F16, 1, 2, 3), 0)
			},
			op: graph.OpConcat, shape: graph.Shape{5, 2, 3}, dt: graph.F16,
			params: func(t *testing.T, n *graph.Node) { require.Equal(t, 0, n.Params.Axis) },
		},
		{
			name:  "copy f32 to f16",
			build: func(b *graph.Builder) *graph.Node { return b.Copy(b.Input("x", graph.F32, 3, 4), graph.F16) },
			op:    graph.OpCopy, shape: graph.Shape{3, 4}, dt: graph.F16,
		},
		{
			name:  "copy f32 to q8_0",
			build: func(b *graph.Builder) *graph.Node { return b.Copy(b.Input("x", graph.F32, 3, 64), graph.Q8_0) },
			op:    graph.OpCopy, shape: graph.Shape{3, 64}, dt: graph.Q8_0,
		},
		{
			name:  "copy q4_k to f32",
			build: func(b *graph.Builder) *graph.Node { return b.Copy(b.Weight("w", graph.Q4_K, 2, 256), graph.F32) },
			op:    graph.OpCopy, shape: graph.Shape{2, 256}, dt: graph.F32,
		},
		{
			name: "copy strided bf16 to f32",
			build: func(b *graph.Builder) *graph.Node {
				return b.Copy(b.Permute(b.Input("x", graph.BF16, 3, 4), 1, 0), graph.F32)
			},
			op: graph.OpCopy, shape: graph.Shape{4, 3}, dt: graph.F32,
		},
		{
			name:  "copy i32 to i32",
			build: func(b *graph.Builder) *graph.Node { return b.Copy(b.Input("x", graph.I32, 3), graph.I32) },
			op:    graph.OpCopy, shape: graph.Shape{3}, dt: graph.I32,
		},
		{
			name:  "argmax matrix",
			build: func(b *graph.Builder) *graph.Node { return b.Argmax(b.Input("x", graph.F32, 3, 5)) },
			op:    graph.OpArgmax, shape: graph.Shape{3}, dt: graph.I32,
		},
		{
			name:  "argmax vector",
			build: func(b *graph.Builder) *graph.Node { return b.Argmax(b.Input("x", graph.F32, 5)) },
			op:    graph.OpArgmax, shape: graph.Shape{1}, dt: graph.I32,
		},
		{
			name: "rms_norm_mul",
			build: func(b *graph.Builder) *graph.Node {
				return b.RMSNormMul(b.Input("x", graph.F32, 3, 8), b.Weight("w", graph.F32, 8), 1e-5)
			},
			op: graph.OpRMSNormMul, shape: graph.Shape{3, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) { require.Equal(t, float32(1e-5), n.Params.Eps) },
		},
		{
			name: "rope_kv_write f16 with factors",
			build: func(b *graph.Builder) *graph.Node {
				return b.RoPEKVWrite(b.State("c", graph.F16, 16, 2, 8), b.Input("x", graph.F32, 3, 2, 8),
					b.Input("p", graph.I32, 3), b.Weight("ff", graph.F32, 2), graph.RoPEParams{Theta: 10000, Dims: 4})
			},
			op: graph.OpRoPEKVWrite, shape: graph.Shape{16, 2, 8}, dt: graph.F16,
			params: func(t *testing.T, n *graph.Node) {
				require.True(t, n.Params.HasFreqFactors)
				require.Equal(t, float32(1), n.Params.RoPE.FreqScale)
				require.Same(t, n.Inputs[0], n.Storage())
			},
		},
		{
			name: "matmul_fused norm cat residual",
			build: func(b *graph.Builder) *graph.Node {
				x := b.Input("x", graph.F32, 2, 64)
				ws := []*graph.Node{b.Weight("a", graph.Q8_0, 5, 64), b.Weight("b", graph.Q8_0, 3, 64)}
				return b.MatMulFused(x, ws, graph.FusedMatMulOpts{Norm: b.Weight("g", graph.F32, 64), Eps: 1e-6,
					Residual: b.Input("r", graph.F32, 2, 8)})
			},
			op: graph.OpMatMulFused, shape: graph.Shape{2, 8}, dt: graph.F32,
			params: func(t *testing.T, n *graph.Node) {
				x, g, ws, r := n.FusedInputs()
				require.Equal(t, "x", x.Name)
				require.Equal(t, "g", g.Name)
				require.Len(t, ws, 2)
				require.Equal(t, "r", r.Name)
				require.Equal(t, graph.FusedDims{Rows: 2, K: 64, Cols: 8, N: []int{5, 3}, WRowBytes: 68}, n.FusedDims())
			},
		},
		{
			name: "matmul_fused swiglu",
			build: func(b *graph.Builder) *graph.Node {
				ws := []*graph.Node{b.Weight("g", graph.F16, 6, 4), b.Weight("u", graph.F16, 6, 4)}
				return b.MatMulFused(b.Input("x", graph.F32, 1, 4), ws, graph.FusedMatMulOpts{SwiGLU: true})
			},
			op: graph.OpMatMulFused, shape: graph.Shape{1, 6}, dt: graph.F32,
		},
	}
	seen := map[graph.Op]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder()
			n := tc.build(b)
			checkNode(t, b, n, tc.op, tc.shape, tc.dt)
			for _, in := range n.Inputs {
				require.Less(t, in.ID, n.ID, "inputs are made before the node")
			}
			if !n.Op.IsAlias() {
				require.Equal(t, tc.shape.Strides(), n.Strides, "a node that owns memory is contiguous")
				require.Zero(t, n.Offset)
			}
			if tc.params != nil {
				tc.params(t, n)
			}
		})
		seen[tc.op] = true
	}
	for _, op := range graph.ComputeOps() {
		require.True(t, seen[op], "no valid build for %s", op)
	}
}

func TestBuilderInvalid(t *testing.T) {
	type build func(b *graph.Builder)
	f32 := func(b *graph.Builder, name string, dims ...int) *graph.Node { return b.Input(name, graph.F32, dims...) }
	i32 := func(b *graph.Builder, name string, dims ...int) *graph.Node { return b.Input(name, graph.I32, dims...) }
	rope := graph.RoPEParams{Theta: 10000}
	tests := []struct {
		name  string
		build build
		op    graph.Op
		want  []string // substrings of the error: the offending node or shape
	}{
		// Leaves.
		{"leaf without name", func(b *graph.Builder) { b.Weight("", graph.F32, 2) }, graph.OpWeight, []string{"needs a name"}},
		{"leaf bad dtype", func(b *graph.Builder) { b.Input("x", graph.DType(99), 2) }, graph.OpInput, []string{`"x"`, "unknown dtype 99"}},
		{"leaf zero dim", func(b *graph.Builder) { b.State("s", graph.F32, 2, 0) }, graph.OpState, []string{`"s"`, "[2 0]", "non-positive"}},
		// Fused ops.
		{"rms_norm_mul weight shape", func(b *graph.Builder) { b.RMSNormMul(f32(b, "x", 2, 8), f32(b, "w", 4), 1e-5) },
			graph.OpRMSNormMul, []string{"weight [4] must be [8]"}},
		{"rope_kv_write not a state", func(b *graph.Builder) {
			b.RoPEKVWrite(f32(b, "c", 8, 2, 4), f32(b, "x", 1, 2, 4), i32(b, "p", 1), nil, rope)
		}, graph.OpRoPEKVWrite, []string{"must be a state tensor"}},
		{"rope_kv_write rows differ", func(b *graph.Builder) {
			b.RoPEKVWrite(b.State("c", graph.F32, 8, 2, 4), f32(b, "x", 1, 3, 4), i32(b, "p", 1), nil, rope)
		}, graph.OpRoPEKVWrite, []string{"[1 3 4] must be [S H D] with the rows of cache [8 2 4]"}},
		{"matmul_fused mixed dtypes", func(b *graph.Builder) {
			b.MatMulFused(f32(b, "x", 1, 32), []*graph.Node{b.Weight("a", graph.F32, 2, 32), b.Weight("b", graph.Q8_0, 2, 32)}, graph.FusedMatMulOpts{})
		}, graph.OpMatMulFused, []string{"weight 1 has dtype q8_0, weight 0 f32"}},
		{"matmul_fused four weights", func(b *graph.Builder) {
			w := b.Weight("a", graph.F32, 2, 4)
			b.MatMulFused(f32(b, "x", 1, 4), []*graph.Node{w, w, w, w}, graph.FusedMatMulOpts{})
		}, graph.OpMatMulFused, []string{"4 weights, want 1 to 3"}},
		{"matmul_fused swiglu rows differ", func(b *graph.Builder) {
			b.MatMulFused(f32(b, "x", 1, 4), []*graph.Node{b.Weight("a", graph.F32, 2, 4), b.Weight("b", graph.F32, 3, 4)}, graph.FusedMatMulOpts{SwiGLU: true})
		}, graph.OpMatMulFused, []string{"swiglu needs two weights of equal rows"}},
		{"matmul_fused residual shape", func(b *graph.Builder) {
			b.MatMulFused(f32(b, "x", 1, 4), []*graph.Node{b.Weight("a", graph.F32, 2, 4)}, graph.FusedMatMulOpts{Residual: f32(b, "r", 1, 3)})
		}, graph.OpMatMulFused, []string{"residual [1 3] must be [1 2]"}},
		{"leaf negative dim", func(b *graph.Builder) { b.Input("x", graph.F32, -3) }, graph.OpInput, []string{`"x"`, "[-3]"}},
		{"leaf rank 5", func(b *graph.Builder) { b.Input("x", graph.F32, 1, 1, 1, 1, 1) }, graph.OpInput, []string{`"x"`, "rank 5"}},
		{"leaf too many elements", func(b *graph.Builder) { b.Input("x", graph.F32, 1<<30, 1<<30) }, graph.OpInput, []string{`"x"`, "too many elements"}},
		{"quantized last dim", func(b *graph.Builder) { b.Weight("w", graph.Q4_K, 2, 100) }, graph.OpWeight, []string{`"w"`, "last dimension 100", "q4_k", "256"}},
		{"quantized last dim q8_0", func(b *graph.Builder) { b.Weight("w", graph.Q8_0, 33) }, graph.OpWeight, []string{`"w"`, "33", "q8_0"}},
		{"duplicate leaf names", func(b *graph.Builder) { b.Weight("w", graph.F32, 2); b.Input("w", graph.F32, 2) }, graph.OpInput, []string{`"w"`, "already used", `weight "w"`}},
		{"set name to used name", func(b *graph.Builder) {
			x := f32(b, "x", 2)
			b.SetName(b.SiLU(x), "x")
		}, graph.OpSiLU, []string{`"x"`, "already used", `input "x"`}},
		{"set empty name", func(b *graph.Builder) { b.SetName(b.SiLU(f32(b, "x", 2)), "") }, graph.OpSiLU, []string{"empty name"}},
		{"set name on nil", func(b *graph.Builder) { b.SetName(nil, "x") }, graph.OpInvalid, []string{`"x"`, "nil"}},
		{"set name on foreign node", func(b *graph.Builder) {
			b.SetName(graph.NewBuilder().Input("y", graph.F32, 2), "x")
		}, graph.OpInput, []string{`"y"`, "another builder"}},
		// Inputs.
		{"nil input", func(b *graph.Builder) { b.Add(f32(b, "x", 2), nil) }, graph.OpAdd, []string{"input 1 is nil"}},
		{"nil first input", func(b *graph.Builder) { b.SiLU(nil) }, graph.OpSiLU, []string{"input 0 is nil"}},
		{"foreign input", func(b *graph.Builder) {
			b.Mul(f32(b, "x", 2), graph.NewBuilder().Input("y", graph.F32, 2))
		}, graph.OpMul, []string{`"y"`, "another builder"}},
		{"foreign placeholder", func(b *graph.Builder) {
			o := graph.NewBuilder()
			bad := o.SiLU(nil)
			b.GELU(bad)
		}, graph.OpGELU, []string{"another builder"}},
		// get_rows.
		{"get_rows f32 ids", func(b *graph.Builder) { b.GetRows(f32(b, "e", 4, 2), f32(b, "ids", 3)) }, graph.OpGetRows, []string{`"ids"`, "f32"}},
		{"get_rows i32 table", func(b *graph.Builder) { b.GetRows(i32(b, "e", 4, 2), i32(b, "ids", 3)) }, graph.OpGetRows, []string{`"e"`, "i32"}},
		{"get_rows 3-D table", func(b *graph.Builder) { b.GetRows(f32(b, "e", 4, 2, 2), i32(b, "ids", 3)) }, graph.OpGetRows, []string{`"e"`, "2-D"}},
		{"get_rows 3-D ids", func(b *graph.Builder) { b.GetRows(f32(b, "e", 4, 2), i32(b, "ids", 1, 2, 3)) }, graph.OpGetRows, []string{`"ids"`, "[1 2 3]"}},
		// matmul.
		{"matmul f16 x", func(b *graph.Builder) { b.MatMul(b.Input("x", graph.F16, 2, 4), f32(b, "w", 3, 4)) }, graph.OpMatMul, []string{`"x"`, "f16"}},
		{"matmul i32 w", func(b *graph.Builder) { b.MatMul(f32(b, "x", 2, 4), i32(b, "w", 3, 4)) }, graph.OpMatMul, []string{`"w"`, "i32"}},
		{"matmul inner dims", func(b *graph.Builder) { b.MatMul(f32(b, "x", 2, 4), f32(b, "w", 3, 5)) }, graph.OpMatMul, []string{"inner", "[2 4]", "[3 5]"}},
		{"matmul 1-D w", func(b *graph.Builder) { b.MatMul(f32(b, "x", 4), f32(b, "w", 4)) }, graph.OpMatMul, []string{`"w"`, "rank"}},
		{"matmul scalar x", func(b *graph.Builder) { b.MatMul(f32(b, "x"), f32(b, "w", 1, 1)) }, graph.OpMatMul, []string{`"x"`, "rank"}},
		{"matmul batched quantized", func(b *graph.Builder) {
			b.MatMul(f32(b, "x", 2, 5, 32), b.Weight("w", graph.Q8_0, 2, 3, 32))
		}, graph.OpMatMul, []string{`"w"`, "batched"}},
		{"matmul batched leading dims", func(b *graph.Builder) {
			b.MatMul(f32(b, "x", 2, 5, 4), b.Input("w", graph.F16, 3, 8, 4))
		}, graph.OpMatMul, []string{"[3 8 4]", "[2 5 4]"}},
		{"matmul batched rank", func(b *graph.Builder) {
			b.MatMul(f32(b, "x", 5, 4), b.Input("w", graph.F16, 3, 8, 4))
		}, graph.OpMatMul, []string{"[3 8 4]", "[5 4]"}},
		{"matmul non-contiguous x", func(b *graph.Builder) {
			b.MatMul(b.Permute(f32(b, "x", 4, 2), 1, 0), f32(b, "w", 3, 4))
		}, graph.OpMatMul, []string{"permute", "not contiguous"}},
		// add / mul.
		{"add not broadcastable", func(b *graph.Builder) { b.Add(f32(b, "x", 2, 3), f32(b, "y", 4, 3)) }, graph.OpAdd, []string{"[4 3]", "[2 3]", "broadcast"}},
		{"add y larger rank", func(b *graph.Builder) { b.Add(f32(b, "x", 3), f32(b, "y", 2, 3)) }, graph.OpAdd, []string{"[2 3]", "[3]"}},
		{"add x broadcast", func(b *graph.Builder) { b.Add(f32(b, "x", 1, 3), f32(b, "y", 2, 3)) }, graph.OpAdd, []string{"[2 3]", "[1 3]"}},
		{"mul i32", func(b *graph.Builder) { b.Mul(f32(b, "x", 3), i32(b, "y", 3)) }, graph.OpMul, []string{`"y"`, "i32"}},
		{"add f16", func(b *graph.Builder) { b.Add(b.Input("x", graph.F16, 3), f32(b, "y", 3)) }, graph.OpAdd, []string{`"x"`, "f16"}},
		{"add non-contiguous", func(b *graph.Builder) {
			x := f32(b, "x", 2, 3)
			b.Add(x, b.Permute(f32(b, "y", 3, 2), 1, 0))
		}, graph.OpAdd, []string{"input 1", "permute", "not contiguous"}},
		// unary.
		{"scale i32", func(b *graph.Builder) { b.Scale(i32(b, "x", 2), 2) }, graph.OpScale, []string{`"x"`, "i32"}},
		{"rms_norm f16", func(b *graph.Builder) { b.RMSNorm(b.Input("x", graph.F16, 2), 1e-5) }, graph.OpRMSNorm, []string{`"x"`, "f16"}},
		{"layer_norm q8_0", func(b *graph.Builder) { b.LayerNorm(b.Weight("x", graph.Q8_0, 32), 1e-5) }, graph.OpLayerNorm, []string{`"x"`, "q8_0"}},
		{"silu strided", func(b *graph.Builder) {
			b.SiLU(b.View(f32(b, "x", 4, 4), graph.Shape{4}, []int64{4}, 0))
		}, graph.OpSiLU, []string{"view", "not contiguous"}},
		{"gelu i32", func(b *graph.Builder) { b.GELU(i32(b, "x", 2)) }, graph.OpGELU, []string{`"x"`, "i32"}},
		// swiglu.
		{"swiglu shapes", func(b *graph.Builder) { b.SwiGLU(f32(b, "g", 2, 4), f32(b, "u", 2, 5)) }, graph.OpSwiGLU, []string{"[2 4]", "[2 5]"}},
		{"swiglu no broadcast", func(b *graph.Builder) { b.SwiGLU(f32(b, "g", 2, 4), f32(b, "u", 4)) }, graph.OpSwiGLU, []string{"[2 4]", "[4]"}},
		{"swiglu dtype", func(b *graph.Builder) { b.SwiGLU(f32(b, "g", 4), b.Input("u", graph.BF16, 4)) }, graph.OpSwiGLU, []string{`"u"`, "bf16"}},
		// softmax.
		{"softmax mask shape", func(b *graph.Builder) {
			b.Softmax(f32(b, "x", 2, 4, 5), graph.SoftmaxOpts{Mask: f32(b, "m", 4, 6)})
		}, graph.OpSoftmax, []string{"mask [4 6]", "[4 5]"}},
		{"softmax mask rank", func(b *graph.Builder) {
			b.Softmax(f32(b, "x", 4, 5), graph.SoftmaxOpts{Mask: f32(b, "m", 1, 4, 5)})
		}, graph.OpSoftmax, []string{"mask [1 4 5]", "[4 5]"}},
		{"softmax mask dtype", func(b *graph.Builder) {
			b.Softmax(f32(b, "x", 4, 5), graph.SoftmaxOpts{Mask: b.Input("m", graph.F16, 4, 5)})
		}, graph.OpSoftmax, []string{`"m"`, "f16"}},
		{"softmax causal vector", func(b *graph.Builder) {
			b.Softmax(f32(b, "x", 5), graph.SoftmaxOpts{Causal: true})
		}, graph.OpSoftmax, []string{"rank", "[5]"}},
		{"softmax i32", func(b *graph.Builder) { b.Softmax(i32(b, "x", 5), graph.SoftmaxOpts{}) }, graph.OpSoftmax, []string{`"x"`, "i32"}},
		// rope.
		{"rope odd head dim", func(b *graph.Builder) { b.RoPE(f32(b, "x", 3, 2, 5), i32(b, "p", 3), nil, rope) }, graph.OpRoPE, []string{"rotated dims 5", "even"}},
		{"rope odd dims", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), nil, graph.RoPEParams{Theta: 1e4, Dims: 3})
		}, graph.OpRoPE, []string{"rotated dims 3"}},
		{"rope dims too large", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), nil, graph.RoPEParams{Theta: 1e4, Dims: 10})
		}, graph.OpRoPE, []string{"rotated dims 10", "[2, 8]"}},
		{"rope negative dims", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), nil, graph.RoPEParams{Theta: 1e4, Dims: -2})
		}, graph.OpRoPE, []string{"rotated dims -2"}},
		{"rope positions shape", func(b *graph.Builder) { b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 4), nil, rope) }, graph.OpRoPE, []string{"positions [4]", "[3]"}},
		{"rope positions 2-D", func(b *graph.Builder) { b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 1, 3), nil, rope) }, graph.OpRoPE, []string{"positions [1 3]"}},
		{"rope batched positions", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 2, 3, 2, 8), i32(b, "p", 2), nil, rope)
		}, graph.OpRoPE, []string{"positions [2]", "[3]"}},
		{"rope positions dtype", func(b *graph.Builder) { b.RoPE(f32(b, "x", 3, 2, 8), f32(b, "p", 3), nil, rope) }, graph.OpRoPE, []string{`"p"`, "f32"}},
		{"rope rank 2", func(b *graph.Builder) { b.RoPE(f32(b, "x", 3, 8), i32(b, "p", 3), nil, rope) }, graph.OpRoPE, []string{"x [3 8]"}},
		{"rope zero theta", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), nil, graph.RoPEParams{})
		}, graph.OpRoPE, []string{"theta 0"}},
		{"rope nan theta", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), nil, graph.RoPEParams{Theta: float32(math.NaN())})
		}, graph.OpRoPE, []string{"theta NaN"}},
		{"rope inf theta", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), nil, graph.RoPEParams{Theta: float32(math.Inf(1))})
		}, graph.OpRoPE, []string{"theta +Inf"}},
		{"rope mode", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), nil, graph.RoPEParams{Theta: 1e4, Mode: 7})
		}, graph.OpRoPE, []string{"mode 7"}},
		{"rope freq factors shape", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), f32(b, "ff", 8), rope)
		}, graph.OpRoPE, []string{"frequency factors [8]", "[4]"}},
		{"rope freq factors dtype", func(b *graph.Builder) {
			b.RoPE(f32(b, "x", 3, 2, 8), i32(b, "p", 3), b.Input("ff", graph.F16, 4), rope)
		}, graph.OpRoPE, []string{`"ff"`, "f16"}},
		// attention.
		{"attention gqa heads", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 4, 6, 8), f32(b, "k", 4, 4, 8), f32(b, "v", 4, 4, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{"6 query heads", "4 kv heads"}},
		{"attention head dims", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 4, 4, 8), f32(b, "k", 4, 4, 16), f32(b, "v", 4, 4, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{"[4 4 8]", "[4 4 16]"}},
		{"attention v rows", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 4, 4, 8), f32(b, "k", 5, 4, 8), f32(b, "v", 6, 4, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{"v [6 4 8]", "k [5 4 8]"}},
		{"attention v heads", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 4, 4, 8), f32(b, "k", 5, 4, 8), f32(b, "v", 5, 2, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{"v [5 2 8]", "k [5 4 8]"}},
		{"attention ranks", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 4, 8), f32(b, "k", 4, 8), f32(b, "v", 4, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{"q [4 8]"}},
		{"attention mixed ranks", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 1, 4, 1, 8), f32(b, "k", 4, 1, 8), f32(b, "v", 4, 1, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{"q [1 4 1 8]", "k [4 1 8]"}},
		{"attention batch", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 2, 4, 1, 8), f32(b, "k", 3, 4, 1, 8), f32(b, "v", 3, 4, 1, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{"batch", "[3 4 1 8]"}},
		{"attention q f16", func(b *graph.Builder) {
			b.Attention(b.Input("q", graph.F16, 4, 1, 8), f32(b, "k", 4, 1, 8), f32(b, "v", 4, 1, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{`"q"`, "f16"}},
		{"attention k quantized", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 4, 1, 32), b.Weight("k", graph.Q8_0, 4, 1, 32), f32(b, "v", 4, 1, 32), graph.AttentionOpts{})
		}, graph.OpAttention, []string{`"k"`, "q8_0"}},
		{"attention v i32", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 4, 1, 8), f32(b, "k", 4, 1, 8), b.Input("v", graph.I32, 4, 1, 8), graph.AttentionOpts{})
		}, graph.OpAttention, []string{`"v"`, "i32", "[f32 f16 bf16]"}},
		{"attention mask shape", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 3, 1, 8), f32(b, "k", 5, 1, 8), f32(b, "v", 5, 1, 8), graph.AttentionOpts{Mask: f32(b, "m", 5, 3)})
		}, graph.OpAttention, []string{"mask [5 3]", "[3 5]"}},
		{"attention mask dtype", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 3, 1, 8), f32(b, "k", 5, 1, 8), f32(b, "v", 5, 1, 8), graph.AttentionOpts{Mask: i32(b, "m", 3, 5)})
		}, graph.OpAttention, []string{`"m"`, "i32"}},
		{"attention positions without causal", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 3, 1, 8), f32(b, "k", 5, 1, 8), f32(b, "v", 5, 1, 8), graph.AttentionOpts{Pos: i32(b, "p", 3)})
		}, graph.OpAttention, []string{"positions", "Causal"}},
		{"attention positions shape", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 3, 1, 8), f32(b, "k", 5, 1, 8), f32(b, "v", 5, 1, 8), graph.AttentionOpts{Causal: true, Pos: i32(b, "p", 5)})
		}, graph.OpAttention, []string{"positions [5]", "[3]"}},
		{"attention positions dtype", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 3, 1, 8), f32(b, "k", 5, 1, 8), f32(b, "v", 5, 1, 8), graph.AttentionOpts{Causal: true, Pos: f32(b, "p", 3)})
		}, graph.OpAttention, []string{`"p"`, "f32"}},
		{"attention causal more queries", func(b *graph.Builder) {
			b.Attention(f32(b, "q", 6, 1, 8), f32(b, "k", 5, 1, 8), f32(b, "v", 5, 1, 8), graph.AttentionOpts{Causal: true})
		}, graph.OpAttention, []string{"6 queries", "5 keys"}},
		// kv_write.
		{"kv_write into input", func(b *graph.Builder) {
			b.KVWrite(f32(b, "cache", 8, 4), f32(b, "k", 2, 4), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{`"cache"`, "state", "input"}},
		{"kv_write into weight", func(b *graph.Builder) {
			b.KVWrite(b.Weight("cache", graph.F16, 8, 4), f32(b, "k", 2, 4), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{`"cache"`, "state", "weight"}},
		{"kv_write into computed", func(b *graph.Builder) {
			b.KVWrite(b.SiLU(f32(b, "x", 8, 4)), f32(b, "k", 2, 4), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{"silu", "state"}},
		{"kv_write into reshape of input", func(b *graph.Builder) {
			b.KVWrite(b.Reshape(f32(b, "x", 32), 8, 4), f32(b, "k", 2, 4), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{"reshape", "state", "input"}},
		{"kv_write rows", func(b *graph.Builder) {
			b.KVWrite(b.State("cache", graph.F32, 8, 4), f32(b, "k", 2, 5), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{"[2 5]", "[8 4]"}},
		{"kv_write rank", func(b *graph.Builder) {
			b.KVWrite(b.State("cache", graph.F32, 8, 2, 4), f32(b, "k", 2, 8), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{"[2 8]", "[8 2 4]"}},
		{"kv_write 1-D cache", func(b *graph.Builder) {
			b.KVWrite(b.State("cache", graph.F32, 8), f32(b, "k", 2), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{"[2]", "[8]"}},
		{"kv_write positions", func(b *graph.Builder) {
			b.KVWrite(b.State("cache", graph.F32, 8, 4), f32(b, "k", 2, 4), i32(b, "p", 3))
		}, graph.OpKVWrite, []string{"positions [3]", "[2]"}},
		{"kv_write positions dtype", func(b *graph.Builder) {
			b.KVWrite(b.State("cache", graph.F32, 8, 4), f32(b, "k", 2, 4), f32(b, "p", 2))
		}, graph.OpKVWrite, []string{`"p"`, "f32"}},
		{"kv_write src f16", func(b *graph.Builder) {
			b.KVWrite(b.State("cache", graph.F16, 8, 4), b.Input("k", graph.F16, 2, 4), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{`"k"`, "f16"}},
		{"kv_write quantized cache", func(b *graph.Builder) {
			b.KVWrite(b.State("cache", graph.Q8_0, 8, 32), f32(b, "k", 2, 32), i32(b, "p", 2))
		}, graph.OpKVWrite, []string{`"cache"`, "q8_0"}},
		// view.
		{"view out of bounds", func(b *graph.Builder) {
			b.View(f32(b, "x", 4, 4), graph.Shape{2, 4}, []int64{4, 1}, 9)
		}, graph.OpView, []string{`"x"`, "outside", "[2 4]"}},
		{"view negative offset", func(b *graph.Builder) {
			b.View(f32(b, "x", 4, 4), graph.Shape{2}, []int64{1}, -1)
		}, graph.OpView, []string{`"x"`, "outside"}},
		{"view negative stride below zero", func(b *graph.Builder) {
			b.View(f32(b, "x", 4, 4), graph.Shape{3}, []int64{-1}, 1)
		}, graph.OpView, []string{`"x"`, "outside"}},
		{"view stride overflow", func(b *graph.Builder) {
			b.View(f32(b, "x", 16), graph.Shape{5}, []int64{1<<62 + 1}, 0)
		}, graph.OpView, []string{`"x"`, "outside"}},
		{"view negative stride overflow", func(b *graph.Builder) {
			b.View(f32(b, "x", 16), graph.Shape{5}, []int64{-(1<<62 + 1)}, 0)
		}, graph.OpView, []string{`"x"`, "outside"}},
		{"view offset overflow", func(b *graph.Builder) {
			b.View(f32(b, "x", 16), graph.Shape{2}, []int64{1}, math.MaxInt64)
		}, graph.OpView, []string{`"x"`, "outside"}},
		{"view offset past end", func(b *graph.Builder) {
			b.View(f32(b, "x", 16), graph.Shape{1}, []int64{1}, 16)
		}, graph.OpView, []string{`"x"`, "outside"}},
		{"view stride count", func(b *graph.Builder) {
			b.View(f32(b, "x", 4, 4), graph.Shape{2, 2}, []int64{1}, 0)
		}, graph.OpView, []string{"1 strides", "[2 2]"}},
		{"view bad shape", func(b *graph.Builder) {
			b.View(f32(b, "x", 4, 4), graph.Shape{0, 2}, []int64{4, 1}, 0)
		}, graph.OpView, []string{"[0 2]"}},
		{"view quantized", func(b *graph.Builder) {
			b.View(b.Weight("w", graph.Q8_0, 2, 32), graph.Shape{32}, []int64{1}, 0)
		}, graph.OpView, []string{`"w"`, "quantized"}},
		{"view of permute", func(b *graph.Builder) {
			b.View(b.Permute(f32(b, "x", 2, 3), 1, 0), graph.Shape{2}, []int64{1}, 0)
		}, graph.OpView, []string{"permute", "not contiguous"}},
		// reshape.
		{"reshape count", func(b *graph.Builder) { b.Reshape(f32(b, "x", 2, 3), 4, 2) }, graph.OpReshape, []string{"[2 3]", "[4 2]"}},
		{"reshape zero dim", func(b *graph.Builder) { b.Reshape(f32(b, "x", 2, 3), 0, 6) }, graph.OpReshape, []string{"[0 6]"}},
		{"reshape rank 5", func(b *graph.Builder) { b.Reshape(f32(b, "x", 6), 1, 1, 1, 2, 3) }, graph.OpReshape, []string{"rank 5"}},
		{"reshape strided", func(b *graph.Builder) { b.Reshape(b.Permute(f32(b, "x", 2, 3), 1, 0), 6) }, graph.OpReshape, []string{"permute", "not contiguous"}},
		{"reshape quantized block", func(b *graph.Builder) {
			b.Reshape(b.Weight("w", graph.Q8_0, 2, 32), 4, 16)
		}, graph.OpReshape, []string{"last dimension 16", "q8_0"}},
		// permute.
		{"permute repeated", func(b *graph.Builder) { b.Permute(f32(b, "x", 2, 3), 0, 0) }, graph.OpPermute, []string{"[0 0]", "not a permutation"}},
		{"permute out of range", func(b *graph.Builder) { b.Permute(f32(b, "x", 2, 3), 0, 2) }, graph.OpPermute, []string{"[0 2]", "not a permutation"}},
		{"permute negative", func(b *graph.Builder) { b.Permute(f32(b, "x", 2, 3), -1, 0) }, graph.OpPermute, []string{"[-1 0]"}},
		{"permute length", func(b *graph.Builder) { b.Permute(f32(b, "x", 2, 3), 1, 0, 2) }, graph.OpPermute, []string{"[1 0 2]", "rank 2"}},
		{"permute quantized", func(b *graph.Builder) { b.Permute(b.Weight("w", graph.Q4_0, 2, 32), 1, 0) }, graph.OpPermute, []string{`"w"`, "quantized"}},
		// concat.
		{"concat dtypes", func(b *graph.Builder) {
			b.Concat(f32(b, "x", 2, 3), b.Input("y", graph.F16, 2, 3), 0)
		}, graph.OpConcat, []string{"f32", "f16"}},
		{"concat quantized", func(b *graph.Builder) {
			b.Concat(b.Weight("x", graph.Q8_0, 2, 32), b.Weight("y", graph.Q8_0, 2, 32), 0)
		}, graph.OpConcat, []string{"q8_0"}},
		{"concat shapes", func(b *graph.Builder) { b.Concat(f32(b, "x", 2, 3), f32(b, "y", 3, 3), 1) }, graph.OpConcat, []string{"[2 3]", "[3 3]", "axis 1"}},
		{"concat ranks", func(b *graph.Builder) { b.Concat(f32(b, "x", 2, 3), f32(b, "y", 3), 1) }, graph.OpConcat, []string{"[2 3]", "[3]"}},
		{"concat axis", func(b *graph.Builder) { b.Concat(f32(b, "x", 2, 3), f32(b, "y", 2, 3), 2) }, graph.OpConcat, []string{"axis 2", "[2 3]"}},
		{"concat negative axis", func(b *graph.Builder) { b.Concat(f32(b, "x", 2, 3), f32(b, "y", 2, 3), -3) }, graph.OpConcat, []string{"[2 3]"}},
		{"concat strided", func(b *graph.Builder) {
			b.Concat(b.Permute(f32(b, "x", 3, 2), 1, 0), f32(b, "y", 2, 3), 0)
		}, graph.OpConcat, []string{"permute", "not contiguous"}},
		// copy.
		{"copy i32 to f32", func(b *graph.Builder) { b.Copy(i32(b, "x", 3), graph.F32) }, graph.OpCopy, []string{"i32", "f32"}},
		{"copy f32 to i32", func(b *graph.Builder) { b.Copy(f32(b, "x", 3), graph.I32) }, graph.OpCopy, []string{"f32", "i32"}},
		{"copy to invalid", func(b *graph.Builder) { b.Copy(f32(b, "x", 3), graph.DType(42)) }, graph.OpCopy, []string{"unknown dtype 42"}},
		{"copy to quantized partial block", func(b *graph.Builder) { b.Copy(f32(b, "x", 2, 33), graph.Q8_0) }, graph.OpCopy, []string{"last dimension 33", "q8_0"}},
		{"copy strided to quantized partial block", func(b *graph.Builder) {
			b.Copy(b.Permute(f32(b, "x", 64, 2), 1, 0), graph.Q4_K)
		}, graph.OpCopy, []string{"last dimension 64", "q4_k"}},
		// argmax.
		{"argmax i32", func(b *graph.Builder) { b.Argmax(i32(b, "x", 3)) }, graph.OpArgmax, []string{`"x"`, "i32"}},
		{"argmax scalar", func(b *graph.Builder) { b.Argmax(f32(b, "x")) }, graph.OpArgmax, []string{`"x"`, "[]"}},
		{"argmax strided", func(b *graph.Builder) { b.Argmax(b.Permute(f32(b, "x", 3, 2), 1, 0)) }, graph.OpArgmax, []string{"permute", "not contiguous"}},
		// contiguous.
		{"contiguous nil", func(b *graph.Builder) { b.Contiguous(nil) }, graph.OpContiguous, []string{"input 0 is nil"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder()
			require.NotPanics(t, func() { tc.build(b) })
			err := b.Err()
			require.Error(t, err)
			msg := err.Error()
			require.Contains(t, msg, "graph: "+tc.op.String()+" ", "the error names the op")
			for _, w := range tc.want {
				require.Contains(t, msg, w)
			}
			// Build reports the same first error.
			g, berr := b.Build()
			require.Nil(t, g)
			require.Equal(t, err, berr)
		})
	}
}

func TestBuilderFirstErrorSticks(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3)
	y := b.Input("y", graph.F32, 4, 3)
	bad := b.Add(x, y)
	first := b.Err()
	require.Error(t, first)
	require.Equal(t, graph.OpInvalid, bad.Op)
	require.Equal(t, -1, bad.ID)
	nodes := len(b.Nodes())

	// Every later call is a no-op returning the placeholder.
	later := []*graph.Node{
		b.SiLU(x),
		b.Weight("w", graph.F32, 3, 3),
		b.MatMul(x, x),
		b.Add(bad, bad),
		b.Reshape(x, 6),
		b.Permute(x, 1, 0),
		b.Copy(x, graph.I32),
		b.SetName(bad, "again"),
	}
	for _, n := range later {
		require.Same(t, bad, n)
	}
	require.Same(t, x, b.SetName(x, "renamed"))
	require.Equal(t, "x", x.Name, "SetName after an error does nothing")
	require.Len(t, b.Nodes(), nodes)
	require.Equal(t, first, b.Err())
	_, err := b.Build(x)
	require.Equal(t, first, err)
	require.Contains(t, first.Error(), "add")
	require.Contains(t, first.Error(), "[4 3]")
}

// TestBuilderWrapsCauses checks that a builder error caused by another
// error wraps it (%w) and names the op and node once.
func TestBuilderWrapsCauses(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3)
	b.Reshape(x, 0, 6)
	err := b.Err()
	require.EqualError(t, err, `graph: reshape "reshape#1": shape [0 6] has a non-positive dimension`)
	require.NotNil(t, errors.Unwrap(err), "the shape's error is wrapped")
}

func TestBuilderSetScopeAndNames(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3)
	a := b.SiLU(x)
	require.Equal(t, "silu#1", a.Name)
	b.SetScope("blk.3")
	m := b.Mul(a, x)
	require.Equal(t, "blk.3.mul#2", m.Name)
	named := b.SetName(b.Scale(m, 2), "blk.3.attn_q")
	require.Equal(t, "blk.3.attn_q", named.Name)
	require.Equal(t, `scale "blk.3.attn_q" [2 3] f32`, named.String())
	// Renaming a node to its own name is fine, and frees the old name.
	require.Same(t, named, b.SetName(named, "blk.3.attn_q"))
	b.SetName(named, "q")
	require.NoError(t, b.Err())
	again := b.SetName(b.GELU(x), "blk.3.attn_q")
	require.Equal(t, "blk.3.attn_q", again.Name)
	b.SetScope("")
	require.Equal(t, "gelu#5", b.GELU(x).Name)
	require.NoError(t, b.Err())

	// A scoped error names the layer.
	b.SetScope("blk.7")
	b.MatMul(x, b.Weight("w", graph.F32, 4, 5))
	require.ErrorContains(t, b.Err(), `graph: matmul "blk.7.matmul#`)

	g := graph.NewBuilder()
	g.SetScope("blk.0")
	g.Input("x", graph.F32, 1)
	g.Input("x", graph.F32, 1)
	require.ErrorContains(t, g.Err(), `graph: input "x": name already used`, "leaves keep their own names")
}

func TestIsContiguous(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *graph.Builder) *graph.Node
		want  bool
	}{
		{"leaf", func(b *graph.Builder) *graph.Node { return b.Input("x", graph.F32, 2, 3) }, true},
		{"permute swaps", func(b *graph.Builder) *graph.Node { return b.Permute(b.Input("x", graph.F32, 2, 3), 1, 0) }, false},
		{"permute identity", func(b *graph.Builder) *graph.Node { return b.Permute(b.Input("x", graph.F32, 2, 3), 0, 1) }, true},
		{"permute of unit dim", func(b *graph.Builder) *graph.Node { return b.Permute(b.Input("x", graph.F32, 1, 5), 1, 0) }, true},
		{"permute heads", func(b *graph.Builder) *graph.Node {
			return b.Permute(b.Input("x", graph.F32, 4, 2, 8), 1, 0, 2)
		}, false},
		{"permute back", func(b *graph.Builder) *graph.Node {
			return b.Permute(b.Permute(b.Input("x", graph.F32, 4, 2, 8), 1, 0, 2), 1, 0, 2)
		}, true},
		{"view rows", func(b *graph.Builder) *graph.Node {
			return b.View(b.Input("x", graph.F32, 4, 3), graph.Shape{2, 3}, []int64{3, 1}, 3)
		}, true},
		{"view column", func(b *graph.Builder) *graph.Node {
			return b.View(b.Input("x", graph.F32, 4, 3), graph.Shape{4}, []int64{3}, 1)
		}, false},
		{"view with row gap", func(b *graph.Builder) *graph.Node {
			return b.View(b.Input("x", graph.F32, 4, 3), graph.Shape{2, 2}, []int64{3, 1}, 0)
		}, false},
		{"view single row any stride", func(b *graph.Builder) *graph.Node {
			return b.View(b.Input("x", graph.F32, 4, 3), graph.Shape{1, 3}, []int64{99, 1}, 0)
		}, true},
		{"view broadcast stride 0", func(b *graph.Builder) *graph.Node {
			return b.View(b.Input("x", graph.F32, 3), graph.Shape{4, 3}, []int64{0, 1}, 0)
		}, false},
		{"view reversed", func(b *graph.Builder) *graph.Node {
			return b.View(b.Input("x", graph.F32, 3), graph.Shape{3}, []int64{-1}, 2)
		}, false},
		{"reshape", func(b *graph.Builder) *graph.Node { return b.Reshape(b.Input("x", graph.F32, 2, 3), 3, 2) }, true},
		{"contiguous of permute", func(b *graph.Builder) *graph.Node {
			return b.Contiguous(b.Permute(b.Input("x", graph.F32, 2, 3), 1, 0))
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := graph.NewBuilder()
			n := tc.build(b)
			require.NoError(t, b.Err())
			require.Equal(t, tc.want, n.IsContiguous(), "%s strides %v", n, n.Strides)
		})
	}
}

func TestStorageAndOffsets(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 4, 6)
	s := b.SiLU(x)
	v := b.View(s, graph.Shape{2, 6}, []int64{6, 1}, 6)
	r := b.Reshape(v, 3, 4)
	v2 := b.View(r, graph.Shape{2, 2}, []int64{4, 1}, 5)
	p := b.Permute(v2, 1, 0)
	c := b.Contiguous(p)

	cache := b.State("cache", graph.F32, 16, 2, 4)
	kw := b.KVWrite(cache, b.Input("k", graph.F32, 3, 2, 4), b.Input("pos", graph.I32, 3))
	kw2 := b.KVWrite(kw, b.Input("k2", graph.F32, 1, 2, 4), b.Input("pos2", graph.I32, 1))
	rows := b.View(kw2, graph.Shape{5, 2, 4}, []int64{8, 4, 1}, 8)
	flat := b.Reshape(kw2, 16, 8)
	require.NoError(t, b.Err())

	tests := []struct {
		n       *graph.Node
		storage *graph.Node
		offset  int64
	}{
		{x, x, 0},
		{s, s, 0},
		{v, s, 6},
		{r, s, 6},
		{v2, s, 11},
		{p, s, 11},
		{c, c, 0},
		{cache, cache, 0},
		{kw, cache, 0},
		{kw2, cache, 0},
		{rows, cache, 8},
		{flat, cache, 0},
	}
	for _, tc := range tests {
		require.Same(t, tc.storage, tc.n.Storage(), "storage of %s", tc.n)
		require.Equal(t, tc.offset, tc.n.Offset, "offset of %s", tc.n)
	}
	require.Equal(t, []int64{1, 4}, p.Strides)
	require.True(t, rows.IsContiguous())
	require.Equal(t, []int64{8, 4, 1}, kw.Strides)
}

func TestAccessorsOnOtherOps(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 3, 2, 8)
	y := b.SiLU(x)
	require.Nil(t, y.Mask())
	require.Nil(t, y.Positions())
	require.Nil(t, y.FreqFactors())
	sm := b.Softmax(b.Input("s", graph.F32, 3, 3), graph.SoftmaxOpts{Causal: true})
	require.Nil(t, sm.Mask())
	require.Nil(t, sm.Positions())
	require.NoError(t, b.Err())
	var nilNode *graph.Node
	require.Equal(t, "<nil node>", nilNode.String())
}

func TestOpNames(t *testing.T) {
	require.Len(t, graph.ComputeOps(), 24)
	all := append([]graph.Op{graph.OpWeight, graph.OpInput, graph.OpState}, graph.ComputeOps()...)
	seen := map[string]bool{}
	for _, op := range all {
		s := op.String()
		require.False(t, seen[s], "duplicate name %q", s)
		seen[s] = true
		got, err := graph.ParseOp(s)
		require.NoError(t, err)
		require.Equal(t, op, got)
	}
	for _, op := range graph.ComputeOps() {
		require.False(t, op.IsLeaf(), "%s", op)
	}
	for _, op := range []graph.Op{graph.OpWeight, graph.OpInput, graph.OpState} {
		require.True(t, op.IsLeaf())
		require.False(t, op.IsAlias())
	}
	for _, op := range []graph.Op{graph.OpView, graph.OpReshape, graph.OpPermute, graph.OpKVWrite, graph.OpRoPEKVWrite} {
		require.True(t, op.IsAlias(), "%s", op)
	}
	require.True(t, graph.OpRoPEKVWrite.WritesState())
	require.False(t, graph.OpView.WritesState())
	require.False(t, graph.OpContiguous.IsAlias())
	require.Equal(t, "rms_norm", graph.OpRMSNorm.String())
	require.Equal(t, "op(200)", graph.Op(200).String())
	for _, s := range []string{"", "invalid", "RMS_NORM", "matmul2"} {
		_, err := graph.ParseOp(s)
		require.ErrorContains(t, err, "unknown op")
	}
	require.Equal(t, "normal", graph.RoPENormal.String())
	require.Equal(t, "neox", graph.RoPENeoX.String())
}

// FuzzView checks that View never panics and that every view it accepts lies
// inside its input, whatever the shape, strides and offset.
func FuzzView(f *testing.F) {
	f.Add(uint8(4), uint8(6), 2, 3, int64(6), int64(1), int64(0))
	f.Add(uint8(4), uint8(6), 5, 1, int64(1<<62+1), int64(1), int64(0))
	f.Add(uint8(16), uint8(1), 2, 1, int64(1), int64(1), int64(math.MaxInt64))
	f.Add(uint8(3), uint8(3), 3, 3, int64(-3), int64(-1), int64(8))
	f.Fuzz(func(t *testing.T, r, c uint8, d0, d1 int, s0, s1, off int64) {
		if r == 0 || c == 0 {
			return
		}
		b := graph.NewBuilder()
		x := b.Input("x", graph.F32, int(r), int(c))
		var v *graph.Node
		require.NotPanics(t, func() { v = b.View(x, graph.Shape{d0, d1}, []int64{s0, s1}, off) })
		if b.Err() != nil {
			require.Equal(t, graph.OpInvalid, v.Op)
			return
		}
		numel := big.NewInt(int64(r) * int64(c))
		zero := big.NewInt(0)
		for _, i := range []int64{0, int64(d0 - 1)} {
			for _, j := range []int64{0, int64(d1 - 1)} {
				e := new(big.Int).Mul(big.NewInt(i), big.NewInt(s0))
				e.Add(e, new(big.Int).Mul(big.NewInt(j), big.NewInt(s1)))
				e.Add(e, big.NewInt(off))
				require.True(t, e.Cmp(zero) >= 0 && e.Cmp(numel) < 0,
					"accepted view [%d %d] strides [%d %d] offset %d of %s reaches element %v", d0, d1, s0, s1, off, x, e)
			}
		}
	})
}
