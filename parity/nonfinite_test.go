package parity_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf/gguftest"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// brokenStories is stories260K with one weight element replaced by v.
func brokenStories(t *testing.T, tensor string, i int, v float32) runtime.Source {
	t.Helper()
	path := gguftest.Rewrite(t, sharedtest.SharedPath(t, "models", "stories260K.gguf"),
		gguftest.Edit{Tensor: gguftest.Tensors(map[string]func([]byte){tensor: gguftest.SetF32(i, v)})})
	src, err := runtime.OpenGGUF(path)
	require.NoError(t, err)
	t.Cleanup(func() { src.Close() })
	return src
}

func TestFirstNonFiniteNamesTheNodeAndWeight(t *testing.T) {
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	ids := []int32{1, 403, 407, 261, 378}
	tests := []struct {
		tensor           string
		elem             int
		v                float32
		layer, op, name  string
		describe         string
		weightNonFinites int
	}{
		{"output.weight", 17*64 + 3, float32(math.Inf(1)), "output", "matmul", "logits",
			`output matmul "logits" (5 of 2560 values non-finite, first `, 1},
		{"blk.2.ffn_down.weight", 5, float32(math.NaN()), "blk.2", "matmul", "blk.2.ffn_out",
			`blk.2 matmul "blk.2.ffn_out" (`, 1},
		{"blk.0.attn_norm.weight", 0, float32(math.Inf(-1)), "blk.0", "mul", "blk.0.attn_norm",
			`blk.0 mul "blk.0.attn_norm" (5 of 320 values non-finite, first `, 1},
	}
	for _, tc := range tests {
		t.Run(tc.tensor, func(t *testing.T) {
			src := brokenStories(t, tc.tensor, tc.elem, tc.v)
			n, err := parity.FirstNonFinite(t.Context(), src, be, ids, 0)
			require.NoError(t, err)
			require.NotNil(t, n)
			require.Equal(t, tc.layer, n.Layer)
			require.Equal(t, tc.op, n.Op)
			require.Equal(t, tc.name, n.Name)
			require.Contains(t, n.Describe(), tc.describe)
			require.Len(t, n.Weights, 1)
			require.Equal(t, tc.tensor, n.Weights[0].Name)
			require.Equal(t, tc.weightNonFinites, n.Weights[0].Count)
			require.Contains(t, n.Describe(), `weight "`+tc.tensor+`" holds 1 NaN/Inf value`)
		})
	}
	// A healthy model has none; a run larger than the bound is refused.
	src, _, _, _ := openStories(t)
	n, err := parity.FirstNonFinite(t.Context(), src, be, ids, 0)
	require.NoError(t, err)
	require.Nil(t, n)
	_, err = parity.FirstNonFinite(t.Context(), src, be, ids, 1024)
	require.ErrorContains(t, err, "the activations of 5 tokens take")
	_, err = parity.FirstNonFinite(t.Context(), src, be, nil, 0)
	require.ErrorContains(t, err, "no tokens")
}

// TestCompareModelReportsNonFiniteGeneration: NaN/Inf logits are a parity
// result (a failed gate), not an error that hides the report.
func TestCompareModelReportsNonFiniteGeneration(t *testing.T) {
	_, fast, ref, ids := openStories(t)
	src := brokenStories(t, "output.weight", 17*64+3, float32(math.Inf(1)))
	r, err := parity.CompareModel(t.Context(), src, fast, ref, ids, parity.ModelOptions{Generate: 4})
	require.NoError(t, err)
	require.False(t, r.Pass)
	require.Equal(t, "non-finite", r.GenA.StopReason)
	require.Contains(t, r.Failures, "cpu: greedy generation: "+r.GenA.Error)
	require.Contains(t, r.GenA.Error, "non-finite logits at position")
}
