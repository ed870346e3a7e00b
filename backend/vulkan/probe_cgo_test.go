//go:build cgo

package vulkan

import (
	"os"
	"os/exec"
	"path/filepath"
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

// TestLayoutMatchesHeaders compiles testdata/layout_check.c, whose static
// assertions compare shim.h's declarations with vulkan_core.h.
func TestLayoutMatchesHeaders(t *testing.T) {
	const header = "/usr/include/vulkan/vulkan_core.h"
	if _, err := os.Stat(header); err != nil {
		t.Skipf("%s missing (package libvulkan-dev): layout not checked", header)
	}
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not on PATH: layout not checked")
	}
	out, err := exec.Command(cc, "-fsyntax-only", "-std=c11", "-Wall", "-Werror",
		filepath.Join("testdata", "layout_check.c")).CombinedOutput()
	require.NoError(t, err, "layout check: %s", out)
}
