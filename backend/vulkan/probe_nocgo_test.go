//go:build !cgo

package vulkan

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProbeWithoutCgo(t *testing.T) {
	sts := probe()
	require.Len(t, sts, 1)
	require.Equal(t, "vulkan", sts[0].Device)
	require.Equal(t, "vulkan: built without cgo", sts[0].Reason)
}
