package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
)

// benchText returns about n bytes of mixed text: the suites' inputs
// repeated.
func benchText(b *testing.B, n int) string {
	cases := readSuite(b, filepath.Join(vocabDir(b), "ggml-vocab-gpt-2.gguf"))
	var sb strings.Builder
	for sb.Len() < n {
		for _, c := range cases {
			sb.WriteString(c.text)
			sb.WriteString(" ")
		}
	}
	return sb.String()
}

// BenchmarkEncode encodes 64 KiB of text with each kind of tokenizer, and
// runs of one repeated character, the worst case of naive BPE.
func BenchmarkEncode(b *testing.B) {
	const size = 64 << 10
	text := benchText(b, size)
	inputs := []struct {
		name string
		text string
	}{
		{"mixed", text},
		{"letters", strings.Repeat("a", size)},
		{"spaces", strings.Repeat(" ", size)},
	}
	for _, vocab := range []struct{ kind, name string }{
		{"spm", "llama-spm"},
		{"bpe", "gpt-2"},
		{"bpe-deepseek", "deepseek-llm"},
		{"wpm", "bert-bge"},
	} {
		tok := suiteTokenizer(b, vocab.name)
		for _, in := range inputs {
			b.Run(vocab.kind+"/"+in.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.text)))
				for b.Loop() {
					tok.Encode(in.text, false, true)
				}
			})
		}
	}
}

// BenchmarkDecoder streams the tokens of 64 KiB of text through a Decoder.
func BenchmarkDecoder(b *testing.B) {
	tok := suiteTokenizer(b, "gpt-2")
	text := benchText(b, 64<<10)
	ids := tok.Encode(text, false, false)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		d := tok.NewDecoder()
		for _, id := range ids {
			d.Next(id)
		}
		d.Flush()
	}
}
