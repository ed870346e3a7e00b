//go:build !cgo

package cuda

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
)

func TestProbeWithoutCgo(t *testing.T) {
	sts := probe()
	require.Len(t, sts, 1)
	require.Equal(t, "cuda", sts[0].Device)
	require.Equal(t, "cuda: built without cgo", sts[0].Reason)
	_, err := backend.Open("cuda:0", backend.Options{})
	require.ErrorIs(t, err, backend.ErrUnavailable)
	require.ErrorContains(t, err, "cuda: built without cgo")
}
