package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/graph"
	"github.com/stretchr/testify/require"
)

// floatTypes are the dtypes the package encodes and decodes.
var floatTypes = []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func TestDequantizeKnownVectors(t *testing.T) {
	// Q8_0: d = 0.5, q = -128, -1, 0, 1, 127, then j-16.
	q8 := le16(0x3800)
	q8want := make([]float32, 32)
	for j := 0; j < 32; j++ {
		q := int8(j - 16)
		switch j {
		case 0:
			q = -128
		case 1:
			q = -1
		case 2:
			q = 0
		case 3:
			q = 1
		case 4:
			q = 127
		}
		q8 = append(q8, byte(q))
		q8want[j] = 0.5 * float32(q)
	}
	require.Equal(t, []float32{-64, -0.5, 0, 0.5, 63.5}, q8want[:5])

	// Q4_0: d = 0.5; qs[0] = 0x1f: element 0 is 15 -> 3.5, element 16 is 1 -> -3.5;
	// qs[1] = 0x80: element 1 is 0 -> -4, element 17 is 8 -> 0; the rest 0x88 -> 0.
	q4 := append(le16(0x3800), 0x1f, 0x80)
	for range 14 {
		q4 = append(q4, 0x88)
	}
	q4want := make([]float32, 32)
	q4want[0], q4want[16], q4want[1], q4want[17] = 3.5, -3.5, -4, 0

	tests := []struct {
		name string
		t    graph.DType
		src  []byte
		want []float32
	}{
		{"f32", graph.F32, []byte{0, 0, 0xc0, 0x3f, 0, 0, 0x20, 0xc1}, []float32{1.5, -10}},
		{"f16", graph.F16, []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b}, []float32{1, -2, 0x1p-24, 65504}},
		{"bf16", graph.BF16, []byte{0x80, 0x3f, 0x40, 0xc0}, []float32{1, -3}},
		{"q8_0", graph.Q8_0, q8, q8want},
		{"q4_0", graph.Q4_0, q4, q4want},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, len(tc.want))
			require.NoError(t, Dequantize(tc.t, tc.src, got))
			require.Equal(t, tc.want, got)
		})
	}
}

// Q4_K test block: d = 1, dmin = 0.5, sub-block scales and mins chosen to
// use the high bits of the packing, qs[k] = 37k+11.
var (
	q4kSc = [8]int{1, 2, 3, 63, 17, 33, 48, 5}
	q4kMn = [8]int{0, 1, 2, 3, 20, 40, 63, 9}
	// The 12 scale bytes packed by hand following get_scale_min_k4.
	q4kPacked = [12]byte{0x41, 0x82, 0xc3, 0x3f, 0x40, 0x81, 0xc2, 0x03, 0x41, 0x81, 0xf0, 0x95}
)

func q4kTestBlock() []byte {
	b := append(le16(0x3c00), le16(0x3800)...)
	b = append(b, q4kPacked[:]...)
	for k := 0; k < 128; k++ {
		b = append(b, byte(37*k+11))
	}
	return b
}

func TestDequantizeQ4K(t *testing.T) {
	blk := q4kTestBlock()
	require.Len(t, blk, 144)
	got := make([]float32, 256)
	require.NoError(t, Dequantize(graph.Q4_K, blk, got))

	// Values worked out by hand from the layout description.
	spot := []struct {
		i    int
		want float32
	}{
		{0, 11},      // qs[0]=0x0b low, sub 0: 1*11 - 0.5*0
		{32, -0.5},   // qs[0] high 0, sub 1: 2*0 - 0.5*1
		{64, 32},     // qs[32]=0xab low 11, sub 2: 3*11 - 0.5*2
		{96, 628.5},  // qs[32] high 10, sub 3: 63*10 - 0.5*3
		{128, 177},   // qs[64]=0x4b low 11, sub 4: 17*11 - 0.5*20
		{160, 112},   // qs[64] high 4, sub 5: 33*4 - 0.5*40
		{192, 496.5}, // qs[96]=0xeb low 11, sub 6: 48*11 - 0.5*63
		{224, 65.5},  // qs[96] high 14, sub 7: 5*14 - 0.5*9
		{255, 25.5},  // qs[127]=0x66 high 6, sub 7: 5*6 - 0.5*9
	}
	for _, s := range spot {
		require.Equal(t, s.want, got[s.i], "element %d", s.i)
	}
	// Every element, from the layout description.
	for i := 0; i < 256; i++ {
		c, w := i/64, i%64
		qb := byte(37*(32*c+w%32) + 11)
		q, sub := qb&0xf, 2*c
		if w >= 32 {
			q, sub = qb>>4, 2*c+1
		}
		want := float32(q4kSc[sub]*int(q)) - 0.5*float32(q4kMn[sub])
		require.Equal(t, want, got[i], "element %d", i)
	}
	// The packer is the inverse of the unpacker.
	var sc, mn [8]uint8
	for j := range 8 {
		sc[j], mn[j] = uint8(q4kSc[j]), uint8(q4kMn[j])
		s, m := scaleMinK4(j, &q4kPacked)
		require.Equal(t, sc[j], s, "scale %d", j)
		require.Equal(t, mn[j], m, "min %d", j)
	}
	var packed [12]byte
	packScaleMinK4(&sc, &mn, &packed)
	require.Equal(t, q4kPacked, packed)
}

// Q6_K test block: ql[k] = 29k+3, qh[k] = 53k+7, scales as below, d = 0.25.
var q6kSc = [16]int8{1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 127, -128}

func q6kTestBlock() []byte {
	var b []byte
	for k := 0; k < 128; k++ {
		b = append(b, byte(29*k+3))
	}
	for k := 0; k < 64; k++ {
		b = append(b, byte(53*k+7))
	}
	for _, s := range q6kSc {
		b = append(b, byte(s))
	}
	return append(b, le16(0x3400)...)
}

func TestDequantizeQ6K(t *testing.T) {
	blk := q6kTestBlock()
	require.Len(t, blk, 210)
	got := make([]float32, 256)
	require.NoError(t, Dequantize(graph.Q6_K, blk, got))

	spot := []struct {
		i    int
		want float32
	}{
		{0, 4.75},    // ql[0]=3 low, qh[0]=7 bits 0-1 = 3: q=51-32=19; 0.25*1*19
		{32, -6.5},   // ql[32]=0xa3 low 3, qh[0] bits 2-3 = 1: q=19-32=-13; 0.25*2*-13
		{64, -24},    // ql[0] high 0, qh[0] bits 4-5 = 0: q=-32; 0.25*3*-32
		{96, -22},    // ql[32] high 10, qh[0] bits 6-7 = 0: q=-22; 0.25*4*-22
		{224, 444.5}, // ql[96]=0xe3 high 14, qh[32]=0xa7 bits 6-7 = 2: q=14; 0.25*127*14
		{240, -864},  // ql[112]=0xb3 high 11, qh[48]=0xf7 bits 6-7 = 3: q=27; 0.25*-128*27
		{255, 832},   // ql[127]=0x66 high 6, qh[63]=0x12 bits 6-7 = 0: q=-26; 0.25*-128*-26
	}
	for _, s := range spot {
		require.Equal(t, s.want, got[s.i], "element %d", s.i)
	}
	for i := 0; i < 256; i++ {
		h, r := i/128, i%128
		l, g := r%32, r/32
		qlb := byte(29*(64*h+l+32*(g&1)) + 3)
		low := qlb & 0xf
		if g >= 2 {
			low = qlb >> 4
		}
		high := byte(53*(32*h+l)+7) >> (2 * g) & 3
		q := int(low|high<<4) - 32
		want := 0.25 * float32(q6kSc[i/16]) * float32(q)
		require.Equal(t, want, got[i], "element %d", i)
	}
}

func TestQuantizeReferenceQ8_0(t *testing.T) {
	// x = 0..31: amax = 31, d = 31/127, q = round(j*127/31).
	x := make([]float32, 32)
	for j := range x {
		x[j] = float32(j)
	}
	got := make([]byte, 34)
	require.NoError(t, Quantize(graph.Q8_0, x, got))
	require.Equal(t, F32ToF16(float32(31)/127), binary.LittleEndian.Uint16(got))
	for j := range x {
		require.Equal(t, int8(math.Round(float64(j)*127/31)), int8(got[2+j]), "q[%d]", j)
	}
	// Half-way cases round away from zero (roundf): amax = 127 gives d = 1.
	x[0], x[1], x[2], x[3] = 127, 2.5, -2.5, 0.5
	require.NoError(t, Quantize(graph.Q8_0, x, got))
	require.Equal(t, uint16(0x3c00), binary.LittleEndian.Uint16(got))
	require.Equal(t, []int8{127, 3, -3, 1}, []int8{int8(got[2]), int8(got[3]), int8(got[4]), int8(got[5])})
}

func TestQuantizeReferenceQ4_0(t *testing.T) {
	// x_j = j-16: the largest magnitude is -16 (j=0), so d = -16/-8 = 2 and
	// q_j = min(15, trunc((j-16)/2 + 8.5)) = min(15, (j+1)/2).
	x := make([]float32, 32)
	for j := range x {
		x[j] = float32(j - 16)
	}
	got := make([]byte, 18)
	require.NoError(t, Quantize(graph.Q4_0, x, got))
	require.Equal(t, uint16(0x4000), binary.LittleEndian.Uint16(got))
	q := func(j int) byte { return byte(min(15, (j+1)/2)) }
	for j := 0; j < 16; j++ {
		require.Equal(t, q(j)|q(j+16)<<4, got[2+j], "qs[%d]", j)
	}
	// A positive extreme gives a negative d and maps to nibble 0.
	for j := range x {
		x[j] = 0
	}
	x[5] = 4
	require.NoError(t, Quantize(graph.Q4_0, x, got))
	require.Equal(t, F32ToF16(-0.5), binary.LittleEndian.Uint16(got))
	require.Equal(t, byte(0x80), got[2+5])
	require.Equal(t, byte(0x88), got[2+6])
}

// randData returns n seeded values: mostly Gaussian with per-block scale
// changes and a few outliers, like real weights.
func randData(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	x := make([]float32, n)
	scale := 1.0
	for i := range x {
		if i%256 == 0 {
			scale = math.Exp(rng.NormFloat64())
		}
		v := rng.NormFloat64() * scale
		if rng.IntN(200) == 0 {
			v *= 6
		}
		x[i] = float32(v)
	}
	return x
}

func nmse(x, y []float32) float64 {
	var num, den float64
	for i := range x {
		d := float64(y[i]) - float64(x[i])
		num += d * d
		den += float64(x[i]) * float64(x[i])
	}
	return num / den
}

func gaussData(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func TestRoundTrip(t *testing.T) {
	const n = 256 * 64
	// NMSE bounds are about 1.2x what the quantizers measure (logged below).
	tests := []struct {
		t         graph.DType
		gaussNMSE float64 // i.i.d. N(0,1)
		wtNMSE    float64 // weight-like: per-256 scale changes and outliers
		maxRelEl  float64 // bound on |y-x| relative to the largest |x|
	}{
		{graph.F32, 0, 0, 0},
		{graph.F16, 1e-7, 1e-7, 1e-3},
		{graph.BF16, 4e-6, 4e-6, 4e-3},
		{graph.Q8_0, 3.5e-5, 4.5e-5, 1e-2},
		{graph.Q4_0, 9e-3, 1.3e-2, 0.2},
		{graph.Q4_K, 5.8e-3, 6.5e-3, 0.2},
		{graph.Q6_K, 3.2e-4, 4.8e-4, 5e-2},
	}
	for _, tc := range tests {
		for _, data := range []struct {
			name    string
			x       []float32
			maxNMSE float64
		}{
			{"gauss", gaussData(uint64(tc.t)+1, n), tc.gaussNMSE},
			{"weights", randData(uint64(tc.t)+7, n), tc.wtNMSE},
		} {
			t.Run(tc.t.String()+"/"+data.name, func(t *testing.T) {
				x := data.x
				need, err := tc.t.RowBytes(n)
				require.NoError(t, err)
				enc := make([]byte, need)
				require.NoError(t, Quantize(tc.t, x, enc))
				y := make([]float32, n)
				require.NoError(t, Dequantize(tc.t, enc, y))
				e := nmse(x, y)
				t.Logf("%s %s: NMSE %.3g", tc.t, data.name, e)
				require.LessOrEqual(t, e, data.maxNMSE)
				var amax float64
				for _, v := range x {
					amax = max(amax, math.Abs(float64(v)))
				}
				for i := range x {
					require.LessOrEqual(t, math.Abs(float64(y[i]-x[i])), tc.maxRelEl*amax, "element %d", i)
				}
				// Deterministic: a second encoding is byte-identical.
				enc2 := make([]byte, need)
				require.NoError(t, Quantize(tc.t, x, enc2))
				require.Equal(t, enc, enc2)
			})
		}
	}
}

func TestRoundTripEdgeBlocks(t *testing.T) {
	blocks := map[string]func(i int) float32{
		"zeros":      func(int) float32 { return 0 },
		"constant":   func(int) float32 { return 3 },
		"negative":   func(int) float32 { return -2 },
		"positive":   func(i int) float32 { return 1 + float32(i%7) },
		"one spike":  func(i int) float32 { return map[bool]float32{true: 100, false: 0}[i == 77] },
		"tiny":       func(i int) float32 { return 1e-3 * float32(i%5-2) },
		"alternate":  func(i int) float32 { return float32(1 - 2*(i%2)) },
		"ramp":       func(i int) float32 { return float32(i) - 128 },
		"-0":         func(int) float32 { return float32(math.Copysign(0, -1)) },
		"mixed zero": func(i int) float32 { return float32(i%3) * 0.25 },
	}
	for name, f := range blocks {
		x := make([]float32, 256)
		var amax float64
		for i := range x {
			x[i] = f(i)
			amax = max(amax, math.Abs(float64(x[i])))
		}
		for _, dt := range floatTypes {
			t.Run(name+"/"+dt.String(), func(t *testing.T) {
				need, err := dt.RowBytes(256)
				require.NoError(t, err)
				enc := make([]byte, need)
				require.NoError(t, Quantize(dt, x, enc))
				y := make([]float32, 256)
				require.NoError(t, Dequantize(dt, enc, y))
				for i := range x {
					require.False(t, math.IsNaN(float64(y[i])))
					require.LessOrEqual(t, math.Abs(float64(y[i]-x[i])), 0.15*amax+1e-6, "element %d", i)
				}
			})
		}
	}
}

func TestRequantizeStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const nb = 500
	t.Run("q8_0", func(t *testing.T) {
		// Any block whose largest |q| is 127 re-encodes to itself.
		blk := make([]byte, nb*34)
		for b := 0; b < nb; b++ {
			d := F32ToF16(float32(math.Ldexp(1+rng.Float64(), rng.IntN(20)-14)))
			binary.LittleEndian.PutUint16(blk[b*34:], d)
			for j := 0; j < 32; j++ {
				blk[b*34+2+j] = byte(int8(rng.IntN(255) - 127))
			}
			blk[b*34+2+rng.IntN(32)] = byte(int8(127 * (1 - 2*rng.IntN(2))))
		}
		y := make([]float32, nb*32)
		require.NoError(t, Dequantize(graph.Q8_0, blk, y))
		again := make([]byte, len(blk))
		require.NoError(t, Quantize(graph.Q8_0, y, again))
		require.Equal(t, blk, again)
	})
	t.Run("q4_0", func(t *testing.T) {
		// Any block with a nibble 0 (the extreme -8d) re-encodes to itself.
		blk := make([]byte, nb*18)
		for b := 0; b < nb; b++ {
			d := float32(math.Ldexp(1+rng.Float64(), rng.IntN(20)-14))
			if rng.IntN(2) == 0 {
				d = -d
			}
			binary.LittleEndian.PutUint16(blk[b*18:], F32ToF16(d))
			for j := 0; j < 16; j++ {
				blk[b*18+2+j] = byte(rng.IntN(256))
			}
			k := rng.IntN(32)
			if k < 16 {
				blk[b*18+2+k] &= 0xf0
			} else {
				blk[b*18+2+k-16] &= 0x0f
			}
		}
		y := make([]float32, nb*32)
		require.NoError(t, Dequantize(graph.Q4_0, blk, y))
		again := make([]byte, len(blk))
		require.NoError(t, Quantize(graph.Q4_0, y, again))
		require.Equal(t, blk, again)
	})
	for _, dt := range []graph.DType{graph.Q4_K, graph.Q6_K} {
		// Re-encoding decoded k-quant data loses (almost) nothing more.
		t.Run(dt.String(), func(t *testing.T) {
			x := randData(11, 256*16)
			need, err := dt.RowBytes(int64(len(x)))
			require.NoError(t, err)
			enc := make([]byte, need)
			require.NoError(t, Quantize(dt, x, enc))
			y := make([]float32, len(x))
			require.NoError(t, Dequantize(dt, enc, y))
			enc2 := make([]byte, need)
			require.NoError(t, Quantize(dt, y, enc2))
			z := make([]float32, len(x))
			require.NoError(t, Dequantize(dt, enc2, z))
			first, second := nmse(x, y), nmse(y, z)
			t.Logf("%s: first pass NMSE %.3g, requantize NMSE %.3g", dt, first, second)
			require.Less(t, second, first/4)
		})
	}
}

func TestErrors(t *testing.T) {
	f := make([]float32, 256)
	b := make([]byte, 1024)
	tests := []struct {
		name string
		err  error
	}{
		{"dequantize i32", Dequantize(graph.I32, b, f[:4])},
		{"dequantize invalid dtype", Dequantize(graph.DType(200), b, f[:4])},
		{"dequantize partial block", Dequantize(graph.Q8_0, b, f[:31])},
		{"dequantize partial k block", Dequantize(graph.Q4_K, b, f[:128])},
		{"dequantize short src", Dequantize(graph.Q4_0, b[:17], f[:32])},
		{"dequantize short f32 src", Dequantize(graph.F32, b[:7], f[:2])},
		{"dequantize short q6_k src", Dequantize(graph.Q6_K, b[:209], f[:256])},
		{"quantize i32", Quantize(graph.I32, f[:4], b)},
		{"quantize invalid dtype", Quantize(graph.DType(200), f[:4], b)},
		{"quantize partial block", Quantize(graph.Q4_0, f[:33], b)},
		{"quantize short dst", Quantize(graph.Q4_K, f, b[:143])},
		{"quantize short f16 dst", Quantize(graph.F16, f[:3], b[:5])},
		{"quantize nan", Quantize(graph.Q8_0, append(make([]float32, 31), float32(math.NaN())), b)},
		{"quantize inf", Quantize(graph.Q6_K, append(make([]float32, 255), float32(math.Inf(-1))), b)},
		{"quantize scale overflow", Quantize(graph.Q8_0, append(make([]float32, 31), 1e10), b)},
		{"quantize q4_k scale overflow", Quantize(graph.Q4_K, append(make([]float32, 255), 1e10), b)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, tc.err)
			require.Contains(t, tc.err.Error(), "quant:")
		})
	}
	// Exact and over-long buffers are fine; the extra bytes are ignored/untouched.
	for _, dt := range floatTypes {
		n := dt.BlockSize()
		need, err := dt.RowBytes(int64(n))
		require.NoError(t, err)
		buf := make([]byte, need+3)
		for i := range buf {
			buf[i] = 0xaa
		}
		require.NoError(t, Quantize(dt, f[:n], buf), dt.String())
		require.Equal(t, []byte{0xaa, 0xaa, 0xaa}, buf[need:], dt.String())
		require.NoError(t, Dequantize(dt, buf, f[:n]), dt.String())
		require.NoError(t, Dequantize(dt, nil, nil), dt.String())
		require.NoError(t, Quantize(dt, nil, nil), dt.String())
	}
}
