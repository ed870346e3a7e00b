package optcheck

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestChecks(t *testing.T) {
	s := Struct{Pkg: "p", Name: "S"}
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		err  error
		want string // "" for accepted
	}{
		{s.NonNegative("N", 0), ""},
		{s.NonNegative("N", -1), "p: S.N -1: want 0 or more"},
		{s.IntRange("R", 3, 1, 3), ""},
		{s.IntRange("R", 4, 1, 3), "p: S.R 4: want a value in [1, 3]"},
		{s.Duration("D", 0), ""},
		{s.Duration("D", -time.Millisecond), "p: S.D -1ms: want 0 or more"},
		{Finite(s, "F", -1e30), ""},
		{Finite(s, "F", nan), "p: S.F NaN: want a finite number"},
		{Finite(s, "F", float32(inf)), "p: S.F +Inf: want a finite number"},
		{FiniteNonNegative(s, "G", 0.0), ""},
		{FiniteNonNegative(s, "G", float32(-0.5)), "p: S.G -0.5: want a finite number ≥ 0"},
		{FiniteNonNegative(s, "G", inf), "p: S.G +Inf: want a finite number ≥ 0"},
		{FiniteRange(s, "U", float32(1), 0, 1), ""},
		{FiniteRange(s, "U", float32(0.1), 0, 1), ""},
		{FiniteRange(s, "U", nan, 0, 1), "p: S.U NaN: want a value in [0, 1]"},
		{FiniteRange(s, "U", float32(1.5), 0, 1), "p: S.U 1.5: want a value in [0, 1]"},
	}
	for i, tc := range tests {
		if tc.want == "" {
			require.NoError(t, tc.err, i)
			continue
		}
		require.EqualError(t, tc.err, tc.want, i)
		var fe *FieldError
		require.True(t, errors.As(tc.err, &fe))
		require.Equal(t, "p.S."+fe.Field, fe.Path())
	}
	require.NoError(t, First(nil, nil))
	require.EqualError(t, First(nil, s.NonNegative("A", -1), s.NonNegative("B", -1)), "p: S.A -1: want 0 or more")
}
