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
	require.False(t, st.Available)
	require.Equal(t, reasonNoKernels, st.Reason)
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

func TestRegisteredAndProbe(t *testing.T) {
	require.True(t, slices.Contains(backend.Drivers(), "cuda"))
	sts := probe()
	require.NotEmpty(t, sts)
	for _, st := range sts {
		// No CUDA device is usable yet, and each line says why.
		require.False(t, st.Available, st.Device)
		require.True(t, strings.HasPrefix(st.Reason, "cuda: "), "reason %q", st.Reason)
		require.True(t, st.Device == "cuda" || strings.HasPrefix(st.Device, "cuda:"), st.Device)
		require.Equal(t, "cuda", st.Info.Backend)
	}
	// Through the registry, Open fails with the same reason, as unavailable.
	_, err := backend.Open("cuda:0", backend.Options{})
	require.ErrorIs(t, err, backend.ErrUnavailable)
	require.ErrorContains(t, err, sts[0].Reason)
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
