//go:build cgo

package vulkan

import (
	"io/fs"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/spirv"
	vulkankernels "github.com/golem-llm/golem/kernels/vulkan"
)

// TestValidationMessages checks the path that makes validation fail tests:
// under the validation layer, an invalid call is reported by the next
// backend call and by Close; without it, nothing is collected. It runs
// only when the layer is asked for (make test sets GOLEM_VULKAN_VALIDATION).
func TestValidationMessages(t *testing.T) {
	if os.Getenv(ValidationEnv) != "1" {
		t.Skipf("%s is not 1: the validation layer is not in use", ValidationEnv)
	}
	be := vkDevice(t)
	be.mu.Lock()
	be.dev.invalidCall()
	be.mu.Unlock()
	_, err := be.Alloc(64)
	require.ErrorIs(t, err, errValidation)
	require.Contains(t, err.Error(), "VUID-VkBufferCreateInfo-size-00912")
	// Reported once: the next call is clean.
	buf, err := be.Alloc(64)
	require.NoError(t, err)
	require.NoError(t, buf.Free())

	// Close reports messages not yet returned by another call.
	other, err := backend.Open(be.Name(), backend.Options{})
	require.NoError(t, err)
	ob := other.(*vkBackend)
	ob.mu.Lock()
	ob.dev.invalidCall()
	ob.mu.Unlock()
	err = other.Close()
	require.ErrorIs(t, err, errValidation)
	require.Contains(t, err.Error(), "size-00912")
}

// TestShaderInterfaces: every embedded kernel's bindings and push-constant
// block are readable, and checkInterface (run for every pipeline a launch
// makes) rejects a launch that pushes a word more or less, or binds fewer
// arguments than the shader declares.
func TestShaderInterfaces(t *testing.T) {
	names, err := fs.Glob(vulkankernels.FS, "*.spv")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, name := range names {
		code, err := fs.ReadFile(vulkankernels.FS, name)
		require.NoError(t, err)
		m, err := spirv.Parse(code)
		require.NoError(t, err, name)
		in, err := m.Reflect()
		require.NoError(t, err, name)
		require.NotEmpty(t, in.Bindings, name)
		require.LessOrEqual(t, in.PushBytes, 128, name)
	}
	code, err := fs.ReadFile(vulkankernels.FS, "add.spv")
	require.NoError(t, err)
	// add: x, y, d; x_off, y_off, d_off, rank, n, then shapes and strides.
	m, err := spirv.Parse(code)
	require.NoError(t, err)
	in, err := m.Reflect()
	require.NoError(t, err)
	require.NoError(t, checkInterface(code, 3, in.PushBytes))
	require.ErrorContains(t, checkInterface(code, 3, in.PushBytes+4), "push constants")
	require.ErrorContains(t, checkInterface(code, 3, in.PushBytes-4), "push constants")
	require.ErrorContains(t, checkInterface(code, 2, in.PushBytes), "declares binding 2")
}
