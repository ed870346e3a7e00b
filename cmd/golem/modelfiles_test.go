package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/gguf/gguftest"
	"github.com/golem-llm/golem/model/safetensors/hftest"
	"github.com/golem-llm/golem/model/tokenizer"
)

// TestRunRefusesMalformedModels runs golem on altered copies of
// stories260K: each is refused before generating, with a message that names
// the file once and the key or tensor at fault.
func TestRunRefusesMalformedModels(t *testing.T) {
	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	types := make([]int32, 512)
	for i := range types {
		types[i] = tokenizer.TypeNormal
	}
	types[5] = 9
	tests := []struct {
		name string
		edit gguftest.Edit
		want string
	}{
		{"block_count below the blocks", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Uint32Value(4)}},
			`llama.block_count = 4: tensor "blk.4.attn_q.weight" belongs to block 4, past the last block 3`},
		{"block_count above the blocks", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Uint32Value(6)}},
			"llama.block_count = 6: no tensor of block 5 (blk.5.*)"},
		{"block_count 2^63", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Uint64Value(1 << 63)}},
			"llama.block_count = 9223372036854775808: want 1..4096"},
		{"context_length 2^40", gguftest.Edit{Set: map[string]gguf.Value{"llama.context_length": gguf.Uint64Value(1 << 40)}},
			"llama.context_length = 1099511627776: want 1..2147483647"},
		{"head dim 0", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.key_length": gguf.Uint32Value(0)}},
			"llama.attention.key_length = 0: want 2..65536"},
		{"epsilon infinite", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.layer_norm_rms_epsilon": gguf.Float32Value(float32(math.Inf(1)))}},
			"llama.attention.layer_norm_rms_epsilon = +Inf: want a finite positive number"},
		{"token type outside the enum", gguftest.Edit{Set: map[string]gguf.Value{"tokenizer.ggml.token_type": gguf.Int32sValue(types)}},
			`tokenizer.ggml.token_type: token 5 ("<0x02>") has type 9: want 0..6`},
		{"empty vocabulary", gguftest.Edit{Set: map[string]gguf.Value{"tokenizer.ggml.tokens": gguf.StringsValue(nil)},
			Drop: []string{"tokenizer.ggml.scores", "tokenizer.ggml.token_type"}},
			"tokenizer.ggml.tokens is empty"},
		{"missing tensor", gguftest.Edit{DropTensor: func(n string) bool { return n == "blk.2.ffn_up.weight" }},
			`llama: tensor "blk.2.ffn_up.weight": tensor not found`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := gguftest.Rewrite(t, stories, tc.edit)
			out, _, err := execute(t, "run", "-m", path, "-p", "Once", "-n", "2", "--temp", "0", "--device", "cpu")
			require.ErrorContains(t, err, tc.want)
			require.Equal(t, 1, strings.Count(err.Error(), path), "the file is named once: %v", err)
			require.Empty(t, out, "nothing is generated")
		})
	}
}

// TestInfoAnyGGUF checks that golem info describes every valid GGUF file:
// vocabulary-only files of other architectures and models it cannot run,
// saying why it cannot run them.
func TestInfoAnyGGUF(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(filepath.Dir(sharedtest.SharedPath(t, "testdata", "vocab", "ggml-vocab-gpt-2.gguf")), "*.gguf"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := gguf.Open(path)
			require.NoError(t, err)
			arch, kvs := f.Architecture(), f.KV
			f.Close()
			out, _, err := execute(t, "info", "-m", path, "--metadata")
			require.NoError(t, err)
			require.Contains(t, out, "architecture: "+arch+"\n")
			require.Contains(t, out, "golem can run: no (vocab-only: no tensors)\n")
			require.Contains(t, out, "weights:      0 tensors\n")
			require.Contains(t, out, "tokenizer.ggml.model = ")
			require.Regexp(t, `\nvocabulary:   [0-9]+, tokenizer `, out)
			for _, kv := range kvs {
				require.Contains(t, out, "\n"+kv.Key+" = ", "every metadata key is listed")
			}
		})
	}
	gpt2, _, err := execute(t, "info", "-m", sharedtest.SharedPath(t, "testdata", "vocab", "ggml-vocab-gpt-2.gguf"))
	require.NoError(t, err)
	require.Contains(t, gpt2, "architecture: gpt2\nvocabulary:   50257, tokenizer gpt2, bos 50256, eos 50256\n")

	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tests := []struct {
		name string
		edit gguftest.Edit
		want []string
	}{
		{"another architecture", gguftest.Edit{Set: map[string]gguf.Value{"general.architecture": gguf.StringValue("gpt2")}},
			[]string{"architecture: gpt2\n", `golem can run: no (llama: unsupported architecture "gpt2" (supported: llama, mistral, qwen2, qwen3))`}},
		{"block_count below the blocks", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Uint32Value(4)}},
			[]string{`golem can run: no (llama.block_count = 4: tensor "blk.4.attn_q.weight" belongs to block 4, past the last block 3)`, "llama.block_count = 4\n"}},
		{"missing tensor", gguftest.Edit{DropTensor: func(n string) bool { return n == "blk.2.ffn_up.weight" }},
			[]string{`golem can run: no (llama: tensor "blk.2.ffn_up.weight": tensor not found)`, "47 tensors"}},
		{"bad vocabulary", gguftest.Edit{Set: map[string]gguf.Value{"tokenizer.ggml.tokens": gguf.StringsValue(nil)}},
			[]string{"vocabulary:   tokenizer unavailable: tokenizer: tokenizer.ggml.tokens is empty\n", "golem can run: no (tokenizer: tokenizer.ggml.tokens is empty)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := gguftest.Rewrite(t, stories, tc.edit)
			out, _, err := execute(t, "info", "-m", path, "--metadata")
			require.NoError(t, err, "info describes a file golem cannot run")
			for _, w := range tc.want {
				require.Contains(t, out, w)
			}
			require.Regexp(t, `\nblk\.1\.ffn_down\.weight +f32 +\[64 172\] +44032\n`, out, "the tensor table comes from the file")
			require.Equal(t, 1, strings.Count(out, path), "the file is named once")
		})
	}
}

// TestGenModelCountsWrittenParameters checks that gen-model reports the
// parameters of the file it writes, whose vocabulary comes from --vocab.
func TestGenModelCountsWrittenParameters(t *testing.T) {
	vocab := sharedtest.SharedPath(t, "testdata", "vocab", "ggml-vocab-gpt-2.gguf")
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	stdout, _, err := execute(t, "gen-model", "--shape", "tiny", "--type", "q8_0", "--vocab", vocab, "-o", out)
	require.NoError(t, err)
	// tiny: dim 64, 2 layers, 4 heads (2 kv, head dim 16), ffn 192, untied,
	// with gpt-2's 50257 tokens instead of the preset's 512.
	const layer = 64*64*2 + 64*32*2 + 3*64*192 + 2*64
	const want = 2*layer + 2*50257*64 + 64
	require.Contains(t, stdout, fmt.Sprintf(", %d parameters, ", want))
	f, err := gguf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	var n int64
	for _, ti := range f.Tensors {
		n += ti.NumElements()
	}
	require.Equal(t, int64(want), n, "the count is the file's")
}

// TestConvertNonFinite checks that golem convert refuses a NaN weight for
// every output type, suggesting --allow-nonfinite, and that the flag writes
// it to the float types while q8_0 and q4_0 still refuse it.
func TestConvertNonFinite(t *testing.T) {
	f, err := gguf.Open(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	v, err := tokenizer.VocabFromGGUF(f)
	f.Close()
	require.NoError(t, err)
	tokJSON, err := hftest.SPMTokenizerJSON(v)
	require.NoError(t, err)
	spec := hftest.Spec{Arch: "LlamaForCausalLM", Dim: 64, Layers: 1, Heads: 2, KVHeads: 2, FFN: 64, Vocab: 512, Tokenizer: tokJSON}
	w := spec.Random()
	w["model.layers.0.mlp.down_proj.weight"].Data[100] = float32(math.NaN())
	dir := filepath.Join(t.TempDir(), "nan-model")
	_, err = hftest.Write(dir, spec, w)
	require.NoError(t, err)
	const where = `tensor "blk.0.ffn_down.weight" (model.layers.0.mlp.down_proj.weight): element 100 is NaN`
	for _, typ := range []string{"f32", "f16", "bf16", "q8_0", "q4_0"} {
		out := filepath.Join(t.TempDir(), typ+".gguf")
		_, _, err := execute(t, "convert", dir, out, "--type", typ)
		require.ErrorContains(t, err, where+": non-finite weights are refused (--allow-nonfinite writes them to f32, f16 and bf16 tensors)", typ)
		require.NoFileExists(t, out)

		_, _, err = execute(t, "convert", dir, out, "--type", typ, "--allow-nonfinite")
		switch typ {
		case "q8_0", "q4_0":
			require.ErrorContains(t, err, where+": "+typ+" cannot hold non-finite values", typ)
			require.NotContains(t, err.Error(), "--allow-nonfinite")
		default:
			require.NoError(t, err, typ)
			info, _, err := execute(t, "info", "-m", out)
			require.NoError(t, err)
			require.Contains(t, info, "golem can run: yes")
		}
	}
}
