// Package vulkan is golem's Vulkan backend driver, registered as "vulkan".
//
// With cgo it dlopens the Vulkan loader libvulkan.so.1 at run time (no SDK
// or headers at build time), creates a Vulkan 1.2 instance and lists the
// physical devices: name, UUID, driver, API version, type and device-local
// memory. It runs on any Vulkan device, Mesa's lavapipe CPU implementation
// included. For now every device is reported as not yet usable: the compute
// pipelines come with a later change. Built without cgo, the package compiles
// to a stub whose Probe says so.
package vulkan

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/backend"
)

// driverName is the device-string prefix of this driver.
const driverName = "vulkan"

// reasonNotImplemented is the reason a found device is not yet usable.
const reasonNotImplemented = "vulkan: backend not yet implemented (device found)"

// minAPI is the Vulkan version golem needs from a device.
const minAPI = 1<<22 | 2<<12 // VK_MAKE_API_VERSION(0, 1, 2, 0)

func init() { backend.Register(vulkanDriver{}) }

// vulkanDriver implements backend.Driver.
type vulkanDriver struct{}

// Name returns "vulkan".
func (vulkanDriver) Name() string { return driverName }

// Probe lists the Vulkan physical devices, or one "vulkan" line with the
// reason none can be listed.
func (vulkanDriver) Probe() []backend.Status { return probe() }

// Open opens the device chosen by selector ("" for the first device, an
// index, or the device UUID). No Vulkan device can be opened yet; the error
// gives the reason.
func (vulkanDriver) Open(selector string, _ backend.Options) (backend.Backend, error) {
	st, err := pick(probe(), selector)
	if err != nil {
		return nil, err
	}
	return nil, errors.New(st.Reason)
}

// pick returns the status matching selector: "" is the first line, a number
// is an index, anything else is compared with the device UUID (an NVIDIA
// style "GPU-" prefix is accepted).
func pick(sts []backend.Status, selector string) (backend.Status, error) {
	if len(sts) == 0 {
		return backend.Status{}, errors.New("vulkan: no devices")
	}
	if len(sts) == 1 && sts[0].Device == driverName {
		// The driver could not list devices: its reason answers any selector.
		return sts[0], nil
	}
	if selector == "" {
		return sts[0], nil
	}
	if i, err := strconv.Atoi(selector); err == nil {
		for _, st := range sts {
			if st.Info.Index == i {
				return st, nil
			}
		}
	} else {
		id := selector
		if len(id) > 4 && strings.EqualFold(id[:4], "GPU-") {
			id = id[4:]
		}
		for _, st := range sts {
			if st.Info.ID != "" && strings.EqualFold(st.Info.ID, id) {
				return st, nil
			}
		}
	}
	have := make([]string, len(sts))
	for i, st := range sts {
		have[i] = st.Device
	}
	return backend.Status{}, fmt.Errorf("vulkan: no device %q (have %s)", selector, strings.Join(have, ", "))
}

// deviceInfo is what the probe reads from one physical device.
type deviceInfo struct {
	Name          string
	APIVersion    uint32 // VkPhysicalDeviceProperties.apiVersion
	DriverVersion uint32 // vendor-encoded
	VendorID      uint32
	DeviceType    int32
	UUID          []byte // VkPhysicalDeviceIDProperties.deviceUUID; nil when unknown
	DriverName    string // VkPhysicalDeviceDriverProperties; "" when unknown
	DriverInfo    string
	LocalBytes    int64 // largest device-local heap
}

// status turns the probe's reading of device index into a Status line.
func (d deviceInfo) status(index int) backend.Status {
	reason := reasonNotImplemented
	if d.APIVersion < minAPI {
		reason = fmt.Sprintf("vulkan: device supports Vulkan %s, golem needs 1.2", formatAPIVersion(d.APIVersion))
	}
	return backend.Status{
		Device: fmt.Sprintf("%s:%d", driverName, index),
		Info: backend.DeviceInfo{
			Backend:     driverName,
			Index:       index,
			ID:          formatUUID(d.UUID),
			Name:        d.Name,
			Driver:      d.driver(),
			MemoryBytes: d.LocalBytes,
			Caps:        "Vulkan " + formatAPIVersion(d.APIVersion) + ", " + deviceType(d.DeviceType),
		},
		Reason: reason,
	}
}

// driver describes the driver: its name and version string when the device
// reports them, else the vendor-encoded version number decoded.
func (d deviceInfo) driver() string {
	if s := strings.TrimSpace(d.DriverName + " " + d.DriverInfo); s != "" {
		return s
	}
	v := d.DriverVersion
	if d.VendorID == 0x10de { // NVIDIA: 10.8.8.6 bits
		return fmt.Sprintf("%d.%d.%d.%d", v>>22, v>>14&0xff, v>>6&0xff, v&0x3f)
	}
	return formatAPIVersion(v)
}

// formatAPIVersion decodes a VK_MAKE_API_VERSION number as "1.3.239".
func formatAPIVersion(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>22&0x7f, v>>12&0x3ff, v&0xfff)
}

// deviceType names a VkPhysicalDeviceType.
func deviceType(t int32) string {
	switch t {
	case 1:
		return "integrated GPU"
	case 2:
		return "discrete GPU"
	case 3:
		return "virtual GPU"
	case 4:
		return "CPU"
	default:
		return "other"
	}
}

// formatUUID writes a 16-byte UUID as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx;
// a missing or all-zero UUID gives "".
func formatUUID(u []byte) string {
	if len(u) != 16 || strings.Count(string(u), "\x00") == 16 {
		return ""
	}
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// unavailable is the single Status of a driver that cannot list devices.
func unavailable(reason string) []backend.Status {
	return []backend.Status{{
		Device: driverName,
		Info:   backend.DeviceInfo{Backend: driverName},
		Reason: reason,
	}}
}

// errIncompatibleDriver is VK_ERROR_INCOMPATIBLE_DRIVER, which the loader
// returns from vkCreateInstance when it finds no driver.
const errIncompatibleDriver = -9

// resultName names a VkResult returned by the calls the probe makes.
func resultName(r int32) string {
	names := map[int32]string{
		0:   "VK_SUCCESS",
		5:   "VK_INCOMPLETE",
		-1:  "VK_ERROR_OUT_OF_HOST_MEMORY",
		-2:  "VK_ERROR_OUT_OF_DEVICE_MEMORY",
		-3:  "VK_ERROR_INITIALIZATION_FAILED",
		-6:  "VK_ERROR_LAYER_NOT_PRESENT",
		-7:  "VK_ERROR_EXTENSION_NOT_PRESENT",
		-9:  "VK_ERROR_INCOMPATIBLE_DRIVER",
		-13: "VK_ERROR_UNKNOWN",
	}
	if n, ok := names[r]; ok {
		return n
	}
	return fmt.Sprintf("VkResult %d", r)
}
