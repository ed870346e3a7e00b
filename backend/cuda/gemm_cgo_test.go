//go:build cgo

package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// matmulRef is x·wᵀ in float64 from w's encoded rows.
func matmulRef(t *testing.T, x []float32, w []byte, wt graph.DType, m, n, k int) []float32 {
	t.Helper()
	wf := make([]float32, n*k)
	require.NoError(t, quant.Dequantize(wt, w, wf))
	out := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for e := 0; e < k; e++ {
				s += float64(x[i*k+e]) * float64(wf[j*k+e])
			}
			out[i*n+j] = float32(s)
		}
	}
	return out
}

// TestMatMulKernelShapes runs the GEMV and tensor-core GEMM kernels on
// shapes the op suite lacks: several tiles in M and N, K not a multiple of
// the tile, weights bound at an offset that is not 16-byte aligned (the
// non-cp.async path), and split-K from 1 to 16 ways (the device's SM
// count is raised so that the selection splits).
func TestMatMulKernelShapes(t *testing.T) {
	be := cudaDevice(t)
	tests := []struct {
		wt      graph.DType
		m, n, k int
		variant string
		sms     int   // 0: the device's
		woff    int64 // bytes before w in its buffer
	}{
		{graph.F16, 260, 300, 200, mmMMA, 0, 0},  // 128-wide tiles (3 × 3 fill 2 SMs)
		{graph.Q4_K, 130, 140, 512, mmMMA, 0, 2}, // 128-wide tiles, quantized, unaligned
		{graph.F16, 130, 70, 200, mmMMA, 0, 0},
		{graph.BF16, 130, 70, 200, mmMMA, 0, 0},
		{graph.F16, 70, 65, 72, mmMMA, 0, 2},
		{graph.Q4_0, 65, 40, 256, mmMMA, 0, 0},
		{graph.Q8_0, 40, 24, 1024, mmMMA, 64, 0},
		{graph.Q4_K, 17, 33, 2048, mmMMA, 200, 0},
		{graph.Q6_K, 70, 33, 512, mmMMA, 0, 2},
		{graph.F16, 3, 37, 1000, mmGEMV, 0, 0},
		{graph.F16, 3, 37, 1000, mmGEMV, 0, 2},
		{graph.F32, 9, 5, 64, mmGEMV, 0, 4},
		{graph.Q6_K, 11, 9, 768, mmGEMV, 0, 0},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%s_m%d_n%d_k%d_sms%d_off%d", tt.variant, tt.wt, tt.m, tt.n, tt.k, tt.sms, tt.woff)
		t.Run(name, func(t *testing.T) {
			if tt.sms > 0 {
				old := be.info.SMCount
				be.info.SMCount = tt.sms
				defer func() { be.info.SMCount = old }()
			}
			rng := rand.New(rand.NewPCG(uint64(tt.m), uint64(tt.k)))
			x := make([]float32, tt.m*tt.k)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			wf := make([]float32, tt.n*tt.k)
			for i := range wf {
				wf[i] = float32(rng.NormFloat64() * 0.1)
			}
			rb, err := tt.wt.RowBytes(int64(tt.k))
			require.NoError(t, err)
			w := make([]byte, rb*int64(tt.n))
			require.NoError(t, quant.Quantize(tt.wt, wf, w))
			b := graph.NewBuilder()
			xn := b.Input("x", graph.F32, tt.m, tt.k)
			wn := b.Weight("w", tt.wt, tt.n, tt.k)
			out := b.MatMul(xn, wn)
			g, err := b.Build(out)
			require.NoError(t, err)
			if tt.variant == mmMMA {
				t.Logf("plan %+v", gemmPlan(be.info.SMCount, out.MatMulDims()))
			}
			prog, err := be.CompileVariant(g, graph.OpMatMul, tt.variant)
			require.NoError(t, err)
			defer prog.Close()
			require.NoError(t, prog.Bind(xn, upload(t, be, f32bytes(x...)), 0))
			require.NoError(t, prog.Bind(wn, upload(t, be, append(make([]byte, tt.woff), w...)), tt.woff))
			ob := upload(t, be, make([]byte, out.Bytes()))
			require.NoError(t, prog.Bind(out, ob, 0))
			require.NoError(t, prog.Run(t.Context()))
			got := f32s(readAll(t, ob))
			want := matmulRef(t, x, w, tt.wt, tt.m, tt.n, tt.k)
			nmse := parity.NMSE(got, want)
			t.Logf("NMSE %.3g", nmse)
			require.LessOrEqual(t, nmse, 1e-5)
		})
	}
}
