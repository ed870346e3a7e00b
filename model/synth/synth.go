// Package synth writes Llama models of real shapes with seeded random
// weights as GGUF files, so that benchmarks and parity runs need no
// downloads. A preset (Presets, Lookup) or a custom spec (ParseCustom) gives
// the hyper-parameters; Write streams the file tensor by tensor, generating
// and quantizing rows on several goroutines, so even an 8B model never has
// to fit in memory.
//
// Weights are normal with a standard deviation chosen so activations stay
// near unit scale through any number of layers: 1/sqrt(fan_in) for the
// embedding, the output projection and the q, k, v, gate and up
// projections, and additionally divided by sqrt(2·layers) for the two
// projections that write into the residual stream (attn_output and
// ffn_down), as in GPT-2's initialisation. Norm weights are 1. Every row of
// every tensor has its own PCG stream keyed by the seed, the tensor's name
// and the row index, so a seed gives byte-identical files whatever the
// number of goroutines.
//
// The vocabulary (every tokenizer.* key) is copied verbatim from a donor
// GGUF file, whose token count then becomes the model's vocabulary size
// (the presets' VocabSize is the real model's, used when no donor is given
// and for parameter counts). Without a donor a synthetic SentencePiece-style
// vocabulary (byte fallback plus pronounceable pseudo-words) of the preset's
// size is written.
package synth

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/llama"
)

// Shape is a named model configuration of architecture "llama".
type Shape struct {
	Name   string
	Config llama.Config
}

// Vocabulary sizes of the real models the presets imitate.
const (
	VocabLlama2 = 32000  // Llama 2, TinyLlama and the llama2.c TinyStories models
	VocabLlama3 = 128256 // Llama 3.x
)

// base returns a llama configuration with the defaults shared by the presets.
func base(vocab, dim, layers, heads, kv, ffn, ctx int, theta float32, tied bool) llama.Config {
	return llama.Config{
		Arch: "llama", VocabSize: vocab, Dim: dim, Layers: layers, Heads: heads, KVHeads: kv,
		HeadDim: dim / heads, FFN: ffn, ContextLen: ctx, NormEps: 1e-5,
		RopeTheta: theta, RopeMode: graph.RoPENormal, RopeFreqScale: 1, Tied: tied,
	}
}

// Presets returns the built-in shapes, smallest first:
//
//   - tiny: dim 64, 2 layers, 4 heads, 2 kv heads, ffn 192, context 512
//     (vocabulary 512 without a donor, like stories260K's)
//   - stories15m: llama2.c's TinyStories 15M (dim 288, 6 layers, 6 heads,
//     ffn 768, context 256, tied)
//   - 110m: llama2.c's TinyStories 110M (dim 768, 12 layers, 12 heads,
//     ffn 2048, context 1024, tied)
//   - tinyllama-1.1b: TinyLlama 1.1B (dim 2048, 22 layers, 32 heads, 4 kv
//     heads, ffn 5632, context 2048)
//   - llama-3.2-1b: Llama 3.2 1B (dim 2048, 16 layers, 32 heads, 8 kv
//     heads, ffn 8192, theta 500000, tied, llama3 rope scaling factor 32,
//     written as rope_freqs.weight)
//   - llama-3-8b: Llama 3 8B (dim 4096, 32 layers, 32 heads, 8 kv heads,
//     ffn 14336, theta 500000, context 8192)
func Presets() []Shape {
	l32 := base(VocabLlama3, 2048, 16, 32, 8, 8192, 131072, 500000, true)
	l32.RopeScaling = &llama.Llama3Scaling{Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 8192}
	return []Shape{
		{"tiny", base(512, 64, 2, 4, 2, 192, 512, 10000, false)},
		{"stories15m", base(VocabLlama2, 288, 6, 6, 6, 768, 256, 10000, true)},
		{"110m", base(VocabLlama2, 768, 12, 12, 12, 2048, 1024, 10000, true)},
		{"tinyllama-1.1b", base(VocabLlama2, 2048, 22, 32, 4, 5632, 2048, 10000, false)},
		{"llama-3.2-1b", l32},
		{"llama-3-8b", base(VocabLlama3, 4096, 32, 32, 8, 14336, 8192, 500000, false)},
	}
}

// PresetNames returns the names of the presets, smallest first.
func PresetNames() []string {
	var out []string
	for _, s := range Presets() {
		out = append(out, s.Name)
	}
	return out
}

// Lookup returns the preset called name (case-insensitive). A name that
// contains "=" is parsed as a custom spec (see ParseCustom).
func Lookup(name string) (Shape, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if strings.Contains(n, "=") {
		return ParseCustom(name)
	}
	for _, s := range Presets() {
		if s.Name == n {
			return s, nil
		}
	}
	return Shape{}, fmt.Errorf("synth: unknown shape %q (presets: %s; or a custom spec like %q)",
		name, strings.Join(PresetNames(), ", "), "dim=512,layers=4,heads=8,kv=4,ffn=1376,ctx=1024")
}

// customKeys documents the keys ParseCustom accepts.
const customKeys = "dim, layers, heads, ffn (required), kv, headdim, ctx, theta, vocab, eps, tied"

// customNames are ParseCustom's keys of the llama.Config fields.
var customNames = map[string]string{
	"VocabSize": "vocab", "Dim": "dim", "Layers": "layers", "Heads": "heads", "KVHeads": "kv",
	"HeadDim": "headdim", "FFN": "ffn", "ContextLen": "ctx", "NormEps": "eps", "RopeTheta": "theta",
}

// ParseCustom parses a comma-separated list of key=value settings, for
// example "dim=512,layers=4,heads=8,kv=4,ffn=1376,ctx=1024,theta=10000".
// dim, layers, heads and ffn are required. The others default to kv=heads,
// headdim=dim/heads, ctx=2048, theta=10000, vocab=32000 (replaced by the
// donor's size when one is used), eps=1e-5 and tied=false.
func ParseCustom(spec string) (Shape, error) {
	fail := func(format string, args ...any) (Shape, error) {
		return Shape{}, fmt.Errorf("synth: custom shape %q: "+format, append([]any{spec}, args...)...)
	}
	ints := map[string]int{}
	floats := map[string]float64{}
	tied := false
	seen := map[string]bool{}
	var canon []string
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return fail("%q is not key=value", part)
		}
		if seen[k] {
			return fail("key %q given twice", k)
		}
		seen[k] = true
		switch k {
		case "dim", "layers", "heads", "kv", "headdim", "ffn", "ctx", "vocab":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fail("%s=%s: want a positive integer", k, v)
			}
			ints[k] = n
		case "theta", "eps":
			x, err := strconv.ParseFloat(v, 32)
			if err != nil || !(x > 0) || x > 1e30 {
				return fail("%s=%s: want a positive number", k, v)
			}
			floats[k] = x
		case "tied":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fail("tied=%s: want true or false", v)
			}
			tied = b
		default:
			return fail("unknown key %q (keys: %s)", k, customKeys)
		}
		canon = append(canon, k+"="+v)
	}
	for _, k := range []string{"dim", "layers", "heads", "ffn"} {
		if _, ok := ints[k]; !ok {
			return fail("missing %s (keys: %s)", k, customKeys)
		}
	}
	get := func(k string, def int) int {
		if v, ok := ints[k]; ok {
			return v
		}
		return def
	}
	dim, heads := ints["dim"], ints["heads"]
	if _, ok := ints["headdim"]; !ok && dim%heads != 0 {
		return fail("dim %d is not a multiple of %d heads (give headdim)", dim, heads)
	}
	c := base(get("vocab", VocabLlama2), dim, ints["layers"], heads, get("kv", heads), ints["ffn"], get("ctx", 2048), 10000, tied)
	c.HeadDim = get("headdim", dim/heads)
	if x, ok := floats["theta"]; ok {
		c.RopeTheta = float32(x)
	}
	if x, ok := floats["eps"]; ok {
		c.NormEps = float32(x)
	}
	if err := c.ValidateNamed(func(field string) string { return customNames[field] }); err != nil {
		return fail("%w", err)
	}
	return Shape{Name: "custom:" + strings.Join(canon, ","), Config: c}, nil
}
