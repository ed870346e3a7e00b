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
	RopeFreqScale float32        // linear position scaling (1 or 0: none)
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

// Limits of the integer hyper-parameters, by Config field name: generous
// bounds beyond any real model that keep every size golem derives from them
// (weight shapes, parameter counts, file offsets) far from overflowing, and
// every value within a GGUF uint32. Validate enforces them, and the readers
// of model files check each value against them before converting it to int.
var limits = map[string]struct{ lo, hi int }{
	"VocabSize":  {1, math.MaxInt32},
	"Dim":        {1, 1 << 20},
	"Layers":     {1, 4096},
	"Heads":      {1, 1 << 16},
	"KVHeads":    {1, 1 << 16},
	"HeadDim":    {2, 1 << 16},
	"FFN":        {1, 1 << 24},
	"ContextLen": {1, math.MaxInt32},
	"RopeDims":   {0, 1 << 16},
}

// fieldNames describes the Config fields in Validate's messages.
var fieldNames = map[string]string{
	"VocabSize": "vocab size", "Dim": "embedding width", "Layers": "layers", "Heads": "heads",
	"KVHeads": "kv heads", "HeadDim": "head dim", "FFN": "feed-forward width", "ContextLen": "context length",
	"RopeDims": "rope dims", "NormEps": "norm epsilon", "RopeTheta": "rope theta",
	"RopeFreqScale": "rope frequency scale", "RopeScaling": "llama3 rope scaling",
}

// Validate checks that the configuration is complete and consistent; its
// messages name the fields in words ("llama: layers = 0: want 1..4096").
func (c *Config) Validate() error {
	return c.ValidateNamed(nil)
}

// ValidateNamed is Validate with messages that name each field as key
// returns it: the name of the setting in the file the configuration was
// read from ("llama.block_count", "num_hidden_layers"), so that the caller,
// which adds the file's name, gives a message such as "m.gguf:
// llama.block_count = 0: want 1..4096". key gets the Config field's name
// ("Layers"); when it returns "", the field is named in words. With a nil
// key the messages start with "llama: ".
func (c *Config) ValidateNamed(key func(field string) string) error {
	if err := CheckArch(c.Arch); err != nil {
		return err
	}
	if err := c.validate(key); err != nil {
		if key == nil {
			return fmt.Errorf("llama: %w", err)
		}
		return err
	}
	return nil
}

func (c *Config) validate(key func(field string) string) error {
	name := func(field string) string {
		if key != nil {
			if k := key(field); k != "" {
				return k
			}
		}
		return fieldNames[field]
	}
	for _, f := range []struct {
		field string
		v     int
	}{
		{"VocabSize", c.VocabSize}, {"Dim", c.Dim}, {"Layers", c.Layers}, {"Heads", c.Heads},
		{"KVHeads", c.KVHeads}, {"HeadDim", c.HeadDim}, {"FFN", c.FFN}, {"ContextLen", c.ContextLen},
		{"RopeDims", c.RopeDims},
	} {
		if l := limits[f.field]; f.v < l.lo || f.v > l.hi {
			return fmt.Errorf("%s = %d: want %d..%d", name(f.field), f.v, l.lo, l.hi)
		}
	}
	if c.KVHeads > c.Heads || c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("%s = %d: want a divisor of %s = %d", name("KVHeads"), c.KVHeads, name("Heads"), c.Heads)
	}
	if c.HeadDim%2 != 0 {
		return fmt.Errorf("%s = %d: want an even number (RoPE rotates pairs)", name("HeadDim"), c.HeadDim)
	}
	if c.RopeDims > c.HeadDim || c.RopeDims%2 != 0 {
		return fmt.Errorf("%s = %d: want an even number up to %s = %d", name("RopeDims"), c.RopeDims, name("HeadDim"), c.HeadDim)
	}
	for _, f := range []struct {
		field string
		v     float32
	}{{"NormEps", c.NormEps}, {"RopeTheta", c.RopeTheta}, {"RopeFreqScale", c.RopeFreqScale}} {
		if f.field == "RopeFreqScale" && f.v == 0 {
			continue // 0 means no scaling, as in graph.RoPEParams
		}
		if !(f.v > 0) || math.IsInf(float64(f.v), 0) {
			return fmt.Errorf("%s = %v: want a finite positive number", name(f.field), f.v)
		}
	}
	if s := c.RopeScaling; s != nil {
		ok := s.Factor > 0 && s.LowFreqFactor > 0 && s.HighFreqFactor > s.LowFreqFactor && s.OriginalContext > 0
		for _, v := range []float64{s.Factor, s.LowFreqFactor, s.HighFreqFactor} {
			ok = ok && !math.IsInf(v, 0)
		}
		if !ok {
			return fmt.Errorf("%s %+v: want positive finite factors, high_freq_factor > low_freq_factor and a positive original context",
				name("RopeScaling"), *s)
		}
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
