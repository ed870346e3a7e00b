package resource

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMul(t *testing.T) {
	tests := []struct {
		name    string
		in      []int64
		want    int64
		wantErr string
	}{
		{"empty is one", nil, 1, ""},
		{"small", []int64{2, 3, 7}, 42, ""},
		{"zero", []int64{0, math.MaxInt64, 5}, 0, ""},
		{"largest", []int64{math.MaxInt64, 1}, math.MaxInt64, ""},
		{"bench attention overflow", []int64{99999999, 99999, 1, 999999, 4}, 0, "overflows"},
		{"just over", []int64{1 << 32, 1 << 31}, 0, "overflows"},
		{"negative", []int64{4, -1}, 0, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Mul(tt.in...)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAdd(t *testing.T) {
	s, err := Add(1, 2, 3)
	require.NoError(t, err)
	require.Equal(t, int64(6), s)
	_, err = Add(math.MaxInt64, 1)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = Add(1, -1)
	require.ErrorContains(t, err, "negative")
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {21 << 30, "21.0 GiB"},
		{37 << 40 / 10, "3.7 TiB"}, {math.MaxInt64, "8.0 EiB"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, FormatBytes(tt.in), "%d", tt.in)
	}
}

func TestChecks(t *testing.T) {
	require.NoError(t, checkMemory("x", 10, 20))
	require.NoError(t, checkMemory("x", 10, 0), "unknown availability passes")
	err := checkMemory("the model", 4<<40, 21<<30)
	require.ErrorIs(t, err, ErrTooLarge)
	require.EqualError(t, err, "the model needs 4.0 TiB of memory, 21.0 GiB available")

	require.NoError(t, checkDisk("x", "/tmp", 10, 10))
	err = checkDisk("writing out.gguf", "/tmp", 37<<40/10, 21<<30)
	require.ErrorIs(t, err, ErrTooLarge)
	require.EqualError(t, err, "writing out.gguf needs 3.7 TiB on /tmp, 21.0 GiB free")

	// The real file system: a petabyte does not fit here.
	require.ErrorIs(t, CheckDisk("a petabyte", t.TempDir(), 1<<50), ErrTooLarge)
	require.NoError(t, CheckDisk("a byte", t.TempDir(), 1))
	require.ErrorIs(t, CheckMemory("an exabyte", 1<<60), ErrTooLarge)
}
