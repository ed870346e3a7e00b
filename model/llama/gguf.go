package llama

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/gguf"
)

// ggufKeys are the GGUF keys of the Config fields, after "<arch>.", and
// whether the file must have them (as llama.cpp requires them).
var ggufKeys = []struct {
	field, key string
	required   bool
}{
	{"Dim", "embedding_length", true},
	{"Layers", "block_count", true},
	{"FFN", "feed_forward_length", true},
	{"Heads", "attention.head_count", true},
	{"ContextLen", "context_length", true},
	{"KVHeads", "attention.head_count_kv", false},
	{"HeadDim", "attention.key_length", false},
	{"RopeDims", "rope.dimension_count", false},
	{"VocabSize", "vocab_size", false},
	{"NormEps", "attention.layer_norm_rms_epsilon", true},
	{"RopeTheta", "rope.freq_base", false},
}

// ConfigFromGGUF reads the hyper-parameters from a GGUF file's metadata
// (keys "<arch>.embedding_length" and so on, as llama.cpp writes them).
// Every value is checked before use, and errors name the file and the key:
// an integer outside its limit, a missing required key, inconsistent values
// (Config.ValidateNamed), and a tensor table whose blocks ("blk.N.*") do not
// match <arch>.block_count.
func ConfigFromGGUF(f *gguf.File) (*Config, error) {
	arch := f.Architecture()
	if err := CheckArch(arch); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	c := &Config{Arch: arch, RopeFreqScale: 1, RopeTheta: 10000}
	ints := map[string]*int{
		"Dim": &c.Dim, "Layers": &c.Layers, "FFN": &c.FFN, "Heads": &c.Heads, "ContextLen": &c.ContextLen,
		"KVHeads": &c.KVHeads, "HeadDim": &c.HeadDim, "RopeDims": &c.RopeDims, "VocabSize": &c.VocabSize,
	}
	present := map[string]bool{}
	for _, k := range ggufKeys {
		key := arch + "." + k.key
		if _, ok := f.Get(key); !ok {
			if k.required {
				return nil, fmt.Errorf("gguf: %s: key %q: missing", f.Path, key)
			}
			continue
		}
		present[k.field] = true
		if dst, ok := ints[k.field]; ok {
			lo, hi := limits[k.field].lo, limits[k.field].hi
			v, err := f.GetIntIn(key, lo, hi)
			if err != nil {
				return nil, err
			}
			*dst = v
		}
	}
	eps, err := f.GetFloat(arch + ".attention.layer_norm_rms_epsilon")
	if err != nil {
		return nil, err
	}
	c.NormEps = float32(eps)
	if present["RopeTheta"] {
		v, err := f.GetFloat(arch + ".rope.freq_base")
		if err != nil {
			return nil, err
		}
		c.RopeTheta = float32(v)
	}
	if typ, ok := f.Get(arch + ".rope.scaling.type"); ok {
		t, _ := typ.Str()
		switch t {
		case "none":
		case "linear":
			fac, err := f.GetFloat(arch + ".rope.scaling.factor")
			if err != nil {
				return nil, err
			}
			c.RopeFreqScale = float32(1 / fac)
			if !(fac > 0) || !(c.RopeFreqScale > 0) || math.IsInf(float64(c.RopeFreqScale), 0) {
				return nil, fmt.Errorf("gguf: %s: %s.rope.scaling.factor = %v: want a positive number with a float32 inverse", f.Path, arch, fac)
			}
		default:
			return nil, fmt.Errorf("gguf: %s: %s.rope.scaling.type = %v: golem supports none and linear (Llama 3 scaling comes as rope_freqs.weight)",
				f.Path, arch, typ.Any())
		}
	}
	if !present["KVHeads"] {
		c.KVHeads = c.Heads
	}
	if !present["HeadDim"] {
		if c.Dim%c.Heads != 0 {
			return nil, fmt.Errorf("gguf: %s: %s.embedding_length = %d is not a multiple of %s.attention.head_count = %d (and %s.attention.key_length is absent)",
				f.Path, arch, c.Dim, arch, c.Heads, arch)
		}
		c.HeadDim = c.Dim / c.Heads
	}
	if c.RopeDims == c.HeadDim {
		c.RopeDims = 0
	}
	switch arch {
	case "qwen2":
		c.RopeMode, c.QKVBias = graph.RoPENeoX, true
	case "qwen3":
		c.RopeMode, c.QKNorm = graph.RoPENeoX, true
	default:
		c.RopeMode = graph.RoPENormal
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, fmt.Errorf("%s: tensor %q: %w", f.Path, "token_embd.weight", ErrNotFound)
	}
	if len(emb.Shape) != 2 {
		return nil, fmt.Errorf("%s: tensor %q has shape %v, want 2-D", f.Path, emb.Name, emb.Shape)
	}
	if !present["VocabSize"] {
		c.VocabSize = emb.Shape[0]
	}
	if _, ok := f.Tensor("output.weight"); !ok {
		c.Tied = true
	}
	key := func(field string) string {
		switch {
		case field == "VocabSize" && !present[field]:
			return "vocab size (rows of token_embd.weight)"
		case field == "HeadDim" && !present[field]:
			return fmt.Sprintf("head dim (%s.embedding_length / %s.attention.head_count)", arch, arch)
		case field == "KVHeads" && !present[field]:
			return arch + ".attention.head_count (as kv heads)"
		case field == "RopeDims" && !present[field]:
			return ""
		}
		for _, k := range ggufKeys {
			if k.field == field {
				return arch + "." + k.key
			}
		}
		return ""
	}
	if err := c.ValidateNamed(key); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	if err := CheckBlocks(c.Layers, names); err != nil {
		return nil, fmt.Errorf("%s: %s.block_count = %d: %w", f.Path, arch, c.Layers, err)
	}
	return c, nil
}

// BlockOf returns the block number of a tensor name of the form
// "blk.N.rest", N in decimal without sign or leading zeros.
func BlockOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, ".")
	if !ok || num == "" || (len(num) > 1 && num[0] == '0') {
		return 0, false
	}
	for _, r := range num {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(num)
	return n, err == nil
}

// CheckBlocks checks that the tensor names cover exactly blocks 0..layers-1:
// a tensor of a block past the last ("blk.5.attn_q.weight" with 5 layers)
// or a block with no tensor at all is an error naming it. Which tensors a
// block must hold is Build's to check.
func CheckBlocks(layers int, names []string) error {
	seen := make([]bool, layers)
	for _, n := range names {
		b, ok := BlockOf(n)
		if !ok {
			if strings.HasPrefix(n, "blk.") {
				return fmt.Errorf("tensor %q: not a block number", n)
			}
			continue
		}
		if b >= layers {
			return fmt.Errorf("tensor %q belongs to block %d, past the last block %d", n, b, layers-1)
		}
		seen[b] = true
	}
	for b, ok := range seen {
		if !ok {
			return fmt.Errorf("no tensor of block %d (blk.%d.*)", b, b)
		}
	}
	return nil
}

// GGUFWeights returns a WeightInfo over the tensors of f. Its errors name
// neither the file nor the tensor: Build names the tensor and its caller the
// file.
func GGUFWeights(f *gguf.File) WeightInfo {
	return func(name string) (graph.DType, graph.Shape, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return 0, nil, ErrNotFound
		}
		dt, ok := gguf.DTypeOf(t.GGMLType)
		if !ok {
			return 0, nil, fmt.Errorf("ggml type %s (%d) is not supported by golem", gguf.GGMLTypeName(t.GGMLType), t.GGMLType)
		}
		return dt, graph.Shape(t.Shape), nil
	}
}
