package vulkan

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// gemmLayout mirrors the shared-memory index functions of
// kernels/vulkan/include/matmul_gemm.glsl (TestGEMMSharedLayout checks the
// shader still spells them so): the x tile at kk·64 + (row ^ kk), the w
// tile at kk·64 + (col ^ kk).
func gemmLayout(kk, rc uint32) uint32 { return kk*64 + (rc ^ kk) }

// worstBankConflict returns the largest number of distinct words of one
// bank (32 banks of 4 bytes) that the 32 invocations of a group access at
// once; 1 is conflict-free (several invocations reading one word is a
// broadcast).
func worstBankConflict(addr func(lane uint32) uint32) int {
	words := map[uint32]map[uint32]bool{}
	for lane := uint32(0); lane < 32; lane++ {
		a := addr(lane)
		if words[a%32] == nil {
			words[a%32] = map[uint32]bool{}
		}
		words[a%32][a] = true
	}
	worst := 0
	for _, w := range words {
		worst = max(worst, len(w))
	}
	return worst
}

// TestGEMMSharedLayout: with the XOR swizzle every shared-memory access of
// the GEMM kernel's staging and product loop is free of bank conflicts for
// every group of 32 invocations, where the plain [kk][row] layout has
// 32-way (x and float w stores) and 4-way (quantized w stores) conflicts.
func TestGEMMSharedLayout(t *testing.T) {
	src, err := os.ReadFile("../../kernels/vulkan/include/matmul_gemm.glsl")
	require.NoError(t, err)
	for _, spelled := range []string{
		"xs[kk * BM + (r ^ kk)]", "ws[kk * BN + (c ^ kk)]", "ws[(g + 0u) * BN + (c ^ (g + 0u))]",
		"xs[kk * BM + ((ty + 16u * i) ^ kk)]", "ws[kk * BN + ((tx + 16u * i) ^ kk)]",
	} {
		require.True(t, strings.Contains(string(src), spelled), "matmul_gemm.glsl no longer indexes %s", spelled)
	}
	plain := func(kk, rc uint32) uint32 { return kk*64 + rc }
	for _, tc := range []struct {
		name   string
		layout func(kk, rc uint32) uint32
		want   map[string]int
	}{
		{"swizzled", gemmLayout, map[string]int{"x store": 1, "w store": 1, "quantized w store": 1, "x load": 1, "w load": 1}},
		{"plain", plain, map[string]int{"x store": 32, "w store": 32, "quantized w store": 4, "x load": 1, "w load": 1}},
	} {
		worst := map[string]int{}
		note := func(what string, n int) { worst[what] = max(worst[what], n) }
		for warp := uint32(0); warp < 8; warp++ {
			for u := uint32(0); u < 8; u++ { // staging passes: e = tid + 256u
				store := func(lane uint32) uint32 {
					e := 32*warp + lane + 256*u
					return tc.layout(e%32, e/32)
				}
				note("x store", worstBankConflict(store))
				note("w store", worstBankConflict(store))
			}
			for j := uint32(0); j < 8; j++ { // quantized w: c = tid>>2, g = (tid&3)·8, element g+j
				note("quantized w store", worstBankConflict(func(lane uint32) uint32 {
					tid := 32*warp + lane
					c, g := tid>>2, (tid&3)*8
					return tc.layout(g+j, c)
				}))
			}
			for kk := uint32(0); kk < 32; kk++ {
				for i := uint32(0); i < 4; i++ {
					note("x load", worstBankConflict(func(lane uint32) uint32 {
						tid := 32*warp + lane
						return tc.layout(kk, tid>>4+16*i)
					}))
					note("w load", worstBankConflict(func(lane uint32) uint32 {
						tid := 32*warp + lane
						return tc.layout(kk, tid&15+16*i)
					}))
				}
			}
		}
		require.Equal(t, tc.want, worst, tc.name)
	}
}
