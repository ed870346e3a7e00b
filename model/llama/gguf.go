package llama

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/gguf"
)

// ConfigFromGGUF reads the hyper-parameters from a GGUF file's metadata
// (keys "<arch>.embedding_length" and so on, as llama.cpp writes them).
func ConfigFromGGUF(f *gguf.File) (*Config, error) {
	arch := f.Architecture()
	if err := CheckArch(arch); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	c := &Config{Arch: arch, RopeFreqScale: 1}
	geti := func(key string, dst *int, required bool) error {
		v, err := f.GetUint(arch + "." + key)
		if err != nil {
			if required {
				return err
			}
			return nil
		}
		*dst = int(v)
		return nil
	}
	for _, r := range []struct {
		key string
		dst *int
		req bool
	}{
		{"embedding_length", &c.Dim, true},
		{"block_count", &c.Layers, true},
		{"feed_forward_length", &c.FFN, true},
		{"attention.head_count", &c.Heads, true},
		{"attention.head_count_kv", &c.KVHeads, false},
		{"context_length", &c.ContextLen, false},
		{"attention.key_length", &c.HeadDim, false},
		{"rope.dimension_count", &c.RopeDims, false},
		{"vocab_size", &c.VocabSize, false},
	} {
		if err := geti(r.key, r.dst, r.req); err != nil {
			return nil, fmt.Errorf("llama: %w", err)
		}
	}
	if c.KVHeads == 0 {
		c.KVHeads = c.Heads
	}
	if c.HeadDim == 0 && c.Heads > 0 {
		c.HeadDim = c.Dim / c.Heads
	}
	if c.RopeDims == c.HeadDim {
		c.RopeDims = 0
	}
	eps, err := f.GetFloat(arch + ".attention.layer_norm_rms_epsilon")
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	c.NormEps = float32(eps)
	c.RopeTheta = 10000
	if v, err := f.GetFloat(arch + ".rope.freq_base"); err == nil {
		c.RopeTheta = float32(v)
	}
	if typ, err := f.GetString(arch + ".rope.scaling.type"); err == nil && typ == "linear" {
		if fac, err := f.GetFloat(arch + ".rope.scaling.factor"); err == nil && fac > 0 {
			c.RopeFreqScale = float32(1 / fac)
		}
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
		return nil, fmt.Errorf("llama: %s: missing tensor %q", f.Path, "token_embd.weight")
	}
	if len(emb.Shape) != 2 {
		return nil, fmt.Errorf("llama: %s: tensor %q has shape %v, want 2-D", f.Path, emb.Name, emb.Shape)
	}
	if c.VocabSize == 0 {
		c.VocabSize = emb.Shape[0]
	}
	if _, ok := f.Tensor("output.weight"); !ok {
		c.Tied = true
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return c, nil
}

// GGUFWeights returns a WeightInfo over the tensors of f.
func GGUFWeights(f *gguf.File) WeightInfo {
	return func(name string) (graph.DType, graph.Shape, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return 0, nil, fmt.Errorf("%s: %w", f.Path, ErrNotFound)
		}
		dt, err := t.DType()
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		return dt, graph.Shape(t.Shape), nil
	}
}
