// Package vulkan is golem's Vulkan backend, registered as "vulkan".
//
// With cgo it dlopens the Vulkan loader libvulkan.so.1 at run time (the
// build uses vulkan.h with VK_NO_PROTOTYPES; no library is linked), lists
// the physical devices with stable ids (index and device UUID), and runs
// graphs on any Vulkan 1.2+ device, Mesa's lavapipe CPU implementation
// included, with GLSL compute shaders compiled to SPIR-V ahead of time
// (kernels/vulkan, embedded). Built without cgo, the package compiles to a
// stub whose Probe says so. docs/vulkan.md describes the design and the
// kernel contract.
package vulkan

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/golem-llm/golem/backend"
)

// driverName is the device-string prefix of this driver.
const driverName = "vulkan"

// ValidationEnv names the environment variable that opens every Vulkan
// device under the Khronos validation layer (VK_LAYER_KHRONOS_validation,
// Debian package vulkan-validationlayers) with synchronization validation
// when set to 1. Each warning or error the layer reports fails the call
// that caused it (Compile, Run, Alloc, a buffer transfer or Free) or, at
// the latest, Close, with the message; opening fails when the layer is
// missing. Tests and CI use it; it slows every call down.
const ValidationEnv = "GOLEM_VULKAN_VALIDATION"

// FuseEnv names the environment variable that, set to 0, compiles graphs
// as they are instead of through graph.Fuse (fused ops: fewer dispatches),
// for A/B comparisons.
const FuseEnv = "GOLEM_VULKAN_FUSE"

// minAPI is the Vulkan version golem needs from a device.
const minAPI = 1<<22 | 2<<12 // VK_MAKE_API_VERSION(0, 1, 2, 0)

func init() { backend.Register(vulkanDriver{}) }

// vulkanDriver implements backend.Driver.
type vulkanDriver struct{}

// Name returns "vulkan".
func (vulkanDriver) Name() string { return driverName }

// Describe says what the Vulkan driver runs on (backend.Describer).
func (vulkanDriver) Describe() (string, []string) {
	if !built {
		return "Vulkan devices: not in this build (built without cgo)", nil
	}
	return "Vulkan 1.2 devices through the system's loader libvulkan.so.1 (a GPU driver is all it needs)", []string{"vulkan:N"}
}

// Probe lists the Vulkan physical devices, or one "vulkan" line with the
// reason none can be listed.
func (vulkanDriver) Probe() []backend.Status { return probe() }

// Open opens the device chosen by selector ("" for the first available
// device, an index, or the device UUID, with or without an NVIDIA-style GPU-
// prefix; see backend.SelectStatus).
func (vulkanDriver) Open(selector string, opts backend.Options) (backend.Backend, error) {
	st, err := backend.SelectStatus(driverName, probe(), selector)
	if err != nil {
		return nil, err
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	return open(st, opts)
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

	Probed       bool     // limits, features and queue were read (a 1.2+ device through the cgo probe)
	Limits       limits   // what kernels must respect
	Features     features // optional features (enabled when present)
	ComputeQueue int      // queue family used for compute, -1 when none
	UMA          bool     // some memory is device-local, host-visible and coherent
}

// limits are the device limits kernels and the memory code must respect.
type limits struct {
	MaxStorageBufferRange uint64    // bytes one storage-buffer binding can address
	MinOffsetAlignment    uint64    // minStorageBufferOffsetAlignment
	MaxPushConstants      uint32    // bytes
	MaxStorageBuffers     uint32    // maxPerStageDescriptorStorageBuffers: bindings one kernel may have
	MaxSharedMemory       uint32    // bytes of shared memory per workgroup
	MaxInvocations        uint32    // invocations per workgroup
	MaxWorkgroupSize      [3]uint32 // per dimension
	MaxWorkgroupCount     [3]uint32 // per dimension
	TimestampPeriod       float64   // nanoseconds per timestamp tick
	TimestampBits         uint32    // valid timestamp bits of the compute queue (0: no timestamps)
	MaxAllocation         uint64    // maxMemoryAllocationSize (0: unknown)
	MaxBufferSize         uint64    // maxBufferSize (0: unknown)
	SubgroupSize          uint32    // default subgroup size
	MinSubgroupSize       uint32    // smallest subgroup size (= SubgroupSize without size control)
	MaxSubgroupSize       uint32    // largest subgroup size
	SubgroupOps           uint32    // VkSubgroupFeatureFlags usable in compute shaders
}

// coopShape is one VkCooperativeMatrixPropertiesKHR: an M×N×K product of
// A (M×K) and B (K×N) accumulated in C (M×N), with VkComponentTypeKHR
// component types and a VkScopeKHR scope.
type coopShape struct {
	M, N, K         uint32
	A, B, C, Result uint32
	Scope           uint32
}

// VkComponentTypeKHR and VkScopeKHR values coopShape uses.
const (
	compF16       = 0
	compF32       = 1
	scopeSubgroup = 3
)

// Subgroup operation bits of limits.SubgroupOps (VkSubgroupFeatureFlagBits).
const (
	subgroupBasic      = 1 << 0
	subgroupVote       = 1 << 1
	subgroupArithmetic = 1 << 2
	subgroupBallot     = 1 << 3
	subgroupShuffle    = 1 << 4
)

// features are the optional device features golem can use; the backend
// enables every one the device has.
type features struct {
	Float16     bool // shaderFloat16: fp16 arithmetic
	Int8        bool // shaderInt8
	Int16       bool // shaderInt16
	Int64       bool // shaderInt64
	Float64     bool // shaderFloat64
	Storage16   bool // storageBuffer16BitAccess: float16_t / uint16_t in storage buffers
	Storage8    bool // storageBuffer8BitAccess: int8_t / uint8_t in storage buffers
	IntDot      bool // shaderIntegerDotProduct (int8 dot products)
	SizeControl bool // subgroupSizeControl and computeFullSubgroups
	CoopMat     bool // VK_KHR_cooperative_matrix
	// CoopMatShapes are the cooperative-matrix shapes and types the
	// device reports (vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR).
	CoopMatShapes []coopShape
	BF16          bool // VK_KHR_shader_bfloat16 is present
	DeviceAddress bool // bufferDeviceAddress
	MemoryModel   bool // vulkanMemoryModel and its device scope
}

// status turns the probe's reading of device index into a Status line.
func (d deviceInfo) status(index int) backend.Status {
	reason := d.unusable()
	return backend.Status{
		Available: reason == "",
		Device:    fmt.Sprintf("%s:%d", driverName, index),
		Info: backend.DeviceInfo{
			Backend:     driverName,
			Index:       index,
			Type:        backendType(d.DeviceType),
			ID:          formatUUID(d.UUID),
			Name:        d.Name,
			Driver:      d.driver(),
			MemoryBytes: d.LocalBytes,
			Caps:        d.caps(),
		},
		Reason: reason,
	}
}

// unusable returns why golem cannot use the device, or "".
func (d deviceInfo) unusable() string {
	switch {
	case d.APIVersion < minAPI:
		return fmt.Sprintf("vulkan: device supports Vulkan %s, golem needs 1.2", formatAPIVersion(d.APIVersion))
	case !d.Probed:
		return "vulkan: device limits could not be read"
	case d.ComputeQueue < 0:
		return "vulkan: device has no compute queue"
	case d.Limits.MaxPushConstants < 128:
		return fmt.Sprintf("vulkan: device has %d bytes of push constants, golem needs 128", d.Limits.MaxPushConstants)
	}
	return ""
}

// caps is the one-line capability summary shown by golem devices:
// "Vulkan 1.3.230, CPU, fp16, no bf16, no int8 dot, subgroup 8, shared 32 KiB, no coopmat".
func (d deviceInfo) caps() string {
	parts := []string{"Vulkan " + formatAPIVersion(d.APIVersion), deviceType(d.DeviceType)}
	if !d.Probed {
		return strings.Join(parts, ", ")
	}
	flag := func(ok bool, name string) string {
		if ok {
			return name
		}
		return "no " + name
	}
	f, l := d.Features, d.Limits
	parts = append(parts, flag(f.Float16 && f.Storage16, "fp16"), flag(f.BF16, "bf16"), flag(f.IntDot, "int8 dot"))
	sg := fmt.Sprintf("subgroup %d", l.SubgroupSize)
	if l.MinSubgroupSize != 0 && l.MinSubgroupSize != l.MaxSubgroupSize {
		sg = fmt.Sprintf("subgroup %d-%d", l.MinSubgroupSize, l.MaxSubgroupSize)
	}
	parts = append(parts, sg, fmt.Sprintf("shared %d KiB", l.MaxSharedMemory/1024), flag(f.CoopMat, "coopmat"))
	return strings.Join(parts, ", ")
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

// backendType maps a VkPhysicalDeviceType to the backend.DeviceType auto
// ranks by: a CPU-type device (lavapipe, SwiftShader) is Vulkan implemented
// in software on the host, slower than golem's own CPU backend.
func backendType(t int32) backend.DeviceType {
	switch t {
	case 1:
		return backend.DeviceIntegratedGPU
	case 2:
		return backend.DeviceDiscreteGPU
	case 3:
		return backend.DeviceVirtualGPU
	case 4:
		return backend.DeviceSoftware
	}
	return backend.DeviceUnknown
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
func unavailable(reason string) []backend.Status { return backend.Unavailable(driverName, reason) }

// errIncompatibleDriver is VK_ERROR_INCOMPATIBLE_DRIVER, which the loader
// returns from vkCreateInstance when it finds no driver.
const errIncompatibleDriver = -9

// resultName names a VkResult.
func resultName(r int32) string {
	names := map[int32]string{
		0:           "VK_SUCCESS",
		1:           "VK_NOT_READY",
		2:           "VK_TIMEOUT",
		5:           "VK_INCOMPLETE",
		-1:          "VK_ERROR_OUT_OF_HOST_MEMORY",
		-2:          "VK_ERROR_OUT_OF_DEVICE_MEMORY",
		-3:          "VK_ERROR_INITIALIZATION_FAILED",
		-4:          "VK_ERROR_DEVICE_LOST",
		-5:          "VK_ERROR_MEMORY_MAP_FAILED",
		-6:          "VK_ERROR_LAYER_NOT_PRESENT",
		-7:          "VK_ERROR_EXTENSION_NOT_PRESENT",
		-8:          "VK_ERROR_FEATURE_NOT_PRESENT",
		-9:          "VK_ERROR_INCOMPATIBLE_DRIVER",
		-10:         "VK_ERROR_TOO_MANY_OBJECTS",
		-12:         "VK_ERROR_FRAGMENTED_POOL",
		-13:         "VK_ERROR_UNKNOWN",
		-1000069000: "VK_ERROR_OUT_OF_POOL_MEMORY",
	}
	if n, ok := names[r]; ok {
		return n
	}
	return fmt.Sprintf("VkResult %d", r)
}
