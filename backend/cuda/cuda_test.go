package cuda

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
)

func TestFormatUUID(t *testing.T) {
	tests := []struct {
		name string
		in   [16]byte
		want string
	}{
		{"zero is unknown", [16]byte{}, ""},
		{"bytes in order", [16]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe},
			"GPU-01234567-89ab-cdef-1032-547698badcfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, formatUUID(tt.in))
		})
	}
}

func TestFormatDriverVersion(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{
		{13000, "13.0"},
		{12040, "12.4"},
		{11080, "11.8"},
		{0, ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, formatDriverVersion(tt.in), "version %d", tt.in)
	}
}

func TestDeviceStatus(t *testing.T) {
	d := deviceInfo{Name: "NVIDIA H100 80GB HBM3", UUID: [16]byte{1}, TotalMem: 85520809984,
		CCMajor: 9, CCMinor: 0, SMCount: 132, DriverVersion: 13000}
	st := d.status(3)
	require.Equal(t, "cuda:3", st.Device)
	require.True(t, st.Available)
	require.Empty(t, st.Reason)
	require.Equal(t, backend.DeviceInfo{
		Backend: "cuda", Index: 3, Type: backend.DeviceDiscreteGPU, ID: "GPU-01000000-0000-0000-0000-000000000000",
		Name: "NVIDIA H100 80GB HBM3", Driver: "13.0", MemoryBytes: 85520809984, Caps: "sm_90, 132 SMs",
	}, st.Info)
}

// TestSelectByUUID checks that the UUIDs the probe writes (GPU-...) select
// their device through backend.SelectStatus, with or without the prefix.
func TestSelectByUUID(t *testing.T) {
	devs := []backend.Status{
		deviceInfo{Name: "a", UUID: [16]byte{0xaa}}.status(0),
		deviceInfo{Name: "b", UUID: [16]byte{0xbb}}.status(1),
	}
	tests := []struct{ selector, want string }{
		{"", "a"},
		{"GPU-bb000000-0000-0000-0000-000000000000", "b"},
		{"bb000000-0000-0000-0000-000000000000", "b"},
	}
	for _, tt := range tests {
		st, err := backend.SelectStatus(driverName, devs, tt.selector)
		require.NoError(t, err, "selector %q", tt.selector)
		require.Equal(t, tt.want, st.Info.Name, "selector %q", tt.selector)
	}
}

func TestDeviceReason(t *testing.T) {
	tests := []struct {
		name string
		d    deviceInfo
		want string
	}{
		{"ampere", deviceInfo{CCMajor: 8, CCMinor: 0}, ""},
		{"hopper", deviceInfo{CCMajor: 9, CCMinor: 0}, ""},
		{"turing", deviceInfo{CCMajor: 7, CCMinor: 5}, "cuda: compute capability 7.5; golem's kernels need 8.0 (Ampere) or newer"},
		{"old driver", deviceInfo{CCMajor: 9, Missing: "cuGraphInstantiateWithFlags", DriverVersion: 11020},
			"cuda: the driver lacks cuGraphInstantiateWithFlags (CUDA 11.2; golem needs CUDA 12.0 or newer)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.d.reason())
			st := tt.d.status(0)
			require.Equal(t, tt.want == "", st.Available)
		})
	}
}

func TestEmulatorCaps(t *testing.T) {
	d := deviceInfo{Name: "golem CUDA emulator (CPU)", CCMajor: 8, SMCount: 2, Emulated: true}
	require.Equal(t, "sm_80, 2 SMs, emulated on the CPU", d.caps())
	require.True(t, isEmulatorName(d.Name))
	require.False(t, isEmulatorName("NVIDIA H100"))
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Call: "cuMemAlloc_v2(1048576)", Name: "CUDA_ERROR_OUT_OF_MEMORY", Reason: oomReason(1<<20, 512<<10)},
			"cuMemAlloc_v2(1048576): CUDA_ERROR_OUT_OF_MEMORY (out of memory; asked 1.0 MiB, 512.0 KiB free)"},
		{Error{Call: "cuInit", Name: "CUDA_ERROR_NO_DEVICE", Text: "no CUDA-capable device is detected"},
			"cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)"},
		{Error{Call: "cuLaunchKernel(k)", Name: "CUDA_ERROR_LAUNCH_FAILED", Text: "unspecified launch failure", Detail: "golem-cuda-emu: x"},
			"cuLaunchKernel(k): CUDA_ERROR_LAUNCH_FAILED (unspecified launch failure): golem-cuda-emu: x"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.e.Error())
	}
}

func TestPTXReason(t *testing.T) {
	ptx := "//\n.version 8.0\n.target sm_80\n"
	require.Equal(t, "8.0", ptxVersion(ptx))
	require.Equal(t, "the kernels are PTX ISA 8.0, which needs a driver for CUDA 12.0 or newer; this driver is CUDA 11.8", ptxReason(ptx, 11080))
	require.Equal(t, "", ptxVersion("no version"))
}

func TestFormatBytes(t *testing.T) {
	for in, want := range map[int64]string{0: "0 bytes", 1023: "1023 bytes", 1024: "1.0 KiB", 1536: "1.5 KiB", 1 << 20: "1.0 MiB", 80 << 30: "80.0 GiB"} {
		require.Equal(t, want, formatBytes(in))
	}
}

func TestRegisteredAndProbe(t *testing.T) {
	require.True(t, slices.Contains(backend.Drivers(), "cuda"))
	sts := probe()
	require.NotEmpty(t, sts)
	for _, st := range sts {
		// Each line is a device or the driver, and says why when unavailable.
		if !st.Available {
			require.True(t, strings.HasPrefix(st.Reason, "cuda: "), "reason %q", st.Reason)
		}
		require.True(t, st.Device == "cuda" || strings.HasPrefix(st.Device, "cuda:"), st.Device)
		require.Equal(t, "cuda", st.Info.Backend)
	}
	if !sts[0].Available {
		// Through the registry, Open fails with the same reason, as unavailable.
		_, err := backend.Open("cuda:0", backend.Options{})
		require.ErrorIs(t, err, backend.ErrUnavailable)
		require.ErrorContains(t, err, sts[0].Reason)
	}
}

func TestDeviceType(t *testing.T) {
	tests := []struct {
		integrated bool
		want       backend.DeviceType
	}{
		{false, backend.DeviceDiscreteGPU},
		{true, backend.DeviceIntegratedGPU},
	}
	for _, tt := range tests {
		st := deviceInfo{Name: "x", Integrated: tt.integrated}.status(0)
		require.Equal(t, tt.want, st.Info.Type, "integrated=%v", tt.integrated)
	}
}
