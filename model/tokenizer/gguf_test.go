package tokenizer

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/model/gguf"
)

// buildGGUF writes a metadata-only GGUF file and parses it back.
func buildGGUF(t *testing.T, kvs map[string]gguf.Value) *gguf.File {
	t.Helper()
	w := gguf.NewWriter()
	for _, k := range []string{
		"general.name", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens",
		"tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
		"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token",
		"tokenizer.ggml.add_space_prefix",
	} {
		if v, ok := kvs[k]; ok {
			w.AddKV(k, v)
		}
	}
	var buf bytes.Buffer
	_, err := w.WriteTo(&buf)
	require.NoError(t, err)
	f, err := gguf.Parse("test.gguf", buf.Bytes())
	require.NoError(t, err)
	return f
}

func TestFromGGUFDefaults(t *testing.T) {
	spm := map[string]gguf.Value{
		"tokenizer.ggml.model":      gguf.StringValue("llama"),
		"tokenizer.ggml.tokens":     gguf.StringsValue([]string{"<unk>", "<s>", "</s>", "▁", "a", "▁a"}),
		"tokenizer.ggml.scores":     gguf.Float32sValue([]float32{0, 0, 0, -1, -2, -3}),
		"tokenizer.ggml.token_type": gguf.Int32sValue([]int32{2, 3, 3, 1, 1, 1}),
	}
	tok, err := FromGGUF(buildGGUF(t, spm))
	require.NoError(t, err)
	require.Equal(t, int32(1), tok.BOS())
	require.Equal(t, int32(2), tok.EOS())
	require.Equal(t, []int32{1, 5}, tok.Encode("a", true, false)) // BOS and the space prefix by default

	spm["tokenizer.ggml.add_bos_token"] = gguf.BoolValue(false)
	spm["tokenizer.ggml.add_space_prefix"] = gguf.BoolValue(false)
	spm["tokenizer.ggml.eos_token_id"] = gguf.Uint32Value(99) // out of range: keep the default
	tok, err = FromGGUF(buildGGUF(t, spm))
	require.NoError(t, err)
	require.Equal(t, []int32{4}, tok.Encode("a", true, false))
	require.Equal(t, int32(2), tok.EOS())

	bpe := map[string]gguf.Value{
		"tokenizer.ggml.model":        gguf.StringValue("gpt2"),
		"tokenizer.ggml.pre":          gguf.StringValue("llama-bpe"),
		"tokenizer.ggml.tokens":       gguf.StringsValue([]string{"a", "b", "ab", "<|begin_of_text|>", "<|eot_id|>"}),
		"tokenizer.ggml.merges":       gguf.StringsValue([]string{"a b"}),
		"tokenizer.ggml.bos_token_id": gguf.Uint32Value(3),
	}
	tok, err = FromGGUF(buildGGUF(t, bpe))
	require.NoError(t, err)
	require.Equal(t, []int32{3, 2}, tok.Encode("ab", true, false)) // llama-bpe adds BOS
	require.True(t, tok.IsEOG(4))                                  // found by its text
	// Without token types <|begin_of_text|> is plain text; <|eot_id|> was
	// made a control token because it ends generation.
	require.Equal(t, []int32{1, 4}, tok.Encode("<|begin_of_text|><|eot_id|>", false, true))

	bpe["tokenizer.ggml.token_type"] = gguf.Int32sValue([]int32{1, 1, 1, 3, 3})
	tok, err = FromGGUF(buildGGUF(t, bpe))
	require.NoError(t, err)
	require.Equal(t, []int32{3, 4}, tok.Encode("<|begin_of_text|><|eot_id|>", false, true))
	require.Equal(t, []int32{2, 1}, tok.Encode("ab<|eot_id|>b", false, false)) // bytes without tokens are dropped
}

func TestFromGGUFErrors(t *testing.T) {
	tokens := gguf.StringsValue([]string{"a", "b"})
	tests := []struct {
		name string
		kvs  map[string]gguf.Value
		err  string
	}{
		{"no model", map[string]gguf.Value{"tokenizer.ggml.tokens": tokens}, `"tokenizer.ggml.model": missing`},
		{"no tokens", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("llama")}, `"tokenizer.ggml.tokens": missing`},
		{"unknown model", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("rwkv"), "tokenizer.ggml.tokens": tokens}, `unsupported tokenizer model "rwkv"`},
		{"no merges", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("gpt2"), "tokenizer.ggml.tokens": tokens}, `"tokenizer.ggml.merges": missing`},
		{"unknown pre", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("gpt2"), "tokenizer.ggml.pre": gguf.StringValue("mystery"),
			"tokenizer.ggml.tokens": tokens, "tokenizer.ggml.merges": gguf.StringsValue([]string{"a b"})}, `unsupported pre-tokenizer "mystery"`},
		{"bad scores", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("llama"), "tokenizer.ggml.tokens": tokens,
			"tokenizer.ggml.scores": gguf.StringsValue([]string{"x", "y"})}, "not an array of numbers"},
		{"short types", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("llama"), "tokenizer.ggml.tokens": tokens,
			"tokenizer.ggml.token_type": gguf.Int32sValue([]int32{1})}, "tokenizer: test.gguf: 1 token types for 2 tokens"},
		{"empty tokens", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("llama"), "tokenizer.ggml.tokens": gguf.StringsValue(nil)},
			"tokenizer: test.gguf: tokenizer.ggml.tokens is empty"},
		{"type past the enum", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("llama"), "tokenizer.ggml.tokens": tokens,
			"tokenizer.ggml.token_type": gguf.Int32sValue([]int32{1, 7})},
			`tokenizer: test.gguf: tokenizer.ggml.token_type: token 1 ("b") has type 7: want 0..6`},
		{"negative type", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("llama"), "tokenizer.ggml.tokens": tokens,
			"tokenizer.ggml.token_type": gguf.Int32sValue([]int32{-1, 1})},
			`tokenizer.ggml.token_type: token 0 ("a") has type -1: want 0..6`},
		{"type beyond int32", map[string]gguf.Value{"tokenizer.ggml.model": gguf.StringValue("llama"), "tokenizer.ggml.tokens": tokens,
			"tokenizer.ggml.token_type": gguf.Uint32sValue([]uint32{1, 1 << 31})},
			"tokenizer.ggml.token_type is not an array of token types (integers 0..6)"},
	}
	for _, tc := range tests {
		_, err := FromGGUF(buildGGUF(t, tc.kvs))
		require.ErrorContains(t, err, tc.err, tc.name)
		require.NotContains(t, err.Error(), "tokenizer: tokenizer:", tc.name)
	}
	// New refuses the same vocabularies, whatever they come from.
	_, err := New(&Vocab{Model: "llama", Tokens: []string{"a", "b"}, Types: []int32{1, 9}, BOS: -1, EOS: -1, EOT: -1, EOM: -1, UNK: -1, PAD: -1, SEP: -1, Mask: -1})
	require.ErrorContains(t, err, `tokenizer: token 1 ("b") has type 9: want 0..6`)
	_, err = New(&Vocab{Model: "llama"})
	require.EqualError(t, err, "tokenizer: empty vocabulary")
}
