package convert

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/safetensors"
	"github.com/golem-llm/golem/model/tokenizer"
)

func TestTensorType(t *testing.T) {
	cases := []struct {
		name  string
		shape []int
		typ   graph.DType
		tied  bool
		want  graph.DType
	}{
		{"blk.0.attn_norm.weight", []int{64}, graph.Q4_0, false, graph.F32},
		{"blk.0.attn_q.bias", []int{64}, graph.F16, false, graph.F32},
		{"rope_freqs.weight", []int{32}, graph.Q8_0, false, graph.F32},
		{"blk.0.attn_q_norm.weight", []int{128}, graph.F16, false, graph.F32},
		{"blk.0.attn_q.weight", []int{64, 64}, graph.F16, false, graph.F16},
		{"blk.0.attn_q.weight", []int{64, 64}, graph.BF16, false, graph.BF16},
		{"blk.0.attn_q.weight", []int{64, 64}, graph.Q8_0, false, graph.Q8_0},
		{"blk.0.ffn_down.weight", []int{64, 172}, graph.Q8_0, false, graph.F16},
		{"blk.0.ffn_down.weight", []int{64, 172}, graph.F32, false, graph.F32},
		{"token_embd.weight", []int{512, 64}, graph.Q8_0, false, graph.Q8_0},
		{"token_embd.weight", []int{512, 64}, graph.Q4_0, false, graph.Q4_0},
		{"token_embd.weight", []int{512, 64}, graph.Q4_0, true, graph.Q8_0},
		{"token_embd.weight", []int{512, 256}, graph.Q4_0, true, graph.Q6_K},
		{"output.weight", []int{512, 256}, graph.Q4_0, false, graph.Q6_K},
		{"output.weight", []int{512, 96}, graph.Q4_0, false, graph.Q8_0},
		{"output.weight", []int{512, 100}, graph.Q4_0, false, graph.F16},
		{"output.weight", []int{512, 256}, graph.Q8_0, false, graph.Q8_0},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+c.typ.String(), func(t *testing.T) {
			require.Equal(t, c.want, tensorType(c.name, c.shape, c.typ, c.tied))
		})
	}
}

// TestPermute checks the Q/K row permutation against llama.cpp's
// definition: reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).
func TestPermute(t *testing.T) {
	cases := []struct{ rows, cols, heads int }{{8, 3, 1}, {16, 2, 2}, {64, 5, 4}, {24, 1, 3}}
	for _, c := range cases {
		src := make([]float32, c.rows*c.cols)
		for i := range src {
			src[i] = float32(i)
		}
		in := make([]byte, 4*len(src))
		for i, v := range src {
			binary.LittleEndian.PutUint32(in[4*i:], math.Float32bits(v))
		}
		out := make([]byte, len(in))
		shape := []int{c.rows, c.cols}
		if c.cols == 1 {
			shape = []int{c.rows} // a bias
		}
		j := &job{info: safetensors.TensorInfo{Name: "blk.0.attn_q.weight", DType: graph.F32, Shape: shape}, out: graph.F32, heads: c.heads}
		require.NoError(t, convertTensor(j, in, out, 3, false))
		half := c.rows / c.heads / 2
		for h := 0; h < c.heads; h++ {
			for s := 0; s < 2; s++ {
				for i := 0; i < half; i++ {
					// Element [h][s][i] of the reshaped source lands at [h][i][s].
					srcRow := (h*2+s)*half + i
					dstRow := (h*half+i)*2 + s
					for col := 0; col < c.cols; col++ {
						got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*(dstRow*c.cols+col):]))
						require.Equal(t, src[srcRow*c.cols+col], got)
					}
				}
			}
		}
	}
}

func TestMergeScores(t *testing.T) {
	tokens := []string{"<unk>", "a", "b", "ab", "c", "abc", "bc"}
	merges := []string{"a b", "b c", "ab c", "a bc"}
	require.Equal(t, []float32{0, 0, 0, -1, 0, -3, -2}, mergeScores(tokens, merges))
}

func TestGGUFVocabPadding(t *testing.T) {
	v := &tokenizer.Vocab{Model: "llama", Tokens: []string{"<unk>", "a", "b", "ab"}, Merges: []string{"a b"}}
	out, err := ggufVocab(v, 6)
	require.NoError(t, err)
	require.Equal(t, []string{"<unk>", "a", "b", "ab", "[PAD4]", "[PAD5]"}, out.Tokens)
	require.Equal(t, []float32{0, 0, 0, -1, -1000, -1000}, out.Scores)
	require.Equal(t, []int32{1, 1, 1, 1, tokenizer.TypeUnused, tokenizer.TypeUnused}, out.Types)
	require.Nil(t, out.Merges)
	require.Equal(t, []string{"<unk>", "a", "b", "ab"}, v.Tokens, "input not modified")
	_, err = ggufVocab(v, 3)
	require.ErrorContains(t, err, "the tokenizer has 4 tokens, the model's embeddings only 3")
}

// TestOverflowAt checks the limits against the encoders: the float32 just
// below each limit stays finite, the limit itself becomes infinite.
func TestOverflowAt(t *testing.T) {
	require.Len(t, overflowAt, 2)
	for dt, limit := range overflowAt {
		in := []float32{math.Nextafter32(float32(limit), 0), float32(limit), -float32(limit)}
		buf := make([]byte, 2*len(in))
		require.NoError(t, quant.Quantize(dt, in, buf))
		out := make([]float32, len(in))
		require.NoError(t, quant.Dequantize(dt, buf, out))
		require.False(t, math.IsInf(float64(out[0]), 0), "%s: %v", dt, out[0])
		require.True(t, math.IsInf(float64(out[1]), 1), "%s: %v", dt, out[1])
		require.True(t, math.IsInf(float64(out[2]), -1), "%s: %v", dt, out[2])
	}
}
