//go:build cgo

package vulkan

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu" // the parity reference
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
)

// opsReference opens the float64 CPU reference.
func opsReference(t *testing.T) backend.Backend {
	t.Helper()
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })
	return ref
}

// variantTarget compiles every graph with one variant of op.
type variantTarget struct {
	backend.Backend
	op      graph.Op
	variant string
}

// Compile compiles g with the chosen variant of op.
func (v variantTarget) Compile(g *graph.Graph) (backend.Program, error) {
	return v.Backend.(backend.VariantCompiler).CompileVariant(g, v.op, v.variant)
}

// partialVariants are the variants that take only some nodes of their op
// (head dims, dtypes): cases they reject are skipped, not failed.
var partialVariants = map[string]bool{attnFlashCoopmat: true, matmulGEMVVec4: true, matmulGEMVQ8: true, matmulGEMVDP4: true}

// Supports reports whether the chosen variant accepts n (other ops: the
// backend's answer).
func (v variantTarget) Supports(n *graph.Node) bool {
	if !v.Backend.Supports(n) {
		return false
	}
	if n.Op != v.op {
		return true
	}
	vb := v.Backend.(*vkBackend)
	vr, ok := ops.Find(v.op, v.variant)
	return ok && vr.Check(&vb.info, n) == nil
}

// runSuiteCases runs the parity suite's cases of the ops matching opRegex
// (ShortCases under -short) on target against ref, one subtest per case.
func runSuiteCases(t *testing.T, target, ref backend.Backend, opRegex string) {
	t.Helper()
	all := parity.Cases()
	if testing.Short() {
		all = parity.ShortCases()
	}
	cases, err := parity.Filter(all, opRegex, "")
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	seed, err := parity.SeedFromEnv()
	require.NoError(t, err)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			r := parity.RunCase(t.Context(), target, ref, c, seed)
			t.Log(r.Message())
			if vt, ok := target.(variantTarget); ok && r.Skipped && partialVariants[vt.variant] {
				t.Skipf("variant %s does not take this case", vt.variant)
			}
			require.False(t, r.Skipped, r.Message())
			require.True(t, r.Pass && r.Err == nil, r.Message())
		})
	}
}

// runOwnCase runs one hand-made case on target against ref.
func runOwnCase(t *testing.T, target, ref backend.Backend, c parity.Case) {
	t.Helper()
	if c.Threshold == 0 {
		c.Threshold = parity.Threshold(c)
	}
	r := parity.RunCase(t.Context(), target, ref, c, parity.DefaultSeed)
	t.Log(r.Message())
	if vt, ok := target.(variantTarget); ok && r.Skipped && partialVariants[vt.variant] {
		t.Skipf("variant %s does not take this case", vt.variant)
	}
	require.False(t, r.Skipped, r.Message())
	require.True(t, r.Pass && r.Err == nil, r.Message())
}

// encodeLeaf declares a leaf on b and encodes vals as dt into data.
func encodeLeaf(b *graph.Builder, data map[string][]byte, op graph.Op, name string, dt graph.DType, vals []float32, dims ...int) (*graph.Node, error) {
	var n *graph.Node
	switch op {
	case graph.OpWeight:
		n = b.Weight(name, dt, dims...)
	case graph.OpState:
		n = b.State(name, dt, dims...)
	default:
		n = b.Input(name, dt, dims...)
	}
	size, err := dt.RowBytes(int64(len(vals)))
	if err != nil {
		return nil, fmt.Errorf("leaf %q: %w", name, err)
	}
	buf := make([]byte, size)
	if dt == graph.I32 {
		for i, v := range vals {
			binary.LittleEndian.PutUint32(buf[4*i:], uint32(int32(v)))
		}
	} else if err := quant.Quantize(dt, vals, buf); err != nil {
		return nil, fmt.Errorf("leaf %q: %w", name, err)
	}
	data[name] = buf
	return n, nil
}

// randNormals returns n draws of N(0, 1).
func randNormals(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// matmulCase is x [batch..., m, k] · w [n, k]ᵀ (w [batch..., n, k] when batchedW).
func matmulCase(dt graph.DType, batch []int, m, n, k int, batchedW bool) parity.Case {
	name := fmt.Sprintf("matmul(w=%s,batch=%v,m=%d,n=%d,k=%d,batched_w=%v)", dt, batch, m, n, k, batchedW)
	return parity.Case{
		Name:   name,
		Op:     graph.OpMatMul,
		DTypes: []graph.DType{dt},
		Build: func(b *graph.Builder, rng *rand.Rand) (parity.Fixture, error) {
			data := map[string][]byte{}
			xd := append(append([]int{}, batch...), m, k)
			wd := []int{n, k}
			if batchedW {
				wd = append(append([]int{}, batch...), n, k)
			}
			x, err := encodeLeaf(b, data, graph.OpInput, "x", graph.F32, randNormals(rng, dimsNumel(xd)), xd...)
			if err != nil {
				return parity.Fixture{}, err
			}
			w, err := encodeLeaf(b, data, graph.OpWeight, "w", dt, randNormals(rng, dimsNumel(wd)), wd...)
			if err != nil {
				return parity.Fixture{}, err
			}
			return parity.Fixture{Outputs: []*graph.Node{b.MatMul(x, w)}, Data: data}, b.Err()
		},
	}
}

func dimsNumel(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// TestMatMulSuite runs every matmul case of the parity suite on the default
// variant (ShortCases under -short).
func TestMatMulSuite(t *testing.T) {
	be := vkDevice(t)
	runSuiteCases(t, be, opsReference(t), regexp.QuoteMeta(graph.OpMatMul.String()))
}

// TestMatMulKernels checks the GEMV and GEMM kernels of every weight dtype
// on odd shapes (partial tiles, rows and columns not multiples of anything).
func TestMatMulKernels(t *testing.T) {
	be := vkDevice(t)
	ref := opsReference(t)
	var vc backend.VariantCompiler = be
	variants := []string{matmulGEMV, matmulGEMM}
	if storage16Available(&be.info) == nil {
		variants = append(variants, matmulGEMVS16, matmulGEMMS16)
	}
	variants = append(variants, matmulGEMVVec4, matmulGEMVQ8)
	if intDotAvailable(&be.info) == nil {
		variants = append(variants, matmulGEMVDP4)
	}
	if coopmatAvailable(&be.info) == nil {
		variants = append(variants, matmulCoopmat)
	}
	require.Equal(t, append([]string{matmulAuto}, variants...), vc.Variants(graph.OpMatMul))
	takes := map[string][]graph.DType{
		matmulGEMVVec4: {graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0},
		matmulGEMVQ8:   {graph.Q8_0, graph.Q4_0},
		matmulGEMVDP4:  {graph.Q8_0, graph.Q4_0},
	}
	dtypes := []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}
	type shape struct {
		batch    []int
		m, n, k  int
		batchedW bool
	}
	for _, dt := range dtypes {
		k := 67 // float weights: an odd inner size
		switch dt.BlockSize() {
		case 32:
			k = 96
		case 256:
			k = 512
		}
		shapes := []shape{
			{m: 1, n: 37, k: k},
			{m: 3, n: 130, k: k},
			{m: 70, n: 65, k: k},
			{batch: []int{2}, m: 9, n: 5, k: k},
		}
		if !dt.IsQuantized() {
			shapes = append(shapes, shape{batch: []int{3}, m: 66, n: 7, k: k, batchedW: true},
				shape{batch: []int{2}, m: 2, n: 9, k: k, batchedW: true},
				shape{m: 2, n: 33, k: 136}, // gemv_vec4: units of 8 elements
				shape{batch: []int{2}, m: 1, n: 5, k: 64, batchedW: true})
		}
		for _, v := range variants {
			if dts, ok := takes[v]; ok && !slices.Contains(dts, dt) {
				continue
			}
			target := variantTarget{be, graph.OpMatMul, v}
			for _, s := range shapes {
				c := matmulCase(dt, s.batch, s.m, s.n, s.k, s.batchedW)
				t.Run(v+"/"+c.Name, func(t *testing.T) { runOwnCase(t, target, ref, c) })
			}
		}
	}
}

// TestMatMulWeightChunks shrinks the device's maxStorageBufferRange so that
// weights no longer fit one binding: every matmul then splits w into row
// windows, one dispatch each (docs/vulkan.md §8), for every dtype and both
// kernels.
func TestMatMulWeightChunks(t *testing.T) {
	be := vkDevice(t)
	ref := opsReference(t)
	saved := be.info.Limits.MaxStorageBufferRange
	be.info.Limits.MaxStorageBufferRange = 16384
	t.Cleanup(func() { be.info.Limits.MaxStorageBufferRange = saved })
	for _, dt := range []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K} {
		k := 67
		if dt.IsQuantized() {
			k = 256
		}
		vs := []string{matmulGEMV, matmulGEMM}
		if dt == graph.Q8_0 || dt == graph.Q4_0 {
			vs = append(vs, matmulGEMVVec4, matmulGEMVQ8)
		}
		for _, v := range vs {
			for _, m := range []int{1, 12} {
				c := matmulCase(dt, nil, m, 301, k, false)
				t.Run(v+"/"+c.Name, func(t *testing.T) { runOwnCase(t, variantTarget{be, graph.OpMatMul, v}, ref, c) })
			}
		}
	}
}
