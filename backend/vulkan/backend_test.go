//go:build cgo

package vulkan

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	_ "github.com/golem-llm/golem/backend/cpu" // the parity reference
	"github.com/golem-llm/golem/graph"
	vulkankernels "github.com/golem-llm/golem/kernels/vulkan"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/parity/paritytest"
)

// vkDevice opens the first usable Vulkan device, or skips the test (fails
// it under CI=true, where lavapipe is installed) when there is none.
func vkDevice(t testing.TB) *vkBackend {
	t.Helper()
	return vkDeviceWith(t, backend.Options{})
}

// vkDeviceWith is vkDevice opened with o.
func vkDeviceWith(t testing.TB, o backend.Options) *vkBackend {
	t.Helper()
	be, err := backend.Open("vulkan", o)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Vulkan device under CI: %v", err)
		}
		t.Skipf("no Vulkan device (install mesa-vulkan-drivers for lavapipe): %v", err)
	}
	t.Cleanup(func() { require.NoError(t, be.Close()) })
	return be.(*vkBackend)
}

// TestOpSuite is the op conformance suite against the float64 CPU
// reference: every case of every op the backend supports (the suite skips
// the nodes Supports rejects).
func TestOpSuite(t *testing.T) {
	be := vkDevice(t)
	t.Logf("device: %s %s (%s)", be.Name(), be.Device().Name, be.Device().Caps)
	paritytest.RunOpSuite(t, be)
}

// TestOwnOps runs the suite's cases of every op but matmul and attention
// (their kernels have their own tests), by name, with -run filters in mind.
func TestOwnOps(t *testing.T) {
	if testing.Short() {
		t.Skip("TestOpSuite covers these under -short")
	}
	be := vkDevice(t)
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ref.Close()) })
	skip := regexp.MustCompile(`^(matmul|attention)\(`)
	for _, c := range parity.Cases() {
		if skip.MatchString(c.Name) {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			r := parity.RunCase(context.Background(), be, ref, c, parity.DefaultSeed)
			require.False(t, r.Skipped, "every case runs on vulkan: %s", r.Message())
			require.True(t, r.Err == nil && r.Pass, r.Message())
		})
	}
}

// TestSupportsEveryOwnOp checks that every op other than matmul and
// attention has a registered kernel.
func TestSupportsEveryOwnOp(t *testing.T) {
	for _, op := range graph.ComputeOps() {
		_, ok := ops.Find(op, "")
		require.True(t, ok, "op %s has no variant", op)
	}
}

// TestKernelsEmbedded checks that every kernel source has its embedded
// SPIR-V and every embedded SPIR-V its source.
func TestKernelsEmbedded(t *testing.T) {
	srcs, err := filepath.Glob(filepath.Join("..", "..", "kernels", "vulkan", "*.comp"))
	require.NoError(t, err)
	require.NotEmpty(t, srcs)
	spvs, err := fs.Glob(vulkankernels.FS, "*.spv")
	require.NoError(t, err)
	want := map[string]bool{}
	for _, s := range srcs {
		want[strings.TrimSuffix(filepath.Base(s), ".comp")+".spv"] = true
	}
	for _, s := range spvs {
		require.True(t, want[s], "%s has no .comp source", s)
		delete(want, s)
	}
	require.Empty(t, want, "sources without embedded SPIR-V (run make kernels)")
}
