package safetensors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/llama"
)

// HFConfig holds the fields of a Hugging Face config.json that golem reads.
// Optional fields are pointers (nil when absent or null).
type HFConfig struct {
	Architectures         []string        `json:"architectures"`
	ModelType             string          `json:"model_type"`
	VocabSize             int             `json:"vocab_size"`
	HiddenSize            int             `json:"hidden_size"`
	IntermediateSize      int             `json:"intermediate_size"`
	NumHiddenLayers       int             `json:"num_hidden_layers"`
	NumAttentionHeads     int             `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	MaxPositionEmbeddings int             `json:"max_position_embeddings"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           *RopeScaling    `json:"rope_scaling"`
	RopeParameters        *RopeScaling    `json:"rope_parameters"` // transformers 5: theta and scaling together
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	AttentionBias         bool            `json:"attention_bias"`
	MLPBias               bool            `json:"mlp_bias"`
	HiddenAct             string          `json:"hidden_act"`
	PartialRotaryFactor   *float64        `json:"partial_rotary_factor"`
	BOSTokenID            json.RawMessage `json:"bos_token_id"` // an id, a list of ids or null
	EOSTokenID            json.RawMessage `json:"eos_token_id"`
	PadTokenID            json.RawMessage `json:"pad_token_id"`
}

// RopeScaling is config.json's rope_scaling (or rope_parameters).
type RopeScaling struct {
	RopeType                      string   `json:"rope_type"`
	Type                          string   `json:"type"` // older spelling of rope_type
	Factor                        *float64 `json:"factor"`
	LowFreqFactor                 *float64 `json:"low_freq_factor"`
	HighFreqFactor                *float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings *int     `json:"original_max_position_embeddings"`
	RopeTheta                     *float64 `json:"rope_theta"`
}

// Kind returns the scaling type in lower case ("default", "linear",
// "llama3", ...).
func (r *RopeScaling) Kind() string {
	k := r.RopeType
	if k == "" {
		k = r.Type
	}
	if k == "" {
		return "default"
	}
	return strings.ToLower(k)
}

// archInfo describes a supported Hugging Face architecture.
type archInfo struct {
	gguf    string // general.architecture of the converted file
	qkvBias bool   // q, k and v projections always have biases (Qwen2)
	qkNorm  bool   // q_norm and k_norm per head (Qwen3)
	permute bool   // llama.cpp permutes q and k to the adjacent-pairs RoPE layout
	context int    // transformers' default max_position_embeddings
}

var archs = map[string]archInfo{
	"LlamaForCausalLM":   {gguf: "llama", permute: true, context: 2048},
	"MistralForCausalLM": {gguf: "llama", permute: true, context: 4096 * 32},
	"Qwen2ForCausalLM":   {gguf: "qwen2", qkvBias: true, context: 32768},
	"Qwen3ForCausalLM":   {gguf: "qwen3", qkNorm: true, context: 32768},
}

// SupportedArchitectures lists the Hugging Face architectures golem loads.
func SupportedArchitectures() []string {
	out := make([]string, 0, len(archs))
	for a := range archs {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// ParseConfig parses the contents of a config.json.
func ParseConfig(data []byte) (*HFConfig, error) {
	var c HFConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("safetensors: config.json: %w", err)
	}
	return &c, nil
}

// Architecture returns the config's architecture, or an error listing the
// supported ones.
func (c *HFConfig) Architecture() (string, error) {
	if len(c.Architectures) == 0 {
		return "", fmt.Errorf("safetensors: config.json names no architecture (supported: %s)", strings.Join(SupportedArchitectures(), ", "))
	}
	a := c.Architectures[0]
	if _, ok := archs[a]; !ok || len(c.Architectures) > 1 {
		return "", fmt.Errorf("safetensors: unsupported architecture %s (supported: %s)", strings.Join(c.Architectures, ", "), strings.Join(SupportedArchitectures(), ", "))
	}
	return a, nil
}

// Permuted reports whether llama.cpp's converter permutes the rows of this
// architecture's q and k projections (Llama and Mistral).
func (c *HFConfig) Permuted() bool {
	a, err := c.Architecture()
	return err == nil && archs[a].permute
}

// GGUFArch returns general.architecture for the converted model.
func (c *HFConfig) GGUFArch() (string, error) {
	a, err := c.Architecture()
	if err != nil {
		return "", err
	}
	return archs[a].gguf, nil
}

// rope returns the theta and scaling, from rope_parameters when present.
func (c *HFConfig) rope() (theta float64, scaling *RopeScaling) {
	theta = 10000
	if c.RopeTheta != nil {
		theta = *c.RopeTheta
	}
	scaling = c.RopeScaling
	if p := c.RopeParameters; p != nil {
		if p.RopeTheta != nil {
			theta = *p.RopeTheta
		}
		if scaling == nil {
			scaling = p
		}
	}
	return theta, scaling
}

// Llama3 returns the Llama 3 rope scaling of the config, or nil.
func (c *HFConfig) Llama3() *llama.Llama3Scaling {
	_, rs := c.rope()
	if rs == nil || rs.Kind() != "llama3" {
		return nil
	}
	s := &llama.Llama3Scaling{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 8192}
	if rs.Factor != nil {
		s.Factor = *rs.Factor
	}
	if rs.LowFreqFactor != nil {
		s.LowFreqFactor = *rs.LowFreqFactor
	}
	if rs.HighFreqFactor != nil {
		s.HighFreqFactor = *rs.HighFreqFactor
	}
	if rs.OriginalMaxPositionEmbeddings != nil {
		s.OriginalContext = *rs.OriginalMaxPositionEmbeddings
	}
	return s
}

// LinearScale returns the factor of "linear" rope scaling, or 0.
func (c *HFConfig) LinearScale() float64 {
	_, rs := c.rope()
	if rs == nil || rs.Kind() != "linear" || rs.Factor == nil {
		return 0
	}
	return *rs.Factor
}

// Tied reports tie_word_embeddings (false when absent, the default of the
// supported architectures).
func (c *HFConfig) Tied() bool { return c.TieWordEmbeddings != nil && *c.TieWordEmbeddings }

// LlamaConfig maps the config to golem's hyper-parameters for running the
// weights as Hugging Face stores them: RoPE in the NeoX ("rotate_half")
// layout for every architecture.
func (c *HFConfig) LlamaConfig() (*llama.Config, error) {
	a, err := c.Architecture()
	if err != nil {
		return nil, err
	}
	info := archs[a]
	errf := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: config.json (%s): "+format, append([]any{a}, args...)...)
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return nil, errf("hidden_act %q is not supported (want silu)", c.HiddenAct)
	}
	if info.permute && (c.AttentionBias || c.MLPBias) {
		return nil, errf("attention_bias and mlp_bias are not supported")
	}
	if c.PartialRotaryFactor != nil && *c.PartialRotaryFactor != 1 {
		return nil, errf("partial_rotary_factor %v is not supported", *c.PartialRotaryFactor)
	}
	cfg := &llama.Config{
		Arch:          info.gguf,
		VocabSize:     c.VocabSize,
		Dim:           c.HiddenSize,
		Layers:        c.NumHiddenLayers,
		Heads:         c.NumAttentionHeads,
		KVHeads:       c.NumAttentionHeads,
		FFN:           c.IntermediateSize,
		ContextLen:    c.MaxPositionEmbeddings,
		RopeMode:      graph.RoPENeoX,
		RopeFreqScale: 1,
		QKVBias:       info.qkvBias,
		QKNorm:        info.qkNorm,
		Tied:          c.Tied(),
	}
	if cfg.ContextLen <= 0 {
		cfg.ContextLen = info.context
	}
	if c.NumKeyValueHeads != nil {
		cfg.KVHeads = *c.NumKeyValueHeads
	}
	switch {
	case c.HeadDim != nil:
		cfg.HeadDim = *c.HeadDim
	case c.NumAttentionHeads > 0 && c.HiddenSize%c.NumAttentionHeads != 0:
		return nil, errf("hidden_size = %d: want a multiple of num_attention_heads = %d (or a head_dim)", c.HiddenSize, c.NumAttentionHeads)
	case c.NumAttentionHeads > 0:
		cfg.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	theta, rs := c.rope()
	eps := 1e-6
	if c.RMSNormEps != nil {
		eps = *c.RMSNormEps
	}
	// float32 would turn a value beyond its range into ±Inf: name the value
	// as config.json has it.
	for _, f := range []struct {
		key string
		v   float64
	}{{"rms_norm_eps", eps}, {"rope_theta", theta}} {
		if math.Abs(f.v) > math.MaxFloat32 {
			return nil, errf("%s = %v: want a finite positive number", f.key, f.v)
		}
	}
	cfg.NormEps, cfg.RopeTheta = float32(eps), float32(theta)
	if rs != nil {
		switch rs.Kind() {
		case "default":
		case "linear":
			if rs.Factor == nil {
				return nil, errf("linear rope_scaling needs a factor")
			}
			cfg.RopeFreqScale = float32(1 / *rs.Factor)
			if !(*rs.Factor > 0) || !(cfg.RopeFreqScale > 0) || math.IsInf(float64(cfg.RopeFreqScale), 0) {
				return nil, errf("rope_scaling.factor = %v: want a positive number with a float32 inverse", *rs.Factor)
			}
		case "llama3":
			if !info.permute {
				return nil, errf("rope_scaling %q is only supported for Llama models", rs.Kind())
			}
			cfg.RopeScaling = c.Llama3()
		default:
			return nil, errf("rope_scaling type %q is not supported (supported: linear, llama3)", rs.Kind())
		}
	}
	key := func(field string) string {
		switch field {
		case "HeadDim":
			if c.HeadDim == nil {
				return "head dim (hidden_size / num_attention_heads)"
			}
		case "KVHeads":
			if c.NumKeyValueHeads == nil {
				return "num_attention_heads (as kv heads)"
			}
		case "ContextLen":
			if c.MaxPositionEmbeddings <= 0 {
				return "default context length"
			}
		case "RopeScaling":
			return "rope_scaling"
		}
		return hfKeys[field]
	}
	if err := cfg.ValidateNamed(key); err != nil {
		return nil, errf("%w", err)
	}
	return cfg, nil
}

// hfKeys are the config.json keys of the llama.Config fields.
var hfKeys = map[string]string{
	"VocabSize": "vocab_size", "Dim": "hidden_size", "Layers": "num_hidden_layers",
	"Heads": "num_attention_heads", "KVHeads": "num_key_value_heads", "HeadDim": "head_dim",
	"FFN": "intermediate_size", "ContextLen": "max_position_embeddings", "NormEps": "rms_norm_eps",
	"RopeTheta": "rope_theta", "RopeFreqScale": "1 / rope_scaling.factor",
}

// TokenIDs returns the ids of a config.json token id field, which may be a
// number, a list of numbers or null.
func TokenIDs(raw json.RawMessage) []int32 {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var one int32
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int32{one}
	}
	var list []int32
	if err := json.Unmarshal(raw, &list); err == nil {
		return list
	}
	return nil
}
