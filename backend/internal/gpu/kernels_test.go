package gpu

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

func TestCopyKernel(t *testing.T) {
	tests := []struct {
		src, dst graph.DType
		want     string
		err      string
	}{
		{graph.Q4_0, graph.Q4_0, "cpy_bytes", ""},
		{graph.F16, graph.F16, "cpy_16", ""},
		{graph.BF16, graph.BF16, "cpy_16", ""},
		{graph.F32, graph.F32, "cpy_32", ""},
		{graph.I32, graph.I32, "cpy_32", ""},
		{graph.Q8_0, graph.F32, "dq_q8_0_f32", ""},
		{graph.Q6_K, graph.BF16, "dq_q6_k_bf16", ""},
		{graph.Q4_K, graph.Q8_0, "", "converting q4_k to q8_0 is not implemented (dequantize to f32 first)"},
		{graph.F32, graph.Q4_K, "q_f32_q4_k", ""},
		{graph.F32, graph.F16, "cpy_f32_f16", ""},
		{graph.BF16, graph.F32, "cpy_bf16_f32", ""},
	}
	for _, tc := range tests {
		t.Run(tc.src.String()+"_"+tc.dst.String(), func(t *testing.T) {
			got, err := CopyKernel(tc.src, tc.dst)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
