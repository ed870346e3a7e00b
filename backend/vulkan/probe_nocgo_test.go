//go:build !cgo

package vulkan

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
)

func TestProbeWithoutCgo(t *testing.T) {
	sts := probe()
	require.Len(t, sts, 1)
	require.Equal(t, "vulkan", sts[0].Device)
	require.Equal(t, "vulkan: built without cgo", sts[0].Reason)
	_, err := backend.Open("vulkan:0", backend.Options{})
	require.ErrorIs(t, err, backend.ErrUnavailable)
	require.ErrorContains(t, err, "vulkan: built without cgo")
}
