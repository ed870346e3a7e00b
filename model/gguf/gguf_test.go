package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
)

func TestOpenStories(t *testing.T) {
	tests := []struct {
		file       string
		version    uint32
		numKV      int
		contextLen uint64
		dataOffset int64
	}{
		{"stories260K.gguf", 3, 19, 128, 14176},
		{"tinyllamas-stories-260k-f32.gguf", 1, 18, 512, 11456},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := sharedtest.SharedPath(t, "models", tc.file)
			f, err := Open(path)
			require.NoError(t, err)
			defer func() { require.NoError(t, f.Close()) }()

			require.Equal(t, path, f.Path)
			require.Equal(t, tc.version, f.Version)
			require.Equal(t, int64(32), f.Alignment)
			require.Equal(t, tc.dataOffset, f.DataOffset)
			require.Len(t, f.KV, tc.numKV)
			require.Equal(t, "llama", f.Architecture())

			for key, want := range map[string]uint64{
				"llama.context_length":          tc.contextLen,
				"llama.block_count":             5,
				"llama.embedding_length":        64,
				"llama.feed_forward_length":     172,
				"llama.attention.head_count":    8,
				"llama.attention.head_count_kv": 4,
				"llama.rope.dimension_count":    8,
				"tokenizer.ggml.bos_token_id":   1,
				"tokenizer.ggml.eos_token_id":   2,
			} {
				got, err := f.GetUint(key)
				require.NoError(t, err, key)
				require.Equal(t, want, got, key)
			}
			eps, err := f.GetFloat("llama.attention.layer_norm_rms_epsilon")
			require.NoError(t, err)
			require.InDelta(t, 1e-5, eps, 1e-12)
			model, err := f.GetString("tokenizer.ggml.model")
			require.NoError(t, err)
			require.Equal(t, "llama", model)

			tokens, err := f.GetStrings("tokenizer.ggml.tokens")
			require.NoError(t, err)
			require.Len(t, tokens, 512)
			require.Equal(t, []string{"<unk>", "<s>", "</s>", "<0x00>"}, tokens[:4])
			v, ok := f.Get("tokenizer.ggml.scores")
			require.True(t, ok)
			scores, ok := v.Float32s()
			require.True(t, ok)
			require.Len(t, scores, 512)
			v, ok = f.Get("tokenizer.ggml.token_type")
			require.True(t, ok)
			types, ok := v.Int32s()
			require.True(t, ok)
			require.Equal(t, []int32{2, 3, 3, 6}, types[:4])

			require.Len(t, f.Tensors, 48)
			shapes := map[string][]int{
				"token_embd.weight":        {512, 64},
				"output.weight":            {512, 64},
				"output_norm.weight":       {64},
				"blk.0.attn_q.weight":      {64, 64},
				"blk.0.attn_k.weight":      {32, 64},
				"blk.0.attn_v.weight":      {32, 64},
				"blk.0.attn_output.weight": {64, 64},
				"blk.2.ffn_gate.weight":    {172, 64},
				"blk.3.ffn_down.weight":    {64, 172},
				"blk.4.ffn_up.weight":      {172, 64},
				"blk.4.attn_norm.weight":   {64},
				"blk.4.ffn_norm.weight":    {64},
				"blk.5.attn_q.weight":      nil, // only 5 blocks
				"blk.0.attn_k.weight ":     nil, // trailing space
			}
			var total int64
			for name, shape := range shapes {
				ti, ok := f.Tensor(name)
				if shape == nil {
					require.False(t, ok, name)
					continue
				}
				require.True(t, ok, name)
				require.Equal(t, shape, ti.Shape, name)
			}
			for _, ti := range f.Tensors {
				require.Equal(t, GGMLTypeF32, ti.GGMLType, ti.Name)
				dt, err := ti.DType()
				require.NoError(t, err)
				require.Equal(t, graph.F32, dt)
				require.Equal(t, ti.NumElements()*4, ti.Size, ti.Name)
				require.Zero(t, ti.Offset%f.Alignment, ti.Name)
				data, err := f.TensorData(ti)
				require.NoError(t, err, ti.Name)
				require.Len(t, data, int(ti.Size))
				total += ti.NumElements()
			}
			// 260,032 weights plus the 512×64 output matrix that llama2.c shares
			// with the token embedding.
			require.Equal(t, int64(260032+512*64), total)
		})
	}
}

// Both shared model files hold the same weights; their token embeddings
// must be byte-identical.
func TestStoriesFilesAgree(t *testing.T) {
	v3, err := Open(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer v3.Close()
	v1, err := Open(sharedtest.SharedPath(t, "models", "tinyllamas-stories-260k-f32.gguf"))
	require.NoError(t, err)
	defer v1.Close()
	for _, name := range []string{"token_embd.weight", "blk.0.attn_norm.weight", "blk.4.ffn_down.weight"} {
		a, ok := v3.Tensor(name)
		require.True(t, ok)
		b, ok := v1.Tensor(name)
		require.True(t, ok)
		da, err := v3.TensorData(a)
		require.NoError(t, err)
		db, err := v1.TensorData(b)
		require.NoError(t, err)
		require.True(t, bytes.Equal(da, db), name)
	}
	ta, err := v3.GetStrings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	tb, err := v1.GetStrings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	require.Equal(t, ta, tb)
}

// Rewriting stories260K.gguf with the Writer reproduces it byte for byte:
// the Writer lays files out as llama.cpp does.
func TestWriterReproducesLlamaCppFile(t *testing.T) {
	path := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	orig, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := Parse(path, orig)
	require.NoError(t, err)
	w := NewWriter()
	for _, kv := range f.KV {
		w.AddKV(kv.Key, kv.Value)
	}
	for _, ti := range f.Tensors {
		data, err := f.TensorData(ti)
		require.NoError(t, err)
		dt, err := ti.DType()
		require.NoError(t, err)
		require.NoError(t, w.AddTensor(ti.Name, ti.Shape, dt, data))
	}
	out := writeBytes(t, w)
	require.Equal(t, len(orig), len(out))
	require.True(t, bytes.Equal(orig, out), "rewritten file differs from the original")
}

func TestVocabFiles(t *testing.T) {
	tests := []struct {
		file  string
		model string
		n     int
	}{
		{"ggml-vocab-llama-spm.gguf", "llama", 32000},
		{"ggml-vocab-phi-3.gguf", "llama", 0},
		{"ggml-vocab-gpt-2.gguf", "gpt2", 0},
		{"ggml-vocab-falcon.gguf", "gpt2", 0},
		{"ggml-vocab-starcoder.gguf", "gpt2", 0},
		{"ggml-vocab-deepseek-coder.gguf", "gpt2", 0},
		{"ggml-vocab-deepseek-llm.gguf", "gpt2", 0},
		{"ggml-vocab-mpt.gguf", "gpt2", 0},
		{"ggml-vocab-refact.gguf", "gpt2", 0},
		{"ggml-vocab-bert-bge.gguf", "bert", 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := Open(sharedtest.SharedPath(t, "testdata", "vocab", tc.file))
			require.NoError(t, err)
			defer f.Close()
			require.Equal(t, uint32(3), f.Version)
			require.Empty(t, f.Tensors)
			model, err := f.GetString("tokenizer.ggml.model")
			require.NoError(t, err)
			require.Equal(t, tc.model, model)
			tokens, err := f.GetStrings("tokenizer.ggml.tokens")
			require.NoError(t, err)
			require.NotEmpty(t, tokens)
			if tc.n > 0 {
				require.Len(t, tokens, tc.n)
			}
			v, ok := f.Get("tokenizer.ggml.token_type")
			require.True(t, ok)
			types, ok := v.Int32s()
			require.True(t, ok)
			require.Len(t, types, len(tokens))
			if v, ok := f.Get("tokenizer.ggml.scores"); ok {
				scores, ok := v.Float32s()
				require.True(t, ok)
				require.Len(t, scores, len(tokens))
			}
			if tc.model == "gpt2" {
				merges, err := f.GetStrings("tokenizer.ggml.merges")
				require.NoError(t, err)
				require.NotEmpty(t, merges)
			}
		})
	}
}

func TestVocabLlamaSPM(t *testing.T) {
	f, err := Open(sharedtest.SharedPath(t, "testdata", "vocab", "ggml-vocab-llama-spm.gguf"))
	require.NoError(t, err)
	defer f.Close()
	tokens, err := f.GetStrings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	require.Equal(t, "<unk>", tokens[0])
	require.Equal(t, "<0x0A>", tokens[13])
	addBOS, err := f.GetBool("tokenizer.ggml.add_bos_token")
	require.NoError(t, err)
	require.True(t, addBOS)
	n, err := f.GetInt("llama.vocab_size")
	require.NoError(t, err)
	require.Equal(t, int64(32000), n)
}

func TestGetErrors(t *testing.T) {
	f, err := Parse("meta.gguf", writeBytes(t, sampleWriter(t)))
	require.NoError(t, err)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"missing string", func() error { _, err := f.GetString("nope"); return err }, `gguf: meta.gguf: key "nope": missing`},
		{"string of uint", func() error { _, err := f.GetString("llama.block_count"); return err }, `key "llama.block_count": has type uint32, want string`},
		{"uint of string", func() error { _, err := f.GetUint("general.architecture"); return err }, `key "general.architecture": has type string, want an unsigned integer`},
		{"uint of negative", func() error { _, err := f.GetUint("general.neg"); return err }, `key "general.neg": value -5 is negative`},
		{"int of float", func() error { _, err := f.GetInt("llama.attention.layer_norm_rms_epsilon"); return err }, `has type float32, want an integer`},
		{"float of bool", func() error { _, err := f.GetFloat("tokenizer.ggml.add_bos_token"); return err }, `has type bool, want a number`},
		{"bool of string", func() error { _, err := f.GetBool("general.architecture"); return err }, `want bool`},
		{"strings of floats", func() error { _, err := f.GetStrings("tokenizer.ggml.scores"); return err }, `has type array of float32, want array of string`},
		{"missing bool", func() error { _, err := f.GetBool("x"); return err }, `key "x": missing`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "meta.gguf")
		})
	}
	n, err := f.GetInt("general.neg")
	require.NoError(t, err)
	require.Equal(t, int64(-5), n)
	big, err := f.GetUint("general.big")
	require.NoError(t, err)
	require.Equal(t, uint64(1<<40), big)
}

// TestGetIntIn checks the one checked conversion of GGUF integers to int:
// every width and signedness, both ends of the range, no wrap-around.
func TestGetIntIn(t *testing.T) {
	w := NewWriter()
	vals := map[string]Value{
		"u8": Uint8Value(200), "i8": Int8Value(-100), "u16": Uint16Value(60000), "i16": Int16Value(-30000),
		"u32": Uint32Value(1 << 31), "i32": Int32Value(-1), "u64max": Uint64Value(1<<64 - 1), "u64top": Uint64Value(1 << 63),
		"i64min": Int64Value(-1 << 63), "i64": Int64Value(4096), "f": Float32Value(2), "s": StringValue("3"),
	}
	for k, v := range vals {
		w.AddKV(k, v)
	}
	f, err := Parse("ints.gguf", writeBytes(t, w))
	require.NoError(t, err)
	tests := []struct {
		key    string
		lo, hi int
		want   int
		err    string
	}{
		{"u8", 0, 255, 200, ""},
		{"u8", 0, 199, 0, "gguf: ints.gguf: u8 = 200: want 0..199"},
		{"i8", -100, 0, -100, ""},
		{"i8", -99, 0, 0, "i8 = -100: want -99..0"},
		{"u16", 1, 60000, 60000, ""},
		{"i16", -30000, -30000, -30000, ""},
		{"u32", 1, 1 << 31, 1 << 31, ""},
		{"u32", 1, 1<<31 - 1, 0, "u32 = 2147483648: want 1..2147483647"},
		{"i32", 0, 10, 0, "i32 = -1: want 0..10"},
		{"i32", -1, -1, -1, ""},
		{"u64max", 1, 4096, 0, "u64max = 18446744073709551615: want 1..4096"},
		{"u64top", 1, 4096, 0, "u64top = 9223372036854775808: want 1..4096"},
		{"u64top", -5, -1, 0, "u64top = 9223372036854775808: want -5..-1"},
		{"i64min", 1, 4096, 0, "i64min = -9223372036854775808: want 1..4096"},
		{"i64", 1, 4096, 4096, ""},
		{"f", 0, 10, 0, `key "f": has type float32, want an integer`},
		{"s", 0, 10, 0, `key "s": has type string, want an integer`},
		{"absent", 0, 10, 0, `key "absent": missing`},
	}
	for _, tc := range tests {
		got, err := f.GetIntIn(tc.key, tc.lo, tc.hi)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.key)
			continue
		}
		require.NoError(t, err, tc.key)
		require.Equal(t, tc.want, got, tc.key)
	}
}

func TestTensorDTypes(t *testing.T) {
	tests := []struct {
		ggml    uint32
		dt      graph.DType
		wantErr string
	}{
		{GGMLTypeF32, graph.F32, ""},
		{GGMLTypeF16, graph.F16, ""},
		{GGMLTypeBF16, graph.BF16, ""},
		{GGMLTypeQ8_0, graph.Q8_0, ""},
		{GGMLTypeQ4_0, graph.Q4_0, ""},
		{GGMLTypeQ4_K, graph.Q4_K, ""},
		{GGMLTypeQ6_K, graph.Q6_K, ""},
		{GGMLTypeI32, graph.I32, ""},
		{GGMLTypeQ5_K, 0, `tensor "w": ggml type q5_k (13) is not supported by golem`},
		{GGMLTypeIQ4_XS, 0, `ggml type iq4_xs (23)`},
		{999, 0, `ggml type unknown(999) (999)`},
	}
	for _, tc := range tests {
		t.Run(GGMLTypeName(tc.ggml), func(t *testing.T) {
			ti := &TensorInfo{Name: "w", Shape: []int{1, 256}, GGMLType: tc.ggml}
			dt, err := ti.DType()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.dt, dt)
			back, err := GGMLTypeOf(dt)
			require.NoError(t, err)
			require.Equal(t, tc.ggml, back)
		})
	}
	_, err := GGMLTypeOf(graph.DType(200))
	require.Error(t, err)
}

// The ggml block table must agree with golem's own dtype table.
func TestGGMLTableMatchesGraph(t *testing.T) {
	for _, d := range graph.AllDTypes() {
		id, err := GGMLTypeOf(d)
		require.NoError(t, err, d.String())
		bs, bb, ok := GGMLTypeBlock(id)
		require.True(t, ok)
		require.Equal(t, int64(d.BlockSize()), bs, d.String())
		require.Equal(t, int64(d.BlockBytes()), bb, d.String())
		require.Equal(t, d.String(), GGMLTypeName(id))
	}
	for _, tc := range []struct {
		id     uint32
		name   string
		bs, bb int64
		ok     bool
	}{
		{GGMLTypeQ4_1, "q4_1", 32, 20, true},
		{GGMLTypeQ5_0, "q5_0", 32, 22, true},
		{GGMLTypeQ5_1, "q5_1", 32, 24, true},
		{GGMLTypeQ8_1, "q8_1", 32, 36, true},
		{GGMLTypeQ2_K, "q2_k", 256, 84, true},
		{GGMLTypeQ3_K, "q3_k", 256, 110, true},
		{GGMLTypeQ5_K, "q5_k", 256, 176, true},
		{GGMLTypeQ8_K, "q8_k", 256, 292, true},
		{GGMLTypeIQ2_XXS, "iq2_xxs", 256, 66, true},
		{GGMLTypeIQ1_M, "iq1_m", 256, 56, true},
		{GGMLTypeI8, "i8", 1, 1, true},
		{GGMLTypeI64, "i64", 1, 8, true},
		{GGMLTypeF64, "f64", 1, 8, true},
		{GGMLTypeTQ1_0, "tq1_0", 256, 54, true},
		{GGMLTypeMXFP4, "mxfp4", 32, 17, true},
		{4, "q4_2", 0, 0, false},
		{31, "q4_0_4_4", 0, 0, false},
		{1000, "unknown(1000)", 0, 0, false},
	} {
		require.Equal(t, tc.name, GGMLTypeName(tc.id))
		bs, bb, ok := GGMLTypeBlock(tc.id)
		require.Equal(t, tc.ok, ok, tc.name)
		require.Equal(t, tc.bs, bs, tc.name)
		require.Equal(t, tc.bb, bb, tc.name)
	}
}

func TestCloseAndTensorData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.gguf")
	require.NoError(t, sampleWriter(t).WriteFile(path))
	f, err := Open(path)
	require.NoError(t, err)
	ti, ok := f.Tensor("emb")
	require.True(t, ok)
	data, err := f.TensorData(ti)
	require.NoError(t, err)
	require.Equal(t, f32Bytes(1, 2, 3, 4, 5, 6, 7, 8), data)

	_, err = f.TensorData(nil)
	require.ErrorContains(t, err, "nil tensor")
	_, err = f.TensorData(&TensorInfo{Name: "fake", Offset: 1 << 20, Size: 4})
	require.ErrorContains(t, err, `tensor "fake": data`)
	_, err = f.TensorData(&TensorInfo{Name: "neg", Offset: -4, Size: 4})
	require.ErrorContains(t, err, `tensor "neg": bad offset`)

	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	_, err = f.TensorData(ti)
	require.ErrorContains(t, err, "file is closed")
	// Metadata survives Close.
	tokens, err := f.GetStrings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	require.Equal(t, []string{"<unk>", "<s>", "</s>", "a"}, tokens)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.gguf")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	bad := filepath.Join(dir, "bad.gguf")
	require.NoError(t, os.WriteFile(bad, []byte("GGML\x03\x00\x00\x00"), 0o644))
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.gguf"), "missing.gguf"},
		{dir, "not a regular file"},
		{empty, "empty.gguf: magic: truncated"},
		{bad, `bad.gguf: bad magic "GGML"`},
	}
	for _, tc := range tests {
		_, err := Open(tc.path)
		require.ErrorContains(t, err, tc.want)
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(sharedtest.SharedPath(b, "models", "stories260K.gguf"))
	require.NoError(b, err)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("stories260K.gguf", data); err != nil {
			b.Fatal(err)
		}
	}
}
