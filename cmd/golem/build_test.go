package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildGolem builds the golem binary into a temporary directory with extra
// environment settings, or skips when the go command is not on PATH.
func buildGolem(t *testing.T, env ...string) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH: binary not built")
	}
	bin := filepath.Join(t.TempDir(), "golem")
	cmd := exec.Command(gocmd, "build", "-o", bin,
		"-ldflags", "-X main.version=v9.9.9-test -X main.commit=0123abc", ".")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// sharedBinary is the golem binary built once for the tests of this package
// that run it as a user does (signals, exit codes, files); TestMain removes
// it.
var sharedBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// golemBinary returns the shared golem binary, building it on first use.
func golemBinary(t *testing.T) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH: binary not built")
	}
	sharedBinary.once.Do(func() {
		if sharedBinary.dir, sharedBinary.err = os.MkdirTemp("", "golem-test-bin-*"); sharedBinary.err != nil {
			return
		}
		sharedBinary.path = filepath.Join(sharedBinary.dir, "golem")
		out, err := exec.Command(gocmd, "build", "-o", sharedBinary.path, ".").CombinedOutput()
		if err != nil {
			sharedBinary.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	require.NoError(t, sharedBinary.err)
	return sharedBinary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedBinary.dir != "" {
		os.RemoveAll(sharedBinary.dir)
	}
	os.Exit(code)
}

// runGolem runs the binary and returns its stdout; stderr goes to the log.
func runGolem(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "golem %s: stderr: %s", strings.Join(args, " "), stderr.String())
	if stderr.Len() > 0 {
		t.Logf("golem %s stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return string(out)
}

func TestBinary(t *testing.T) {
	bin := buildGolem(t)

	out := runGolem(t, bin, nil, "version")
	require.Equal(t, "golem v9.9.9-test (commit 0123abc)\n"+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n", out)

	out = runGolem(t, bin, nil, "devices")
	t.Logf("golem devices:\n%s", out)
	checkDeviceRows(t, deviceRows(t, out))
	checkDeviceRanks(t, out)

	// With no Vulkan driver to find, the vulkan line says why instead of crashing.
	out = runGolem(t, bin, []string{"VK_ICD_FILENAMES=/nonexistent/icd.json", "VK_DRIVER_FILES=/nonexistent/icd.json"}, "devices")
	rows := deviceRows(t, out)
	checkDeviceRows(t, rows)
	if v, ok := rows["vulkan"]; ok && !strings.HasPrefix(v, "vulkan: loader libvulkan.so.1 not found") {
		require.True(t, strings.HasPrefix(v, "vulkan: vkCreateInstance failed: VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver found)"), v)
	}
}

func TestBinaryWithoutCgo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the CGO_ENABLED=0 binary is not built")
	}
	bin := buildGolem(t, "CGO_ENABLED=0")
	rows := deviceRows(t, runGolem(t, bin, nil, "devices"))
	checkDeviceRows(t, rows)
	require.True(t, strings.HasPrefix(rows["cuda"], "cuda: built without cgo"), rows["cuda"])
	require.True(t, strings.HasPrefix(rows["vulkan"], "vulkan: built without cgo"), rows["vulkan"])
}
