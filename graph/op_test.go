package graph

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsFused(t *testing.T) {
	var fused []Op
	for _, o := range ComputeOps() {
		if o.IsFused() {
			fused = append(fused, o)
		}
	}
	require.Equal(t, []Op{OpRMSNormMul, OpRoPEKVWrite, OpMatMulFused}, fused)
	require.False(t, OpMatMul.IsFused())
}
