package runtime

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
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
			s := NewSampler(tc.cfg)
			for i := 0; i < 20; i++ {
				require.Equal(t, tc.want, s.Sample(logits, tc.history))
			}
		})
	}
}

func TestSamplerSeedAndDistribution(t *testing.T) {
	logits := []float32{0, float32(math.Log(3)), -100}
	draw := func(seed uint64) []int32 {
		s := NewSampler(SamplerConfig{Temperature: 1, Seed: seed})
		out := make([]int32, 4000)
		for i := range out {
			out[i] = s.Sample(logits, nil)
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
	s := NewSampler(SamplerConfig{Temperature: 0.25, Seed: 1})
	n1 := 0
	for i := 0; i < 4000; i++ {
		if s.Sample(logits, nil) == 1 {
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
