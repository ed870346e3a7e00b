package synth_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/gguf/gguftest"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/synth"
	"github.com/golem-llm/golem/runtime"
)

func TestPresetsValidateAndCountParams(t *testing.T) {
	// Published parameter counts of the models the presets imitate.
	nominal := map[string]float64{
		"stories15m":     15e6,
		"110m":           110e6,
		"tinyllama-1.1b": 1.1e9,
		"llama-3.2-1b":   1.24e9,
		"llama-3-8b":     8.03e9,
	}
	presets := synth.Presets()
	require.Len(t, presets, 6)
	for _, s := range presets {
		t.Run(s.Name, func(t *testing.T) {
			require.NoError(t, s.Config.Validate())
			require.Equal(t, "llama", s.Config.Arch)
			require.Equal(t, graph.RoPENormal, s.Config.RopeMode)
			got, err := synth.Lookup(strings.ToUpper(s.Name))
			require.NoError(t, err)
			require.Equal(t, s, got)
			want, ok := nominal[s.Name]
			if !ok {
				return
			}
			p := float64(s.Config.Params())
			require.InDelta(t, 1, p/want, 0.03, "%s has %.4g parameters, want about %.4g", s.Name, p, want)
		})
	}
	l32, err := synth.Lookup("llama-3.2-1b")
	require.NoError(t, err)
	require.True(t, l32.Config.Tied)
	require.NotNil(t, l32.Config.RopeScaling)
	require.Equal(t, 64, l32.Config.HeadDim)
	require.Equal(t, synth.VocabLlama3, l32.Config.VocabSize)

	_, err = synth.Lookup("llama-9000")
	require.ErrorContains(t, err, "tiny, stories15m, 110m")
}

func TestParseCustom(t *testing.T) {
	tests := []struct {
		spec    string
		want    func(c *llama.Config)
		wantErr string
	}{
		{spec: "dim=512,layers=4,heads=8,kv=4,ffn=1376,ctx=1024,theta=10000", want: func(c *llama.Config) {
			c.Dim, c.Layers, c.Heads, c.KVHeads, c.FFN, c.ContextLen, c.RopeTheta = 512, 4, 8, 4, 1376, 1024, 10000
			c.HeadDim = 64
		}},
		{spec: " DIM=256 , layers=2,heads=4,ffn=512, vocab=1000, eps=1e-6, tied=true, theta=500000", want: func(c *llama.Config) {
			c.Dim, c.Layers, c.Heads, c.KVHeads, c.FFN, c.VocabSize, c.NormEps, c.Tied, c.RopeTheta = 256, 2, 4, 4, 512, 1000, 1e-6, true, 500000
			c.HeadDim = 64
		}},
		{spec: "dim=96,layers=1,heads=5,headdim=32,ffn=64,kv=1", want: func(c *llama.Config) {
			c.Dim, c.Layers, c.Heads, c.KVHeads, c.FFN, c.HeadDim = 96, 1, 5, 1, 64, 32
		}},
		{spec: "", wantErr: "missing dim"},
		{spec: "dim=64,layers=2,heads=4", wantErr: "missing ffn"},
		{spec: "dim=64,layers=2,heads=4,ffn=128,foo=1", wantErr: `unknown key "foo"`},
		{spec: "dim=64,layers=2,heads=4,ffn=128,dim=32", wantErr: `"dim" given twice`},
		{spec: "dim=6x4,layers=2,heads=4,ffn=128", wantErr: "want a positive integer"},
		{spec: "dim=64,layers=0,heads=4,ffn=128", wantErr: "want a positive integer"},
		{spec: "dim=64,layers=2,heads=4,ffn=128,theta=-1", wantErr: "want a positive number"},
		{spec: "dim=64,layers=2,heads=4,ffn=128,tied=maybe", wantErr: "want true or false"},
		{spec: "dim=64,layers=2,heads=4,ffn", wantErr: "is not key=value"},
		{spec: "dim=64,layers=2,heads=5,ffn=128", wantErr: "not a multiple of 5 heads"},
		{spec: "dim=64,layers=2,heads=4,kv=3,ffn=128", wantErr: `custom shape "dim=64,layers=2,heads=4,kv=3,ffn=128": kv = 3: want a divisor of heads = 4`},
		{spec: "dim=64,layers=5000,heads=4,ffn=128", wantErr: "layers = 5000: want 1..4096"},
		{spec: "dim=64,layers=2,heads=4,headdim=3,ffn=128", wantErr: "headdim = 3: want an even number"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			s, err := synth.ParseCustom(tc.spec)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			want := llama.Config{Arch: "llama", VocabSize: synth.VocabLlama2, ContextLen: 2048, NormEps: 1e-5,
				RopeTheta: 10000, RopeMode: graph.RoPENormal, RopeFreqScale: 1}
			tc.want(&want)
			require.Equal(t, want, s.Config)
			require.True(t, strings.HasPrefix(s.Name, "custom:dim="), s.Name)
			got, err := synth.Lookup(tc.spec)
			require.NoError(t, err)
			require.Equal(t, s, got)
		})
	}
}

// tinyShape returns the tiny preset, optionally tied with Llama 3 rope scaling.
func tinyShape(t *testing.T, llama3 bool) synth.Shape {
	s, err := synth.Lookup("tiny")
	require.NoError(t, err)
	if llama3 {
		s.Name = "tiny-llama3"
		s.Config.Tied = true
		s.Config.RopeTheta = 500000
		s.Config.RopeScaling = &llama.Llama3Scaling{Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalContext: 64}
	}
	return s
}

func write(t *testing.T, s synth.Shape, o synth.Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "model.gguf")
	require.NoError(t, synth.Write(context.Background(), path, s, o))
	return path
}

// generate loads path on the cpu backend and returns the greedy
// continuation of a short prompt as token ids, checking every logit is finite.
func generate(t *testing.T, path string, tokens int) []int32 {
	t.Helper()
	src, err := runtime.OpenGGUF(path)
	require.NoError(t, err)
	defer src.Close()
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer be.Close()
	m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(runtime.SessionOptions{Context: 64})
	require.NoError(t, err)
	defer s.Close()
	prompt := m.Tokenizer.Encode("Once upon a time", true, false)
	require.NotEmpty(t, prompt)
	finite := func() {
		logits := s.Logits()
		require.Len(t, logits, m.Config.VocabSize)
		for i, l := range logits {
			if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
				t.Fatalf("after %d tokens: logit %d is %v", s.Len(), i, l)
			}
		}
	}
	require.NoError(t, s.Feed(context.Background(), prompt))
	finite()
	s.Rewind(0)
	_, st, err := runtime.Generate(context.Background(), s, prompt, runtime.GenerateOptions{
		MaxTokens: tokens,
		OnText:    func(string) error { finite(); return nil },
	})
	require.NoError(t, err)
	require.Positive(t, st.GenTokens)
	finite()
	return append([]int32(nil), s.Tokens()[len(prompt):]...)
}

func TestWriteTinyLoadsAndGenerates(t *testing.T) {
	types := []graph.DType{graph.F32, graph.F16, graph.Q8_0, graph.Q4_0}
	for _, typ := range types {
		for _, llama3 := range []bool{false, true} {
			name := typ.String()
			if llama3 {
				name += "/llama3"
			}
			t.Run(name, func(t *testing.T) {
				s := tinyShape(t, llama3)
				path := write(t, s, synth.Options{Type: typ, Seed: 1})
				f, err := gguf.Open(path)
				require.NoError(t, err)
				cfg, err := llama.ConfigFromGGUF(f)
				require.NoError(t, err)
				want := s.Config
				want.RopeScaling = nil // stored as rope_freqs.weight
				require.Equal(t, want, *cfg)
				name, err := f.GetString("general.name")
				require.NoError(t, err)
				require.Equal(t, "golem synthetic "+s.Name, name)
				for _, ti := range f.Tensors {
					dt, err := ti.DType()
					require.NoError(t, err)
					if len(ti.Shape) == 2 {
						require.Equal(t, typ, dt, ti.Name)
					} else {
						require.Equal(t, graph.F32, dt, ti.Name)
					}
				}
				_, hasOut := f.Tensor("output.weight")
				require.Equal(t, !llama3, hasOut)
				freqs, hasFreqs := f.Tensor("rope_freqs.weight")
				require.Equal(t, llama3, hasFreqs)
				if hasFreqs {
					data, err := f.TensorData(freqs)
					require.NoError(t, err)
					want := s.Config.RopeScaling.FreqFactors(float64(s.Config.RopeTheta), s.Config.HeadDim)
					require.Len(t, want, freqs.Shape[0])
					for i, w := range want {
						require.Equal(t, w, math.Float32frombits(uint32(data[4*i])|uint32(data[4*i+1])<<8|uint32(data[4*i+2])<<16|uint32(data[4*i+3])<<24))
					}
				}
				require.NoError(t, f.Close())

				a := generate(t, path, 6)
				b := generate(t, path, 6)
				require.Equal(t, a, b, "greedy generation is deterministic")
			})
		}
	}
}

func TestWriteWithDonorVocab(t *testing.T) {
	tests := []struct {
		donor []string
		load  bool // the tokenizer is SentencePiece, which runtime.Load handles
	}{
		{[]string{"models", "stories260K.gguf"}, true},
		{[]string{"testdata", "vocab", "ggml-vocab-llama-spm.gguf"}, true},
		{[]string{"testdata", "vocab", "ggml-vocab-gpt-2.gguf"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.donor[len(tc.donor)-1], func(t *testing.T) {
			donorPath := sharedtest.SharedPath(t, tc.donor...)
			o := synth.Options{Type: graph.Q8_0, Seed: 3, Vocab: donorPath}
			path := write(t, tinyShape(t, false), o)
			donor, err := gguf.Open(donorPath)
			require.NoError(t, err)
			defer donor.Close()
			f, err := gguf.Open(path)
			require.NoError(t, err)
			defer f.Close()
			var n int
			for _, kv := range donor.KV {
				if !strings.HasPrefix(kv.Key, "tokenizer.") {
					continue
				}
				n++
				got, ok := f.Get(kv.Key)
				require.True(t, ok, kv.Key)
				require.Equal(t, kv.Value.Type, got.Type, kv.Key)
				require.Equal(t, kv.Value.Any(), got.Any(), kv.Key)
			}
			require.Positive(t, n)
			toks, err := donor.GetStrings("tokenizer.ggml.tokens")
			require.NoError(t, err)
			cfg, err := llama.ConfigFromGGUF(f)
			require.NoError(t, err)
			require.Equal(t, len(toks), cfg.VocabSize)
			// Config describes the file written: the donor's vocabulary
			// size, not the preset's, and so the parameter count.
			want, err := synth.Config(tinyShape(t, false), o)
			require.NoError(t, err)
			require.Equal(t, len(toks), want.VocabSize)
			require.Equal(t, cfg.Params(), want.Params())
			emb, ok := f.Tensor("token_embd.weight")
			require.True(t, ok)
			require.Equal(t, []int{len(toks), 64}, emb.Shape)
			if tc.load {
				out := generate(t, path, 4)
				require.NotEmpty(t, out)
			}
		})
	}
}

func TestSameSeedSameBytes(t *testing.T) {
	s := tinyShape(t, true)
	a := write(t, s, synth.Options{Type: graph.Q4_0, Seed: 42, Workers: 1})
	b := write(t, s, synth.Options{Type: graph.Q4_0, Seed: 42, Workers: 3})
	c := write(t, s, synth.Options{Type: graph.Q4_0, Seed: 43, Workers: 2})
	ab, err := os.ReadFile(a)
	require.NoError(t, err)
	bb, err := os.ReadFile(b)
	require.NoError(t, err)
	require.True(t, bytes.Equal(ab, bb), "same seed, different worker counts: files differ")

	fa, err := gguf.Open(a)
	require.NoError(t, err)
	defer fa.Close()
	fc, err := gguf.Open(c)
	require.NoError(t, err)
	defer fc.Close()
	require.Equal(t, len(fa.Tensors), len(fc.Tensors))
	for _, ta := range fa.Tensors {
		tc, ok := fc.Tensor(ta.Name)
		require.True(t, ok, ta.Name)
		da, err := fa.TensorData(ta)
		require.NoError(t, err)
		dc, err := fc.TensorData(tc)
		require.NoError(t, err)
		if strings.HasSuffix(ta.Name, "norm.weight") || ta.Name == "rope_freqs.weight" {
			require.Equal(t, da, dc, ta.Name)
		} else {
			require.NotEqual(t, da, dc, "%s: seeds 42 and 43 give the same weights", ta.Name)
		}
	}
}

func TestWeightStatistics(t *testing.T) {
	s := tinyShape(t, false)
	path := write(t, s, synth.Options{Type: graph.F32, Seed: 5})
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	resid := math.Sqrt(2 * float64(s.Config.Layers))
	for _, tc := range []struct {
		name string
		std  float64
	}{
		{"token_embd.weight", 1 / math.Sqrt(64)},
		{"blk.0.attn_q.weight", 1 / math.Sqrt(64)},
		{"blk.1.ffn_down.weight", 1 / math.Sqrt(192) / resid},
		{"output.weight", 1 / math.Sqrt(64)},
	} {
		ti, ok := f.Tensor(tc.name)
		require.True(t, ok, tc.name)
		data, err := f.TensorData(ti)
		require.NoError(t, err)
		var sum, sq float64
		n := len(data) / 4
		for i := 0; i < n; i++ {
			v := float64(math.Float32frombits(uint32(data[4*i]) | uint32(data[4*i+1])<<8 | uint32(data[4*i+2])<<16 | uint32(data[4*i+3])<<24))
			sum += v
			sq += v * v
		}
		mean := sum / float64(n)
		std := math.Sqrt(sq/float64(n) - mean*mean)
		require.InDelta(t, 0, mean/tc.std, 0.05, tc.name)
		require.InDelta(t, 1, std/tc.std, 0.05, tc.name)
	}
}

func TestWriteProgress(t *testing.T) {
	var last, total, calls int64
	path := write(t, tinyShape(t, false), synth.Options{Type: graph.F16, Progress: func(done, tot int64) {
		require.GreaterOrEqual(t, done, last)
		last, total = done, tot
		calls++
	}})
	require.Positive(t, calls)
	require.Equal(t, total, last)
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var sum int64
	for _, ti := range f.Tensors {
		sum += ti.Size
	}
	require.Equal(t, sum, total)
}

func TestWriteErrors(t *testing.T) {
	tiny := tinyShape(t, false)
	odd, err := synth.ParseCustom("dim=48,layers=1,heads=2,ffn=64,vocab=300")
	require.NoError(t, err)
	small, err := synth.ParseCustom("dim=64,layers=1,heads=2,ffn=64,vocab=100")
	require.NoError(t, err)
	qwen := tiny
	qwen.Config.Arch = "qwen2"
	bad := tiny
	bad.Config.KVHeads = 3
	huge, err := synth.ParseCustom("dim=65536,layers=4096,heads=512,ffn=262144")
	require.NoError(t, err)
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.gguf")
	require.NoError(t, os.WriteFile(existing, []byte("mine"), 0o644))
	// A donor whose tokenizer golem cannot build: empty token list.
	emptyDonor := gguftest.Rewrite(t, sharedtest.SharedPath(t, "models", "stories260K.gguf"), gguftest.Edit{
		Set: map[string]gguf.Value{"tokenizer.ggml.tokens": gguf.StringsValue(nil)}})
	tests := []struct {
		name    string
		shape   synth.Shape
		o       synth.Options
		out     string
		wantErr string
	}{
		{"donor without tokens", tiny, synth.Options{Vocab: emptyDonor}, "", "synth: vocabulary donor: tokenizer: " + emptyDonor + ": tokenizer.ggml.tokens is empty"},
		{"type", tiny, synth.Options{Type: graph.I32}, "", "weight type i32 is not supported"},
		{"blocks", odd, synth.Options{Type: graph.Q4_0}, "", "not a whole number of 32-element blocks"},
		{"small vocab", small, synth.Options{}, "", "at least 259 tokens"},
		{"arch", qwen, synth.Options{}, "", `architecture "qwen2"`},
		{"config", bad, synth.Options{}, "", "kv heads"},
		{"donor missing", tiny, synth.Options{Vocab: filepath.Join(dir, "nope.gguf")}, "", "vocabulary donor"},
		{"out dir missing", tiny, synth.Options{}, filepath.Join(dir, "no", "such", "dir", "m.gguf"), "no such file or directory"},
		{"out exists", tiny, synth.Options{}, existing, "already exists (pass --force"},
		{"out is a device", tiny, synth.Options{Force: true}, "/dev/null", "a character device"},
		{"too large for the disk", huge, synth.Options{}, "", "on " + os.TempDir()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "m.gguf")
			}
			before, _ := os.ReadFile(out)
			err := synth.Write(context.Background(), out, tc.shape, tc.o)
			require.ErrorContains(t, err, tc.wantErr)
			if before != nil {
				after, _ := os.ReadFile(out)
				require.Equal(t, before, after, "an existing target is left as it was")
			} else {
				_, statErr := os.Stat(out)
				require.True(t, os.IsNotExist(statErr), "no file is left behind")
			}
			es, _ := os.ReadDir(filepath.Dir(out))
			for _, e := range es {
				require.NotContains(t, e.Name(), ".tmp", "no temporary file is left behind")
			}
		})
	}
}

func TestSyntheticVocabSizes(t *testing.T) {
	for _, vocab := range []int{259, 300, 6000, 20000} {
		s, err := synth.ParseCustom("dim=32,layers=1,heads=1,ffn=32,vocab=" + strconv.Itoa(vocab))
		require.NoError(t, err)
		path := write(t, s, synth.Options{Type: graph.Q8_0})
		f, err := gguf.Open(path)
		require.NoError(t, err)
		toks, err := f.GetStrings("tokenizer.ggml.tokens")
		require.NoError(t, err)
		require.Len(t, toks, vocab)
		seen := map[string]bool{}
		for _, tok := range toks {
			require.False(t, seen[tok], "duplicate token %q", tok)
			seen[tok] = true
		}
		require.NoError(t, f.Close())
	}
}

// TestWriteCancelled checks that an interrupted write (Ctrl-C cancels the
// command's context) stops and leaves neither the target nor a temporary
// file behind.
func TestWriteCancelled(t *testing.T) {
	s, err := synth.Lookup("stories15m")
	require.NoError(t, err)
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err = synth.Write(ctx, out, s, synth.Options{Progress: func(done, total int64) {
		calls++
		if calls == 2 {
			cancel()
		}
	}})
	require.ErrorIs(t, err, context.Canceled)
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, es, "nothing is left in the output directory")
}

func TestFileBytes(t *testing.T) {
	for _, s := range synth.Presets() {
		for _, typ := range []graph.DType{graph.F32, graph.Q4_0} {
			n, err := synth.FileBytes(&s.Config, typ)
			require.NoError(t, err, s.Name)
			// An upper bound, within a few percent of the weights' bytes.
			weights := s.Config.Params() * 4
			if typ == graph.Q4_0 {
				weights = s.Config.Params() * 18 / 32
			}
			require.Greater(t, n, weights*9/10, "%s %s", s.Name, typ)
			require.Less(t, n, weights*12/10+1<<24, "%s %s", s.Name, typ)
		}
	}
	huge, err := synth.ParseCustom("dim=8,layers=999999999,heads=1,ffn=8")
	if err == nil {
		n, err := synth.FileBytes(&huge.Config, graph.F32)
		require.NoError(t, err)
		require.Greater(t, n, int64(999999999)*8*8*7*4)
	}
}
