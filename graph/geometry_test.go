package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

func TestMatMulDims(t *testing.T) {
	tests := []struct {
		name string
		x, w graph.Shape
		wt   graph.DType
		want graph.MatMulDims
	}{
		{"vector", graph.Shape{7}, graph.Shape{3, 7}, graph.F32,
			graph.MatMulDims{Batches: 1, M: 1, N: 3, K: 7, WRowBytes: 28}},
		{"rows of x share w", graph.Shape{2, 5, 64}, graph.Shape{9, 64}, graph.F16,
			graph.MatMulDims{Batches: 1, M: 10, N: 9, K: 64, WRowBytes: 128}},
		{"quantized w", graph.Shape{3, 256}, graph.Shape{4, 256}, graph.Q4_K,
			graph.MatMulDims{Batches: 1, M: 3, N: 4, K: 256, WRowBytes: 144}},
		{"batched w", graph.Shape{2, 3, 4, 8}, graph.Shape{2, 3, 5, 8}, graph.BF16,
			graph.MatMulDims{Batches: 6, M: 4, N: 5, K: 8, BatchedW: true, WRowBytes: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := graph.NewBuilder()
			n := b.MatMul(b.Input("x", graph.F32, tt.x...), b.Weight("w", tt.wt, tt.w...))
			require.NoError(t, b.Err())
			require.Equal(t, tt.want, n.MatMulDims())
		})
	}
}

func TestAttentionDims(t *testing.T) {
	tests := []struct {
		name    string
		q, k, v graph.Shape
		causal  bool
		want    graph.AttentionDims
	}{
		{"gqa", graph.Shape{3, 8, 16}, graph.Shape{10, 2, 16}, graph.Shape{10, 2, 12}, true,
			graph.AttentionDims{Batch: 1, Sq: 3, Sk: 10, Hq: 8, Hkv: 2, D: 16, Dv: 12, Group: 4, Causal: true}},
		{"batched", graph.Shape{2, 1, 4, 8}, graph.Shape{2, 6, 4, 8}, graph.Shape{2, 6, 4, 8}, false,
			graph.AttentionDims{Batch: 2, Sq: 1, Sk: 6, Hq: 4, Hkv: 4, D: 8, Dv: 8, Group: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := graph.NewBuilder()
			n := b.Attention(b.Input("q", graph.F32, tt.q...), b.Input("k", graph.F32, tt.k...),
				b.Input("v", graph.F16, tt.v...), graph.AttentionOpts{Causal: tt.causal})
			require.NoError(t, b.Err())
			require.Equal(t, tt.want, n.AttentionDims())
		})
	}
}

func TestAttentionVisible(t *testing.T) {
	tests := []struct {
		name string
		a    graph.AttentionDims
		pos  []int32
		want []int // per query
	}{
		{"not causal", graph.AttentionDims{Sq: 3, Sk: 5}, nil, []int{5, 5, 5}},
		{"causal, last queries", graph.AttentionDims{Sq: 3, Sk: 5, Causal: true}, nil, []int{3, 4, 5}},
		{"causal, more queries than keys", graph.AttentionDims{Sq: 4, Sk: 2, Causal: true}, nil, []int{0, 0, 1, 2}},
		{"positions, clamped", graph.AttentionDims{Sq: 4, Sk: 6, Causal: true}, []int32{-3, 0, 2, 99}, []int{0, 1, 3, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]int, tt.a.Sq)
			for i := range got {
				got[i] = tt.a.Visible(i, tt.pos)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSoftmaxDims(t *testing.T) {
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 2, 3, 5)
	causal := b.Softmax(x, graph.SoftmaxOpts{Causal: true})
	plain := b.Softmax(b.Input("v", graph.F32, 4), graph.SoftmaxOpts{})
	require.NoError(t, b.Err())

	d := causal.SoftmaxDims()
	require.Equal(t, graph.SoftmaxDims{Rows: 6, Cols: 5, Queries: 3, Causal: true}, d)
	var vis []int
	for r := range int(d.Rows) {
		vis = append(vis, d.Visible(r))
	}
	require.Equal(t, []int{3, 4, 5, 3, 4, 5}, vis)

	d = plain.SoftmaxDims()
	require.Equal(t, graph.SoftmaxDims{Rows: 1, Cols: 4, Queries: 1}, d)
	require.Equal(t, 4, d.Visible(0))

	// More queries than keys: the first rows see nothing.
	short := graph.SoftmaxDims{Rows: 4, Cols: 2, Queries: 4, Causal: true}
	require.Equal(t, []int{0, 0, 1, 2}, []int{short.Visible(0), short.Visible(1), short.Visible(2), short.Visible(3)})
}

func TestRoPEDims(t *testing.T) {
	b := graph.NewBuilder()
	pos := b.Input("pos", graph.I32, 3)
	n3 := b.RoPE(b.Input("x", graph.F32, 3, 4, 16), pos, nil, graph.RoPEParams{Dims: 8, Theta: 10000})
	n4 := b.RoPE(b.Input("y", graph.F32, 2, 3, 4, 16), pos, nil, graph.RoPEParams{Dims: 16, Theta: 10000, Mode: graph.RoPENeoX})
	require.NoError(t, b.Err())
	require.Equal(t, graph.RoPEDims{Batch: 1, Seq: 3, Heads: 4, HeadDim: 16, Dims: 8}, n3.RoPEDims())
	require.Equal(t, graph.RoPEDims{Batch: 2, Seq: 3, Heads: 4, HeadDim: 16, Dims: 16}, n4.RoPEDims())
}

func TestRoPEPair(t *testing.T) {
	tests := []struct {
		mode graph.RoPEMode
		i    int
		dims int
		a, b int
	}{
		{graph.RoPENormal, 0, 8, 0, 1},
		{graph.RoPENormal, 3, 8, 6, 7},
		{graph.RoPENeoX, 0, 8, 0, 4},
		{graph.RoPENeoX, 3, 8, 3, 7},
	}
	for _, tt := range tests {
		a, b := tt.mode.Pair(tt.i, tt.dims)
		require.Equal(t, [2]int{tt.a, tt.b}, [2]int{a, b}, "%s pair %d of %d", tt.mode, tt.i, tt.dims)
	}
}

func TestBroadcastStrides(t *testing.T) {
	tests := []struct {
		name string
		x, y graph.Shape
		want []int64
	}{
		{"same shape", graph.Shape{2, 3}, graph.Shape{2, 3}, []int64{3, 1}},
		{"row", graph.Shape{2, 3}, graph.Shape{3}, []int64{0, 1}},
		{"column", graph.Shape{2, 3}, graph.Shape{2, 1}, []int64{1, 0}},
		{"scalar-like", graph.Shape{4, 2, 3}, graph.Shape{1}, []int64{0, 0, 0}},
		{"middle", graph.Shape{4, 2, 3}, graph.Shape{2, 1}, []int64{0, 1, 0}},
		{"inner block", graph.Shape{4, 2, 3}, graph.Shape{1, 2, 3}, []int64{0, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, graph.BroadcastStrides(tt.x, tt.y))
		})
	}
}
