package cuda

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// TestChooseMatMul: the kernel "auto" picks in each regime, and the
// split-K factor.
func TestChooseMatMul(t *testing.T) {
	llama1B := func(m int) graph.MatMulDims { return graph.MatMulDims{Batches: 1, M: m, N: 2048, K: 2048} }
	tests := []struct {
		name string
		cc   int
		sms  int
		md   graph.MatMulDims
		wt   graph.DType
		want matmulPlan
	}{
		{"decode f16", 90, 132, llama1B(1), graph.F16, matmulPlan{mmGEMV, 0, 1}},
		{"decode q4_0", 90, 132, llama1B(1), graph.Q4_0, matmulPlan{mmGEMV, 0, 1}},
		{"batch of 8 q8_0", 90, 132, llama1B(8), graph.Q8_0, matmulPlan{mmGEMV, 0, 1}},
		{"decode f32", 80, 108, llama1B(1), graph.F32, matmulPlan{mmGEMV, 0, 1}},
		{"prefill 512 f16: 64 tiles of 128 leave 132 SMs idle, 256 of 64 fill them", 90, 132, llama1B(512), graph.F16, matmulPlan{mmMMA, 64, 1}},
		{"prefill 2048 bf16: 256 tiles of 128", 90, 132, llama1B(2048), graph.BF16, matmulPlan{mmMMA, 128, 1}},
		{"prefill 512 q4_k on a smaller GPU", 86, 48, llama1B(512), graph.Q4_K, matmulPlan{mmMMA, 128, 1}},
		{"4096³ bf16 on an H200", 90, 132, graph.MatMulDims{Batches: 1, M: 4096, N: 4096, K: 4096}, graph.BF16, matmulPlan{mmMMA, 128, 1}},
		{"prefill 512 f32: no tf32 kernel", 90, 132, llama1B(512), graph.F32, matmulPlan{mmSIMT, 0, 1}},
		{"prefill 9 rows: 32 tiles on 132 SMs split 5", 90, 132, llama1B(9), graph.F16, matmulPlan{mmMMA, 64, 5}},
		{"prefill 64 rows, K 8192: 1 tile, split 16", 90, 132, graph.MatMulDims{Batches: 1, M: 64, N: 64, K: 8192}, graph.F16, matmulPlan{mmMMA, 64, 16}},
		{"short K is not split", 90, 132, graph.MatMulDims{Batches: 1, M: 64, N: 64, K: 128}, graph.F16, matmulPlan{mmMMA, 64, 1}},
		{"split bounded by K tiles / 4", 90, 132, graph.MatMulDims{Batches: 1, M: 64, N: 64, K: 320}, graph.F16, matmulPlan{mmMMA, 64, 2}},
		{"batched w (attention products)", 90, 132, graph.MatMulDims{Batches: 8, M: 64, N: 64, K: 64, BatchedW: true}, graph.F16, matmulPlan{mmSIMT, 0, 1}},
		{"a device below sm_80", 75, 40, llama1B(512), graph.F16, matmulPlan{mmSIMT, 0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, chooseMatMul(tt.cc, tt.sms, tt.md, tt.wt))
		})
	}
}

// TestChooseAttention: the kernel "auto" picks per regime.
func TestChooseAttention(t *testing.T) {
	dims := func(sq, sk, d, dv int) graph.AttentionDims {
		return graph.AttentionDims{Batch: 1, Sq: sq, Sk: sk, Hq: 32, Hkv: 8, D: d, Dv: dv, Group: 4, Causal: true}
	}
	tests := []struct {
		name   string
		cc     int
		a      graph.AttentionDims
		kt, vt graph.DType
		want   string
	}{
		{"decode f16 d=64", 90, dims(1, 4096, 64, 64), graph.F16, graph.F16, attnSplitKV},
		{"decode f32 d=128", 90, dims(1, 4096, 128, 128), graph.F32, graph.F32, attnSplitKV},
		{"decode f16 d=256", 90, dims(1, 4096, 256, 256), graph.F16, graph.F16, attnSplitKV},
		{"decode f32 d=256: too wide for a warp", 90, dims(1, 4096, 256, 256), graph.F32, graph.F32, attnSimple},
		{"prefill f16 d=64", 90, dims(512, 512, 64, 64), graph.F16, graph.F16, attnFlash},
		{"prefill f32 d=128", 80, dims(512, 512, 128, 128), graph.F32, graph.F32, attnFlash},
		{"prefill d=80", 80, dims(7, 7, 80, 80), graph.F16, graph.F16, attnFlash},
		{"prefill d=96", 80, dims(7, 7, 96, 96), graph.F16, graph.F16, attnFlash},
		{"prefill d=256: no instantiation", 90, dims(64, 64, 256, 256), graph.F16, graph.F16, attnSimple},
		{"prefill dv != d", 90, dims(64, 64, 64, 32), graph.F16, graph.F16, attnSimple},
		{"prefill mixed K/V dtypes", 90, dims(64, 64, 64, 64), graph.F16, graph.F32, attnSimple},
		{"below sm_80", 75, dims(64, 64, 64, 64), graph.F16, graph.F16, attnSimple},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, chooseAttention(tt.cc, tt.a, tt.kt, tt.vt))
		})
	}
}

// TestSplitKV: the grid's split count from the device and the cache, and
// the working split count from the position alone.
func TestSplitKV(t *testing.T) {
	a := graph.AttentionDims{Batch: 1, Sq: 1, Sk: 8192, Hq: 32, Hkv: 8, D: 64, Dv: 64, Group: 4, Causal: true}
	require.Equal(t, 64, splitKVMaxSplits(132, a, 8, 1), "4 waves of 132 SMs over 8 kv heads want 66: at most 64")
	require.Equal(t, 17, splitKVMaxSplits(132, a, 8, 4), "a batch of 4 needs fewer splits")
	require.Equal(t, 33, splitKVMaxSplits(66, a, 8, 1))
	require.Equal(t, 64, splitKVMaxSplits(2000, a, 1, 1), "at most 64")
	short := a
	short.Sk = 100
	require.Equal(t, 2, splitKVMaxSplits(132, short, 8, 1), "a short cache: chunks of at least 64 keys")
	require.Equal(t, 1, splitKVMaxSplits(2, a, 64, 8))
	for _, tt := range []struct{ nvis, max, want int }{
		{0, 33, 1}, {1, 33, 1}, {64, 33, 1}, {65, 33, 2}, {1000, 33, 16}, {8192, 33, 33}, {100000, 33, 33}, {500, 1, 1},
	} {
		require.Equal(t, tt.want, splitKVCount(tt.nvis, tt.max), "nvis %d, max %d", tt.nvis, tt.max)
	}
}
