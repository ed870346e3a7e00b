package tokenizer

import (
	"fmt"

	"github.com/golem-llm/golem/model/gguf"
)

// llama3Pres are the pre-tokenizers for which llama.cpp adds BOS by default
// and keeps a piece whole when it is a token (ignore_merges).
var llama3Pres = map[string]bool{
	"llama3": true, "llama-v3": true, "llama-bpe": true, "falcon3": true, "falcon-h1": true,
	"pixtral": true, "midm-2.0": true, "lfm2": true,
}

// FromGGUF builds the tokenizer described by a GGUF file's tokenizer.ggml.*
// metadata, with llama.cpp's defaults for what the file leaves out.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := VocabFromGGUF(f)
	if err != nil {
		return nil, err
	}
	t, err := build(v)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", f.Path, err)
	}
	return t, nil
}

// VocabFromGGUF reads the vocabulary of a GGUF file. An empty token list
// and token types outside GGUF's enumeration are errors naming the key.
func VocabFromGGUF(f *gguf.File) (*Vocab, error) {
	model, err := f.GetString("tokenizer.ggml.model")
	if err != nil {
		return nil, err
	}
	v := &Vocab{Model: model, BOS: -1, EOS: -1, EOT: -1, EOM: -1, UNK: -1, PAD: -1, SEP: -1, Mask: -1}
	if s, ok := getStr(f, "tokenizer.ggml.pre"); ok {
		v.Pre = s
	}
	if s, ok := getStr(f, "general.name"); ok {
		v.Name = s
	}
	if v.Tokens, err = f.GetStrings("tokenizer.ggml.tokens"); err != nil {
		return nil, err
	}
	if len(v.Tokens) == 0 {
		return nil, fmt.Errorf("tokenizer: %s: tokenizer.ggml.tokens is empty", f.Path)
	}
	if val, ok := f.Get("tokenizer.ggml.scores"); ok {
		if v.Scores, ok = val.Float32s(); !ok {
			return nil, fmt.Errorf("tokenizer: %s: tokenizer.ggml.scores is not an array of numbers", f.Path)
		}
	}
	if val, ok := f.Get("tokenizer.ggml.token_type"); ok {
		if v.Types, ok = val.Int32s(); !ok {
			return nil, fmt.Errorf("tokenizer: %s: tokenizer.ggml.token_type is not an array of token types (integers 0..6)", f.Path)
		}
		if err := checkTypes(v.Tokens, v.Types); err != nil {
			return nil, fmt.Errorf("tokenizer: %s: tokenizer.ggml.token_type: %w", f.Path, err)
		}
	}
	switch model {
	case "llama":
		v.BOS, v.EOS, v.UNK = 1, 2, 0
		v.AddSpacePrefix, v.AddBOS = true, true
	case "bert":
		v.BOS, v.UNK, v.SEP, v.PAD, v.Mask = 101, 100, 102, 0, 103
		v.AddBOS, v.AddSEP = true, true
		v.Lowercase = true
		if id, ok := getID(f, "tokenizer.ggml.cls_token_id", len(v.Tokens)); ok {
			v.BOS = id
		}
	case "gpt2":
		if v.Merges, err = f.GetStrings("tokenizer.ggml.merges"); err != nil {
			return nil, err
		}
		if llama3Pres[v.Pre] {
			v.AddBOS, v.IgnoreMerges = true, true
		}
	default:
		return nil, fmt.Errorf("tokenizer: %s: unsupported tokenizer model %q", f.Path, model)
	}
	for _, k := range []struct {
		key string
		id  *int32
	}{
		{"tokenizer.ggml.bos_token_id", &v.BOS},
		{"tokenizer.ggml.eos_token_id", &v.EOS},
		{"tokenizer.ggml.eot_token_id", &v.EOT},
		{"tokenizer.ggml.eom_token_id", &v.EOM},
		{"tokenizer.ggml.unknown_token_id", &v.UNK},
		{"tokenizer.ggml.seperator_token_id", &v.SEP}, // llama.cpp's spelling
		{"tokenizer.ggml.separator_token_id", &v.SEP},
		{"tokenizer.ggml.padding_token_id", &v.PAD},
		{"tokenizer.ggml.mask_token_id", &v.Mask},
	} {
		if int(*k.id) >= len(v.Tokens) {
			*k.id = -1
		}
		if id, ok := getID(f, k.key, len(v.Tokens)); ok {
			*k.id = id
		}
	}
	for _, k := range []struct {
		key string
		b   *bool
	}{
		{"tokenizer.ggml.add_bos_token", &v.AddBOS},
		{"tokenizer.ggml.add_eos_token", &v.AddEOS},
		{"tokenizer.ggml.add_sep_token", &v.AddSEP},
		{"tokenizer.ggml.add_space_prefix", &v.AddSpacePrefix},
		{"tokenizer.ggml.normalizer.lowercase", &v.Lowercase},
	} {
		if val, ok := f.Get(k.key); ok {
			if b, ok := val.Bool(); ok {
				*k.b = b
			}
		}
	}
	v.StripAccents = v.Lowercase
	if val, ok := f.Get("tokenizer.ggml.normalizer.strip_accents"); ok {
		if b, ok := val.Bool(); ok {
			v.StripAccents = b
		}
	}
	if model == "gpt2" {
		v.AddSpacePrefix = false
	}
	return v, nil
}

func getStr(f *gguf.File, key string) (string, bool) {
	val, ok := f.Get(key)
	if !ok {
		return "", false
	}
	return val.Str()
}

// getID reads a token id, ignoring ids outside the vocabulary as llama.cpp
// does.
func getID(f *gguf.File, key string, n int) (int32, bool) {
	val, ok := f.Get(key)
	if !ok {
		return 0, false
	}
	x, ok := val.Uint()
	if !ok || x >= uint64(n) {
		return 0, false
	}
	return int32(x), true
}
