//go:build cgo

package vulkan

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/parity/paritytest"
	"github.com/golem-llm/golem/runtime"
)

// TestModelParity runs whole models on Vulkan and on the CPU
// (paritytest.RunModelParity).
func TestModelParity(t *testing.T) {
	paritytest.RunModelParity(t, vkDevice(t))
}

// TestRuntimeCloseOrder closes the Vulkan backend before a runtime session
// and model that use it (issue 8): the backend reports them and releases
// their device memory; closing them afterwards is an error wrapping
// backend.ErrClosed, not a use-after-free.
func TestRuntimeCloseOrder(t *testing.T) {
	vkDevice(t) // skips without a device
	src, err := runtime.OpenSource(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer src.Close()
	be, err := backend.Open("vulkan", backend.Options{})
	require.NoError(t, err)
	m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
	require.NoError(t, err)
	s, err := m.NewSession(runtime.SessionOptions{Context: 16})
	require.NoError(t, err)
	require.NoError(t, s.Feed(context.Background(), []int32{1, 403}))

	err = be.Close()
	require.ErrorIs(t, err, backend.ErrInUse)
	require.ErrorIs(t, s.Feed(context.Background(), []int32{407}), backend.ErrClosed)
	require.ErrorIs(t, s.Close(), backend.ErrClosed)
	require.ErrorIs(t, m.Close(), backend.ErrClosed)
}

// TestDecodeDispatches counts the dispatches of stories260K's decode step
// (from the profiled program's timings): 104 when graphs are compiled as
// they are (GOLEM_VULKAN_FUSE=0), at most half of that through graph.Fuse,
// with the same logits.
func TestDecodeDispatches(t *testing.T) {
	vkDevice(t) // skips without a device
	src, err := runtime.OpenSource(sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.NoError(t, err)
	defer src.Close()
	run := func(fuse string) (int, []float32) {
		t.Setenv(FuseEnv, fuse)
		be := vkDeviceWith(t, backend.Options{Profile: true})
		vb := be
		m, err := runtime.Load(context.Background(), src, be, runtime.LoadOptions{})
		require.NoError(t, err)
		defer func() { require.NoError(t, m.Close()) }()
		s, err := m.NewSession(runtime.SessionOptions{Context: 64})
		require.NoError(t, err)
		defer func() { require.NoError(t, s.Close()) }()
		require.NoError(t, s.Feed(context.Background(), []int32{1, 403, 407}))
		require.NoError(t, s.Feed(context.Background(), []int32{300}))
		ts := s.Timings()[1]
		require.NotEmpty(t, ts, "the decode program's timings")
		n := 0
		for _, tm := range ts {
			n += tm.Launches
		}
		// The decode program: the one with n dispatches and one query.
		vb.mu.Lock()
		found := false
		for p := range vb.progs {
			if len(p.core.List.Launches) == n && p.core.Graph.Outputs[0].Shape[0] == 1 {
				found = true
				t.Logf("fuse=%s: decode step: %d dispatches, %d barriers between them (before: one after every dispatch)", fuse, n, p.barriers)
				require.Less(t, p.barriers, n-1, "barriers only between dependent dispatches")
				require.Positive(t, p.barriers)
			}
		}
		vb.mu.Unlock()
		require.True(t, found, "the decode program")
		return n, s.Logits()
	}
	unfused, want := run("0")
	fused, got := run("1")
	t.Logf("stories260K decode step: %d dispatches unfused, %d fused", unfused, fused)
	require.Equal(t, 104, unfused)
	require.LessOrEqual(t, fused, unfused/2)
	require.Len(t, got, len(want))
	for i := range want {
		require.InDelta(t, want[i], got[i], 1e-4, "logit %d", i)
	}
}
