// Package hftest writes small Hugging Face model folders (config.json,
// safetensors with random weights, tokenizer files) for tests of golem's
// loaders and converter.
package hftest

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"unicode/utf8"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/model/safetensors"
	"github.com/golem-llm/golem/model/tokenizer"
)

// Spec describes a model folder to write.
type Spec struct {
	Arch                        string // architectures[0]: "LlamaForCausalLM", "Qwen2ForCausalLM", ...
	Dim, Layers, Heads, KVHeads int
	FFN, Vocab                  int
	HeadDim                     int     // written as head_dim when > 0 (default Dim/Heads, not written)
	Context                     int     // max_position_embeddings (default 256)
	Eps                         float64 // rms_norm_eps (default 1e-5)
	RopeTheta                   float64 // rope_theta (default 10000)
	RopeScaling                 map[string]any
	Tied                        bool   // tie_word_embeddings, and no lm_head.weight
	DType                       string // "F32" (default) or "BF16"; values are bf16-exact either way
	Shards                      int    // > 1: that many shards and model.safetensors.index.json
	Seed                        uint64
	Config                      map[string]any // extra config.json fields (override the above)
	Tokenizer                   []byte         // tokenizer.json (not written when nil)
	TokenizerConfig             map[string]any // tokenizer_config.json (not written when nil)
}

// Weight is a tensor's shape (outermost-first) and values.
type Weight struct {
	Shape []int
	Data  []float32
}

func (s Spec) headDim() int {
	if s.HeadDim > 0 {
		return s.HeadDim
	}
	return s.Dim / s.Heads
}

// Names returns the checkpoint's tensor names and shapes.
func (s Spec) Names() map[string][]int {
	hd := s.headDim()
	out := map[string][]int{
		"model.embed_tokens.weight": {s.Vocab, s.Dim},
		"model.norm.weight":         {s.Dim},
	}
	if !s.Tied {
		out["lm_head.weight"] = []int{s.Vocab, s.Dim}
	}
	for l := 0; l < s.Layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		out[p+"input_layernorm.weight"] = []int{s.Dim}
		out[p+"post_attention_layernorm.weight"] = []int{s.Dim}
		out[p+"self_attn.q_proj.weight"] = []int{s.Heads * hd, s.Dim}
		out[p+"self_attn.k_proj.weight"] = []int{s.KVHeads * hd, s.Dim}
		out[p+"self_attn.v_proj.weight"] = []int{s.KVHeads * hd, s.Dim}
		out[p+"self_attn.o_proj.weight"] = []int{s.Dim, s.Heads * hd}
		out[p+"mlp.gate_proj.weight"] = []int{s.FFN, s.Dim}
		out[p+"mlp.up_proj.weight"] = []int{s.FFN, s.Dim}
		out[p+"mlp.down_proj.weight"] = []int{s.Dim, s.FFN}
		switch s.Arch {
		case "Qwen2ForCausalLM":
			out[p+"self_attn.q_proj.bias"] = []int{s.Heads * hd}
			out[p+"self_attn.k_proj.bias"] = []int{s.KVHeads * hd}
			out[p+"self_attn.v_proj.bias"] = []int{s.KVHeads * hd}
		case "Qwen3ForCausalLM":
			out[p+"self_attn.q_norm.weight"] = []int{hd}
			out[p+"self_attn.k_norm.weight"] = []int{hd}
		}
	}
	return out
}

// Random returns bf16-exact random weights for the spec: large enough
// that attention is far from uniform (so a wrong RoPE layout shows).
func (s Spec) Random() map[string]Weight {
	rng := rand.New(rand.NewPCG(s.Seed, 0x9e3779b97f4a7c15))
	names := s.Names()
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]Weight{}
	for _, name := range keys {
		shape := names[name]
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		uni := func() float64 { return 2*rng.Float64() - 1 }
		var gen func() float64
		switch {
		case len(shape) == 1 && hasSuffix(name, "bias"):
			gen = func() float64 { return 0.5 * uni() }
		case len(shape) == 1:
			gen = func() float64 { return 1 + 0.2*uni() }
		case name == "model.embed_tokens.weight":
			gen = uni
		default:
			gain := 1.5
			if hasSuffix(name, "q_proj.weight") || hasSuffix(name, "k_proj.weight") {
				gain = 3
			}
			a := gain / math.Sqrt(float64(shape[1]))
			gen = func() float64 { return a * uni() }
		}
		for i := range data {
			data[i] = quant.BF16ToF32(quant.F32ToBF16(float32(gen())))
		}
		out[name] = Weight{Shape: shape, Data: data}
	}
	return out
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// ConfigJSON returns the config.json of the spec.
func (s Spec) ConfigJSON() map[string]any {
	c := map[string]any{
		"architectures":           []string{s.Arch},
		"hidden_size":             s.Dim,
		"intermediate_size":       s.FFN,
		"num_hidden_layers":       s.Layers,
		"num_attention_heads":     s.Heads,
		"num_key_value_heads":     s.KVHeads,
		"vocab_size":              s.Vocab,
		"max_position_embeddings": orInt(s.Context, 256),
		"rms_norm_eps":            orFloat(s.Eps, 1e-5),
		"rope_theta":              orFloat(s.RopeTheta, 10000),
		"tie_word_embeddings":     s.Tied,
		"hidden_act":              "silu",
		"torch_dtype":             "bfloat16",
		"bos_token_id":            1,
		"eos_token_id":            2,
	}
	if s.HeadDim > 0 {
		c["head_dim"] = s.HeadDim
	}
	if s.RopeScaling != nil {
		c["rope_scaling"] = s.RopeScaling
	}
	for k, v := range s.Config {
		c[k] = v
	}
	return c
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func orFloat(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

// Write writes the folder for the spec with the given weights (by HF
// name; Random's when nil) and returns the weights.
func Write(dir string, s Spec, weights map[string]Weight) (map[string]Weight, error) {
	if weights == nil {
		weights = s.Random()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := WriteJSON(filepath.Join(dir, safetensors.ConfigFile), s.ConfigJSON()); err != nil {
		return nil, err
	}
	if s.Tokenizer != nil {
		if err := os.WriteFile(filepath.Join(dir, safetensors.TokenizerFile), s.Tokenizer, 0o644); err != nil {
			return nil, err
		}
	}
	if s.TokenizerConfig != nil {
		if err := WriteJSON(filepath.Join(dir, safetensors.TokenizerConfigFile), s.TokenizerConfig); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(weights))
	for k := range weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dtype := s.DType
	if dtype == "" {
		dtype = "F32"
	}
	shards := max(s.Shards, 1)
	parts := make([][]safetensors.WriteTensor, shards)
	weightMap := map[string]string{}
	fileName := func(i int) string {
		if shards == 1 {
			return safetensors.SingleFile
		}
		return fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, shards)
	}
	var totalSize int64
	for i, name := range keys {
		w := weights[name]
		data, err := Encode(dtype, w.Data)
		if err != nil {
			return nil, fmt.Errorf("hftest: %s: %w", name, err)
		}
		part := i * shards / len(keys)
		parts[part] = append(parts[part], safetensors.WriteTensor{Name: name, DType: dtype, Shape: w.Shape, Data: data})
		weightMap[name] = fileName(part)
		totalSize += int64(len(data))
	}
	for i, p := range parts {
		if err := safetensors.WriteFile(filepath.Join(dir, fileName(i)), p, map[string]string{"format": "pt"}); err != nil {
			return nil, err
		}
	}
	if shards > 1 {
		idx := map[string]any{"metadata": map[string]any{"total_size": totalSize}, "weight_map": weightMap}
		if err := WriteJSON(filepath.Join(dir, safetensors.IndexFile), idx); err != nil {
			return nil, err
		}
	}
	return weights, nil
}

// Encode stores values as little-endian F32, F16 or BF16.
func Encode(dtype string, vals []float32) ([]byte, error) {
	switch dtype {
	case "F32":
		out := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case "F16":
		out := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(out[2*i:], quant.F32ToF16(v))
		}
		return out, nil
	case "BF16":
		out := make([]byte, 2*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint16(out[2*i:], quant.F32ToBF16(v))
		}
		return out, nil
	}
	return nil, fmt.Errorf("dtype %q is not F32, F16 or BF16", dtype)
}

// WriteJSON writes v as indented JSON.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

const spaceMark = "▁"

// SPMTokenizerJSON returns a Llama-2-style tokenizer.json (BPE over
// characters with byte fallback and "▁" for spaces) for a SentencePiece
// vocabulary, with merges derived from the scores the way Hugging Face's
// converter derives them: every split of a piece into two pieces, ordered
// by the score of the merged piece.
func SPMTokenizerJSON(v *tokenizer.Vocab) ([]byte, error) {
	if len(v.Scores) != len(v.Tokens) || len(v.Types) != len(v.Tokens) {
		return nil, fmt.Errorf("hftest: vocabulary needs scores and types for every token")
	}
	vocab := map[string]int{}
	for i, t := range v.Tokens {
		vocab[t] = i
	}
	type merge struct {
		l, r  string
		score float32
	}
	var merges []merge
	for i, t := range v.Tokens {
		if v.Types[i] != tokenizer.TypeNormal || utf8.RuneCountInString(t) < 2 {
			continue
		}
		var local []merge
		for j := range t {
			if j == 0 {
				continue
			}
			l, r := t[:j], t[j:]
			if _, ok := vocab[l]; !ok {
				continue
			}
			if _, ok := vocab[r]; !ok {
				continue
			}
			local = append(local, merge{l, r, v.Scores[i]})
		}
		sort.SliceStable(local, func(a, b int) bool {
			if vocab[local[a].l] != vocab[local[b].l] {
				return vocab[local[a].l] < vocab[local[b].l]
			}
			return vocab[local[a].r] < vocab[local[b].r]
		})
		merges = append(merges, local...)
	}
	sort.SliceStable(merges, func(a, b int) bool { return merges[a].score > merges[b].score })
	mergeList := make([][2]string, len(merges))
	for i, m := range merges {
		mergeList[i] = [2]string{m.l, m.r}
	}
	var added []map[string]any
	for i, t := range v.Tokens {
		if v.Types[i] == tokenizer.TypeControl || v.Types[i] == tokenizer.TypeUnknown {
			added = append(added, map[string]any{
				"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false,
				"normalized": false, "special": true,
			})
		}
	}
	var post any
	if v.AddBOS && v.BOS >= 0 {
		bos := v.Tokens[v.BOS]
		post = map[string]any{
			"type": "TemplateProcessing",
			"single": []any{
				map[string]any{"SpecialToken": map[string]any{"id": bos, "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
			},
			"pair": []any{
				map[string]any{"SpecialToken": map[string]any{"id": bos, "type_id": 0}},
				map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": bos, "type_id": 1}},
				map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}},
			},
			"special_tokens": map[string]any{bos: map[string]any{"id": bos, "ids": []int32{v.BOS}, "tokens": []string{bos}}},
		}
	}
	unk := "<unk>"
	if v.UNK >= 0 {
		unk = v.Tokens[v.UNK]
	}
	doc := map[string]any{
		"version":      "1.0",
		"truncation":   nil,
		"padding":      nil,
		"added_tokens": added,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": spaceMark},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": spaceMark},
		}},
		"pre_tokenizer":  nil,
		"post_processor": post,
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": spaceMark}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": unk, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": mergeList,
		},
	}
	return json.Marshal(doc)
}

// byteChars is GPT-2's map from bytes to printable characters.
func byteChars() [256]rune {
	var out [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			out[b] = rune(b)
		} else {
			out[b] = rune(256 + n)
			n++
		}
	}
	return out
}

// Qwen2Regex is the Split pattern of Qwen2's tokenizer.json.
const Qwen2Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// ByteLevelTokenizerJSON returns a Qwen2-style byte-level BPE
// tokenizer.json: the 256 byte symbols, one token per merge of words (plain
// text pairs such as {"t", "h"}, each side a byte symbol or an earlier
// merge's result), then the special tokens. It returns the ids of the
// special tokens too.
func ByteLevelTokenizerJSON(merges [][2]string, specials []string) ([]byte, map[string]int, error) {
	bc := byteChars()
	enc := func(s string) string {
		out := make([]rune, 0, len(s))
		for _, b := range []byte(s) {
			out = append(out, bc[b])
		}
		return string(out)
	}
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(bc[b])] = b
	}
	var mergeList []string
	for _, m := range merges {
		l, r := enc(m[0]), enc(m[1])
		if _, ok := vocab[l]; !ok {
			return nil, nil, fmt.Errorf("hftest: merge %q: %q is not a token", m, m[0])
		}
		if _, ok := vocab[r]; !ok {
			return nil, nil, fmt.Errorf("hftest: merge %q: %q is not a token", m, m[1])
		}
		if _, ok := vocab[l+r]; !ok {
			vocab[l+r] = len(vocab)
		}
		mergeList = append(mergeList, l+" "+r)
	}
	ids := map[string]int{}
	var added []map[string]any
	for _, s := range specials {
		id := len(vocab) + len(added)
		ids[s] = id
		added = append(added, map[string]any{
			"id": id, "content": s, "single_word": false, "lstrip": false, "rstrip": false,
			"normalized": false, "special": true,
		})
	}
	f := false
	doc := map[string]any{
		"version":      "1.0",
		"added_tokens": added,
		"normalizer":   map[string]any{"type": "NFC"},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": Qwen2Regex}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": f, "ignore_merges": false,
			"vocab": vocab, "merges": mergeList,
		},
	}
	data, err := json.Marshal(doc)
	return data, ids, err
}
