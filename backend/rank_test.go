package backend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// st is an available device line of the given type (unavailable when
// reason is set).
func st(device string, t DeviceType, reason string) Status {
	return Status{Device: device, Info: DeviceInfo{Type: t}, Available: reason == "", Reason: reason}
}

func TestRank(t *testing.T) {
	var (
		cudaOff  = st("cuda", DeviceUnknown, "cuda: libcuda.so.1 not found")
		lavapipe = st("vulkan:0", DeviceSoftware, "")
		cpu      = st("cpu", DeviceCPU, "")
		ref      = st("cpu:ref", DeviceReference, "")
	)
	tests := []struct {
		name string
		sts  []Status
		want []int
	}{
		{"the CPU before software Vulkan (issue 8)", []Status{cudaOff, lavapipe, cpu, ref}, []int{0, 2, 1, 0}},
		{"discrete before integrated before CPU", []Status{
			st("vulkan:0", DeviceIntegratedGPU, ""), st("vulkan:1", DeviceDiscreteGPU, ""), cpu, ref,
		}, []int{2, 1, 3, 0}},
		{"a found but unusable GPU is not ranked", []Status{
			st("cuda:0", DeviceDiscreteGPU, "cuda: kernels not yet implemented"), lavapipe, cpu,
		}, []int{0, 2, 1}},
		{"one type keeps the probe order", []Status{
			st("cuda:0", DeviceDiscreteGPU, ""), st("cuda:1", DeviceDiscreteGPU, ""), st("vulkan:0", DeviceDiscreteGPU, ""),
		}, []int{1, 2, 3}},
		{"virtual GPU between integrated GPU and CPU", []Status{
			cpu, st("vulkan:0", DeviceVirtualGPU, ""), st("vulkan:1", DeviceIntegratedGPU, ""),
		}, []int{3, 2, 1}},
		{"unknown type last", []Status{st("x:0", DeviceUnknown, ""), lavapipe, cpu}, []int{3, 2, 1}},
		{"the reference alone is never taken", []Status{ref}, []int{0}},
		{"an emulated driver ranks as the software it reports", []Status{
			st("cuda:0", DeviceSoftware, ""), cpu,
		}, []int{2, 1}},
		{"nothing", nil, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Rank(tt.sts))
			c, ok := AutoChoice(tt.sts)
			want := -1
			for i, r := range tt.want {
				if r == 1 {
					want = i
				}
			}
			require.Equal(t, want >= 0, ok)
			if ok {
				require.Equal(t, tt.sts[want], c)
			}
		})
	}
}

func TestDeviceTypeString(t *testing.T) {
	tests := map[DeviceType]string{
		DeviceUnknown:       "unknown",
		DeviceDiscreteGPU:   "discrete-gpu",
		DeviceIntegratedGPU: "integrated-gpu",
		DeviceVirtualGPU:    "virtual-gpu",
		DeviceCPU:           "cpu",
		DeviceSoftware:      "software",
		DeviceReference:     "reference",
		DeviceType(42):      "unknown",
	}
	for dt, want := range tests {
		require.Equal(t, want, dt.String())
	}
	require.NotContains(t, AutoPreference(), DeviceReference)
}
