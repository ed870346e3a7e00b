package bench

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

func TestAttnFLOPsAndBytes(t *testing.T) {
	tests := []struct {
		spec         string
		pairs        int64
		flops, bytes float64
	}{
		{ // non-causal: every (query, key) pair; Q and O f32, K and V f16
			spec: "prefill:b1,h32,kv8,d128,s2048", pairs: 2048 * 2048,
			flops: 4 * 32 * 128 * 2048 * 2048,
			bytes: 2*4*2048*32*128 + 2*2*2048*8*128,
		},
		{ // causal square: S(S+1)/2 pairs
			spec: "prefill:b1,h32,kv8,d128,s2048,causal", pairs: 2048 * 2049 / 2,
			flops: 4 * 32 * 128 * 2048 * 2049 / 2,
			bytes: 2*4*2048*32*128 + 2*2*2048*8*128,
		},
		{ // causal over a longer cache: query i sees Skv−Sq+i+1 keys: 7+8+9+10
			spec: "prefill:b2,h4,kv2,d64,s4,skv10,causal,f32", pairs: 34,
			flops: 4 * 2 * 4 * 64 * 34,
			bytes: 2*4*2*4*4*64 + 2*4*2*10*2*64,
		},
		{ // bf16 K and V: two bytes each, as f16
			spec: "decode:b1,h32,kv8,d128,kv4096,bf16", pairs: 4096,
			flops: 4 * 32 * 128 * 4096,
			bytes: 2*4*32*128 + 2*2*4096*8*128,
		},
		{ // decode: one query sees every key
			spec: "decode:b4,h32,kv8,d128,kv4096", pairs: 4096,
			flops: 4 * 4 * 32 * 128 * 4096,
			bytes: 2*4*4*1*32*128 + 2*2*4*4096*8*128,
		},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseAttnShape(tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.pairs, s.Pairs())
			require.Equal(t, tc.flops, s.FLOPs())
			require.Equal(t, tc.bytes, s.Bytes())
		})
	}
}

func TestMatMulFLOPsAndBytes(t *testing.T) {
	tests := []struct {
		s            MatMulShape
		name         string
		flops, bytes float64
	}{
		{MatMulShape{M: 1, N: 4096, K: 4096, W: graph.Q4_0}, "gemv:q4_0,m1,n4096,k4096",
			2 * 4096 * 4096, 4*4096 + 4096*(4096/32*18) + 4*4096},
		{MatMulShape{M: 512, N: 1024, K: 2048, W: graph.F16}, "gemm:f16,m512,n1024,k2048",
			2 * 512 * 1024 * 2048, 4*512*2048 + 2*1024*2048 + 4*512*1024},
		{MatMulShape{M: 3, N: 10, K: 256, W: graph.Q4_K}, "gemm:q4_k,m3,n10,k256",
			2 * 3 * 10 * 256, 4*3*256 + 10*144 + 4*3*10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.s.Validate())
			require.Equal(t, tc.name, tc.s.String())
			require.Equal(t, tc.flops, tc.s.FLOPs())
			require.Equal(t, tc.bytes, tc.s.Bytes())
		})
	}
	require.Error(t, MatMulShape{M: 1, N: 1, K: 100, W: graph.Q4_0}.Validate(), "K not a whole number of blocks")
	require.Error(t, MatMulShape{M: 1, N: 1, K: 32, W: graph.I32}.Validate())
}

func TestParseAttnShape(t *testing.T) {
	tests := []struct {
		spec string
		want AttnShape
		back string
	}{
		{"prefill:b1,h32,kv8,d128,s2048,causal",
			AttnShape{KindPrefill, 1, 32, 8, 128, 2048, 2048, true, graph.F16}, "prefill:b1,h32,kv8,d128,s2048,causal"},
		{"decode:b4,h32,kv8,d128,kv4096",
			AttnShape{KindDecode, 4, 32, 8, 128, 1, 4096, true, graph.F16}, "decode:b4,h32,kv8,d128,kv4096"},
		{" Prefill: s512 , f32 ",
			AttnShape{KindPrefill, 1, 32, 32, 128, 512, 512, false, graph.F32}, "prefill:b1,h32,kv32,d128,s512,f32"},
		{"decode:h8,hkv2,d64,len1024",
			AttnShape{KindDecode, 1, 8, 2, 64, 1, 1024, true, graph.F16}, "decode:b1,h8,kv2,d64,kv1024"},
		{"prefill:h4,kv1,d64,s16,skv64,causal",
			AttnShape{KindPrefill, 1, 4, 1, 64, 16, 64, true, graph.F16}, "prefill:b1,h4,kv1,d64,s16,skv64,causal"},
		{"decode:b2,h8,kv2,d64,kv512,BF16",
			AttnShape{KindDecode, 2, 8, 2, 64, 1, 512, true, graph.BF16}, "decode:b2,h8,kv2,d64,kv512,bf16"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := ParseAttnShape(tc.spec)
			require.NoError(t, err)
			require.Equal(t, tc.want, s)
			require.Equal(t, tc.back, s.String())
			again, err := ParseAttnShape(s.String())
			require.NoError(t, err)
			require.Equal(t, s, again)
		})
	}
	for _, bad := range []string{
		"", "prefill", "attn:s8", "prefill:b1", "decode:h8,kv2", "prefill:s8,h6,kv4",
		"prefill:s8,x3", "prefill:s0", "prefill:s8,q8_0", "prefill:s8,i32", "prefill:s8,kv2,kv4,kv8", "prefill:s16,skv8,causal", "decode:s4,kv2,kv64",
	} {
		_, err := ParseAttnShape(bad)
		require.Error(t, err, bad)
	}
	// Sizes whose byte count overflows int64 are refused when parsed (they
	// used to pass the memory check with a wrapped-around size and crash).
	_, err := ParseAttnShape("decode:b99999999,h99999,kv1,d999999,kv1")
	require.ErrorContains(t, err, "overflows 64 bits")
}

func TestParseAttnShapesAndPresets(t *testing.T) {
	for _, name := range AttnPresetNames() {
		shapes, err := ParseAttnShapes(name)
		require.NoError(t, err, name)
		require.NotEmpty(t, shapes, name)
		seen := map[string]bool{}
		for _, s := range shapes {
			require.NoError(t, s.Validate(), s.String())
			require.False(t, seen[s.String()], "duplicate %s in %s", s, name)
			seen[s.String()] = true
		}
	}
	quick, err := AttnPreset("quick")
	require.NoError(t, err)
	require.LessOrEqual(t, len(quick), 8)
	for _, s := range quick {
		require.LessOrEqual(t, s.FLOPs(), 3e8, "quick shapes must be small: %s", s)
	}
	list, err := ParseAttnShapes("prefill:b1,h32,kv8,d128,s2048,causal;decode:b4,h32,kv8,d128,kv4096;prefill:b1,h32,kv8,d128,s2048,causal;")
	require.NoError(t, err)
	require.Len(t, list, 2)
	_, err = ParseAttnShapes("huge")
	require.Error(t, err)
	_, err = ParseAttnShapes(" ; ")
	require.Error(t, err)
}

func TestReducedShapes(t *testing.T) {
	full, err := AttnPreset("full")
	require.NoError(t, err)
	for _, s := range full {
		r := s.reduced(CheckBudgetFLOPs)
		require.NoError(t, r.Validate(), "%s → %s", s, r)
		require.LessOrEqual(t, r.FLOPs(), CheckBudgetFLOPs, "%s → %s", s, r)
		require.Equal(t, s.HeadDim, r.HeadDim)
		require.Equal(t, s.Heads/s.KVHeads, r.Heads/r.KVHeads, "GQA ratio of %s → %s", s, r)
		require.Equal(t, s.Causal, r.Causal)
		require.Equal(t, s.Kind, r.Kind)
		require.Equal(t, s.KVType, r.KVType)
	}
	small := AttnShape{KindPrefill, 1, 2, 1, 64, 8, 8, true, graph.F16}
	require.Equal(t, small, small.reduced(CheckBudgetFLOPs))

	for _, s := range MatMulGrid(4096, MatMulTypes()) {
		r := s.reduced(CheckBudgetFLOPs)
		require.NoError(t, r.Validate())
		require.LessOrEqual(t, r.FLOPs(), CheckBudgetFLOPs, "%s → %s", s, r)
		require.Equal(t, s.K, r.K)
		require.Equal(t, s.W, r.W)
	}
}

func TestSummarize(t *testing.T) {
	st := summarize([]float64{5, 1, 4, 2, 3})
	require.Equal(t, stats{n: 5, median: 3, min: 1, max: 5, q1: 2, q3: 4, mean: 3, std: 1.5811388300841898}, st)
	st = summarize([]float64{2, 1})
	require.Equal(t, 1.5, st.median)
	require.Equal(t, 1.25, st.q1)
	require.Equal(t, stats{}, summarize(nil))
	require.Equal(t, stats{n: 1, median: 7, min: 7, max: 7, q1: 7, q3: 7, mean: 7}, summarize([]float64{7}))
}

func TestRoofline(t *testing.T) {
	r := Result{FLOPs: 1e12, Bytes: 1e10, MedianS: 1, PeakTFLOPS: 10, PeakGBps: 100}
	r.derive()
	require.Equal(t, 100.0, r.Intensity)
	require.InDelta(t, 1.0, r.TFLOPS, 1e-12)
	require.InDelta(t, 10.0, r.GBps, 1e-12)
	// The roof at AI 100 is min(10 TFLOP/s, 100·100 GB/s = 10 TFLOP/s): 10%.
	require.InDelta(t, 10.0, r.RooflinePct, 1e-9)
	r.Bytes = 1e11 // AI 10: memory-bound roof 1 TFLOP/s
	r.derive()
	require.InDelta(t, 100.0, r.RooflinePct, 1e-9)
	require.Equal(t, "memory", r.Bound())
	r.Bytes = 1e9 // AI 1000: compute-bound
	r.derive()
	require.Equal(t, "compute", r.Bound())
	require.InDelta(t, 10.0, r.RooflinePct, 1e-9)
	none := Result{FLOPs: 1, Bytes: 1, MedianS: 1}
	none.derive()
	require.Zero(t, none.RooflinePct)
	require.Empty(t, none.Bound())
}
