package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
)

// emulatorLibrary returns bin/libgolem-cuda-emu.so of this checkout (make
// cuda-emu builds it), or skips the test (fails it under CI=true).
func emulatorLibrary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(sharedtest.RepoRoot(t), "bin", "libgolem-cuda-emu.so")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the CUDA emulator is missing under CI (make cuda-emu): %v", err)
		}
		t.Skipf("the CUDA emulator is not built (make cuda-emu): %v", err)
	}
	return p
}

// TestRunCUDA runs golem as a user would, with the CUDA driver named by
// GOLEM_CUDA_LIBRARY (the emulator, which runs the same kernel source as a
// GPU): devices lists it as a software device auto does not take, and run
// --device cuda prints llama2.c's text byte for byte.
func TestRunCUDA(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	env := append(os.Environ(), "GOLEM_CUDA_LIBRARY="+emulatorLibrary(t))
	golem := func(args ...string) (string, string) {
		cmd := exec.Command(golemBinary(t), args...)
		cmd.Env = env
		var errb strings.Builder
		cmd.Stderr = &errb
		out, err := cmd.Output()
		require.NoError(t, err, "golem %s: %s", strings.Join(args, " "), errb.String())
		return string(out), errb.String()
	}
	devs, _ := golem("devices")
	rows := deviceRows(t, devs)
	require.Contains(t, rows, "cuda:0", devs)
	require.Regexp(t, `^available\s+golem CUDA emulator`, rows["cuda:0"])
	require.Contains(t, devs, "auto: cpu", "auto never takes a software device over the CPU")
	js, _ := golem("devices", "--format", "json")
	var list []deviceJSON
	require.NoError(t, json.Unmarshal([]byte(js), &list))
	var typ string
	for _, d := range list {
		if d.Device == "cuda:0" {
			typ = d.Type
		}
	}
	require.Equal(t, "software", typ)

	out, errOut := golem("run", "-m", model, "-p", "Once upon a time", "-n", "196", "--temp", "0", "-c", "256", "--device", "cuda")
	require.Equal(t, llama2cText+"\n", out)
	require.Contains(t, errOut, "device: cuda:0")
}
