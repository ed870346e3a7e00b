//go:build cgo

package cuda

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// TestFusedCompile: a decode step's norm and q/k/v projections compile to
// one fused GEMV after one kernel that norms and quantizes x, instead of
// a norm, a mul and three GEMVs with their quantizations; the callers' nodes bind through the
// rewrite, and the result equals the unfused program's (GOLEM_CUDA_FUSE=0).
func TestFusedCompile(t *testing.T) {
	be := cudaDevice(t)
	const k = 64
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 1, k)
	nw := b.Weight("norm", graph.F32, k)
	h := b.Mul(b.RMSNorm(x, 1e-5), nw)
	var prods, ws []*graph.Node
	for _, name := range []string{"wq", "wk", "wv"} {
		w := b.Weight(name, graph.Q8_0, 32, k)
		ws = append(ws, w)
		prods = append(prods, b.MatMul(h, w))
	}
	outs := []*graph.Node{b.Add(b.Add(prods[0], prods[1]), prods[2])}
	g, err := b.Build(outs...)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	data := map[*graph.Node][]byte{x: f32bytes(vals(k)...), nw: f32bytes(vals(k)...)}
	for _, w := range ws {
		q := make([]byte, 32*34*k/32)
		require.NoError(t, quant.Quantize(graph.Q8_0, vals(32*k), q))
		data[w] = q
	}
	run := func(fuse bool) (kernels []string, results [][]float32) {
		be.fuse = fuse
		defer func() { be.fuse = true }()
		prog, err := be.Compile(g)
		require.NoError(t, err)
		defer prog.Close()
		for n, d := range data {
			require.NoError(t, prog.Bind(n, upload(t, be, d), 0))
		}
		var bufs []*cuBuffer
		for _, o := range outs {
			ob := upload(t, be, make([]byte, o.Bytes()))
			bufs = append(bufs, ob.(*cuBuffer))
			require.NoError(t, prog.Bind(o, ob, 0))
		}
		require.NoError(t, prog.Run(t.Context()))
		for _, l := range prog.(*program).core.List.Launches {
			kernels = append(kernels, l.Kernel)
		}
		for _, ob := range bufs {
			results = append(results, f32s(readAll(t, ob)))
		}
		return kernels, results
	}
	fk, fr := run(true)
	uk, ur := run(false)
	require.Equal(t, []string{"rms_norm_q8x", "fused_q8_0_r1", "add_f32", "add_f32"}, fk)
	require.Equal(t, []string{"rms_norm_f32", "mul_f32", "q8x", "gemv_q8_0_r1", "q8x", "gemv_q8_0_r1", "q8x", "gemv_q8_0_r1",
		"add_f32", "add_f32"}, uk)
	for i := range fr {
		require.Less(t, parity.NMSE(fr[i], ur[i]), 1e-10, "output %d", i)
	}
}

// TestProfileOption: a backend opened with backend.Options.Profile times
// every node of its programs (golem run --profile), with the launches
// each took.
func TestProfileOption(t *testing.T) {
	be, err := backend.Open("cuda", backend.Options{Profile: true})
	if err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	defer be.Close()
	b := graph.NewBuilder()
	x := b.Input("x", graph.F32, 1, 64)
	out := b.MatMul(x, b.Weight("w", graph.Q4_0, 32, 64))
	g, err := b.Build(out)
	require.NoError(t, err)
	prog, err := be.Compile(g)
	require.NoError(t, err)
	defer prog.Close()
	for _, n := range g.Nodes {
		if n.Op.IsLeaf() || n == out {
			require.NoError(t, prog.Bind(n, upload(t, be, make([]byte, n.Bytes())), 0))
		}
	}
	require.NoError(t, prog.Run(t.Context()))
	tm := prog.(backend.Profiler).Timings()
	require.Len(t, tm, 1)
	require.Equal(t, out, tm[0].Node)
	require.Equal(t, 2, tm[0].Launches, "q8x and the GEMV")
	require.GreaterOrEqual(t, tm[0].Seconds, 0.0)
}
