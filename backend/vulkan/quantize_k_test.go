//go:build cgo

package vulkan

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// quantizeOnDevice copies vals (F32, rows × 256·k) to dt on the device.
func quantizeOnDevice(t *testing.T, be *vkBackend, dt graph.DType, vals []float32, shape ...int) ([]byte, error) {
	t.Helper()
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, shape...)
	out := b.Copy(x, dt)
	g, err := b.Build(out)
	require.NoError(t, err)
	p, err := be.Compile(g)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	require.NoError(t, p.Bind(x, upload(t, be, f32Bytes(vals...)), 0))
	// Bound 2 bytes into the buffer: blocks straddle words.
	ob := upload(t, be, make([]byte, out.Bytes()+4))
	require.NoError(t, p.Bind(out, ob, 2))
	if err := p.Run(context.Background()); err != nil {
		return nil, err
	}
	return readAll(t, ob)[2 : 2+out.Bytes()], nil
}

// TestQuantizeK compares the device's Q4_K and Q6_K quantizers with
// backend/quant's on many super-blocks of several distributions: most
// blocks are bit-identical (float32 against float64 search arithmetic can
// pick another fit at near ties), and the dequantized results agree far
// inside the matmul threshold.
func TestQuantizeK(t *testing.T) {
	be := vkDevice(t)
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, cols = 16, 1024
	dists := map[string]func() float32{
		"normal":  func() float32 { return float32(rng.NormFloat64()) },
		"uniform": func() float32 { return float32(rng.Float64()*4 - 1) },
		"skewed":  func() float32 { return float32(math.Exp(rng.NormFloat64())) - 0.5 },
		"sparse": func() float32 {
			if rng.IntN(4) == 0 {
				return float32(rng.NormFloat64() * 3)
			}
			return 0
		},
	}
	for _, dt := range []graph.DType{graph.Q4_K, graph.Q6_K} {
		for name, dist := range dists {
			t.Run(dt.String()+"/"+name, func(t *testing.T) {
				vals := make([]float32, rows*cols)
				for i := range vals {
					vals[i] = dist()
				}
				got, err := quantizeOnDevice(t, be, dt, vals, rows, cols)
				require.NoError(t, err)
				want := make([]byte, len(got))
				require.NoError(t, quant.Quantize(dt, vals, want))
				bb := dt.BlockBytes()
				same := 0
				for i := 0; i < len(got); i += bb {
					if bytes.Equal(got[i:i+bb], want[i:i+bb]) {
						same++
					}
				}
				blocks := len(got) / bb
				gd, wd := make([]float32, len(vals)), make([]float32, len(vals))
				require.NoError(t, quant.Dequantize(dt, got, gd))
				require.NoError(t, quant.Dequantize(dt, want, wd))
				var num, den, qerr float64
				for i := range vals {
					num += math.Pow(float64(gd[i])-float64(wd[i]), 2)
					qerr += math.Pow(float64(wd[i])-float64(vals[i]), 2)
					den += float64(vals[i]) * float64(vals[i])
				}
				t.Logf("%d of %d blocks bit-identical; NMSE device vs cpu %.2e, cpu vs source %.2e", same, blocks, num/den, qerr/den)
				require.GreaterOrEqual(t, same, blocks/2)
				require.Less(t, num/den, 5e-5)
			})
		}
	}
	// A scale that does not fit an f16 is an error naming the block.
	vals := make([]float32, 512)
	vals[300] = 1e30
	_, err := quantizeOnDevice(t, be, graph.Q4_K, vals, 2, 256)
	require.ErrorContains(t, err, "block 1: scale d does not fit an f16")
}
