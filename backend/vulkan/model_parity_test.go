//go:build cgo

package vulkan

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/synth"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// TestModelParity runs whole models on Vulkan and on the CPU, stories260K
// also with BF16 KV caches: the logits of every prompt position must agree within the model-level gates (mean KL ≤
// 1e-4, top-1 ≥ 99.5%) and the greedy continuations must be identical.
func TestModelParity(t *testing.T) {
	vk := vkDevice(t)
	cpu, err := backend.Open("cpu", backend.Options{})
	require.NoError(t, err)
	defer cpu.Close()
	stories := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tiny := filepath.Join(t.TempDir(), "tiny-q8_0.gguf")
	shape, err := synth.Lookup("tiny")
	require.NoError(t, err)
	require.NoError(t, synth.Write(context.Background(), tiny, shape, synth.Options{Type: graph.Q8_0, Seed: 5, Vocab: stories}))
	for _, tc := range []struct {
		path string
		kv   graph.DType
	}{{stories, graph.F32}, {tiny, graph.F32}, {stories, graph.BF16}} {
		path := tc.path
		t.Run(filepath.Base(path)+"/kv="+tc.kv.String(), func(t *testing.T) {
			src, err := runtime.OpenSource(path)
			require.NoError(t, err)
			defer src.Close()
			tok, err := src.Tokenizer()
			require.NoError(t, err)
			ids := tok.Encode("Once upon a time, there was a little dog named Max.", true, false)
			r, err := parity.CompareModel(context.Background(), src, vk, cpu, ids, parity.ModelOptions{Generate: 24, KVType: tc.kv})
			require.NoError(t, err)
			require.True(t, r.Pass, "failures: %v", r.Failures)
			require.LessOrEqual(t, float64(r.MeanKL), 1e-4)
			require.Equal(t, -1, r.GenMismatch, "greedy texts differ:\nvulkan: %q\ncpu:    %q", r.GenA.Text, r.GenB.Text)
			t.Logf("%s, %s cache: mean KL %.2e, max |Δlogit| %.2e, top-1 %.1f%%, greedy %q", filepath.Base(path), tc.kv, float64(r.MeanKL), float64(r.MaxAbs), 100*r.Top1, r.GenA.Text)
		})
	}
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
