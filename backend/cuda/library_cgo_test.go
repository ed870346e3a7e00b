//go:build cgo

package cuda

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
)

// buildFake compiles testdata/fakecuda.c into a shared library with the
// given -D flags and returns its path. It skips the test without gcc.
func buildFake(t *testing.T, defines ...string) string {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not on PATH: cannot build the fake libcuda")
	}
	out := filepath.Join(t.TempDir(), "libfakecuda.so")
	args := append([]string{"-shared", "-fPIC", "-O1", "-o", out, filepath.Join("testdata", "fakecuda.c")}, defines...)
	msg, err := exec.Command(cc, args...).CombinedOutput()
	require.NoError(t, err, "gcc: %s", msg)
	return out
}

func TestSystemProbe(t *testing.T) {
	lib, reason := loadSystem()
	sts := probe()
	if lib == nil {
		require.Len(t, sts, 1)
		require.Equal(t, reason, sts[0].Reason)
		if os.Getenv(LibraryEnv) == "" {
			require.True(t, strings.HasPrefix(reason, "cuda: libcuda.so.1 not found (libcuda.so.1: "), reason)
		}
		return
	}
	t.Logf("%s loaded: %+v", lib.path, sts)
}

func TestNotFoundReason(t *testing.T) {
	require.Equal(t, "cuda: libcuda.so.1 not found (x)", notFound("libcuda.so.1", "x"))
	require.Equal(t, "cuda: GOLEM_CUDA_LIBRARY=/a/b.so cannot be loaded (x)", notFound("/a/b.so", "x"))
}

func TestOpenLibraryMissing(t *testing.T) {
	lib, msg := openLibrary("libgolem-no-such-library.so.1")
	require.Nil(t, lib)
	require.Contains(t, msg, "libgolem-no-such-library.so.1")
}

func TestFakeDriver(t *testing.T) {
	tests := []struct {
		name    string
		defines []string
		check   func(t *testing.T, sts []backend.Status)
	}{
		{"two devices", nil, func(t *testing.T, sts []backend.Status) {
			require.Len(t, sts, 2)
			require.Equal(t, backend.Status{
				Device: "cuda:0",
				Info: backend.DeviceInfo{Backend: "cuda", Index: 0, Type: backend.DeviceDiscreteGPU, ID: "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f",
					Name: "Fake H100 80GB HBM3", Driver: "13.0", MemoryBytes: 85520809984, Caps: "sm_90, 132 SMs"},
				Available: true,
			}, sts[0])
			require.Equal(t, "cuda:1", sts[1].Device)
			require.Equal(t, "Fake L4", sts[1].Info.Name)
			require.Equal(t, "sm_89, 58 SMs", sts[1].Info.Caps)
			require.Equal(t, "GPU-10111213-1415-1617-1819-1a1b1c1d1e1f", sts[1].Info.ID)
			require.Equal(t, backend.DeviceDiscreteGPU, sts[1].Info.Type)
		}},
		{"integrated device", []string{"-DINTEGRATED=1"}, func(t *testing.T, sts []backend.Status) {
			require.Len(t, sts, 2)
			require.Equal(t, backend.DeviceDiscreteGPU, sts[0].Info.Type)
			require.Equal(t, backend.DeviceIntegratedGPU, sts[1].Info.Type)
		}},
		{"pre-11.4 uuid entry point", []string{"-DNO_UUID_V2"}, func(t *testing.T, sts []backend.Status) {
			require.Len(t, sts, 2)
			require.Equal(t, "GPU-00010203-0405-0607-0809-0a0b0c0d0e0f", sts[0].Info.ID)
		}},
		{"cuInit fails", []string{"-DINIT_ERR=100"}, func(t *testing.T, sts []backend.Status) {
			require.Equal(t, []backend.Status{{Device: "cuda", Info: backend.DeviceInfo{Backend: "cuda"},
				Reason: "cuda: cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)"}}, sts)
		}},
		{"unnamed error code", []string{"-DINIT_ERR=4242"}, func(t *testing.T, sts []backend.Status) {
			require.Len(t, sts, 1)
			require.Equal(t, "cuda: cuInit failed: CUresult 4242", sts[0].Reason)
		}},
		{"no devices", []string{"-DCOUNT=0"}, func(t *testing.T, sts []backend.Status) {
			require.Len(t, sts, 1)
			require.Equal(t, "cuda", sts[0].Device)
			require.Equal(t, "cuda: no CUDA devices", sts[0].Reason)
		}},
		{"one device fails", []string{"-DNAME_ERR=3"}, func(t *testing.T, sts []backend.Status) {
			require.Len(t, sts, 2)
			require.True(t, sts[0].Available)
			require.Equal(t, "cuda:1", sts[1].Device)
			require.Equal(t, "cuda: device 1: cuDeviceGetName failed: CUDA_ERROR_NOT_INITIALIZED (initialization error)", sts[1].Reason)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lib, msg := openLibrary(buildFake(t, tt.defines...))
			require.NotNil(t, lib, msg)
			defer lib.close()
			tt.check(t, lib.probe())
		})
	}
}

func TestFakeDriverMissingComputeSymbol(t *testing.T) {
	tests := []struct {
		define, missing string
	}{
		{"-DNO_COMPUTE", "cuDevicePrimaryCtxRetain"},
		// The graph update of a rebound program (CUDA 12.0) is required too.
		{"-DNO_GRAPH_UPDATE", "cuGraphExecUpdate_v2"},
	}
	for _, tt := range tests {
		t.Run(tt.define, func(t *testing.T) {
			lib, msg := openLibrary(buildFake(t, tt.define))
			require.NotNil(t, lib, msg)
			defer lib.close()
			sts := lib.probe()
			require.Len(t, sts, 2)
			require.False(t, sts[0].Available)
			require.Equal(t, "cuda: the driver lacks "+tt.missing+" (CUDA 13.0; golem needs CUDA 12.0 or newer)", sts[0].Reason)
		})
	}
}

func TestFakeDriverMissingSymbol(t *testing.T) {
	path := buildFake(t, "-DNO_TOTALMEM")
	lib, msg := openLibrary(path)
	require.Nil(t, lib)
	require.True(t, strings.HasSuffix(msg, "symbol cuDeviceTotalMem_v2 not found"), msg)
}
