//go:build cgo

package cuda

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// runGraph compiles g on be (with op's variant when variant is not ""),
// binds each input's bytes, runs it and returns out's bytes.
func runGraph(t *testing.T, be *cudaBackend, g *graph.Graph, op graph.Op, variant string, inputs map[*graph.Node][]byte,
	out *graph.Node) ([]byte, error) {
	t.Helper()
	var prog backend.Program
	var err error
	if variant == "" {
		prog, err = be.Compile(g)
	} else {
		prog, err = be.CompileVariant(g, op, variant)
	}
	require.NoError(t, err)
	defer prog.Close()
	for n, data := range inputs {
		require.NoError(t, prog.Bind(n, upload(t, be, data), 0))
	}
	ob := upload(t, be, make([]byte, out.Bytes()))
	require.NoError(t, prog.Bind(out, ob, 0))
	if err := prog.Run(context.Background()); err != nil {
		return nil, err
	}
	return readAll(t, ob), nil
}

// requireSameBytes fails at the first byte where got differs from want.
func requireSameBytes(t *testing.T, want, got []byte) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("byte %d: got %#02x, want %#02x (bytes %d.. got % x, want % x)", i, got[i], want[i], i&^15,
				got[i&^15:min(len(got), i&^15+16)], want[i&^15:min(len(want), i&^15+16)])
		}
	}
}

// kquantData is rows of 512 values whose super-blocks cover what the
// encoders' search meets: Gaussian rows of several magnitudes, a zero
// block, all-negative and all-positive blocks, a block with one outlier.
func kquantData(rows int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, rows*512)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(i/512%3)-1))
	}
	for i := 0; i < 256; i++ {
		x[256+i] = 0                                     // row 0, block 1: zeros
		x[512+i] = -float32(math.Abs(float64(x[512+i]))) // row 1, block 0: negative
		x[768+i] = float32(math.Abs(float64(x[768+i])))  // row 1, block 1: positive
	}
	x[1024+17] = 40 // row 2, block 0: an outlier
	return x
}

// TestKQuantCopy quantizes F32, F16 and BF16 tensors (one of them a
// transposed view) to Q4_K and Q6_K on the device: on the emulator the
// bytes equal backend/quant's encoders' exactly; on a GPU (FMA
// contraction) the dequantized result is within the op suite's tolerance of
// the reference encoding's.
func TestKQuantCopy(t *testing.T) {
	be := cudaDevice(t)
	const rows = 4
	x := kquantData(rows, 3)
	for _, dst := range []graph.DType{graph.Q4_K, graph.Q6_K} {
		for _, src := range []graph.DType{graph.F32, graph.F16, graph.BF16} {
			t.Run(src.String()+"_to_"+dst.String(), func(t *testing.T) {
				vals := make([]float32, len(x))
				data := make([]byte, 0, 4*len(x))
				for i, v := range x {
					switch src {
					case graph.F32:
						vals[i] = v
						data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
					case graph.F16:
						h := quant.F32ToF16(v)
						vals[i] = quant.F16ToF32(h)
						data = binary.LittleEndian.AppendUint16(data, h)
					case graph.BF16:
						h := quant.F32ToBF16(v)
						vals[i] = quant.BF16ToF32(h)
						data = binary.LittleEndian.AppendUint16(data, h)
					}
				}
				b := graph.NewBuilder()
				in := b.Input("x", src, rows, 512)
				out := b.Copy(in, dst)
				g, err := b.Build(out)
				require.NoError(t, err)
				got, err := runGraph(t, be, g, 0, "", map[*graph.Node][]byte{in: data}, out)
				require.NoError(t, err)
				want := make([]byte, out.Bytes())
				require.NoError(t, quant.Quantize(dst, vals, want))
				if be.info.Emulated {
					requireSameBytes(t, want, got)
					return
				}
				gv, wv := make([]float32, len(vals)), make([]float32, len(vals))
				require.NoError(t, quant.Dequantize(dst, got, gv))
				require.NoError(t, quant.Dequantize(dst, want, wv))
				require.LessOrEqual(t, parity.NMSE(gv, wv), parity.MatMulThreshold)
			})
		}
	}
	t.Run("transposed_view", func(t *testing.T) {
		b := graph.NewBuilder()
		in := b.Input("x", graph.F32, 512, rows)
		out := b.Copy(b.Permute(in, 1, 0), graph.Q6_K)
		g, err := b.Build(out)
		require.NoError(t, err)
		tr := make([]float32, len(x))
		for r := 0; r < rows; r++ {
			for c := 0; c < 512; c++ {
				tr[c*rows+r] = x[r*512+c]
			}
		}
		got, err := runGraph(t, be, g, 0, "", map[*graph.Node][]byte{in: f32bytes(tr...)}, out)
		require.NoError(t, err)
		want := make([]byte, out.Bytes())
		require.NoError(t, quant.Quantize(graph.Q6_K, x, want))
		if be.info.Emulated {
			requireSameBytes(t, want, got)
		}
	})
	t.Run("scale_overflow", func(t *testing.T) {
		b := graph.NewBuilder()
		in := b.Input("x", graph.F32, 1, 512)
		out := b.Copy(in, graph.Q4_K)
		g, err := b.Build(out)
		require.NoError(t, err)
		big := make([]float32, 512)
		for i := range big {
			big[i] = float32(i%7) * 1e9 // block scales far beyond an f16
		}
		_, err = runGraph(t, be, g, 0, "", map[*graph.Node][]byte{in: f32bytes(big...)}, out)
		require.ErrorContains(t, err, "block 0: scale d does not fit an f16 (source values too large or not finite) (2 bad elements in all)")
	})
}
