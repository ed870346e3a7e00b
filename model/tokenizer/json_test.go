package tokenizer

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/model/gguf"
)

func loadVocab(t testing.TB, name string) *Vocab {
	t.Helper()
	f, err := gguf.Open(filepath.Join(vocabDir(t), "ggml-vocab-"+name+".gguf"))
	require.NoError(t, err)
	defer f.Close()
	v, err := VocabFromGGUF(f)
	require.NoError(t, err)
	return v
}

type jsonAdded struct {
	ID      int32  `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

// hfDoc builds a tokenizer.json document: the model's vocabulary holds the
// normal and byte tokens, the others are added tokens.
func hfDoc(v *Vocab, model map[string]any) map[string]any {
	vocab := map[string]int32{}
	var added []jsonAdded
	for i, s := range v.Tokens {
		typ := TypeNormal
		if len(v.Types) > 0 {
			typ = v.Types[i]
		}
		switch typ {
		case TypeControl, TypeUnknown:
			added = append(added, jsonAdded{ID: int32(i), Content: s, Special: true})
		case TypeUserDefined:
			added = append(added, jsonAdded{ID: int32(i), Content: s})
		default:
			vocab[s] = int32(i)
		}
	}
	model["vocab"] = vocab
	return map[string]any{"version": "1.0", "added_tokens": added, "model": model}
}

func mustJSON(t testing.TB, doc any) []byte {
	t.Helper()
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

// runSuite encodes every case of a suite and requires the expected ids.
func runSuite(t *testing.T, tok *Tokenizer, name string) {
	t.Helper()
	cases := readSuite(t, filepath.Join(vocabDir(t), "ggml-vocab-"+name+".gguf"))
	for _, c := range cases {
		require.Equal(t, c.want, tok.Encode(c.text, false, false), "%s: %q", name, c.text)
	}
}

func TestFromJSONByteLevel(t *testing.T) {
	v := loadVocab(t, "gpt-2")
	// Merges as strings and as pairs.
	pairs := make([][]string, len(v.Merges))
	for i, m := range v.Merges {
		pairs[i] = strings.SplitN(m, " ", 2)
	}
	for _, merges := range []any{v.Merges, pairs} {
		doc := hfDoc(v, map[string]any{"type": "BPE", "merges": merges})
		doc["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
		doc["post_processor"] = map[string]any{"type": "ByteLevel"}
		tok, err := FromJSON(mustJSON(t, doc))
		require.NoError(t, err)
		require.Equal(t, "gpt2", tok.Model())
		require.Equal(t, int32(50256), tok.EOS())
		runSuite(t, tok, "gpt-2")
	}
}

func TestFromJSONLlama3(t *testing.T) {
	v := loadVocab(t, "gpt-2")
	doc := hfDoc(v, map[string]any{"type": "BPE", "merges": v.Merges, "ignore_merges": true})
	doc["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
		map[string]any{"type": "Split", "pattern": map[string]any{"Regex": hfLlama3Regex}, "behavior": "Isolated", "invert": false},
		map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
	}}
	doc["post_processor"] = map[string]any{"type": "TemplateProcessing",
		"single": []any{
			map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 0}},
			map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
		}}
	tok, err := FromJSON(mustJSON(t, doc))
	require.NoError(t, err)

	v.Pre, v.AddBOS, v.IgnoreMerges = "llama-bpe", true, true
	ref, err := New(v)
	require.NoError(t, err)
	for _, c := range readSuite(t, filepath.Join(vocabDir(t), "ggml-vocab-gpt-2.gguf")) {
		require.Equal(t, ref.Encode(c.text, true, false), tok.Encode(c.text, true, false), "%q", c.text)
	}
	require.Equal(t, []int32{50256}, tok.Encode("", true, false))

	// The Qwen 2 pattern and NFC.
	doc["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": hfQwen2Regex}
	doc["normalizer"] = map[string]any{"type": "NFC"}
	tok, err = FromJSON(mustJSON(t, doc))
	require.NoError(t, err)
	require.Equal(t, "qwen2", tok.pre)
	require.Equal(t, tok.Encode("\u00e9", false, false), tok.Encode("e\u0301", false, false))
}

// spmMerges derives BPE merges from SentencePiece scores the way Hugging
// Face's SentencePieceExtractor does: every split of a piece into two
// pieces, ordered by the score of the piece, best first.
func spmMerges(v *Vocab) []string {
	type merge struct {
		l, r  string
		score float32
	}
	ids := make(map[string]int, len(v.Tokens))
	for i, s := range v.Tokens {
		ids[s] = i
	}
	var all []merge
	for _, s := range v.Tokens {
		var local []merge
		for i := range s {
			if i == 0 {
				continue
			}
			l, r := s[:i], s[i:]
			if _, ok := ids[l]; !ok {
				continue
			}
			if _, ok := ids[r]; !ok {
				continue
			}
			local = append(local, merge{l, r, v.Scores[ids[s]]})
		}
		sort.SliceStable(local, func(a, b int) bool {
			if ids[local[a].l] != ids[local[b].l] {
				return ids[local[a].l] < ids[local[b].l]
			}
			return ids[local[a].r] < ids[local[b].r]
		})
		all = append(all, local...)
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
	out := make([]string, len(all))
	for i, m := range all {
		out[i] = m.l + " " + m.r
	}
	return out
}

func TestFromJSONSentencePieceBPE(t *testing.T) {
	v := loadVocab(t, "llama-spm")
	merges := spmMerges(v)
	model := map[string]any{"type": "BPE", "merges": merges, "byte_fallback": true, "fuse_unk": true, "unk_token": "<unk>"}
	post := map[string]any{"type": "TemplateProcessing",
		"single": []any{
			map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}},
			map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
		}}
	// The legacy normalizer form and the Metaspace form.
	legacy := hfDoc(v, model)
	legacy["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{
		map[string]any{"type": "Prepend", "prepend": "▁"},
		map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
	}}
	legacy["post_processor"] = post
	meta := hfDoc(v, model)
	meta["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	meta["post_processor"] = post

	for _, doc := range []map[string]any{legacy, meta} {
		tok, err := FromJSON(mustJSON(t, doc))
		require.NoError(t, err)
		require.Equal(t, "llama", tok.Model())
		require.Equal(t, int32(1), tok.BOS())
		require.Equal(t, int32(2), tok.EOS())
		runSuite(t, tok, "llama-spm")
		ids := tok.Encode("Hello world 🦙", true, false)
		require.Equal(t, int32(1), ids[0])
		require.Equal(t, "Hello world 🦙", tok.Decode(ids))
	}
}

func TestFromJSONWordPiece(t *testing.T) {
	v := loadVocab(t, "bert-bge")
	// Back to BERT's own convention: "##" marks continuations.
	hv := *v
	hv.Tokens = make([]string, len(v.Tokens))
	for i, s := range v.Tokens {
		switch {
		case v.Types[i] != TypeNormal || (strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")):
			hv.Tokens[i] = s
		case strings.HasPrefix(s, spaceMark):
			hv.Tokens[i] = s[len(spaceMark):]
		default:
			hv.Tokens[i] = "##" + s
		}
	}
	doc := hfDoc(&hv, map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100})
	doc["normalizer"] = map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": nil, "lowercase": true}
	doc["pre_tokenizer"] = map[string]any{"type": "BertPreTokenizer"}
	doc["post_processor"] = map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 102}, "cls": []any{"[CLS]", 101}}
	tok, err := FromJSON(mustJSON(t, doc))
	require.NoError(t, err)
	require.Equal(t, "bert", tok.Model())
	runSuite(t, tok, "bert-bge")
	require.Equal(t, []string{"[CLS]", "▁hello", "[SEP]"}, pieces(tok, tok.Encode("Hello", true, false)))
	require.True(t, utf8.ValidString(tok.Decode(tok.Encode("héllo wörld", true, false))))
}

func TestFromJSONErrors(t *testing.T) {
	bpe := map[string]any{"type": "BPE", "vocab": map[string]int{"a": 0, "b": 1, "ab": 2}, "merges": []string{"a b"}}
	tests := []struct {
		name string
		doc  any
		err  string
	}{
		{"syntax", "not json", "tokenizer.json"},
		{"empty", map[string]any{"model": map[string]any{"type": "BPE"}}, "empty vocabulary"},
		{"unigram", map[string]any{"model": map[string]any{"type": "Unigram", "vocab": map[string]int{"a": 0}}}, `unsupported model type "Unigram"`},
		{"no pre", map[string]any{"model": bpe}, "not supported"},
		{"split", map[string]any{"model": bpe, "pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\w+`}, "behavior": "Isolated"},
			map[string]any{"type": "ByteLevel", "use_regex": false},
		}}}, `pattern "\\w+" is not supported`},
		{"prefix space", map[string]any{"model": bpe, "pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": true}}, "add_prefix_space"},
		{"normalizer", map[string]any{"model": bpe, "normalizer": map[string]any{"type": "Lowercase"}, "pre_tokenizer": map[string]any{"type": "ByteLevel"}}, `normalizer "Lowercase"`},
		{"post", map[string]any{"model": bpe, "pre_tokenizer": map[string]any{"type": "ByteLevel"}, "post_processor": map[string]any{"type": "Fancy"}}, `post_processor "Fancy"`},
		{"bad id", map[string]any{"model": map[string]any{"type": "BPE", "vocab": map[string]int{"a": 1 << 30}}}, "out of range"},
		{"bad added id", map[string]any{"model": bpe, "added_tokens": []any{map[string]any{"id": -1, "content": "x"}}}, "out of range"},
		{"bad merge", map[string]any{"model": map[string]any{"type": "BPE", "vocab": map[string]int{"a": 0}, "merges": []any{1}}, "pre_tokenizer": map[string]any{"type": "ByteLevel"}}, "merge 0"},
	}
	for _, tc := range tests {
		var data []byte
		if s, ok := tc.doc.(string); ok {
			data = []byte(s)
		} else {
			data = mustJSON(t, tc.doc)
		}
		_, err := FromJSON(data)
		require.ErrorContains(t, err, tc.err, tc.name)
	}
}
