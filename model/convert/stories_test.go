package convert_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/convert"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/safetensors"
	"github.com/golem-llm/golem/model/safetensors/hftest"
	"github.com/golem-llm/golem/model/tokenizer"
	"github.com/golem-llm/golem/runtime"
)

// storiesHF writes stories260K (a real trained Llama, converted to GGUF by
// llama.cpp's tools) as a Hugging Face folder: the GGUF's Q and K rows
// un-permuted to Hugging Face's layout, as transformers' conversion script
// lays out Meta's weights.
func storiesHF(t *testing.T) (dir, ggufPath string) {
	ggufPath = sharedtest.SharedPath(t, "models", "stories260K.gguf")
	f, err := gguf.Open(ggufPath)
	require.NoError(t, err)
	defer f.Close()
	spec := hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 5, Heads: 8, KVHeads: 4, FFN: 172, Vocab: 512, Context: 128, Eps: 1e-5,
		Tokenizer: storiesTokenizerJSON(t), TokenizerConfig: map[string]any{"add_bos_token": true, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}}
	weights := map[string]hftest.Weight{}
	for hfName, shape := range spec.Names() {
		name, _, err := safetensors.GGUFName(hfName)
		require.NoError(t, err)
		ti, ok := f.Tensor(name)
		require.True(t, ok, name)
		require.Equal(t, shape, ti.Shape, name)
		raw, err := f.TensorData(ti)
		require.NoError(t, err)
		vals := make([]float32, ti.NumElements())
		require.NoError(t, quant.Dequantize(graph.F32, raw, vals))
		switch {
		case strings.HasSuffix(name, "attn_q.weight"):
			vals = unpermute(vals, shape, spec.Heads)
		case strings.HasSuffix(name, "attn_k.weight"):
			vals = unpermute(vals, shape, spec.KVHeads)
		}
		weights[hfName] = hftest.Weight{Shape: shape, Data: vals}
	}
	dir = filepath.Join(t.TempDir(), "stories260K")
	_, err = hftest.Write(dir, spec, weights)
	require.NoError(t, err)
	return dir, ggufPath
}

// unpermute undoes llama.cpp's Q/K permutation: HF row h*hd + s*hd/2 + i
// is GGUF row h*hd + 2i + s.
func unpermute(vals []float32, shape []int, heads int) []float32 {
	rows, cols := shape[0], shape[1]
	hd := rows / heads
	out := make([]float32, len(vals))
	for h := 0; h < heads; h++ {
		for s := 0; s < 2; s++ {
			for i := 0; i < hd/2; i++ {
				copy(out[(h*hd+s*hd/2+i)*cols:][:cols], vals[(h*hd+2*i+s)*cols:][:cols])
			}
		}
	}
	return out
}

// TestStories260K checks the converter against a file made by llama.cpp:
// converting the Hugging Face form of stories260K reproduces every tensor of
// stories260K.gguf bit for bit, the hyper-parameters and tokenization agree,
// and the folder itself runs like the GGUF.
func TestStories260K(t *testing.T) {
	dir, ref := storiesHF(t)
	out := tempPath(t, "stories260K-f32.gguf")
	require.NoError(t, convert.Convert(context.Background(), dir, out, graph.F32, convert.Options{}))

	rf, err := gguf.Open(ref)
	require.NoError(t, err)
	defer rf.Close()
	of, err := gguf.Open(out)
	require.NoError(t, err)
	defer of.Close()
	require.Len(t, of.Tensors, len(rf.Tensors))
	for _, rt := range rf.Tensors {
		ot, ok := of.Tensor(rt.Name)
		require.True(t, ok, rt.Name)
		require.Equal(t, rt.Shape, ot.Shape, rt.Name)
		require.Equal(t, rt.GGMLType, ot.GGMLType, rt.Name)
		a, err := rf.TensorData(rt)
		require.NoError(t, err)
		b, err := of.TensorData(ot)
		require.NoError(t, err)
		require.True(t, string(a) == string(b), "tensor %s differs from llama.cpp's", rt.Name)
	}
	require.Equal(t, llamaConfigOf(t, ref), llamaConfigOf(t, out))

	// Tokenization: llama.cpp's vocabulary (SentencePiece scores), the
	// folder's tokenizer.json (merges) and the converted file (scores from
	// merge ranks) agree.
	rv, err := tokenizer.FromGGUF(rf)
	require.NoError(t, err)
	ov, err := tokenizer.FromGGUF(of)
	require.NoError(t, err)
	hf, err := runtime.OpenHF(dir)
	require.NoError(t, err)
	defer hf.Close()
	hv, err := hf.Tokenizer()
	require.NoError(t, err)
	for _, text := range []string{
		"Once upon a time, there was a little girl named Lily.",
		"  She said, \"I want to play!\"\n\nThe end.",
		"Zebra ÿ unicode 日本 <s> </s>",
	} {
		want := rv.Encode(text, true, false)
		require.Equal(t, want, hv.Encode(text, true, false), "HF tokenizer: %q", text)
		require.Equal(t, want, ov.Encode(text, true, false), "converted tokenizer: %q", text)
	}

	be := cpuBackend(t)
	toks := rv.Encode("Once upon a time, there was", true, false)
	a := openLogits(t, be, ref, toks)
	b := feedLogits(t, be, hf, toks)
	require.Less(t, maxAbsDiff(a, b), 1e-4, "the HF folder runs like llama.cpp's GGUF")

	// Greedy generation from the folder gives llama2.c's story.
	ctx := context.Background()
	m, err := runtime.Load(ctx, hf, be, runtime.LoadOptions{})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(runtime.SessionOptions{Context: 128})
	require.NoError(t, err)
	defer s.Close()
	prompt := "Once upon a time"
	text, _, err := runtime.Generate(ctx, s, m.Tokenizer.Encode(prompt, true, false), runtime.GenerateOptions{MaxTokens: 40})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(prompt+text, "Once upon a time, there was a little girl named Lily. She loved to play outside"), "got %q", prompt+text)
}
