package llama_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/gguf/gguftest"
	"github.com/golem-llm/golem/model/llama"
)

// TestConfigRefusesNonFiniteFloats: a NaN or infinite epsilon or RoPE base
// makes every activation NaN; it is refused when the file is read.
func TestConfigRefusesNonFiniteFloats(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name string
		edit func(c *llama.Config)
		want string
	}{
		{"eps NaN", func(c *llama.Config) { c.NormEps = nan }, "llama: norm epsilon = NaN: want a finite positive number"},
		{"eps +Inf", func(c *llama.Config) { c.NormEps = inf }, "llama: norm epsilon = +Inf: want a finite positive number"},
		{"eps 0", func(c *llama.Config) { c.NormEps = 0 }, "llama: norm epsilon = 0: want a finite positive number"},
		{"theta NaN", func(c *llama.Config) { c.RopeTheta = nan }, "llama: rope theta = NaN: want a finite positive number"},
		{"theta +Inf", func(c *llama.Config) { c.RopeTheta = inf }, "llama: rope theta = +Inf: want a finite positive number"},
	} {
		c := tinyConfig()
		require.NoError(t, c.Validate())
		tc.edit(c)
		require.EqualError(t, c.Validate(), tc.want, tc.name)
	}

	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	for _, tc := range []struct {
		key  string
		v    float32
		want string
	}{
		{"llama.attention.layer_norm_rms_epsilon", nan, "llama.attention.layer_norm_rms_epsilon = NaN: want a finite positive number"},
		{"llama.attention.layer_norm_rms_epsilon", -inf, "llama.attention.layer_norm_rms_epsilon = -Inf: want a finite positive number"},
		{"llama.rope.freq_base", nan, "llama.rope.freq_base = NaN: want a finite positive number"},
	} {
		path := gguftest.Rewrite(t, stories, gguftest.Edit{Set: map[string]gguf.Value{tc.key: gguf.Float32Value(tc.v)}})
		f, err := gguf.Open(path)
		require.NoError(t, err)
		_, err = llama.ConfigFromGGUF(f)
		f.Close()
		require.ErrorContains(t, err, path+": "+tc.want)
	}
}
