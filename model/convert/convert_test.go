package convert_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/convert"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/safetensors/hftest"
	"github.com/golem-llm/golem/model/tokenizer"
	"github.com/golem-llm/golem/runtime"
)

var testTokens = []int32{1, 37, 100, 200, 5, 300, 411, 77, 500}

// TestHFMatchesConverted is the key test of the converter: the same random
// weights run from the Hugging Face folder (NeoX RoPE on unpermuted Q/K) and
// from the converted F32 GGUF (adjacent-pairs RoPE on permuted Q/K) give the
// same logits.
func TestHFMatchesConverted(t *testing.T) {
	tokJSON := storiesTokenizerJSON(t)
	llama3 := map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
	cases := []struct {
		name    string
		spec    hftest.Spec
		permute bool // llama.cpp permutes Q/K for this architecture
	}{
		{"llama gqa bf16", hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128, DType: "BF16"}, true},
		{"llama mha f32 sharded", hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 2, Heads: 4, KVHeads: 4, FFN: 128, Shards: 3}, true},
		{"mistral tied head_dim 32", hftest.Spec{Arch: "MistralForCausalLM", Dim: 64, Layers: 2, Heads: 4, KVHeads: 1, HeadDim: 32, FFN: 96, Tied: true, DType: "BF16"}, true},
		{"llama3 scaling", hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128, RopeTheta: 500000, RopeScaling: llama3}, true},
		{"linear scaling", hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128, RopeScaling: map[string]any{"type": "linear", "factor": 2.0}}, true},
		{"qwen2 bias", hftest.Spec{Arch: "Qwen2ForCausalLM", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128, RopeTheta: 1e6, Tied: true, DType: "BF16"}, false},
		{"qwen3 qk norm", hftest.Spec{Arch: "Qwen3ForCausalLM", Dim: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 32, FFN: 128, RopeTheta: 1e6, Eps: 1e-6}, false},
	}
	be := cpuBackend(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model")
			c.spec.Vocab, c.spec.Seed, c.spec.Tokenizer = 512, uint64(i+1), tokJSON
			_, err := hftest.Write(dir, c.spec, nil)
			require.NoError(t, err)
			out := tempPath(t, "model-f32.gguf")
			require.NoError(t, convert.Convert(context.Background(), dir, out, graph.F32, convert.Options{}))

			hf, err := runtime.OpenSource(dir)
			require.NoError(t, err)
			defer hf.Close()
			require.Equal(t, graph.RoPENeoX, hf.Config().RopeMode)
			g, err := runtime.OpenSource(out)
			require.NoError(t, err)
			defer g.Close()
			wantMode := graph.RoPENeoX
			if c.permute {
				wantMode = graph.RoPENormal
			}
			require.Equal(t, wantMode, g.Config().RopeMode)

			// Same hyper-parameters, apart from the RoPE layout and the Llama 3
			// scaling, which the GGUF carries as rope_freqs.weight.
			hc, gc := *hf.Config(), *g.Config()
			hc.RopeMode, gc.RopeMode = 0, 0
			if hc.RopeScaling != nil {
				_, _, err := g.Weights()("rope_freqs.weight")
				require.NoError(t, err)
				hc.RopeScaling = nil
			}
			require.Equal(t, hc, gc)

			a := feedLogits(t, be, hf, testTokens)
			b := feedLogits(t, be, g, testTokens)
			t.Logf("max |HF - GGUF| = %.3g", maxAbsDiff(a, b))
			require.Less(t, maxAbsDiff(a, b), 1e-4, "HF and converted GGUF logits differ")

			if c.permute {
				// The comparison is sensitive: the HF weights run with the GGUF
				// RoPE layout (Q/K not permuted) give different logits.
				wrong := *hf.Config()
				wrong.RopeMode = graph.RoPENormal
				w := feedLogits(t, be, modeSource{hf, &wrong}, testTokens)
				t.Logf("max |HF - HF with the wrong RoPE layout| = %.3g", maxAbsDiff(a, w))
				require.Greater(t, maxAbsDiff(a, w), 1e-2, "a wrong RoPE layout should change the logits")
			}
		})
	}
}

// TestQuantizedRoundTrip converts one model to every output type and checks
// the files' metadata, tensor names, shapes and types, and that their
// logits stay close to the F32 file's.
func TestQuantizedRoundTrip(t *testing.T) {
	tokJSON := storiesTokenizerJSON(t)
	dir := filepath.Join(t.TempDir(), "tiny-llama")
	// ffn 80 is not a multiple of 32: ffn_down falls back to F16 for the block types.
	spec := hftest.Spec{Arch: "LlamaForCausalLM", Dim: 256, Layers: 2, Heads: 4, KVHeads: 2, FFN: 80, Vocab: 512, DType: "BF16", Seed: 42, Tokenizer: tokJSON,
		TokenizerConfig: map[string]any{"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}}
	_, err := hftest.Write(dir, spec, nil)
	require.NoError(t, err)
	be := cpuBackend(t)

	ref := tempPath(t, "ref-f32.gguf")
	require.NoError(t, convert.Convert(context.Background(), dir, ref, graph.F32, convert.Options{}))
	refLogits := openLogits(t, be, ref, testTokens)
	hfLogits := openLogits(t, be, dir, testTokens)
	require.Less(t, maxAbsDiff(refLogits, hfLogits), 1e-4)

	cases := []struct {
		typ      graph.DType
		ftype    uint32
		ffnDown  graph.DType
		output   graph.DType
		embd     graph.DType
		maxKL    float64
		minTop1  float64
		maxDelta float64
	}{
		{graph.F32, 0, graph.F32, graph.F32, graph.F32, 1e-9, 1, 1e-5},
		{graph.F16, 1, graph.F16, graph.F16, graph.F16, 1e-4, 1, 0},
		{graph.BF16, 32, graph.BF16, graph.BF16, graph.BF16, 1e-9, 1, 1e-5}, // bf16 weights are exact
		{graph.Q8_0, 7, graph.F16, graph.Q8_0, graph.Q8_0, 1e-3, 1, 0},
		{graph.Q4_0, 2, graph.F16, graph.Q6_K, graph.Q4_0, 5e-2, 0.5, 0}, // random weights: near ties
	}
	for _, c := range cases {
		t.Run(c.typ.String(), func(t *testing.T) {
			out := tempPath(t, "tiny-"+c.typ.String()+".gguf")
			var calls int
			var last, total int64
			require.NoError(t, convert.Convert(context.Background(), dir, out, c.typ, convert.Options{Threads: 3, Progress: func(done, tot int64) {
				calls++
				require.GreaterOrEqual(t, done, last)
				last, total = done, tot
			}}))
			require.Equal(t, total, last)

			f, err := gguf.Open(out)
			require.NoError(t, err)
			defer f.Close()
			keys := map[string]any{
				"general.architecture":                   "llama",
				"general.name":                           "tiny-llama",
				"general.file_type":                      uint64(c.ftype),
				"general.quantization_version":           uint64(2),
				"llama.block_count":                      uint64(2),
				"llama.context_length":                   uint64(256),
				"llama.embedding_length":                 uint64(256),
				"llama.feed_forward_length":              uint64(80),
				"llama.attention.head_count":             uint64(4),
				"llama.attention.head_count_kv":          uint64(2),
				"llama.rope.dimension_count":             uint64(64),
				"llama.vocab_size":                       uint64(512),
				"llama.rope.freq_base":                   float64(10000),
				"llama.attention.layer_norm_rms_epsilon": float64(float32(1e-5)),
				"tokenizer.ggml.model":                   "llama",
				"tokenizer.ggml.pre":                     "default",
				"tokenizer.ggml.bos_token_id":            uint64(1),
				"tokenizer.ggml.eos_token_id":            uint64(2),
				"tokenizer.ggml.unknown_token_id":        uint64(0),
				"tokenizer.ggml.add_bos_token":           true,
				"tokenizer.ggml.add_eos_token":           false,
				"tokenizer.chat_template":                "{% for m in messages %}{{ m.content }}{% endfor %}",
			}
			for k, want := range keys {
				v, ok := f.Get(k)
				require.True(t, ok, k)
				switch w := want.(type) {
				case string:
					s, _ := v.Str()
					require.Equal(t, w, s, k)
				case uint64:
					x, ok := v.Uint()
					require.True(t, ok, k)
					require.Equal(t, w, x, k)
				case float64:
					x, ok := v.Float()
					require.True(t, ok, k)
					require.Equal(t, w, x, k)
				case bool:
					x, ok := v.Bool()
					require.True(t, ok, k)
					require.Equal(t, w, x, k)
				}
			}
			_, ok := f.Get("llama.attention.key_length")
			require.False(t, ok, "key_length is written only for an explicit head_dim")
			toks, err := f.GetStrings("tokenizer.ggml.tokens")
			require.NoError(t, err)
			require.Len(t, toks, 512)

			// Names and shapes as in the F32 file, types as llama.cpp chooses them.
			rf, err := gguf.Open(ref)
			require.NoError(t, err)
			defer rf.Close()
			require.Len(t, f.Tensors, len(rf.Tensors))
			for i, tt := range f.Tensors {
				require.Equal(t, rf.Tensors[i].Name, tt.Name)
				require.Equal(t, rf.Tensors[i].Shape, tt.Shape)
				dt, err := tt.DType()
				require.NoError(t, err)
				want := c.typ
				switch {
				case len(tt.Shape) == 1:
					want = graph.F32
				case tt.Name == "output.weight":
					want = c.output
				case tt.Name == "token_embd.weight":
					want = c.embd
				case filepath.Ext(tt.Name) == ".weight" && tt.Shape[1] == 80:
					want = c.ffnDown
				}
				require.Equal(t, want, dt, tt.Name)
			}

			got := openLogits(t, be, out, testTokens)
			kl, top1 := compareRows(refLogits, got, 512)
			t.Logf("%s: KL %.3g, top-1 agreement %.2f, max |Δ| %.3g", c.typ, kl, top1, maxAbsDiff(refLogits, got))
			require.Less(t, kl, c.maxKL)
			require.GreaterOrEqual(t, top1, c.minTop1)
			if c.maxDelta > 0 {
				require.Less(t, maxAbsDiff(refLogits, got), c.maxDelta)
			}
		})
	}
}

// byteLevelSpec is a Qwen2 model with a byte-level BPE tokenizer of fewer
// tokens than its embeddings (padded in the GGUF).
func byteLevelSpec(t *testing.T) (hftest.Spec, map[string]int) {
	merges := [][2]string{{"t", "h"}, {"h", "e"}, {"th", "e"}, {" ", "t"}, {" t", "he"}, {"c", "a"}, {"ca", "t"}, {" ", "ca"}, {" ca", "t"}, {"i", "s"}}
	tok, ids, err := hftest.ByteLevelTokenizerJSON(merges, []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"})
	require.NoError(t, err)
	spec := hftest.Spec{Arch: "Qwen2ForCausalLM", Dim: 64, Layers: 1, Heads: 2, KVHeads: 1, FFN: 64, Vocab: 320, Tied: true, Seed: 9, Tokenizer: tok,
		Config: map[string]any{"bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"]},
		TokenizerConfig: map[string]any{
			"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "bos_token": nil,
			"chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}",
		}}
	return spec, ids
}

func TestByteLevelVocab(t *testing.T) {
	spec, ids := byteLevelSpec(t)
	dir := filepath.Join(t.TempDir(), "qwen")
	_, err := hftest.Write(dir, spec, nil)
	require.NoError(t, err)
	out := tempPath(t, "qwen.gguf")
	require.NoError(t, convert.Convert(context.Background(), dir, out, graph.Q8_0, convert.Options{Name: "Tiny Qwen"}))
	f, err := gguf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for k, want := range map[string]string{
		"general.architecture": "qwen2", "general.name": "Tiny Qwen", "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
	} {
		got, err := f.GetString(k)
		require.NoError(t, err)
		require.Equal(t, want, got, k)
	}
	merges, err := f.GetStrings("tokenizer.ggml.merges")
	require.NoError(t, err)
	require.Equal(t, []string{"t h", "h e", "th e", "Ġ t", "Ġt he", "c a", "ca t", "Ġ ca", "Ġca t", "i s"}, merges)
	toks, err := f.GetStrings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	require.Len(t, toks, 320)
	require.Equal(t, "[PAD319]", toks[319])
	types, ok := f.Get("tokenizer.ggml.token_type")
	require.True(t, ok)
	tt, _ := types.Int32s()
	require.Equal(t, tokenizer.TypeUnused, tt[319])
	require.Equal(t, tokenizer.TypeControl, tt[ids["<|im_end|>"]])
	_, hasScores := f.Get("tokenizer.ggml.scores")
	require.False(t, hasScores)
	for k, want := range map[string]uint64{
		"tokenizer.ggml.bos_token_id":     uint64(ids["<|endoftext|>"]),
		"tokenizer.ggml.eos_token_id":     uint64(ids["<|im_end|>"]),
		"tokenizer.ggml.padding_token_id": uint64(ids["<|endoftext|>"]),
	} {
		got, err := f.GetUint(k)
		require.NoError(t, err)
		require.Equal(t, want, got, k)
	}
	_, hasOutput := f.Tensor("output.weight")
	require.False(t, hasOutput, "tied model")
	embd, _ := f.Tensor("token_embd.weight")
	dt, _ := embd.DType()
	require.Equal(t, graph.Q8_0, dt)

	// The GGUF's tokenizer encodes as the folder's.
	hf, err := runtime.OpenHF(dir)
	require.NoError(t, err)
	defer hf.Close()
	g, err := runtime.OpenGGUF(out)
	require.NoError(t, err)
	defer g.Close()
	require.Equal(t, hf.ChatTemplate(), g.ChatTemplate())
	ht, err := hf.Tokenizer()
	require.NoError(t, err)
	gt, err := g.Tokenizer()
	require.NoError(t, err)
	for _, text := range []string{"the cat is", " the  cat\n\nthe", "<|im_start|>user\nthe cat<|im_end|>", "héllo 123"} {
		require.Equal(t, ht.Encode(text, true, true), gt.Encode(text, true, true), text)
	}
	require.True(t, gt.IsEOG(int32(ids["<|im_end|>"])))
}

func TestConvertErrors(t *testing.T) {
	tokJSON := storiesTokenizerJSON(t)
	good := hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 1, Heads: 2, KVHeads: 2, FFN: 64, Vocab: 512, Tokenizer: tokJSON}
	cases := []struct {
		name string
		spec func() (hftest.Spec, map[string]hftest.Weight)
		typ  graph.DType
		want string
	}{
		{"q4_k output", func() (hftest.Spec, map[string]hftest.Weight) { return good, nil }, graph.Q4_K, "output type q4_k is not supported"},
		{"vocab larger than embeddings", func() (hftest.Spec, map[string]hftest.Weight) {
			s := good
			s.Vocab = 500
			return s, nil
		}, graph.F16, "the tokenizer has 512 tokens, the model's embeddings only 500"},
		{"no tokenizer", func() (hftest.Spec, map[string]hftest.Weight) {
			s := good
			s.Tokenizer = nil
			return s, nil
		}, graph.F16, "tokenizer.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s, w := c.spec()
			_, err := hftest.Write(dir, s, w)
			require.NoError(t, err)
			out := filepath.Join(t.TempDir(), "out.gguf")
			err = convert.Convert(context.Background(), dir, out, c.typ, convert.Options{})
			require.ErrorContains(t, err, c.want)
			matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*"))
			require.Empty(t, matches, "no output or scratch file left behind")
		})
	}
}

// TestConvertNonFinite checks that every output type refuses NaN and
// infinite weights alike (tensors copied as they are included), naming the
// tensor and the element, and that AllowNonFinite writes them to the float
// types while the block types still refuse them.
func TestConvertNonFinite(t *testing.T) {
	tokJSON := storiesTokenizerJSON(t)
	spec := hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 1, Heads: 2, KVHeads: 2, FFN: 64, Vocab: 512, Tokenizer: tokJSON}
	nan := float32(math.NaN())
	type poke struct {
		hf   string
		i    int
		v    float32
		gguf string
	}
	cases := []struct {
		name  string
		poke  poke
		typ   graph.DType
		allow bool
		want  string // "" when the conversion succeeds
	}{
		// Refused for every type: copied (f32), converted (f16, bf16) or quantized.
		{"inf f32", poke{"model.layers.0.mlp.up_proj.weight", 70, float32(math.Inf(1)), "blk.0.ffn_up.weight"}, graph.F32, false,
			`tensor "blk.0.ffn_up.weight" (model.layers.0.mlp.up_proj.weight): element 70 is +Inf: non-finite weights are refused`},
		{"nan f16", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.F16, false, "element 70 is NaN: non-finite weights are refused"},
		{"nan bf16", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.BF16, false, "element 70 is NaN: non-finite weights are refused"},
		{"nan q8_0", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.Q8_0, false, "element 70 is NaN: non-finite weights are refused"},
		{"nan q4_0", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.Q4_0, false, "element 70 is NaN: non-finite weights are refused"},
		{"nan norm q8_0", poke{"model.norm.weight", 3, nan, "output_norm.weight"}, graph.Q8_0, false,
			`tensor "output_norm.weight" (model.norm.weight): element 3 is NaN`},
		// The index is the checkpoint's, before llama.cpp's Q/K row permutation.
		{"nan permuted q", poke{"model.layers.0.self_attn.q_proj.weight", 130, nan, "blk.0.attn_q.weight"}, graph.F32, false,
			`tensor "blk.0.attn_q.weight" (model.layers.0.self_attn.q_proj.weight): element 130 is NaN`},
		{"f16 overflow", poke{"model.layers.0.mlp.up_proj.weight", 5, 70000, "blk.0.ffn_up.weight"}, graph.F16, false,
			"element 5 = 70000 lies beyond f16's range and would be stored as infinite: non-finite weights are refused"},
		{"f16 largest", poke{"model.layers.0.mlp.up_proj.weight", 5, 65519, "blk.0.ffn_up.weight"}, graph.F16, false, ""},
		{"70000 in bf16", poke{"model.layers.0.mlp.up_proj.weight", 5, 70000, "blk.0.ffn_up.weight"}, graph.BF16, false, ""},
		// Allowed: the float types keep them, the block types cannot.
		{"allow f32", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.F32, true, ""},
		{"allow f16", poke{"model.layers.0.mlp.up_proj.weight", 70, float32(math.Inf(-1)), "blk.0.ffn_up.weight"}, graph.F16, true, ""},
		{"allow f16 overflow", poke{"model.layers.0.mlp.up_proj.weight", 5, 70000, "blk.0.ffn_up.weight"}, graph.F16, true, ""},
		{"allow bf16", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.BF16, true, ""},
		{"allow q8_0", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.Q8_0, true,
			"element 70 is NaN: q8_0 cannot hold non-finite values (convert to f32, f16 or bf16 to keep them)"},
		{"allow q4_0", poke{"model.layers.0.mlp.up_proj.weight", 70, nan, "blk.0.ffn_up.weight"}, graph.Q4_0, true,
			"element 70 is NaN: q4_0 cannot hold non-finite values"},
		{"allow norm q4_0", poke{"model.norm.weight", 3, nan, "output_norm.weight"}, graph.Q4_0, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w := spec.Random()
			w[c.poke.hf].Data[c.poke.i] = c.poke.v
			_, err := hftest.Write(dir, spec, w)
			require.NoError(t, err)
			out := filepath.Join(t.TempDir(), "out.gguf")
			err = convert.Convert(context.Background(), dir, out, c.typ, convert.Options{Threads: 2, AllowNonFinite: c.allow})
			if c.want != "" {
				require.ErrorContains(t, err, c.want)
				require.Equal(t, !c.allow, errors.Is(err, convert.ErrNonFinite), "ErrNonFinite is wrapped when the flag would help")
				matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*"))
				require.Empty(t, matches, "no output or scratch file left behind")
				return
			}
			require.NoError(t, err)
			// The value is where it was, as the tensor's type stores it.
			f, err := gguf.Open(out)
			require.NoError(t, err)
			defer f.Close()
			ti, ok := f.Tensor(c.poke.gguf)
			require.True(t, ok)
			dt, err := ti.DType()
			require.NoError(t, err)
			data, err := f.TensorData(ti)
			require.NoError(t, err)
			vals := make([]float32, ti.NumElements())
			require.NoError(t, quant.Dequantize(dt, data, vals))
			got, want := vals[c.poke.i], c.poke.v
			switch {
			case math.IsNaN(float64(want)):
				require.True(t, math.IsNaN(float64(got)), "got %v", got)
			case c.allow && c.poke.v == 70000:
				require.True(t, math.IsInf(float64(got), 1), "got %v", got)
			case dt == graph.F32 || math.IsInf(float64(want), 0):
				require.Equal(t, want, got)
			default:
				require.InEpsilon(t, want, got, 0.01)
			}
		})
	}
}

// llamaConfigOf reads the hyper-parameters of a GGUF file.
func llamaConfigOf(t *testing.T, path string) *llama.Config {
	t.Helper()
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	cfg, err := llama.ConfigFromGGUF(f)
	require.NoError(t, err)
	return cfg
}

func TestFileType(t *testing.T) {
	for _, c := range []struct {
		typ  graph.DType
		want uint32
		err  bool
	}{
		{graph.F32, 0, false}, {graph.F16, 1, false}, {graph.Q4_0, 2, false}, {graph.Q8_0, 7, false},
		{graph.BF16, 32, false}, {graph.Q6_K, 0, true}, {graph.I32, 0, true},
	} {
		t.Run(fmt.Sprint(c.typ), func(t *testing.T) {
			got, err := convert.FileType(c.typ)
			if c.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

func TestOpenSourceErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "missing"},
		{dir, "config.json"},
	}
	for _, c := range cases {
		src, err := runtime.OpenSource(c.path)
		require.ErrorContains(t, err, c.want)
		require.Nil(t, src)
	}
}

// TestConvertCancelled cancels a conversion half-way (what Ctrl-C does):
// it stops with the context's error and leaves neither the output nor the
// scratch file behind.
func TestConvertCancelled(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	spec := hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 4, Heads: 4, KVHeads: 2, FFN: 128,
		Vocab: 512, Seed: 9, Tokenizer: storiesTokenizerJSON(t)}
	_, err := hftest.Write(dir, spec, nil)
	require.NoError(t, err)
	outDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err = convert.Convert(ctx, dir, filepath.Join(outDir, "m.gguf"), graph.Q8_0, convert.Options{Progress: func(done, total int64) {
		if calls++; calls == 3 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	es, err := os.ReadDir(outDir)
	require.NoError(t, err)
	require.Empty(t, es, "no output and no scratch file are left")
}
