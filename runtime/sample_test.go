package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/optcheck"
)

func TestSamplerGreedyAndPenalties(t *testing.T) {
	logits := []float32{1, 5, 3, -2}
	tests := []struct {
		name    string
		cfg     SamplerConfig
		history []int32
		want    int32
	}{
		{"greedy", SamplerConfig{}, nil, 1},
		{"greedy ignores history without penalties", SamplerConfig{}, []int32{1, 1}, 1},
		{"repeat penalty divides positive logits", SamplerConfig{RepeatPenalty: 2}, []int32{1}, 2},        // 5/2=2.5 < 3
		{"repeat penalty window", SamplerConfig{RepeatPenalty: 2, RepeatLastN: 1}, []int32{1, 2}, 1},      // only token 2 penalised
		{"presence penalty", SamplerConfig{PresencePenalty: 2.5}, []int32{1}, 2},                          // 5-2.5=2.5 < 3
		{"frequency penalty counts", SamplerConfig{FrequencyPenalty: 1}, []int32{1, 1, 1}, 2},             // 5-3=2 < 3
		{"negative logits multiplied", SamplerConfig{RepeatPenalty: 2}, []int32{3, 1}, 2},                 // 5/2 < 3
		{"top-k 1 is greedy at any temperature", SamplerConfig{Temperature: 5, TopK: 1, Seed: 3}, nil, 1}, //
		{"min-p keeps only the top", SamplerConfig{Temperature: 1, MinP: 0.5, Seed: 9}, nil, 1},           // p(3)/p(5)=e^-2 < 0.5
		{"top-p tiny keeps only the top", SamplerConfig{Temperature: 1, TopP: 0.01, Seed: 4}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSampler(tc.cfg)
			require.NoError(t, err)
			for i := 0; i < 20; i++ {
				got, err := s.Sample(logits, tc.history)
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestSamplerSeedAndDistribution(t *testing.T) {
	logits := []float32{0, float32(math.Log(3)), -100}
	draw := func(seed uint64) []int32 {
		s, err := NewSampler(SamplerConfig{Temperature: 1, Seed: seed})
		require.NoError(t, err)
		out := make([]int32, 4000)
		for i := range out {
			out[i], err = s.Sample(logits, nil)
			require.NoError(t, err)
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	require.Equal(t, a, b, "same seed, same tokens")
	require.NotEqual(t, a, c, "different seed, different tokens")
	counts := map[int32]int{}
	for _, id := range a {
		counts[id]++
	}
	// p = [0.25, 0.75, ~0]: the empirical frequency must be close.
	require.InDelta(t, 0.75, float64(counts[1])/float64(len(a)), 0.03)
	require.Zero(t, counts[2])
	// Temperature sharpens: at T=0.25 the ratio 3:1 becomes 81:1.
	s, err := NewSampler(SamplerConfig{Temperature: 0.25, Seed: 1})
	require.NoError(t, err)
	n1 := 0
	for i := 0; i < 4000; i++ {
		if id, err := s.Sample(logits, nil); err == nil && id == 1 {
			n1++
		}
	}
	require.InDelta(t, 81.0/82, float64(n1)/4000, 0.01)
}

func TestCutStop(t *testing.T) {
	tests := []struct {
		text  string
		stops []string
		want  string
		found bool
	}{
		{"hello world", nil, "hello world", false},
		{"hello world", []string{"wor"}, "hello ", true},
		{"a<|im_end|>b", []string{"x", "<|im_end|>"}, "a", true},
		{"abcabc", []string{"c", "b"}, "a", true},
		{"abc", []string{""}, "abc", false},
	}
	for _, tc := range tests {
		got, found := cutStop(tc.text, tc.stops)
		require.Equal(t, tc.want, got, tc.text)
		require.Equal(t, tc.found, found, tc.text)
	}
}

func TestSamplerConfigValidate(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	tests := []struct {
		cfg  SamplerConfig
		want string // "" for valid
	}{
		{SamplerConfig{}, ""},
		{SamplerConfig{Temperature: 0.8, TopK: 40, TopP: 1, MinP: 0, RepeatPenalty: 1.1, RepeatLastN: -1, PresencePenalty: -0.5}, ""},
		{SamplerConfig{Temperature: -1}, "runtime: SamplerConfig.Temperature -1: want a finite number ≥ 0"},
		{SamplerConfig{Temperature: nan}, "runtime: SamplerConfig.Temperature NaN: want a finite number ≥ 0"},
		{SamplerConfig{Temperature: inf}, "runtime: SamplerConfig.Temperature +Inf: want a finite number ≥ 0"},
		{SamplerConfig{TopK: -5}, "runtime: SamplerConfig.TopK -5: want 0 or more"},
		{SamplerConfig{TopP: 2}, "runtime: SamplerConfig.TopP 2: want a value in [0, 1]"},
		{SamplerConfig{TopP: nan}, "runtime: SamplerConfig.TopP NaN: want a value in [0, 1]"},
		{SamplerConfig{MinP: 2}, "runtime: SamplerConfig.MinP 2: want a value in [0, 1]"},
		{SamplerConfig{MinP: -0.1}, "runtime: SamplerConfig.MinP -0.1: want a value in [0, 1]"},
		{SamplerConfig{RepeatPenalty: -1}, "runtime: SamplerConfig.RepeatPenalty -1: want a finite number ≥ 0"},
		{SamplerConfig{RepeatLastN: -2}, "runtime: SamplerConfig.RepeatLastN -2: want -1 (every token so far) or a count ≥ 0"},
		{SamplerConfig{PresencePenalty: nan}, "runtime: SamplerConfig.PresencePenalty NaN: want a finite number"},
		{SamplerConfig{FrequencyPenalty: -inf}, "runtime: SamplerConfig.FrequencyPenalty -Inf: want a finite number"},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		_, nerr := NewSampler(tc.cfg)
		if tc.want == "" {
			require.NoError(t, err, "%+v", tc.cfg)
			require.NoError(t, nerr)
			continue
		}
		require.EqualError(t, err, tc.want)
		require.EqualError(t, nerr, tc.want, "NewSampler validates")
		var fe *optcheck.FieldError
		require.ErrorAs(t, err, &fe)
	}
}

func TestSamplerRepeatLastNWholeHistory(t *testing.T) {
	logits := []float32{1, 5, 3, -2}
	// Token 1 is far back: a window of 2 misses it, -1 (everything) does not.
	history := []int32{1, 0, 0, 3, 3}
	for _, tc := range []struct {
		lastN int
		want  int32
	}{{2, 1}, {-1, 2}, {100, 2}} {
		s, err := NewSampler(SamplerConfig{RepeatPenalty: 4, RepeatLastN: tc.lastN})
		require.NoError(t, err)
		got, err := s.Sample(logits, history)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "repeat-last-n %d", tc.lastN)
	}
}

func TestSamplerRefusesEmptyAndNonFiniteLogits(t *testing.T) {
	for _, temp := range []float32{0, 1} {
		s, err := NewSampler(SamplerConfig{Temperature: temp, TopK: 2, TopP: 0.5, MinP: 0.1, RepeatPenalty: 1.5, RepeatLastN: -1})
		require.NoError(t, err)
		_, err = s.Sample(nil, []int32{1, 2})
		require.EqualError(t, err, "runtime: sample: no logits")
		_, err = s.Sample([]float32{}, nil)
		require.Error(t, err)
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			_, err = s.Sample([]float32{0, 1, bad, bad}, []int32{0})
			require.ErrorIs(t, err, ErrNonFinite)
			var nf *NonFiniteError
			require.ErrorAs(t, err, &nf)
			require.Equal(t, 2, nf.Index)
			require.Equal(t, -1, nf.Pos)
			require.Contains(t, err.Error(), "non-finite logits (logit 2 = ")
		}
	}
}

// BenchmarkGreedy times a greedy sample of 32000 logits (a 32000-token
// vocabulary), the host's work per sequence in a decode step.
func BenchmarkGreedy(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	logits := make([]float32, 32000)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64())
	}
	s, err := NewSampler(SamplerConfig{})
	require.NoError(b, err)
	for b.Loop() {
		if _, err := s.Sample(logits, nil); err != nil {
			b.Fatal(err)
		}
	}
}
