// Package llama builds compute graphs for the Llama family of decoder-only
// transformers: Llama 2 and 3 (with Llama 3 RoPE scaling), TinyLlama,
// Mistral, Qwen2 (biases on q, k and v), Qwen3 (RMS norm on q and k per head)
// and SmolLM, with tied or separate output embeddings, any head dimension
// and any grouped-query ratio. Weights are named as in llama.cpp's GGUF files.
package llama

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/golem-llm/golem/graph"
)

// Config holds a model's hyper-parameters.
type Config struct {
	Arch       string  // "llama", "mistral", "qwen2", "qwen3"
	VocabSize  int     // rows of token_embd.weight
	Dim        int     // embedding width
	Layers     int     // transformer blocks
	Heads      int     // query heads
	KVHeads    int     // key/value heads (grouped-query attention when < Heads)
	HeadDim    int     // per-head width (Dim/Heads unless the file says otherwise)
	FFN        int     // feed-forward hidden width
	ContextLen int     // trained context length
	NormEps    float32 // RMS norm epsilon

	RopeTheta     float32        // frequency base
	RopeDims      int            // rotated dims per head (0: HeadDim)
	RopeMode      graph.RoPEMode // RoPENormal for GGUF llama (Q/K permuted by the converter), RoPENeoX for Qwen and unpermuted Hugging Face weights
	RopeFreqScale float32        // linear position scaling (1: none)
	RopeScaling   *Llama3Scaling // Llama 3.1+ frequency scaling, when the model uses it

	QKVBias bool // Qwen2: biases on q, k, v projections
	QKNorm  bool // Qwen3: RMS norm of q and k per head before RoPE
	Tied    bool // output projection shares token_embd.weight
}

// Llama3Scaling is the "llama3" rope_scaling of Llama 3.1 and later.
type Llama3Scaling struct {
	Factor          float64
	LowFreqFactor   float64
	HighFreqFactor  float64
	OriginalContext int
}

// FreqFactors returns the per-pair frequency divisors for dims rotated
// dimensions, as Meta's reference implementation defines them.
func (s *Llama3Scaling) FreqFactors(theta float64, dims int) []float32 {
	out := make([]float32, dims/2)
	lowWave := float64(s.OriginalContext) / s.LowFreqFactor
	highWave := float64(s.OriginalContext) / s.HighFreqFactor
	for i := range out {
		freq := 1 / math.Pow(theta, float64(2*i)/float64(dims))
		wave := 2 * math.Pi / freq
		switch {
		case wave < highWave:
			out[i] = 1
		case wave > lowWave:
			out[i] = float32(s.Factor)
		default:
			smooth := (float64(s.OriginalContext)/wave - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor)
			out[i] = float32(1 / ((1-smooth)/s.Factor + smooth))
		}
	}
	return out
}

// Architectures lists the supported values of general.architecture.
func Architectures() []string {
	out := []string{"llama", "mistral", "qwen2", "qwen3"}
	sort.Strings(out)
	return out
}

// CheckArch returns an error naming the supported architectures when arch is not one of them.
func CheckArch(arch string) error {
	for _, a := range Architectures() {
		if a == arch {
			return nil
		}
	}
	return fmt.Errorf("llama: unsupported architecture %q (supported: %s)", arch, strings.Join(Architectures(), ", "))
}

// Validate checks that the configuration is complete and consistent.
func (c *Config) Validate() error {
	if err := CheckArch(c.Arch); err != nil {
		return err
	}
	checks := []struct {
		name string
		v    int
	}{
		{"vocab size", c.VocabSize}, {"embedding width", c.Dim}, {"layers", c.Layers},
		{"heads", c.Heads}, {"kv heads", c.KVHeads}, {"head dim", c.HeadDim}, {"feed-forward width", c.FFN},
	}
	for _, ch := range checks {
		if ch.v <= 0 {
			return fmt.Errorf("llama: %s is %d", ch.name, ch.v)
		}
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("llama: %d heads are not a multiple of %d kv heads", c.Heads, c.KVHeads)
	}
	if c.RopeDims < 0 || c.RopeDims > c.HeadDim || c.RopeDims%2 != 0 {
		return fmt.Errorf("llama: rope dims %d invalid for head dim %d", c.RopeDims, c.HeadDim)
	}
	// !(x > 0) also refuses NaN, which every comparison fails.
	if !(c.RopeTheta > 0) || math.IsInf(float64(c.RopeTheta), 0) {
		return fmt.Errorf("llama: rope theta %v must be positive and finite", c.RopeTheta)
	}
	if !(c.NormEps > 0) || math.IsInf(float64(c.NormEps), 0) {
		return fmt.Errorf("llama: norm epsilon %v must be positive and finite", c.NormEps)
	}
	return nil
}

// Params returns the number of weights the configuration implies.
func (c *Config) Params() int64 {
	d, hd := int64(c.Dim), int64(c.HeadDim)
	attn := d*int64(c.Heads)*hd*2 + d*int64(c.KVHeads)*hd*2
	ffn := 3 * d * int64(c.FFN)
	per := attn + ffn + 2*d
	if c.QKVBias {
		per += int64(c.Heads+2*c.KVHeads) * hd
	}
	if c.QKNorm {
		per += 2 * hd
	}
	n := int64(c.Layers)*per + int64(c.VocabSize)*d + d
	if !c.Tied {
		n += int64(c.VocabSize) * d
	}
	return n
}
