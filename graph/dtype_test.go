package graph_test

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

func TestDTypeTable(t *testing.T) {
	tests := []struct {
		dt         graph.DType
		name       string
		blockSize  int
		blockBytes int
		quantized  bool
		float      bool
	}{
		{graph.F32, "f32", 1, 4, false, true},
		{graph.F16, "f16", 1, 2, false, true},
		{graph.BF16, "bf16", 1, 2, false, true},
		{graph.Q8_0, "q8_0", 32, 34, true, true},
		{graph.Q4_0, "q4_0", 32, 18, true, true},
		{graph.Q4_K, "q4_k", 256, 144, true, true},
		{graph.Q6_K, "q6_k", 256, 210, true, true},
		{graph.I32, "i32", 1, 4, false, false},
	}
	require.Len(t, graph.AllDTypes(), len(tests), "every dtype is in the table")
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.dt, graph.AllDTypes()[i], "declaration order")
			require.True(t, tc.dt.Valid())
			require.Equal(t, tc.name, tc.dt.String())
			require.Equal(t, tc.blockSize, tc.dt.BlockSize())
			require.Equal(t, tc.blockBytes, tc.dt.BlockBytes())
			require.Equal(t, tc.quantized, tc.dt.IsQuantized())
			require.Equal(t, tc.float, tc.dt.IsFloat())

			for _, s := range []string{tc.name, strings.ToUpper(tc.name), "  " + tc.name + "\t"} {
				got, err := graph.ParseDType(s)
				require.NoError(t, err, "ParseDType(%q)", s)
				require.Equal(t, tc.dt, got, "ParseDType(%q)", s)
			}

			// One block, two blocks, zero elements.
			for _, blocks := range []int64{0, 1, 2, 1000} {
				got, err := tc.dt.RowBytes(blocks * int64(tc.blockSize))
				require.NoError(t, err)
				require.Equal(t, blocks*int64(tc.blockBytes), got)
			}
		})
	}
}

func TestDTypeRoundTripAll(t *testing.T) {
	for _, d := range graph.AllDTypes() {
		got, err := graph.ParseDType(d.String())
		require.NoError(t, err)
		require.Equal(t, d, got)
	}
}

func TestParseDTypeErrors(t *testing.T) {
	for _, s := range []string{"", "f64", "q4", "q4_1", "int32", "dtype(3)", "f 32"} {
		t.Run(s, func(t *testing.T) {
			_, err := graph.ParseDType(s)
			require.Error(t, err)
			require.Contains(t, err.Error(), "unknown dtype")
			require.Contains(t, err.Error(), "q4_k", "the error lists the known names")
		})
	}
}

func TestInvalidDType(t *testing.T) {
	for _, d := range []graph.DType{graph.DType(len(graph.AllDTypes())), 200, 255} {
		require.False(t, d.Valid())
		require.Equal(t, 0, d.BlockSize())
		require.Equal(t, 0, d.BlockBytes())
		require.False(t, d.IsQuantized())
		require.False(t, d.IsFloat())
		require.Contains(t, d.String(), "dtype(")
		_, err := d.RowBytes(4)
		require.ErrorContains(t, err, "unknown dtype")
	}
}

func TestRowBytesErrors(t *testing.T) {
	tests := []struct {
		name string
		dt   graph.DType
		n    int64
		want string
	}{
		{"negative f32", graph.F32, -1, "negative"},
		{"negative q4_k", graph.Q4_K, -256, "negative"},
		{"q8_0 partial block", graph.Q8_0, 33, "not a whole number"},
		{"q4_0 partial block", graph.Q4_0, 16, "not a whole number"},
		{"q4_k partial block", graph.Q4_K, 255, "not a whole number"},
		{"q6_k partial block", graph.Q6_K, 512 + 32, "not a whole number"},
		{"f32 overflow", graph.F32, math.MaxInt64, "overflow"},
		{"f16 overflow", graph.F16, 1 << 62, "overflow"},
		{"q6_k overflow", graph.Q6_K, (math.MaxInt64 / 256) * 256, "overflow"},
		{"i32 overflow", graph.I32, 1<<60 + 1, "overflow"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.dt.RowBytes(tc.n)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "graph:")
		})
	}
}

func TestRowBytesLarge(t *testing.T) {
	// The largest f32 count that still fits: 2^60 elements → 2^62 bytes.
	got, err := graph.F32.RowBytes(1 << 60)
	require.NoError(t, err)
	require.Equal(t, int64(1)<<62, got)
}

func TestKVTypes(t *testing.T) {
	require.Equal(t, []graph.DType{graph.F32, graph.F16, graph.BF16}, graph.KVTypes())
	require.Equal(t, "f32, f16 or bf16", graph.KVTypeNames())
	for _, d := range graph.AllDTypes() {
		want := d == graph.F32 || d == graph.F16 || d == graph.BF16
		require.Equal(t, want, d.IsKVType(), "%s", d)
		got, err := graph.ParseKVType(strings.ToUpper(d.String()))
		if !want {
			require.ErrorContains(t, err, "want f32, f16 or bf16", "%s", d)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, d, got)
	}
	_, err := graph.ParseKVType("f64")
	require.ErrorContains(t, err, `"f64": want f32, f16 or bf16`)
	ks := graph.KVTypes()
	ks[0] = graph.I32
	require.Equal(t, graph.F32, graph.KVTypes()[0], "KVTypes returns a copy")
}
