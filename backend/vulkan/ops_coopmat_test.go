//go:build cgo

package vulkan

import (
	"io/fs"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/internal/gpu"
	"github.com/golem-llm/golem/graph"
	vulkankernels "github.com/golem-llm/golem/kernels/vulkan"
)

// TestCoopmatSelection: the cooperative-matrix GEMM is offered only on a
// device that reports VK_KHR_cooperative_matrix with its shape and the
// features its SPIR-V needs, and never by "auto".
func TestCoopmatSelection(t *testing.T) {
	nvidia := func() deviceInfo {
		return deviceInfo{
			Limits: limits{MaxInvocations: 1024, MaxWorkgroupSize: [3]uint32{1024, 1024, 64}, MaxWorkgroupCount: [3]uint32{65535, 65535, 65535},
				MaxSharedMemory: 49152, SubgroupSize: 32, MinSubgroupSize: 32, MaxSubgroupSize: 32, MaxStorageBuffers: 1 << 20,
				SubgroupOps: subgroupBasic | subgroupArithmetic, MaxPushConstants: 256, MaxStorageBufferRange: 1 << 32, MinOffsetAlignment: 16},
			Features: features{Float16: true, Storage16: true, CoopMat: true, MemoryModel: true, CoopMatShapes: []coopShape{
				{M: 16, N: 16, K: 16, A: compF16, B: compF16, C: compF32, Result: compF32, Scope: scopeSubgroup},
				coopmatGEMMShape,
			}},
		}
	}
	tests := []struct {
		name  string
		edit  func(d *deviceInfo)
		avail bool
	}{
		{"reports the shape", func(*deviceInfo) {}, true},
		{"no extension", func(d *deviceInfo) { d.Features.CoopMat = false }, false},
		{"only 16x16x16 (AMD)", func(d *deviceInfo) { d.Features.CoopMatShapes = d.Features.CoopMatShapes[:1] }, false},
		{"f16 accumulator only", func(d *deviceInfo) {
			s := coopmatGEMMShape
			s.C, s.Result = compF16, compF16
			d.Features.CoopMatShapes = []coopShape{s}
		}, false},
		{"no shaderFloat16", func(d *deviceInfo) { d.Features.Float16 = false }, false},
		{"no memory model", func(d *deviceInfo) { d.Features.MemoryModel = false }, false},
		{"no subgroups", func(d *deviceInfo) { d.Limits.SubgroupOps = 0 }, false},
		{"lavapipe-like", func(d *deviceInfo) { d.Features.CoopMat, d.Features.CoopMatShapes = false, nil }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := nvidia()
			tc.edit(&d)
			names := ops.Variants(graph.OpMatMul, &d)
			require.Equal(t, tc.avail, coopmatAvailable(&d) == nil)
			require.Equal(t, tc.avail, contains(names, matmulCoopmat), "%v", names)
			require.Equal(t, matmulAuto, names[0], "auto stays the default")
			attn := ops.Variants(graph.OpAttention, &d)
			require.Equal(t, tc.avail, contains(attn, attnFlashCoopmat), "%v", attn)
			require.Equal(t, attnAuto, attn[0], "auto stays the default")
		})
	}
	// The attention kernel also reads K and V through 16-bit storage.
	d := nvidia()
	d.Features.Storage16 = false
	require.ErrorContains(t, coopmatFlashAvailable(&d), "16-bit storage")
	require.NotContains(t, ops.Variants(graph.OpAttention, &d), attnFlashCoopmat)
}

// TestCoopmatFlashSupports: the cooperative-matrix attention takes head
// dims that are multiples of 16 (D) and 8 (Dv) whose tiles fit the
// device's shared memory, and launches one workgroup of four subgroups per
// 16 queries, head and batch.
func TestCoopmatFlashSupports(t *testing.T) {
	d := deviceInfo{
		Limits: limits{MaxInvocations: 1024, MaxWorkgroupSize: [3]uint32{1024, 1024, 64}, MaxWorkgroupCount: [3]uint32{65535, 65535, 65535},
			MaxSharedMemory: 49152, SubgroupSize: 32, MinSubgroupSize: 32, MaxSubgroupSize: 32, MaxStorageBuffers: 1 << 20,
			SubgroupOps: subgroupBasic | subgroupArithmetic, MaxPushConstants: 256, MaxStorageBufferRange: 1 << 32, MinOffsetAlignment: 16},
		Features: features{Float16: true, Storage16: true, CoopMat: true, MemoryModel: true, CoopMatShapes: []coopShape{coopmatGEMMShape}},
	}
	attn := func(dq, dv, sq int) *graph.Graph {
		b := graph.NewBuilder()
		q := b.Input("q", graph.F32, sq, 8, dq)
		k := b.Input("k", graph.F16, 300, 2, dq)
		v := b.Input("v", graph.F16, 300, 2, dv)
		pos := b.Input("pos", graph.I32, sq)
		g, err := b.Build(b.Attention(q, k, v, graph.AttentionOpts{Causal: true, Pos: pos}))
		require.NoError(t, err)
		return g
	}
	out := func(g *graph.Graph) *graph.Node { return g.Outputs[0] }
	require.NoError(t, supportsFlashCoopmat(&d, out(attn(128, 128, 40))))
	require.NoError(t, supportsFlashCoopmat(&d, out(attn(64, 64, 1))))
	require.ErrorContains(t, supportsFlashCoopmat(&d, out(attn(8, 8, 4))), "multiple of 16")
	require.ErrorContains(t, supportsFlashCoopmat(&d, out(attn(256, 256, 4))), "shared memory")

	g := attn(128, 64, 40)
	list, err := gpu.NewCompiler(&d, g).Compile(ops, graph.OpAttention, attnFlashCoopmat, nil)
	require.NoError(t, err)
	require.Len(t, list.Launches, 1)
	l := list.Launches[0]
	require.Equal(t, "attention_flash_coopmat", l.Kernel)
	require.Equal(t, [3]uint32{128, 1, 1}, l.LocalSize(), "four subgroups of 32")
	require.Equal(t, [3]uint32{3, 8, 1}, l.Groups, "ceil(40/16) query tiles × 8 heads × 1 batch")
	require.Contains(t, l.Specs, gpu.Spec{ID: 3, Value: 128})
	require.Contains(t, l.Specs, gpu.Spec{ID: 4, Value: 64})
	// The launch matches the committed kernel's interface.
	code, err := fs.ReadFile(vulkankernels.FS, "attention_flash_coopmat.spv")
	require.NoError(t, err)
	in, err := reflectShader(code)
	require.NoError(t, err)
	require.NoError(t, checkInterface(in, len(l.Args), 4*len(l.Words)))
	require.NoError(t, checkWrites(in, l.Args))
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestCoopmatNotOnThisDevice: the device the tests run on (lavapipe in CI)
// has no cooperative matrices, so the variant is not offered and forcing
// it is a compile error that says why.
func TestCoopmatNotOnThisDevice(t *testing.T) {
	be := vkDevice(t)
	if be.info.Features.CoopMat {
		t.Skip("this device has cooperative matrices")
	}
	require.NotContains(t, be.Variants(graph.OpMatMul), matmulCoopmat)
	b := graph.NewBuilder()
	out := b.MatMul(b.Input("x", graph.F32, 40, 64), b.Weight("w", graph.F16, 33, 64))
	g, err := b.Build(out)
	require.NoError(t, err)
	_, err = be.CompileVariant(g, graph.OpMatMul, matmulCoopmat)
	require.ErrorContains(t, err, "VK_KHR_cooperative_matrix")
}
