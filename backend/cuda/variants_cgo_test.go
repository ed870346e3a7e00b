//go:build cgo

package cuda

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// variantTarget compiles every graph with one variant of op.
type variantTarget struct {
	*cudaBackend
	op      graph.Op
	variant string
}

// Compile compiles g with the chosen variant of op.
func (v variantTarget) Compile(g *graph.Graph) (backend.Program, error) {
	return v.CompileVariant(g, v.op, v.variant)
}

// opsReference opens the float64 CPU reference.
func opsReference(t *testing.T) backend.Backend {
	t.Helper()
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })
	return ref
}

// runVariantSuite runs the op suite's cases of op (ShortCases under
// -short) with variant forced, against the reference. A case the
// variant's support check refuses is skipped and counted; it returns how
// many cases ran.
func runVariantSuite(t *testing.T, be *cudaBackend, ref backend.Backend, op graph.Op, variant string) int {
	t.Helper()
	all := parity.Cases()
	if testing.Short() {
		all = parity.ShortCases()
	}
	cases, err := parity.Filter(all, "^"+op.String()+"$", "")
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	seed, err := parity.SeedFromEnv()
	require.NoError(t, err)
	v, ok := ops.Find(op, variant)
	require.True(t, ok)
	target := variantTarget{be, op, variant}
	ran := 0
	for _, c := range cases {
		b := graph.NewBuilder()
		fx, err := c.Build(b, parity.NewRand(seed, c.Name))
		require.NoError(t, err)
		g, err := b.Build(fx.Outputs...)
		require.NoError(t, err)
		var why error
		for _, n := range g.Nodes {
			if n.Op == op {
				if why = v.Check(&be.info, n); why != nil {
					break
				}
			}
		}
		if why != nil {
			t.Logf("%s: %s refuses it: %v", c.Name, variant, why)
			continue
		}
		ran++
		t.Run(c.Name, func(t *testing.T) {
			r := parity.RunCase(t.Context(), target, ref, c, seed)
			require.False(t, r.Skipped, r.Message())
			require.True(t, r.Pass && r.Err == nil, r.Message())
		})
	}
	return ran
}

// TestMatMulVariants runs the op suite's matmul cases with every
// available variant forced (the default, auto, runs in TestOpSuite); each
// variant must run some.
func TestMatMulVariants(t *testing.T) {
	be := cudaDevice(t)
	ref := opsReference(t)
	for _, name := range be.Variants(graph.OpMatMul) { // the available ones (cuBLASLt loaded when present)
		if name == "auto" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			require.Positive(t, runVariantSuite(t, be, ref, graph.OpMatMul, name))
		})
	}
}

// TestAttentionVariants runs the op suite's attention cases with every
// variant forced; each variant must run some.
func TestAttentionVariants(t *testing.T) {
	be := cudaDevice(t)
	ref := opsReference(t)
	for _, name := range ops.Names(graph.OpAttention) {
		if name == "auto" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			require.Positive(t, runVariantSuite(t, be, ref, graph.OpAttention, name))
		})
	}
}

// TestCublasLtVariant: cuBLASLt is a matmul variant only where it loaded;
// elsewhere (the emulator, a GPU without libcublasLt.so.13/.12) forcing it
// fails with the reason. Where it loaded, TestMatMulVariants runs the
// suite's matmul cases through it.
func TestCublasLtVariant(t *testing.T) {
	be := cudaDevice(t)
	require.Equal(t, "cuBLASLt not loaded yet", be.info.CublasLt, "loaded only when asked for")
	variants := be.Variants(graph.OpMatMul)
	if be.lt != nil {
		require.Contains(t, variants, mmCublasLt)
		return
	}
	require.NotEmpty(t, be.info.CublasLt)
	if be.info.Emulated {
		require.Equal(t, "cuBLASLt needs a GPU (the emulator runs golem's kernels only)", be.info.CublasLt)
	} else {
		require.Contains(t, be.info.CublasLt, "cuBLASLt unavailable: ")
	}
	require.Equal(t, []string{"auto", mmSIMT, mmGEMV, mmMMA}, variants)
	b := graph.NewBuilder()
	out := b.MatMul(b.Input("x", graph.F32, 16, 64), b.Weight("w", graph.F16, 32, 64))
	g, err := b.Build(out)
	require.NoError(t, err)
	_, err = be.CompileVariant(g, graph.OpMatMul, mmCublasLt)
	require.ErrorContains(t, err, be.info.CublasLt)
}
