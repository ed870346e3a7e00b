package llama_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/gguf/gguftest"
	"github.com/golem-llm/golem/model/llama"
)

func tinyConfig() *llama.Config {
	return &llama.Config{Arch: "llama", VocabSize: 32, Dim: 16, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 4, FFN: 24, ContextLen: 64, NormEps: 1e-5, RopeTheta: 10000, RopeFreqScale: 1}
}

// weights describes every tensor cfg needs, with extra and missing overrides.
func weights(cfg *llama.Config, drop string, reshape map[string]graph.Shape) llama.WeightInfo {
	d, hd := cfg.Dim, cfg.HeadDim
	w := map[string]graph.Shape{"token_embd.weight": {cfg.VocabSize, d}, "output_norm.weight": {d}}
	if !cfg.Tied {
		w["output.weight"] = graph.Shape{cfg.VocabSize, d}
	}
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		w[p+"attn_norm.weight"] = graph.Shape{d}
		w[p+"attn_q.weight"] = graph.Shape{cfg.Heads * hd, d}
		w[p+"attn_k.weight"] = graph.Shape{cfg.KVHeads * hd, d}
		w[p+"attn_v.weight"] = graph.Shape{cfg.KVHeads * hd, d}
		w[p+"attn_output.weight"] = graph.Shape{d, cfg.Heads * hd}
		w[p+"ffn_norm.weight"] = graph.Shape{d}
		w[p+"ffn_gate.weight"] = graph.Shape{cfg.FFN, d}
		w[p+"ffn_up.weight"] = graph.Shape{cfg.FFN, d}
		w[p+"ffn_down.weight"] = graph.Shape{d, cfg.FFN}
		if cfg.QKVBias {
			w[p+"attn_q.bias"] = graph.Shape{cfg.Heads * hd}
			w[p+"attn_k.bias"] = graph.Shape{cfg.KVHeads * hd}
			w[p+"attn_v.bias"] = graph.Shape{cfg.KVHeads * hd}
		}
		if cfg.QKNorm {
			w[p+"attn_q_norm.weight"] = graph.Shape{hd}
			w[p+"attn_k_norm.weight"] = graph.Shape{hd}
		}
	}
	delete(w, drop)
	for k, v := range reshape {
		w[k] = v
	}
	return func(name string) (graph.DType, graph.Shape, error) {
		s, ok := w[name]
		if !ok {
			return 0, nil, fmt.Errorf("test: %w", llama.ErrNotFound)
		}
		return graph.F32, s, nil
	}
}

func TestBuildVariants(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(c *llama.Config)
		opts   llama.BuildOptions
		logits graph.Shape
		must   []string // node names that must exist
		absent []string
	}{
		{"prefill last logits", nil, llama.BuildOptions{Tokens: 5, Context: 8}, graph.Shape{1, 32},
			[]string{"blk.1.kqv", "blk.0.attn_norm", "blk.1.ffn_gate", "result_norm", "output.weight"}, []string{"attn_q.bias"}},
		{"all logits f16 cache", nil, llama.BuildOptions{Tokens: 3, Context: 8, AllLogits: true, KVType: graph.F16}, graph.Shape{3, 32}, nil, nil},
		{"decode", nil, llama.BuildOptions{Tokens: 1, Context: 64}, graph.Shape{1, 32}, nil, nil},
		{"tied", func(c *llama.Config) { c.Tied = true }, llama.BuildOptions{Tokens: 2, Context: 4}, graph.Shape{1, 32}, nil, []string{"output.weight"}},
		{"qwen2 bias", func(c *llama.Config) { c.Arch, c.QKVBias, c.RopeMode = "qwen2", true, graph.RoPENeoX }, llama.BuildOptions{Tokens: 2, Context: 4}, graph.Shape{1, 32},
			[]string{"blk.0.attn_q.bias", "blk.1.attn_v.bias"}, nil},
		{"qwen3 qk norm", func(c *llama.Config) { c.Arch, c.QKNorm = "qwen3", true }, llama.BuildOptions{Tokens: 2, Context: 4}, graph.Shape{1, 32},
			[]string{"blk.0.attn_q_norm.weight", "blk.1.attn_k_norm.weight"}, nil},
		{"head dim not dim/heads", func(c *llama.Config) { c.HeadDim = 8 }, llama.BuildOptions{Tokens: 2, Context: 4}, graph.Shape{1, 32}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			if tc.mod != nil {
				tc.mod(cfg)
			}
			b, err := llama.Build(cfg, weights(cfg, "", nil), tc.opts)
			require.NoError(t, err)
			require.Equal(t, tc.logits, b.Logits.Shape)
			require.Len(t, b.Caches, 2*cfg.Layers)
			require.Equal(t, graph.Shape{tc.opts.Tokens}, b.Tokens.Shape)
			for _, n := range tc.must {
				require.NotNil(t, b.Graph.Node(n), n)
			}
			for _, n := range tc.absent {
				require.Nil(t, b.Graph.Node(n), n)
			}
			kv := tc.opts.KVType
			for _, c := range b.Caches {
				require.Equal(t, graph.OpState, c.Op)
				require.Equal(t, kv, c.DType)
				require.Equal(t, graph.Shape{tc.opts.Context, cfg.KVHeads, cfg.HeadDim}, c.Shape)
			}
		})
	}
}

// TestBuildBatchedDecode checks the batched decode graph: logits for every
// sequence, and each sequence's own caches, which SeqCaches lists in the
// order of a one-sequence graph's Caches.
func TestBuildBatchedDecode(t *testing.T) {
	cfg := tinyConfig()
	b, err := llama.Build(cfg, weights(cfg, "", nil), llama.BuildOptions{Tokens: 3, Seqs: 3, Context: 8})
	require.NoError(t, err)
	require.Equal(t, 3, b.Seqs)
	require.Equal(t, graph.Shape{3, 32}, b.Logits.Shape)
	require.Len(t, b.Caches, 2*cfg.Layers*3)
	seen := map[*graph.Node]bool{}
	for r := range 3 {
		cs := b.SeqCaches(r)
		require.Len(t, cs, 2*cfg.Layers)
		for i, c := range cs {
			k, v := llama.CacheNames(i / 2)
			want := []string{k, v}[i%2]
			require.Equal(t, fmt.Sprintf("%s.%d", want, r), c.Name)
			require.False(t, seen[c])
			seen[c] = true
		}
	}
	one, err := llama.Build(cfg, weights(cfg, "", nil), llama.BuildOptions{Tokens: 1, Context: 8})
	require.NoError(t, err)
	require.Equal(t, one.Caches, one.SeqCaches(0))
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(c *llama.Config)
		drop    string
		reshape map[string]graph.Shape
		opts    llama.BuildOptions
		want    string
	}{
		{"missing tensor", nil, "blk.1.ffn_up.weight", nil, llama.BuildOptions{Tokens: 1, Context: 4}, `"blk.1.ffn_up.weight"`},
		{"wrong shape", nil, "", map[string]graph.Shape{"blk.0.attn_k.weight": {16, 16}}, llama.BuildOptions{Tokens: 1, Context: 4}, `"blk.0.attn_k.weight" has shape [16 16], want [8 16]`},
		{"unknown arch", func(c *llama.Config) { c.Arch = "gpt-neox" }, "", nil, llama.BuildOptions{Tokens: 1, Context: 4}, "supported: llama, mistral, qwen2, qwen3"},
		{"gqa", func(c *llama.Config) { c.KVHeads = 3 }, "", nil, llama.BuildOptions{Tokens: 1, Context: 4}, "llama: kv heads = 3: want a divisor of heads = 4"},
		{"tokens over context", nil, "", nil, llama.BuildOptions{Tokens: 5, Context: 4}, "5 tokens with a context of 4"},
		{"kv type", nil, "", nil, llama.BuildOptions{Tokens: 1, Context: 4, KVType: graph.Q8_0}, "KV cache type q8_0"},
		{"zero layers", func(c *llama.Config) { c.Layers = 0 }, "", nil, llama.BuildOptions{Tokens: 1, Context: 4}, "llama: layers = 0: want 1..4096"},
		{"batched decode takes one token each", nil, "", nil, llama.BuildOptions{Tokens: 2, Seqs: 3, Context: 4}, "3 sequences takes one token each, not 2 tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tinyConfig()
			if tc.mod != nil {
				tc.mod(cfg)
			}
			_, err := llama.Build(cfg, weights(cfg, tc.drop, tc.reshape), tc.opts)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestLlama3FreqFactors(t *testing.T) {
	s := &llama.Llama3Scaling{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 8192}
	f := s.FreqFactors(500000, 128)
	require.Len(t, f, 64)
	// High frequencies (short wavelengths) are untouched, low ones divided by
	// the factor, and the band between interpolates smoothly and monotonically.
	require.Equal(t, float32(1), f[0])
	require.Equal(t, float32(8), f[63])
	for i := 1; i < len(f); i++ {
		require.GreaterOrEqual(t, f[i], f[i-1], "pair %d", i)
	}
	// A pair in the band, computed from the definition.
	for i, v := range f {
		freq := 1 / math.Pow(500000, float64(2*i)/128)
		wave := 2 * math.Pi / freq
		if wave > 8192/4 && wave < 8192 {
			smooth := (8192/wave - 1) / 3
			require.InDelta(t, 1/((1-smooth)/8+smooth), float64(v), 1e-5)
		}
	}
}

func TestConfigFromGGUFStories(t *testing.T) {
	f, err := gguf.Open(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer f.Close()
	c, err := llama.ConfigFromGGUF(f)
	require.NoError(t, err)
	require.Equal(t, "llama", c.Arch)
	require.Equal(t, 512, c.VocabSize)
	require.Equal(t, 64, c.Dim)
	require.Equal(t, 5, c.Layers)
	require.Equal(t, 8, c.Heads)
	require.Equal(t, 4, c.KVHeads)
	require.Equal(t, 8, c.HeadDim)
	require.Equal(t, 172, c.FFN)
	require.Equal(t, graph.RoPENormal, c.RopeMode)
	require.False(t, c.Tied)
	require.Equal(t, int64(292800), c.Params())
	_, err = llama.Build(c, llama.GGUFWeights(f), llama.BuildOptions{Tokens: 4, Context: 16})
	require.NoError(t, err)
}

func TestConfigFromGGUFErrors(t *testing.T) {
	build := func(arch string, keys map[string]uint32) *gguf.File {
		w := gguf.NewWriter()
		w.AddString("general.architecture", arch)
		for k, v := range keys {
			w.AddUint32(arch+"."+k, v)
		}
		require.NoError(t, w.AddTensor("token_embd.weight", []int{4, 8}, graph.F32, make([]byte, 4*8*4)))
		path := t.TempDir() + "/m.gguf"
		require.NoError(t, w.WriteFile(path))
		f, err := gguf.Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	_, err := llama.ConfigFromGGUF(build("bert", nil))
	require.ErrorContains(t, err, `unsupported architecture "bert"`)
	_, err = llama.ConfigFromGGUF(build("llama", map[string]uint32{"embedding_length": 8}))
	require.ErrorContains(t, err, "llama.block_count")
}

// TestConfigFromGGUFRefuses checks that every hyper-parameter of a GGUF
// file is checked, whatever its integer type, and that the messages name
// the file, the key and what is accepted.
func TestConfigFromGGUFRefuses(t *testing.T) {
	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	blk4 := func(name string) bool { return strings.HasPrefix(name, "blk.4.") }
	tests := []struct {
		name string
		edit gguftest.Edit
		want string
	}{
		{"more blocks than block_count", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Uint32Value(4)}},
			`llama.block_count = 4: tensor "blk.4.attn_q.weight" belongs to block 4, past the last block 3`},
		{"fewer blocks than block_count", gguftest.Edit{DropTensor: blk4},
			"llama.block_count = 5: no tensor of block 4 (blk.4.*)"},
		{"block_count 2^63 as uint64", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Uint64Value(1 << 63)}},
			"llama.block_count = 9223372036854775808: want 1..4096"},
		{"block_count min int64", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Int64Value(math.MinInt64)}},
			"llama.block_count = -9223372036854775808: want 1..4096"},
		{"block_count 0", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.Int8Value(0)}},
			"llama.block_count = 0: want 1..4096"},
		{"block_count a string", gguftest.Edit{Set: map[string]gguf.Value{"llama.block_count": gguf.StringValue("5")}},
			`key "llama.block_count": has type string, want an integer`},
		{"context 2^40", gguftest.Edit{Set: map[string]gguf.Value{"llama.context_length": gguf.Uint64Value(1 << 40)}},
			"llama.context_length = 1099511627776: want 1..2147483647"},
		{"context missing", gguftest.Edit{Drop: []string{"llama.context_length"}},
			`key "llama.context_length": missing`},
		{"key_length 0", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.key_length": gguf.Uint32Value(0)}},
			"llama.attention.key_length = 0: want 2..65536"},
		{"head dim 0 from the width", gguftest.Edit{Set: map[string]gguf.Value{"llama.embedding_length": gguf.Uint32Value(4)}},
			"llama.embedding_length = 4 is not a multiple of llama.attention.head_count = 8 (and llama.attention.key_length is absent)"},
		{"odd head dim", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.key_length": gguf.Uint32Value(7)}},
			"llama.attention.key_length = 7: want an even number"},
		{"kv heads not a divisor", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.head_count_kv": gguf.Uint32Value(3)}},
			"llama.attention.head_count_kv = 3: want a divisor of llama.attention.head_count = 8"},
		{"kv heads above heads", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.head_count_kv": gguf.Uint32Value(16)}},
			"llama.attention.head_count_kv = 16: want a divisor of llama.attention.head_count = 8"},
		{"epsilon NaN", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.layer_norm_rms_epsilon": gguf.Float32Value(float32(math.NaN()))}},
			"llama.attention.layer_norm_rms_epsilon = NaN: want a finite positive number"},
		{"epsilon 0", gguftest.Edit{Set: map[string]gguf.Value{"llama.attention.layer_norm_rms_epsilon": gguf.Float32Value(0)}},
			"llama.attention.layer_norm_rms_epsilon = 0: want a finite positive number"},
		{"theta infinite", gguftest.Edit{Set: map[string]gguf.Value{"llama.rope.freq_base": gguf.Float64Value(math.Inf(1))}},
			"llama.rope.freq_base = +Inf: want a finite positive number"},
		{"rope dims odd", gguftest.Edit{Set: map[string]gguf.Value{"llama.rope.dimension_count": gguf.Uint32Value(5)}},
			"llama.rope.dimension_count = 5: want an even number up to head dim (llama.embedding_length / llama.attention.head_count) = 8"},
		{"vocab size 0", gguftest.Edit{Set: map[string]gguf.Value{"llama.vocab_size": gguf.Uint32Value(0)}},
			"llama.vocab_size = 0: want 1..2147483647"},
		{"yarn scaling", gguftest.Edit{Set: map[string]gguf.Value{"llama.rope.scaling.type": gguf.StringValue("yarn")}},
			"llama.rope.scaling.type = yarn: golem supports none and linear"},
		{"linear scaling factor 0", gguftest.Edit{Set: map[string]gguf.Value{"llama.rope.scaling.type": gguf.StringValue("linear"), "llama.rope.scaling.factor": gguf.Float32Value(0)}},
			"llama.rope.scaling.factor = 0: want a positive number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := gguftest.Rewrite(t, stories, tc.edit)
			f, err := gguf.Open(path)
			require.NoError(t, err)
			defer f.Close()
			_, err = llama.ConfigFromGGUF(f)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, path)
			require.Equal(t, 1, strings.Count(err.Error(), path), "the path appears once: %v", err)
		})
	}
}

func TestBlockOf(t *testing.T) {
	for name, want := range map[string]int{"blk.0.attn_q.weight": 0, "blk.31.ffn_up.weight": 31} {
		got, ok := llama.BlockOf(name)
		require.True(t, ok, name)
		require.Equal(t, want, got)
	}
	for _, name := range []string{"token_embd.weight", "blk.01.x", "blk.-1.x", "blk.+1.x", "blk..x", "blk.1", "blk.99999999999999999999.x"} {
		_, ok := llama.BlockOf(name)
		require.False(t, ok, name)
	}
}
