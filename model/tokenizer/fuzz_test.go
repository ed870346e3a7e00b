package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// maxEncodeInput bounds the texts FuzzEncode looks at. The fuzzer minimises
// every new input that widens coverage with O(n²) runs of the target (six
// encodings and a round trip), reporting 0 execs/s meanwhile: seconds for a
// few hundred bytes. Tokenization is local (pre-tokenizer pieces, merges
// within a piece), so short texts reach its paths; the unit tests and
// llama.cpp's suites cover long ones.
const maxEncodeInput = 128

// FuzzEncode feeds arbitrary text to a SentencePiece, a byte-level BPE and
// a WordPiece vocabulary: encoding never panics, every id is in the
// vocabulary, and for the byte-level BPE (lossless) decoding gives back
// exactly the valid UTF-8 text that went in.
func FuzzEncode(f *testing.F) {
	dir := vocabDir(f)
	spm := loadGGUF(f, filepath.Join(dir, "ggml-vocab-llama-spm.gguf"))
	bpe := loadGGUF(f, filepath.Join(dir, "ggml-vocab-gpt-2.gguf"))
	wpm := loadGGUF(f, filepath.Join(dir, "ggml-vocab-bert-bge.gguf"))
	// Small seeds: spaces and newlines, digits, contractions, accents,
	// emoji, special-token text, invalid UTF-8.
	for _, s := range []string{"Hello world", " \t\n\n  x", "I'm 3.14€, don't!", "héllo 🦙 日本", "<s>[INST] hi </s>\x00\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > maxEncodeInput {
			return
		}
		for _, tok := range []*Tokenizer{spm, bpe, wpm} {
			for _, special := range []bool{false, true} {
				ids := tok.Encode(text, special, special)
				for _, id := range ids {
					if id < 0 || int(id) >= tok.VocabSize() {
						t.Fatalf("%s: id %d outside the vocabulary for %q", tok.Model(), id, text)
					}
				}
				_ = tok.Decode(ids)
			}
		}
		if utf8.ValidString(text) && !strings.ContainsRune(text, utf8.RuneError) {
			if got := bpe.Decode(bpe.Encode(text, false, false)); got != text {
				t.Fatalf("gpt-2 round trip: %q -> %q", text, got)
			}
		}
	})
}

// FuzzFromJSON feeds arbitrary bytes to the tokenizer.json parser: it
// returns a tokenizer or an error, never panics.
func FuzzFromJSON(f *testing.F) {
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}}`))
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0,"a":1}},"normalizer":{"type":"BertNormalizer"}}`))
	f.Add([]byte(`{"model":{"type":"Unigram"}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := FromJSON(data)
		if err == nil {
			_ = tok.Decode(tok.Encode("hello world", true, true))
		}
	})
}
