//go:build cgo

package vulkan

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSystemProbe(t *testing.T) {
	lib, msg := loadSystem()
	sts := probe()
	if lib == nil {
		require.Equal(t, "vulkan: loader libvulkan.so.1 not found ("+msg+")", sts[0].Reason)
		return
	}
	// The probe can be repeated: each creates and destroys its own instance.
	require.Equal(t, sts, probe())
}

func TestOpenLibraryMissing(t *testing.T) {
	lib, msg := openLibrary("libgolem-no-such-loader.so.1")
	require.Nil(t, lib)
	require.Contains(t, msg, "libgolem-no-such-loader.so.1")
}

func TestOpenLibraryWithoutEntryPoint(t *testing.T) {
	// libc is loadable but is no Vulkan loader.
	lib, msg := openLibrary("libc.so.6")
	require.Nil(t, lib)
	require.Equal(t, "libc.so.6: symbol vkGetInstanceProcAddr not found", msg)
}
