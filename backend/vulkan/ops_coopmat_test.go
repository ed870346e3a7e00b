//go:build cgo

package vulkan

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
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
		})
	}
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
