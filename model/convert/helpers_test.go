package convert_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/safetensors/hftest"
	"github.com/golem-llm/golem/model/tokenizer"
	"github.com/golem-llm/golem/runtime"
)

// storiesVocab returns the 512-token SentencePiece vocabulary of
// ../shared/models/stories260K.gguf.
func storiesVocab(t *testing.T) *tokenizer.Vocab {
	t.Helper()
	f, err := gguf.Open(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer f.Close()
	v, err := tokenizer.VocabFromGGUF(f)
	require.NoError(t, err)
	return v
}

// storiesTokenizerJSON is a Llama-2-style tokenizer.json for the stories vocabulary.
func storiesTokenizerJSON(t *testing.T) []byte {
	t.Helper()
	data, err := hftest.SPMTokenizerJSON(storiesVocab(t))
	require.NoError(t, err)
	return data
}

func cpuBackend(t *testing.T) backend.Backend {
	t.Helper()
	be, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { be.Close() })
	return be
}

// modeSource overrides a source's configuration.
type modeSource struct {
	runtime.Source
	cfg *llama.Config
}

func (m modeSource) Config() *llama.Config { return m.cfg }

// feedLogits runs tokens through src: the first five as a prefill in
// chunks of four, the rest one by one; it returns the logits of every
// position, row after row.
func feedLogits(t *testing.T, be backend.Backend, src runtime.Source, tokens []int32) []float32 {
	t.Helper()
	ctx := context.Background()
	m, err := runtime.Load(ctx, src, be, runtime.LoadOptions{})
	require.NoError(t, err)
	defer m.Close()
	s, err := m.NewSession(runtime.SessionOptions{Context: 32, Chunk: 4, AllLogits: true})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Feed(ctx, tokens[:5]))
	out := append([]float32(nil), s.Logits()...)
	for _, tok := range tokens[5:] {
		require.NoError(t, s.Feed(ctx, []int32{tok}))
		out = append(out, s.Logits()...)
	}
	require.Len(t, out, len(tokens)*m.Config.VocabSize)
	return out
}

func openLogits(t *testing.T, be backend.Backend, path string, tokens []int32) []float32 {
	t.Helper()
	src, err := runtime.OpenSource(path)
	require.NoError(t, err)
	defer src.Close()
	return feedLogits(t, be, src, tokens)
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// compareRows returns the mean KL divergence KL(softmax(ref) || softmax(got))
// over rows of n logits and the fraction of rows whose argmax agrees.
func compareRows(ref, got []float32, n int) (kl, top1 float64) {
	rows := len(ref) / n
	agree := 0
	for r := 0; r < rows; r++ {
		p := softmax(ref[r*n : (r+1)*n])
		q := softmax(got[r*n : (r+1)*n])
		for i := range p {
			if p[i] > 0 {
				kl += p[i] * math.Log(p[i]/math.Max(q[i], 1e-300))
			}
		}
		if argmax(ref[r*n:(r+1)*n]) == argmax(got[r*n:(r+1)*n]) {
			agree++
		}
	}
	return kl / float64(rows), float64(agree) / float64(rows)
}

func softmax(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(x))
	sum := 0.0
	for i, v := range x {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func tempPath(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }
