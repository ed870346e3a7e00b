package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/golem-llm/golem/graph"
	"github.com/stretchr/testify/require"
)

// randRow returns an encoded row of n elements of type dt. Half of the block
// types' rows are random bytes with sane f16 scales (so every bit pattern of
// the quants is exercised), the other half quantized random data.
func randRow(t testing.TB, rng *rand.Rand, dt graph.DType, n int, rawBits bool) []byte {
	need, err := dt.RowBytes(int64(n))
	require.NoError(t, err)
	row := make([]byte, need)
	if !rawBits || !dt.IsQuantized() {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		require.NoError(t, Quantize(dt, x, row))
		return row
	}
	for i := range row {
		row[i] = byte(rng.Uint32())
	}
	scale := func() uint16 { return F32ToF16(float32((rng.Float64() - 0.5) * 0.1)) }
	bb := dt.BlockBytes()
	for o := 0; o < len(row); o += bb {
		switch dt {
		case graph.Q8_0, graph.Q4_0:
			binary.LittleEndian.PutUint16(row[o:], scale())
		case graph.Q4_K:
			binary.LittleEndian.PutUint16(row[o:], scale())
			binary.LittleEndian.PutUint16(row[o+2:], scale())
		case graph.Q6_K:
			binary.LittleEndian.PutUint16(row[o+q6KD:], scale())
		}
	}
	return row
}

func TestDotMatchesDequantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, dt := range floatTypes {
		bs := dt.BlockSize()
		for _, blocks := range []int{1, 3, 7, 33, 129} {
			for _, raw := range []bool{false, true} {
				n := bs * blocks
				name := fmt.Sprintf("%s/n=%d/raw=%v", dt, n, raw)
				t.Run(name, func(t *testing.T) {
					row := randRow(t, rng, dt, n, raw)
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(rng.NormFloat64())
					}
					w := make([]float32, n)
					require.NoError(t, Dequantize(dt, row, w))
					var ref, mag float64
					for i := range w {
						p := float64(float64(w[i]) * float64(x[i])) // no FMA fusion
						ref += p
						mag += math.Abs(p)
					}
					require.Equal(t, ref, DotF64(dt, row, x), "DotF64 must sum the dequantized products in order")
					got := float64(Dot(dt, row, x))
					require.InDelta(t, ref, got, 1e-5*mag+1e-30, "Dot vs float64 reference")
					// Extra bytes at the end of the row are ignored.
					long := append(append([]byte{}, row...), 0xff, 0xff, 0xff)
					require.Equal(t, float32(got), Dot(dt, long, x))
					require.Equal(t, ref, DotF64(dt, long, x))
				})
			}
		}
	}
}

func TestDotEmpty(t *testing.T) {
	for _, dt := range floatTypes {
		require.Zero(t, Dot(dt, nil, nil), dt.String())
		require.Zero(t, DotF64(dt, nil, nil), dt.String())
	}
}

func TestDotPanicsOnMisuse(t *testing.T) {
	x := make([]float32, 256)
	row := make([]byte, 1024)
	tests := []struct {
		name string
		t    graph.DType
		row  []byte
		x    []float32
	}{
		{"i32", graph.I32, row, x[:4]},
		{"invalid dtype", graph.DType(99), row, x[:4]},
		{"partial block", graph.Q4_0, row, x[:17]},
		{"partial k block", graph.Q6_K, row, x[:255]},
		{"short row", graph.Q4_K, row[:143], x},
		{"short f32 row", graph.F32, row[:11], x[:3]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Panics(t, func() { Dot(tc.t, tc.row, tc.x) })
			require.Panics(t, func() { DotF64(tc.t, tc.row, tc.x) })
		})
	}
}

func TestDotDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, dt := range floatTypes {
		row := randRow(t, rng, dt, 512, false)
		x := make([]float32, 512)
		allocs := testing.AllocsPerRun(10, func() {
			_ = Dot(dt, row, x)
			_ = DotF64(dt, row, x)
		})
		require.Zero(t, allocs, dt.String())
	}
}
