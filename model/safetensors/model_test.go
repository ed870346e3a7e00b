package safetensors_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/safetensors"
	"github.com/golem-llm/golem/model/safetensors/hftest"
	"github.com/golem-llm/golem/model/tokenizer"
)

func tinySpec(arch string) hftest.Spec {
	return hftest.Spec{Arch: arch, Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, FFN: 48, Vocab: 300, Seed: 1}
}

func TestConfigMapping(t *testing.T) {
	base := func(arch string) llama.Config {
		return llama.Config{
			Arch: arch, VocabSize: 300, Dim: 32, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 8, FFN: 48,
			ContextLen: 256, NormEps: 1e-5, RopeTheta: 10000, RopeMode: graph.RoPENeoX, RopeFreqScale: 1,
		}
	}
	cases := []struct {
		name string
		spec func() hftest.Spec
		want func() llama.Config
	}{
		{"llama", func() hftest.Spec { return tinySpec("LlamaForCausalLM") }, func() llama.Config { return base("llama") }},
		{"mistral is llama", func() hftest.Spec {
			s := tinySpec("MistralForCausalLM")
			s.Config = map[string]any{"sliding_window": nil}
			return s
		},
			func() llama.Config { return base("llama") }},
		{"qwen2 biases", func() hftest.Spec {
			s := tinySpec("Qwen2ForCausalLM")
			s.RopeTheta, s.Eps = 1e6, 1e-6
			return s
		}, func() llama.Config { c := base("qwen2"); c.QKVBias, c.RopeTheta, c.NormEps = true, 1e6, 1e-6; return c }},
		{"qwen3 head_dim", func() hftest.Spec { s := tinySpec("Qwen3ForCausalLM"); s.HeadDim = 16; s.Tied = true; return s },
			func() llama.Config { c := base("qwen3"); c.QKNorm, c.HeadDim, c.Tied = true, 16, true; return c }},
		{"tied", func() hftest.Spec { s := tinySpec("LlamaForCausalLM"); s.Tied = true; return s },
			func() llama.Config { c := base("llama"); c.Tied = true; return c }},
		{"linear scaling", func() hftest.Spec {
			s := tinySpec("LlamaForCausalLM")
			s.RopeScaling = map[string]any{"type": "linear", "factor": 4.0}
			return s
		}, func() llama.Config { c := base("llama"); c.RopeFreqScale = 0.25; return c }},
		{"llama3 scaling", func() hftest.Spec {
			s := tinySpec("LlamaForCausalLM")
			s.RopeTheta = 500000
			s.RopeScaling = map[string]any{"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
			return s
		}, func() llama.Config {
			c := base("llama")
			c.RopeTheta = 500000
			c.RopeScaling = &llama.Llama3Scaling{Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 8192}
			return c
		}},
		{"rope_parameters", func() hftest.Spec {
			s := tinySpec("LlamaForCausalLM")
			s.Config = map[string]any{"rope_theta": nil, "rope_parameters": map[string]any{"rope_type": "default", "rope_theta": 123456.0}}
			return s
		}, func() llama.Config { c := base("llama"); c.RopeTheta = 123456; return c }},
		{"default context", func() hftest.Spec {
			s := tinySpec("Qwen3ForCausalLM")
			s.Config = map[string]any{"max_position_embeddings": nil}
			return s
		}, func() llama.Config { c := base("qwen3"); c.QKNorm, c.ContextLen = true, 32768; return c }},
		{"mha default kv heads", func() hftest.Spec {
			s := tinySpec("LlamaForCausalLM")
			s.KVHeads = 4
			s.Config = map[string]any{"num_key_value_heads": nil}
			return s
		},
			func() llama.Config { c := base("llama"); c.KVHeads = 4; return c }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := hftest.Write(dir, c.spec(), nil)
			require.NoError(t, err)
			m, err := safetensors.OpenModel(dir)
			require.NoError(t, err)
			defer m.Close()
			require.Equal(t, c.want(), *m.Config())
		})
	}
}

func TestGGUFName(t *testing.T) {
	cases := []struct {
		hf, want string
		skip     bool
		err      bool
	}{
		{"model.embed_tokens.weight", "token_embd.weight", false, false},
		{"model.norm.weight", "output_norm.weight", false, false},
		{"lm_head.weight", "output.weight", false, false},
		{"model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight", false, false},
		{"model.layers.12.self_attn.k_proj.weight", "blk.12.attn_k.weight", false, false},
		{"model.layers.3.self_attn.v_proj.bias", "blk.3.attn_v.bias", false, false},
		{"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight", false, false},
		{"model.layers.1.self_attn.q_norm.weight", "blk.1.attn_q_norm.weight", false, false},
		{"model.layers.1.self_attn.k_norm.weight", "blk.1.attn_k_norm.weight", false, false},
		{"model.layers.1.mlp.gate_proj.weight", "blk.1.ffn_gate.weight", false, false},
		{"model.layers.1.mlp.up_proj.weight", "blk.1.ffn_up.weight", false, false},
		{"model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight", false, false},
		{"model.layers.1.input_layernorm.weight", "blk.1.attn_norm.weight", false, false},
		{"model.layers.1.post_attention_layernorm.weight", "blk.1.ffn_norm.weight", false, false},
		{"model.layers.1.self_attn.rotary_emb.inv_freq", "", true, false},
		{"model.layers.1.self_attn.o_proj.bias", "", false, true},
		{"model.layers.01.mlp.up_proj.weight", "", false, true},
		{"model.layers.x.mlp.up_proj.weight", "", false, true},
		{"vision_tower.weight", "", false, true},
	}
	for _, c := range cases {
		t.Run(c.hf, func(t *testing.T) {
			got, skip, err := safetensors.GGUFName(c.hf)
			if c.err {
				require.ErrorContains(t, err, c.hf)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
			require.Equal(t, c.skip, skip)
		})
	}
}

func TestShardedMatchesSingle(t *testing.T) {
	spec := tinySpec("Qwen2ForCausalLM")
	spec.DType = "BF16"
	one, three := t.TempDir(), t.TempDir()
	weights, err := hftest.Write(one, spec, nil)
	require.NoError(t, err)
	spec.Shards = 3
	_, err = hftest.Write(three, spec, weights)
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(three, safetensors.IndexFile))
	require.NoError(t, err)

	a, err := safetensors.OpenModel(one)
	require.NoError(t, err)
	defer a.Close()
	b, err := safetensors.OpenModel(three)
	require.NoError(t, err)
	defer b.Close()
	require.Equal(t, a.Names(), b.Names())
	require.Equal(t, "token_embd.weight", a.Names()[0])
	require.Equal(t, "blk.0.attn_norm.weight", a.Names()[1])
	require.Equal(t, "output.weight", a.Names()[len(a.Names())-1])
	for _, name := range a.Names() {
		ia, _ := a.Info(name)
		ib, _ := b.Info(name)
		require.Equal(t, ia, ib)
		require.Equal(t, graph.BF16, ia.DType)
		da, err := a.TensorData(name)
		require.NoError(t, err)
		db, err := b.TensorData(name)
		require.NoError(t, err)
		require.Equal(t, da, db, name)
		// The values are the ones written.
		w := weights[ia.HFName]
		require.Equal(t, w.Shape, ia.Shape)
		require.Equal(t, must(hftest.Encode("BF16", w.Data)), da)
	}
	_, err = a.TensorData("nope")
	require.ErrorContains(t, err, `no tensor "nope"`)
	_, _, err = a.Weights()("nope")
	require.ErrorIs(t, err, llama.ErrNotFound)
}

func TestLlama3RopeFreqs(t *testing.T) {
	spec := tinySpec("LlamaForCausalLM")
	spec.RopeTheta = 500000
	spec.RopeScaling = map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
	dir := t.TempDir()
	_, err := hftest.Write(dir, spec, nil)
	require.NoError(t, err)
	m, err := safetensors.OpenModel(dir)
	require.NoError(t, err)
	defer m.Close()
	require.Equal(t, safetensors.RopeFreqsName, m.Names()[0])
	info, ok := m.Info(safetensors.RopeFreqsName)
	require.True(t, ok)
	require.Equal(t, []int{4}, info.Shape)
	data, err := m.TensorData(safetensors.RopeFreqsName)
	require.NoError(t, err)
	want := m.Config().RopeScaling.FreqFactors(500000, 8)
	for i, w := range want {
		require.Equal(t, w, math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])))
	}
	require.Equal(t, float32(1), want[0])
	require.Equal(t, float32(8), want[3])
}

// TestTiedWithLMHead: a tied checkpoint that also stores lm_head drops it.
func TestTiedWithLMHead(t *testing.T) {
	spec := tinySpec("Qwen2ForCausalLM")
	weights := spec.Random()
	weights["lm_head.weight"] = weights["model.embed_tokens.weight"]
	spec.Tied = true
	dir := t.TempDir()
	_, err := hftest.Write(dir, spec, weights)
	require.NoError(t, err)
	m, err := safetensors.OpenModel(dir)
	require.NoError(t, err)
	defer m.Close()
	require.True(t, m.Config().Tied)
	_, ok := m.Info("output.weight")
	require.False(t, ok)
}

func TestOpenModelErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  []string
	}{
		{"no config", func(t *testing.T, dir string) {}, []string{"config.json"}},
		{"unknown architecture", func(t *testing.T, dir string) {
			write(t, dir, tinySpec("GPT2LMHeadModel"), nil)
		}, []string{"unsupported architecture GPT2LMHeadModel", "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM"}},
		{"no weights", func(t *testing.T, dir string) {
			require.NoError(t, hftest.WriteJSON(filepath.Join(dir, "config.json"), tinySpec("LlamaForCausalLM").ConfigJSON()))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("x"), 0o644))
		}, []string{"no model.safetensors", "PyTorch .bin checkpoints are not supported"}},
		{"missing tensor", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			w := s.Random()
			delete(w, "model.layers.1.mlp.up_proj.weight")
			write(t, dir, s, w)
		}, []string{`"blk.1.ffn_up.weight"`, "not found"}},
		{"wrong shape", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			w := s.Random()
			w["model.layers.0.self_attn.k_proj.weight"] = w["model.layers.0.self_attn.q_proj.weight"]
			write(t, dir, s, w)
		}, []string{`"blk.0.attn_k.weight" has shape [32 32], want [16 32]`}},
		{"unknown tensor", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			w := s.Random()
			w["model.layers.0.self_attn.o_proj.bias"] = hftest.Weight{Shape: []int{32}, Data: make([]float32, 32)}
			write(t, dir, s, w)
		}, []string{`"model.layers.0.self_attn.o_proj.bias" has no GGUF name`}},
		{"extra layer", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			w := s.Random()
			w["model.layers.2.mlp.up_proj.weight"] = w["model.layers.1.mlp.up_proj.weight"]
			write(t, dir, s, w)
		}, []string{`"model.layers.2.mlp.up_proj.weight": layer 2, but the model has 2`}},
		{"unsupported dtype", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			write(t, dir, s, nil)
			p := filepath.Join(dir, "model.safetensors")
			f, err := safetensors.Open(p)
			require.NoError(t, err)
			var ts []safetensors.WriteTensor
			for _, tt := range f.Tensors {
				d, _ := f.TensorData(tt)
				wt := safetensors.WriteTensor{Name: tt.Name, DType: tt.DTypeName, Shape: tt.Shape, Data: append([]byte(nil), d...)}
				if tt.Name == "model.norm.weight" {
					wt.DType = "I32"
				}
				ts = append(ts, wt)
			}
			f.Close()
			require.NoError(t, os.Remove(p))
			require.NoError(t, safetensors.WriteFile(p, ts, nil))
		}, []string{`tensor "model.norm.weight": dtype I32 is not supported`}},
		{"index lists absent tensor", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			s.Shards = 2
			write(t, dir, s, nil)
			require.NoError(t, hftest.WriteJSON(filepath.Join(dir, safetensors.IndexFile), map[string]any{
				"weight_map": map[string]string{"model.norm.weight": "model-00001-of-00002.safetensors"},
			}))
		}, []string{`lists tensor "model.norm.weight" in model-00001-of-00002.safetensors, which lacks it`}},
		{"index escapes folder", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			write(t, dir, s, nil)
			require.NoError(t, hftest.WriteJSON(filepath.Join(dir, safetensors.IndexFile), map[string]any{
				"weight_map": map[string]string{"model.norm.weight": "../model.safetensors"},
			}))
		}, []string{`bad shard name "../model.safetensors"`}},
		{"yarn", func(t *testing.T, dir string) {
			s := tinySpec("Qwen2ForCausalLM")
			s.RopeScaling = map[string]any{"type": "yarn", "factor": 4.0}
			write(t, dir, s, nil)
		}, []string{`rope_scaling type "yarn" is not supported`}},
		{"llama attention bias", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			s.Config = map[string]any{"attention_bias": true}
			write(t, dir, s, nil)
		}, []string{"attention_bias and mlp_bias are not supported"}},
		{"gelu", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			s.Config = map[string]any{"hidden_act": "gelu"}
			write(t, dir, s, nil)
		}, []string{`hidden_act "gelu" is not supported`}},
		{"zero layers", func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			s.Config = map[string]any{"num_hidden_layers": 0}
			write(t, dir, s, nil)
		}, []string{"num_hidden_layers = 0: want 1..4096"}},
	}
	// config.json values out of range, each named with its key and the
	// accepted range before any conversion narrows it.
	for _, c := range []struct {
		key  string
		val  any
		want string
	}{
		{"max_position_embeddings", int64(1) << 40, "max_position_embeddings = 1099511627776: want 1..2147483647"},
		{"vocab_size", int64(1) << 33, "vocab_size = 8589934592: want 1..2147483647"},
		{"hidden_size", -64, "hidden_size = -64: want 1..1048576"},
		{"num_attention_heads", 0, "num_attention_heads = 0: want 1..65536"},
		{"intermediate_size", int64(1) << 40, "intermediate_size = 1099511627776: want 1..16777216"},
		{"num_key_value_heads", 3, "num_key_value_heads = 3: want a divisor of num_attention_heads = 4"},
		{"head_dim", 0, "head_dim = 0: want 2..65536"},
		{"head_dim", 9, "head_dim = 9: want an even number"},
		{"rms_norm_eps", 1e300, "rms_norm_eps = 1e+300: want a finite positive number"},
		{"rms_norm_eps", 0, "rms_norm_eps = 0: want a finite positive number"},
		{"rope_theta", -1, "rope_theta = -1: want a finite positive number"},
		{"rope_scaling", map[string]any{"rope_type": "linear", "factor": 1e-300}, "rope_scaling.factor = 1e-300: want a positive number with a float32 inverse"},
		{"rope_scaling", map[string]any{"rope_type": "llama3", "factor": 8, "low_freq_factor": 4, "high_freq_factor": 1}, "rope_scaling {Factor:8 LowFreqFactor:4 HighFreqFactor:1"},
	} {
		cases = append(cases, struct {
			name  string
			setup func(t *testing.T, dir string)
			want  []string
		}{c.key + " " + fmt.Sprint(c.val), func(t *testing.T, dir string) {
			s := tinySpec("LlamaForCausalLM")
			s.Config = map[string]any{c.key: c.val}
			write(t, dir, s, nil)
		}, []string{c.want, "(in "}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.setup(t, dir)
			m, err := safetensors.OpenModel(dir)
			require.Error(t, err)
			require.Nil(t, m)
			for _, w := range c.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func write(t *testing.T, dir string, s hftest.Spec, w map[string]hftest.Weight) {
	t.Helper()
	_, err := hftest.Write(dir, s, w)
	require.NoError(t, err)
}

// TestMisalignedData: a tensor whose bytes are not aligned to its element
// size in the file is returned as an aligned copy.
func TestMisalignedData(t *testing.T) {
	spec := tinySpec("LlamaForCausalLM")
	dir := t.TempDir()
	weights := spec.Random()
	write(t, dir, spec, weights)
	// Rewrite with a 1-byte tensor first, so every F32 tensor is misaligned.
	p := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(p)
	require.NoError(t, err)
	ts := []safetensors.WriteTensor{{Name: "model.layers.0.self_attn.rotary_emb.inv_freq", DType: "U8", Shape: []int{1}, Data: []byte{7}}}
	for _, tt := range f.Tensors {
		d, _ := f.TensorData(tt)
		ts = append(ts, safetensors.WriteTensor{Name: tt.Name, DType: tt.DTypeName, Shape: tt.Shape, Data: append([]byte(nil), d...)})
	}
	f.Close()
	require.NoError(t, os.Remove(p))
	require.NoError(t, safetensors.WriteFile(p, ts, nil))
	m, err := safetensors.OpenModel(dir)
	require.NoError(t, err)
	defer m.Close()
	data, err := m.TensorData("blk.0.attn_q.weight")
	require.NoError(t, err)
	require.Equal(t, must(hftest.Encode("F32", weights["model.layers.0.self_attn.q_proj.weight"].Data)), data)
	require.Zero(t, uintptrOf(data)%4)
}

// spmVocab is a small SentencePiece vocabulary: specials, the 256 byte
// tokens and a few pieces.
func spmVocab() *tokenizer.Vocab {
	v := &tokenizer.Vocab{Model: "llama", BOS: 1, EOS: 2, UNK: 0, EOT: -1, EOM: -1, PAD: -1, SEP: -1, Mask: -1, AddBOS: true, AddSpacePrefix: true}
	add := func(s string, score float32, typ int32) {
		v.Tokens = append(v.Tokens, s)
		v.Scores = append(v.Scores, score)
		v.Types = append(v.Types, typ)
	}
	add("<unk>", 0, tokenizer.TypeUnknown)
	add("<s>", 0, tokenizer.TypeControl)
	add("</s>", 0, tokenizer.TypeControl)
	for b := 0; b < 256; b++ {
		add(fmt.Sprintf("<0x%02X>", b), 0, tokenizer.TypeByte)
	}
	for i, p := range []string{"▁t", "he", "▁the", "▁a", "at", "▁c", "▁cat", "▁", "t", "h", "e", "a", "c", "s"} {
		add(p, -float32(i), tokenizer.TypeNormal)
	}
	return v
}

func TestVocabAndTemplate(t *testing.T) {
	tokJSON, err := hftest.SPMTokenizerJSON(spmVocab())
	require.NoError(t, err)
	cases := []struct {
		name     string
		tc       map[string]any
		jinja    string
		config   map[string]any
		check    func(t *testing.T, v *tokenizer.Vocab)
		template string
	}{
		{"tokenizer.json only", nil, "", nil, func(t *testing.T, v *tokenizer.Vocab) {
			require.Equal(t, "llama", v.Model)
			require.Equal(t, int32(1), v.BOS)
			require.Equal(t, int32(2), v.EOS)
			require.Equal(t, int32(0), v.UNK)
			require.True(t, v.AddBOS)
			require.False(t, v.AddEOS)
			require.NotEmpty(t, v.Merges)
		}, ""},
		{"tokenizer_config overrides", map[string]any{
			"add_bos_token": false, "add_eos_token": true,
			"eos_token": map[string]any{"content": "<s>"}, "pad_token": "</s>",
			"chat_template": "{{ messages }}",
		}, "", nil, func(t *testing.T, v *tokenizer.Vocab) {
			require.False(t, v.AddBOS)
			require.True(t, v.AddEOS)
			require.Equal(t, int32(1), v.EOS)
			require.Equal(t, int32(2), v.PAD)
		}, "{{ messages }}"},
		{"named templates", map[string]any{"chat_template": []any{
			map[string]any{"name": "tool_use", "template": "T"}, map[string]any{"name": "default", "template": "D"},
		}}, "", nil, nil, "D"},
		{"jinja file", map[string]any{}, "{% for m in messages %}{{ m }}{% endfor %}\n", nil, nil, "{% for m in messages %}{{ m }}{% endfor %}\n"},
		{"config pad id", nil, "", map[string]any{"pad_token_id": []int{3, 4}}, func(t *testing.T, v *tokenizer.Vocab) {
			require.Equal(t, int32(3), v.PAD)
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := tinySpec("LlamaForCausalLM")
			s.Tokenizer, s.TokenizerConfig, s.Config = tokJSON, c.tc, c.config
			write(t, dir, s, nil)
			if c.jinja != "" {
				require.NoError(t, os.WriteFile(filepath.Join(dir, safetensors.ChatTemplateFile), []byte(c.jinja), 0o644))
			}
			m, err := safetensors.OpenModel(dir)
			require.NoError(t, err)
			defer m.Close()
			v, err := m.Vocab()
			require.NoError(t, err)
			require.Equal(t, filepath.Base(dir), v.Name)
			if c.check != nil {
				c.check(t, v)
			}
			require.Equal(t, c.template, m.ChatTemplate())
			tok, err := m.Tokenizer()
			require.NoError(t, err)
			ids := tok.Encode("the cat", true, false)
			require.Equal(t, "the cat", tok.Decode(ids))
		})
	}
}

func TestTokenIDs(t *testing.T) {
	cases := []struct {
		raw  string
		want []int32
	}{
		{"", nil}, {"null", nil}, {"5", []int32{5}}, {"[1, 2]", []int32{1, 2}}, {`"x"`, nil},
	}
	for _, c := range cases {
		require.Equal(t, c.want, safetensors.TokenIDs([]byte(c.raw)), c.raw)
	}
}
