package quant

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnvLevel(t *testing.T) {
	tests := []struct {
		value string
		want  int
		err   bool
	}{
		{"", levelAVX512, false},
		{"avx512", levelAVX512, false},
		{" AVX2 ", levelAVX2, false},
		{"avxvnni", levelAVXVNNI, false},
		{"generic", levelGeneric, false},
		{"sse", levelAVX512, true},
	}
	for _, tc := range tests {
		got, err := envLevel(tc.value)
		require.Equal(t, tc.want, got, "%q", tc.value)
		if tc.err {
			require.ErrorContains(t, err, FeaturesEnv)
			require.ErrorContains(t, err, "want avx512, avxvnni, avx2 or generic")
		} else {
			require.NoError(t, err)
		}
	}
}

func TestKernelsNamesTheLevelInUse(t *testing.T) {
	for _, p := range implPaths() {
		withImpl(p.level, func() { require.Equal(t, p.name, Kernels()) })
	}
}
