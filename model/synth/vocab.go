package synth

import (
	"fmt"
	"strings"

	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/tokenizer"
)

// donorVocab reads every tokenizer.* entry of the GGUF file at path, in file
// order, and returns them with the number of tokens, after checking that
// they make a tokenizer.
func donorVocab(path string) ([]gguf.KV, int, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("synth: vocabulary donor: %w", err)
	}
	defer f.Close()
	// The donor's tokenizer must be one golem builds: a model is only as
	// usable as its vocabulary.
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, 0, fmt.Errorf("synth: vocabulary donor: %w", err)
	}
	var kvs []gguf.KV
	for _, kv := range f.KV {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			kvs = append(kvs, kv)
		}
	}
	return kvs, tok.VocabSize(), nil
}

// Token types as llama.cpp stores them in tokenizer.ggml.token_type.
const (
	tokNormal  = 1
	tokUnknown = 2
	tokControl = 3
	tokByte    = 6
)

// minSyntheticVocab is the size of the fixed part of the synthetic
// vocabulary: <unk>, <s>, </s> and the 256 byte tokens.
const minSyntheticVocab = 259

// syntheticVocab returns the tokenizer.* entries of a SentencePiece-style
// ("llama") vocabulary of n tokens: <unk>, <s>, </s>, the 256 byte-fallback
// tokens, then pieces in decreasing merge priority: "▁", the letters, "▁"
// plus a letter, punctuation, consonant-vowel syllables, "▁" plus a
// syllable, and words of two, three and more syllables, so that generated
// ids decode to pronounceable pseudo-words.
func syntheticVocab(n int) ([]gguf.KV, error) {
	if n < minSyntheticVocab {
		return nil, fmt.Errorf("synth: a synthetic vocabulary needs at least %d tokens, the shape has %d", minSyntheticVocab, n)
	}
	toks := make([]string, 0, n)
	types := make([]int32, 0, n)
	scores := make([]float32, 0, n)
	add := func(s string, typ int32) bool {
		if len(toks) == n {
			return false
		}
		score := float32(0)
		if typ == tokNormal {
			score = -float32(len(toks) - minSyntheticVocab)
		}
		toks, types, scores = append(toks, s), append(types, typ), append(scores, score)
		return true
	}
	add("<unk>", tokUnknown)
	add("<s>", tokControl)
	add("</s>", tokControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), tokByte)
	}
	const space = "\u2581"
	letters := "abcdefghijklmnopqrstuvwxyz"
	add(space, tokNormal)
	for _, c := range letters {
		add(string(c), tokNormal)
	}
	for _, c := range letters {
		add(space+string(c), tokNormal)
	}
	for _, p := range []string{".", ",", "!", "?", "'", "-"} {
		add(p, tokNormal)
	}
	var syl []string
	for _, c := range "bdfghklmnprstvz" {
		for _, v := range "aeiou" {
			syl = append(syl, string(c)+string(v))
		}
	}
	for _, s := range syl {
		add(s, tokNormal)
	}
	words := make([]string, len(syl))
	for i, s := range syl {
		words[i] = space + s
		add(words[i], tokNormal)
	}
	// Longer words: every word of the previous length extended by every
	// syllable, until the vocabulary is full.
	for len(toks) < n {
		var next []string
		for _, w := range words {
			for _, s := range syl {
				if !add(w+s, tokNormal) {
					break
				}
				next = append(next, w+s)
			}
			if len(toks) == n {
				break
			}
		}
		words = next
	}
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: gguf.StringValue("llama")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.StringsValue(toks)},
		{Key: "tokenizer.ggml.scores", Value: gguf.Float32sValue(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Int32sValue(types)},
		{Key: "tokenizer.ggml.bos_token_id", Value: gguf.Uint32Value(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: gguf.Uint32Value(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: gguf.Uint32Value(0)},
		{Key: "tokenizer.ggml.add_bos_token", Value: gguf.BoolValue(true)},
		{Key: "tokenizer.ggml.add_eos_token", Value: gguf.BoolValue(false)},
	}, nil
}
