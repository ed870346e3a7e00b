package parity_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

func TestNMSE(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name      string
		got, want []float32
		nmse      float64
	}{
		{"equal", []float32{1, -2, 3}, []float32{1, -2, 3}, 0},
		// Σ(g−w)² = 0.25+0.0625+0 = 0.3125; Σw² = 1+4+4 = 9.
		{"known", []float32{1.5, 2.25, 2}, []float32{1, 2, 2}, 0.3125 / 9},
		// Σ(g−w)² = 1; Σw² = 4.
		{"one off", []float32{0, 3}, []float32{0, 2}, 0.25},
		{"both zero", []float32{0, 0}, []float32{0, 0}, 0},
		{"want zero", []float32{0, 1e-20}, []float32{0, 0}, inf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.nmse, parity.NMSE(tc.got, tc.want), 1e-12)
			if math.IsInf(tc.nmse, 1) {
				require.True(t, math.IsInf(parity.NMSE(tc.got, tc.want), 1))
			}
		})
	}
	require.True(t, math.IsNaN(parity.NMSE([]float32{1}, []float32{1, 2})), "length mismatch")
	require.True(t, math.IsNaN(parity.NMSE([]float32{float32(math.NaN())}, []float32{1})))
}

func TestMaxAbsDiff(t *testing.T) {
	require.InDelta(t, 0.5, parity.MaxAbsDiff([]float32{1, 2.5, -3}, []float32{1, 2, -3.25}), 1e-12)
	require.Equal(t, 0.0, parity.MaxAbsDiff(nil, nil))
	require.True(t, math.IsNaN(parity.MaxAbsDiff([]float32{1}, nil)))
}

func TestCompare(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name      string
		got, want []float32
		check     parity.Check
		pass      bool
	}{
		{
			name: "exact",
			got:  []float32{1, -2, 3}, want: []float32{1, -2, 3},
			check: parity.Check{N: 3},
			pass:  true,
		},
		{
			// rms(want) = sqrt((1+1+100+0.0001)/4) ≈ 5.05; only |w| > 0.505
			// counts: the flip of 1 → −1 and of −1 → 0 count, 0.01 → −0.01 does not.
			name: "sign flips",
			got:  []float32{-1, 0, 10, -0.01}, want: []float32{1, -1, 10, 0.01},
			check: parity.Check{N: 4, NMSE: (4 + 1 + 0 + 0.0004) / (1 + 1 + 100 + 0.0001), MaxAbs: 2, SignFlips: 2},
		},
		{
			name: "nan and inf",
			got:  []float32{nan, inf, 3, float32(math.Inf(-1))}, want: []float32{1, 2, 3, 4},
			check: parity.Check{N: 4, NaN: 1, Inf: 2},
		},
		{
			name: "reference not finite",
			got:  []float32{nan, 2}, want: []float32{nan, 2},
			check: parity.Check{N: 2, RefNonFinite: 1},
		},
		{
			name: "want all zero",
			got:  []float32{0, 0}, want: []float32{0, 0},
			check: parity.Check{N: 2},
			pass:  true,
		},
		{
			name: "want all zero, got not",
			got:  []float32{0, 1e-3}, want: []float32{0, 0},
			check: parity.Check{N: 2, NMSE: math.Inf(1), MaxAbs: 1e-3, SignFlips: 0},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parity.Compare(tc.got, tc.want)
			require.InDelta(t, tc.check.NMSE, c.NMSE, 1e-9)
			require.InDelta(t, tc.check.MaxAbs, c.MaxAbs, 1e-6)
			c.NMSE, c.MaxAbs = tc.check.NMSE, tc.check.MaxAbs
			require.Equal(t, tc.check, c)
			require.Equal(t, tc.pass, c.Pass(1e-6))
			if !tc.pass {
				require.Error(t, c.Err(1e-6))
			}
		})
	}
}

func TestCheckErr(t *testing.T) {
	require.NoError(t, parity.Check{N: 4, NMSE: 1e-8}.Err(1e-7))
	for _, tc := range []struct {
		check parity.Check
		want  string
	}{
		{parity.Check{N: 4, NMSE: 2e-3}, "NMSE 0.002 > 0.0005"},
		{parity.Check{N: 4, NMSE: math.NaN()}, "NMSE NaN"},
		{parity.Check{N: 4, NaN: 3}, "3 NaN"},
		{parity.Check{N: 4, Inf: 1}, "1 Inf"},
		{parity.Check{N: 4, SignFlips: 2}, "2 sign flips"},
		{parity.Check{N: 4, Guard: 4}, "4 guard bytes overwritten"},
		{parity.Check{N: 4, Unwritten: 1}, "1 of 4 elements unwritten"},
		{parity.Check{N: 4, Mismatch: 2}, "2 of 4 elements differ"},
		{parity.Check{N: 4, RefNonFinite: 1}, "reference produced 1 non-finite"},
	} {
		err := tc.check.Err(5e-4)
		require.Error(t, err)
		require.Contains(t, err.Error(), tc.want)
		require.False(t, tc.check.Pass(5e-4))
	}
	// Exact comparisons need NMSE 0.
	require.True(t, parity.Check{N: 1}.Pass(0))
	require.False(t, parity.Check{N: 1, NMSE: 1e-30}.Pass(0))
}

func TestKLDivergence(t *testing.T) {
	// P = softmax(log [0.5, 0.25, 0.25]) = [0.5, 0.25, 0.25];
	// Q = softmax(log [0.25, 0.5, 0.25]) = [0.25, 0.5, 0.25].
	// KL(P‖Q) = 0.5·ln2 + 0.25·ln(0.5) + 0 = 0.25·ln 2.
	p := []float32{float32(math.Log(0.5)), float32(math.Log(0.25)), float32(math.Log(0.25))}
	q := []float32{float32(math.Log(0.25)), float32(math.Log(0.5)), float32(math.Log(0.25))}
	require.InDelta(t, 0.25*math.Ln2, parity.KLDivergence(p, q), 1e-7)
	// Logits shifted by a constant give the same distribution.
	shifted := []float32{p[0] + 1000, p[1] + 1000, p[2] + 1000}
	require.InDelta(t, 0, parity.KLDivergence(p, shifted), 1e-6)
	require.InDelta(t, 0.25*math.Ln2, parity.KLDivergence(shifted, q), 1e-4)
	// Two-point: P = [0.9, 0.1], Q = [0.5, 0.5]: 0.9 ln 1.8 + 0.1 ln 0.2.
	p2 := []float32{float32(math.Log(0.9)), float32(math.Log(0.1))}
	q2 := []float32{0, 0}
	require.InDelta(t, 0.9*math.Log(1.8)+0.1*math.Log(0.2), parity.KLDivergence(p2, q2), 1e-7)
	// A −Inf logit in P contributes nothing; one in Q where P > 0 is +Inf.
	ninf := float32(math.Inf(-1))
	require.InDelta(t, math.Ln2, parity.KLDivergence([]float32{0, ninf}, []float32{0, 0}), 1e-12)
	require.True(t, math.IsInf(parity.KLDivergence([]float32{0, 0}, []float32{0, ninf}), 1))
	require.True(t, math.IsNaN(parity.KLDivergence([]float32{0}, []float32{0, 1})))
	require.True(t, math.IsNaN(parity.KLDivergence(nil, nil)))
}

func TestArgmaxTop1(t *testing.T) {
	nan := float32(math.NaN())
	require.Equal(t, 2, parity.Argmax([]float32{1, 3, 5, 5, 2}))
	require.Equal(t, 1, parity.Argmax([]float32{nan, 0.5, nan}))
	require.Equal(t, -1, parity.Argmax(nil))
	require.Equal(t, -1, parity.Argmax([]float32{nan}))
	require.True(t, parity.Top1([]float32{0, 9, 1}, []float32{-5, 0.1, 0}))
	require.False(t, parity.Top1([]float32{0, 9, 1}, []float32{0, 1, 9}))
	require.False(t, parity.Top1(nil, nil))
}

func TestThreshold(t *testing.T) {
	for _, tc := range []struct {
		op   graph.Op
		dts  []graph.DType
		want float64
	}{
		{graph.OpAdd, []graph.DType{graph.F32}, 1e-7},
		{graph.OpRoPE, []graph.DType{graph.F32}, 1e-7},
		{graph.OpSoftmax, []graph.DType{graph.F32}, 1e-6},
		{graph.OpMatMul, []graph.DType{graph.F32}, 5e-4},
		{graph.OpMatMul, []graph.DType{graph.Q4_K}, 5e-4},
		{graph.OpAttention, []graph.DType{graph.F16}, 5e-4},
		{graph.OpGetRows, []graph.DType{graph.F32}, 1e-7},
		{graph.OpGetRows, []graph.DType{graph.Q6_K}, 5e-4},
		{graph.OpCopy, []graph.DType{graph.F16, graph.F16}, 0},
		{graph.OpCopy, []graph.DType{graph.Q4_0, graph.F32}, 1e-7},
		{graph.OpCopy, []graph.DType{graph.F32, graph.Q4_0}, 5e-4},
		{graph.OpArgmax, []graph.DType{graph.F32}, 0},
		{graph.OpKVWrite, []graph.DType{graph.F16}, 1e-7},
	} {
		require.Equal(t, tc.want, parity.Threshold(parity.Case{Op: tc.op, DTypes: tc.dts}), "%s %v", tc.op, tc.dts)
	}
	require.Equal(t, 2e-3, parity.LayerThreshold)
}
