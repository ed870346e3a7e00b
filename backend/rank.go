package backend

// DeviceType is the kind of hardware a device is, as its driver reports
// it. The "auto" device string ranks devices by their type alone (see Rank).
type DeviceType int

// Device types, in no particular order (see Rank for auto's preference).
const (
	// DeviceUnknown is a device whose driver does not say what it is
	// (Vulkan's VK_PHYSICAL_DEVICE_TYPE_OTHER, a driver-level status line).
	DeviceUnknown DeviceType = iota
	// DeviceDiscreteGPU is a GPU with its own memory.
	DeviceDiscreteGPU
	// DeviceIntegratedGPU is a GPU that shares the host's memory.
	DeviceIntegratedGPU
	// DeviceVirtualGPU is a GPU seen through a virtualisation layer.
	DeviceVirtualGPU
	// DeviceCPU is a native CPU backend (golem's "cpu").
	DeviceCPU
	// DeviceSoftware is a GPU API implemented in software on the host CPU:
	// a CPU-type Vulkan device such as Mesa's lavapipe, or an emulated
	// driver. It computes correctly but far slower than the native CPU
	// backend.
	DeviceSoftware
	// DeviceReference is a reference implementation kept for checking
	// other devices (golem's "cpu:ref"); auto never takes it.
	DeviceReference
)

// String names t as `golem devices` shows it: "discrete-gpu", "cpu", ...
func (t DeviceType) String() string {
	switch t {
	case DeviceDiscreteGPU:
		return "discrete-gpu"
	case DeviceIntegratedGPU:
		return "integrated-gpu"
	case DeviceVirtualGPU:
		return "virtual-gpu"
	case DeviceCPU:
		return "cpu"
	case DeviceSoftware:
		return "software"
	case DeviceReference:
		return "reference"
	}
	return "unknown"
}

// autoPreference is auto's order of device types, best first; a type not
// listed (DeviceReference) is never taken.
var autoPreference = []DeviceType{
	DeviceDiscreteGPU,
	DeviceIntegratedGPU,
	DeviceVirtualGPU,
	DeviceCPU,
	DeviceSoftware,
	DeviceUnknown,
}

// AutoPreference returns auto's order of device types, best first. A type
// it does not list (DeviceReference) is never taken by auto.
func AutoPreference() []DeviceType { return append([]DeviceType(nil), autoPreference...) }

// Rank returns the order in which "auto" tries the devices of sts (a Probe
// result): rank[i] is 1 for the device auto opens first, 2 for the next,
// and so on, and 0 for a device auto never opens (unavailable, or a
// reference device). Devices rank by their Info.Type alone, in the order of
// AutoPreference (discrete GPU, integrated GPU, virtual GPU, CPU, software,
// unknown); devices of one type keep their order in sts.
func Rank(sts []Status) []int {
	rank := make([]int, len(sts))
	next := 1
	for _, t := range autoPreference {
		for i, st := range sts {
			if st.Available && st.Info.Type == t {
				rank[i] = next
				next++
			}
		}
	}
	return rank
}

// AutoChoice returns the status of sts that auto opens first (rank 1), and
// false when auto can take none of them.
func AutoChoice(sts []Status) (Status, bool) {
	for i, r := range Rank(sts) {
		if r == 1 {
			return sts[i], true
		}
	}
	return Status{}, false
}
