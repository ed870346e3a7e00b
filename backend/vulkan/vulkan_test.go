package vulkan

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
		in   []byte
		want string
	}{
		{"missing", nil, ""},
		{"zero", make([]byte, 16), ""},
		{"wrong length", []byte{1, 2, 3}, ""},
		{"bytes in order", []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe},
			"01234567-89ab-cdef-1032-547698badcfe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, formatUUID(tt.in))
		})
	}
}

func TestDeviceStatus(t *testing.T) {
	uuid := []byte{0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	tests := []struct {
		name string
		in   deviceInfo
		want backend.Status
	}{
		{"lavapipe", deviceInfo{Name: "llvmpipe (LLVM 15.0.6, 256 bits)", APIVersion: 1<<22 | 3<<12 | 230,
			DriverVersion: 1, DeviceType: 4, UUID: uuid, DriverName: "llvmpipe", DriverInfo: "Mesa 22.3.6 (LLVM 15.0.6)",
			LocalBytes: 2 << 30, Probed: true, ComputeQueue: 0,
			Limits:   limits{MaxPushConstants: 128, MaxSharedMemory: 32768, SubgroupSize: 8, MinSubgroupSize: 8, MaxSubgroupSize: 8},
			Features: features{Float16: true, Storage16: true}},
			backend.Status{Device: "vulkan:0", Available: true, Info: backend.DeviceInfo{
				Backend: "vulkan", Type: backend.DeviceSoftware, ID: "deadbeef-0000-0000-0000-000000000001", Name: "llvmpipe (LLVM 15.0.6, 256 bits)",
				Driver: "llvmpipe Mesa 22.3.6 (LLVM 15.0.6)", MemoryBytes: 2 << 30,
				Caps: "Vulkan 1.3.230, CPU, fp16, no bf16, no int8 dot, subgroup 8, shared 32 KiB, no coopmat"}}},
		{"nvidia", deviceInfo{Name: "H100", APIVersion: 1<<22 | 4<<12 | 312,
			DriverVersion: 580<<22 | 95<<14 | 5<<6, VendorID: 0x10de, DeviceType: 2, Probed: true,
			Limits:   limits{MaxPushConstants: 256, MaxSharedMemory: 49152, SubgroupSize: 32, MinSubgroupSize: 32, MaxSubgroupSize: 32},
			Features: features{Float16: true, Storage16: true, IntDot: true, CoopMat: true, BF16: true}},
			backend.Status{Device: "vulkan:0", Available: true, Info: backend.DeviceInfo{
				Backend: "vulkan", Type: backend.DeviceDiscreteGPU, Name: "H100", Driver: "580.95.5.0",
				Caps: "Vulkan 1.4.312, discrete GPU, fp16, bf16, int8 dot, subgroup 32, shared 48 KiB, coopmat"}}},
		{"amd subgroup range, no queue", deviceInfo{Name: "RX", APIVersion: 1<<22 | 3<<12, DeviceType: 2, Probed: true,
			ComputeQueue: -1, Limits: limits{MaxPushConstants: 128, MaxSharedMemory: 65536, SubgroupSize: 64, MinSubgroupSize: 32, MaxSubgroupSize: 64}},
			backend.Status{Device: "vulkan:0", Reason: "vulkan: device has no compute queue", Info: backend.DeviceInfo{
				Backend: "vulkan", Type: backend.DeviceDiscreteGPU, Name: "RX", Driver: "0.0.0",
				Caps: "Vulkan 1.3.0, discrete GPU, no fp16, no bf16, no int8 dot, subgroup 32-64, shared 64 KiB, no coopmat"}}},
		{"not probed", deviceInfo{Name: "x", APIVersion: 1<<22 | 2<<12, DeviceType: 1},
			backend.Status{Device: "vulkan:0", Reason: "vulkan: device limits could not be read", Info: backend.DeviceInfo{
				Backend: "vulkan", Type: backend.DeviceIntegratedGPU, Name: "x", Driver: "0.0.0", Caps: "Vulkan 1.2.0, integrated GPU"}}},
		{"too old", deviceInfo{Name: "old", APIVersion: 1<<22 | 1<<12, DriverVersion: 1<<22 | 5, DeviceType: 1},
			backend.Status{Device: "vulkan:0", Reason: "vulkan: device supports Vulkan 1.1.0, golem needs 1.2",
				Info: backend.DeviceInfo{Backend: "vulkan", Type: backend.DeviceIntegratedGPU, Name: "old", Driver: "1.0.5", Caps: "Vulkan 1.1.0, integrated GPU"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.in.status(0))
		})
	}
}

// TestSelectByUUID checks that the UUID the probe writes selects its device
// through backend.SelectStatus, also in NVIDIA's GPU- form.
func TestSelectByUUID(t *testing.T) {
	sts := []backend.Status{deviceInfo{Name: "a", APIVersion: minAPI}.status(0),
		deviceInfo{Name: "b", UUID: []byte{0xbb, 15: 1}, APIVersion: minAPI}.status(1)}
	require.Equal(t, "bb000000-0000-0000-0000-000000000001", sts[1].Info.ID)
	st, err := backend.SelectStatus(driverName, sts, "GPU-BB000000-0000-0000-0000-000000000001")
	require.NoError(t, err)
	require.Equal(t, "b", st.Info.Name)
}

func TestResultName(t *testing.T) {
	require.Equal(t, "VK_ERROR_INCOMPATIBLE_DRIVER", resultName(errIncompatibleDriver))
	require.Equal(t, "VkResult -1000001004", resultName(-1000001004))
}

func TestRegisteredAndProbe(t *testing.T) {
	require.True(t, slices.Contains(backend.Drivers(), "vulkan"))
	sts := probe()
	require.NotEmpty(t, sts)
	for _, st := range sts {
		t.Logf("%s: available=%v %q %+v", st.Device, st.Available, st.Reason, st.Info)
		require.Equal(t, "vulkan", st.Info.Backend)
		if !st.Available {
			require.True(t, strings.HasPrefix(st.Reason, "vulkan: "), "reason %q", st.Reason)
		}
		if st.Device != "vulkan" {
			// A listed device has at least a name.
			require.True(t, strings.HasPrefix(st.Device, "vulkan:"), st.Device)
			require.NotEmpty(t, st.Info.Name, st.Device)
		}
	}
	if !sts[0].Available {
		_, err := backend.Open("vulkan", backend.Options{})
		require.ErrorIs(t, err, backend.ErrUnavailable)
		require.ErrorContains(t, err, sts[0].Reason)
	}
}

func TestBackendType(t *testing.T) {
	tests := []struct {
		vk   int32 // VkPhysicalDeviceType
		want backend.DeviceType
	}{
		{0, backend.DeviceUnknown},
		{1, backend.DeviceIntegratedGPU},
		{2, backend.DeviceDiscreteGPU},
		{3, backend.DeviceVirtualGPU},
		{4, backend.DeviceSoftware}, // lavapipe, SwiftShader
		{99, backend.DeviceUnknown},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, backendType(tt.vk), "VkPhysicalDeviceType %d", tt.vk)
	}
}
