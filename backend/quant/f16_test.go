package quant

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

// refF16Value decodes a binary16 bit pattern independently of F16ToF32.
func refF16Value(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m, -24)
	case 0x1f:
		if m == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1024+m, e-25)
}

// refF32ToF16 rounds |f| to the nearest finite binary16 (ties to even
// mantissa) by searching the sorted table of non-negative f16 values.
func refF32ToF16(f float32, table []float64) uint16 {
	sign := uint16(0)
	if math.Signbit(float64(f)) {
		sign = 0x8000
	}
	a := math.Abs(float64(f))
	if a >= 65520 {
		return sign | 0x7c00
	}
	i := sort.SearchFloat64s(table, a) // table[i] >= a
	if i == len(table) {
		// a is in (65504, 65520): rounds down to the largest finite value.
		return sign | 0x7bff
	}
	if table[i] == a || i == 0 {
		return sign | uint16(i)
	}
	lo, hi := table[i-1], table[i]
	switch {
	case a-lo < hi-a:
		return sign | uint16(i-1)
	case a-lo > hi-a:
		return sign | uint16(i)
	case (i-1)%2 == 0:
		return sign | uint16(i-1)
	}
	return sign | uint16(i)
}

func f16Table() []float64 {
	t := make([]float64, 0x7c00)
	for h := range t {
		t[h] = refF16Value(uint16(h))
	}
	return t
}

func TestF16Specials(t *testing.T) {
	tests := []struct {
		name string
		h    uint16
		f    float32
	}{
		{"zero", 0x0000, 0},
		{"one", 0x3c00, 1},
		{"minus two", 0xc000, -2},
		{"half", 0x3800, 0.5},
		{"max", 0x7bff, 65504},
		{"min normal", 0x0400, 0x1p-14},
		{"min subnormal", 0x0001, 0x1p-24},
		{"max subnormal", 0x03ff, 1023 * 0x1p-24},
		{"neg subnormal", 0x8001, -0x1p-24},
		{"inf", 0x7c00, float32(math.Inf(1))},
		{"-inf", 0xfc00, float32(math.Inf(-1))},
		{"1/3", 0x3555, 0.333251953125},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.f, F16ToF32(tc.h))
			require.Equal(t, tc.h, F32ToF16(tc.f))
		})
	}
	negZero := F16ToF32(0x8000)
	require.Equal(t, float32(0), negZero)
	require.True(t, math.Signbit(float64(negZero)))
	require.Equal(t, uint16(0x8000), F32ToF16(float32(math.Copysign(0, -1))))
	require.True(t, math.IsNaN(float64(F16ToF32(0x7e00))))
	require.True(t, math.IsNaN(float64(F16ToF32(0xfc01))))
}

func TestF32ToF16Rounding(t *testing.T) {
	tests := []struct {
		name string
		f    float32
		h    uint16
	}{
		{"tie to even down", 1 + 0x1p-11, 0x3c00},
		{"tie to even up", 1 + 3*0x1p-11, 0x3c02},
		{"above tie", math.Nextafter32(1+0x1p-11, 2), 0x3c01},
		{"65519 to max", 65519, 0x7bff},
		{"65520 tie to inf", 65520, 0x7c00},
		{"just below 65520", math.Nextafter32(65520, 0), 0x7bff},
		{"max f32 to inf", math.MaxFloat32, 0x7c00},
		{"-max f32 to -inf", -math.MaxFloat32, 0xfc00},
		{"2^-25 tie to zero", 0x1p-25, 0x0000},
		{"above 2^-25", math.Nextafter32(0x1p-25, 1), 0x0001},
		{"3*2^-25 tie to 2", 3 * 0x1p-25, 0x0002},
		{"tiny", 1e-30, 0x0000},
		{"-tiny", -1e-30, 0x8000},
		{"f32 subnormal", math.SmallestNonzeroFloat32, 0x0000},
		{"subnormal to min normal", 0x1p-14 - 0x1p-26, 0x0400},
		{"top subnormal tie to normal", 0x1p-14 - 0x1p-25, 0x0400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.h, F32ToF16(tc.f), "F32ToF16(%g)", tc.f)
		})
	}
	t.Run("nan", func(t *testing.T) {
		for _, bits := range []uint32{0x7fc00000, 0x7f800001, 0xffc12345, 0x7fffffff} {
			h := F32ToF16(math.Float32frombits(bits))
			require.Equal(t, uint16(0x7c00), h&0x7c00, "bits %#x", bits)
			require.NotZero(t, h&0x200, "quiet bit, bits %#x", bits)
			require.Equal(t, uint16(bits>>16)&0x8000, h&0x8000)
		}
	})
}

func TestF16ExhaustiveRoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := F16ToF32(h)
		ref := refF16Value(h)
		if math.IsNaN(ref) {
			require.True(t, math.IsNaN(float64(f)), "h=%#04x", h)
			// Quiet NaNs come back unchanged, signalling ones get quieted.
			require.Equal(t, h|0x200, F32ToF16(f), "h=%#04x", h)
			continue
		}
		require.Equal(t, float32(ref), f, "h=%#04x", h)
		require.Equal(t, math.Signbit(ref), math.Signbit(float64(f)), "h=%#04x", h)
		require.Equal(t, h, F32ToF16(f), "h=%#04x", h)
	}
}

func TestF32ToF16AgainstReference(t *testing.T) {
	table := f16Table()
	check := func(f float32) {
		if math.IsNaN(float64(f)) {
			return
		}
		require.Equal(t, refF32ToF16(f, table), F32ToF16(f), "f=%g bits=%#08x", f, math.Float32bits(f))
	}
	// Every midpoint between neighbouring f16 values and its f32 neighbours.
	for h := 0; h < 0x7bff; h++ {
		mid := float32((table[h] + table[h+1]) / 2) // exact in float32
		for _, f := range []float32{mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9)} {
			check(f)
			check(-f)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	n := 300000
	if testing.Short() {
		n = 30000
	}
	for range n {
		check(math.Float32frombits(rng.Uint32()))
		// Also concentrate on the f16 range, where rounding matters.
		check(math.Float32frombits(0x33000000 + rng.Uint32N(0x477ff000-0x33000000+0x1000)))
	}
}

func TestBF16(t *testing.T) {
	tests := []struct {
		name string
		f    float32
		b    uint16
	}{
		{"one", 1, 0x3f80},
		{"minus three", -3, 0xc040},
		{"zero", 0, 0x0000},
		{"inf", float32(math.Inf(1)), 0x7f80},
		{"-inf", float32(math.Inf(-1)), 0xff80},
		{"tie to even down", math.Float32frombits(0x3f808000), 0x3f80},
		{"tie to even up", math.Float32frombits(0x3f818000), 0x3f82},
		{"above tie", math.Float32frombits(0x3f808001), 0x3f81},
		{"max f32 to inf", math.MaxFloat32, 0x7f80},
		{"subnormal", math.Float32frombits(0x00010000), 0x0001},
		{"quiet nan", math.Float32frombits(0x7fc00001), 0x7fc0},
		{"signalling nan quieted", math.Float32frombits(0x7f800001), 0x7fc0},
		{"nan payload kept", math.Float32frombits(0xff812345), 0xffc1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.b, F32ToBF16(tc.f))
		})
	}
	for i := 0; i < 1<<16; i++ {
		b := uint16(i)
		f := BF16ToF32(b)
		require.Equal(t, uint32(b)<<16, math.Float32bits(f))
		if math.IsNaN(float64(f)) {
			require.Equal(t, b|0x40, F32ToBF16(f), "b=%#04x", b)
			continue
		}
		require.Equal(t, b, F32ToBF16(f), "b=%#04x", b)
	}
}

func TestEncodeF16MatchesF32ToF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(57, 58))
	src := make([]float32, 1<<20)
	for i := range src {
		src[i] = math.Float32frombits(rng.Uint32())
	}
	// Every f16 value and the halfway points around it, and specials.
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		src = append(src, f, math.Nextafter32(f, float32(math.Inf(1))), math.Nextafter32(f, float32(math.Inf(-1))))
	}
	src = append(src, 65504, 65519.99, 65520, float32(math.Inf(1)), float32(math.Inf(-1)), 0x1p-25, 0x1p-24, 5.9604645e-08*1.5)
	for _, p := range implPaths() {
		withImpl(p.level, func() {
			dst := make([]uint16, len(src))
			EncodeF16(dst, src)
			for i, f := range src {
				require.Equal(t, F32ToF16(f), dst[i], "%s: %v (%#08x)", p.name, f, math.Float32bits(f))
			}
		})
	}
}
