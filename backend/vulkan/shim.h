// shim.h: the C side of golem's Vulkan driver probe.
//
// The build needs no Vulkan headers: the loader libvulkan.so.1 is dlopen()ed
// at run time, every entry point is fetched through vkGetInstanceProcAddr,
// and the few structures used are declared below by their C layout (names
// prefixed gvk_ so they cannot clash with vulkan.h). testdata/layout_check.c
// checks every offset and size against the real vulkan_core.h when that
// header is installed. The Vulkan backend proper will replace this with
// vulkan.h and VK_NO_PROTOTYPES.
#ifndef GOLEM_VULKAN_SHIM_H
#define GOLEM_VULKAN_SHIM_H

#include <stddef.h>
#include <stdint.h>

// ---- Vulkan declarations (Vulkan 1.2 core), by ABI --------------------------

typedef int32_t gvk_result;   // VkResult; 0 is VK_SUCCESS, 5 VK_INCOMPLETE
typedef void *gvk_handle;     // VkInstance, VkPhysicalDevice: dispatchable, pointers

enum {
	GVK_STYPE_APPLICATION_INFO = 0,
	GVK_STYPE_INSTANCE_CREATE_INFO = 1,
	GVK_STYPE_PHYSICAL_DEVICE_PROPERTIES_2 = 1000059001,
	GVK_STYPE_PHYSICAL_DEVICE_ID_PROPERTIES = 1000071004,
	GVK_STYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES = 1000196000,
	GVK_MEMORY_HEAP_DEVICE_LOCAL_BIT = 1,
};

// gvk_make_version is VK_MAKE_API_VERSION(0, major, minor, patch).
#define GVK_MAKE_VERSION(major, minor, patch) \
	((((uint32_t)(major)) << 22) | (((uint32_t)(minor)) << 12) | ((uint32_t)(patch)))

// VkApplicationInfo
typedef struct {
	int32_t sType;
	const void *pNext;
	const char *pApplicationName;
	uint32_t applicationVersion;
	const char *pEngineName;
	uint32_t engineVersion;
	uint32_t apiVersion;
} gvk_application_info;

// VkInstanceCreateInfo
typedef struct {
	int32_t sType;
	const void *pNext;
	uint32_t flags;
	const gvk_application_info *pApplicationInfo;
	uint32_t enabledLayerCount;
	const char *const *ppEnabledLayerNames;
	uint32_t enabledExtensionCount;
	const char *const *ppEnabledExtensionNames;
} gvk_instance_create_info;

// VkPhysicalDeviceProperties. The limits and sparse properties that follow
// the UUID are not read; tail only reserves their 528 bytes.
typedef struct {
	uint32_t apiVersion;
	uint32_t driverVersion;
	uint32_t vendorID;
	uint32_t deviceID;
	int32_t deviceType;   // 0 other, 1 integrated GPU, 2 discrete GPU, 3 virtual GPU, 4 CPU
	char deviceName[256];
	uint8_t pipelineCacheUUID[16];
	uint64_t tail[66];    // VkPhysicalDeviceLimits limits; VkPhysicalDeviceSparseProperties sparseProperties;
} gvk_physical_device_properties;

// VkPhysicalDeviceProperties2
typedef struct {
	int32_t sType;
	void *pNext;
	gvk_physical_device_properties properties;
} gvk_physical_device_properties2;

// VkPhysicalDeviceIDProperties (core in 1.1)
typedef struct {
	int32_t sType;
	void *pNext;
	uint8_t deviceUUID[16];
	uint8_t driverUUID[16];
	uint8_t deviceLUID[8];
	uint32_t deviceNodeMask;
	uint32_t deviceLUIDValid;
} gvk_physical_device_id_properties;

// VkPhysicalDeviceDriverProperties (core in 1.2)
typedef struct {
	int32_t sType;
	void *pNext;
	int32_t driverID;
	char driverName[256];
	char driverInfo[256];
	uint8_t conformanceVersion[4];   // VkConformanceVersion: major, minor, subminor, patch
} gvk_physical_device_driver_properties;

// VkPhysicalDeviceMemoryProperties
typedef struct {
	uint32_t memoryTypeCount;
	struct {
		uint32_t propertyFlags;
		uint32_t heapIndex;
	} memoryTypes[32];
	uint32_t memoryHeapCount;
	struct {
		uint64_t size;
		uint32_t flags;
	} memoryHeaps[16];
} gvk_physical_device_memory_properties;

// ---- the probe ------------------------------------------------------------

// GOLEM_VK_MAX_DEVICES bounds the devices one probe reports.
#define GOLEM_VK_MAX_DEVICES 16

// Where a probe stopped (golem_vk_probe_result.stage).
enum {
	GOLEM_VK_OK = 0,
	GOLEM_VK_LOADER_1_0 = 1,     // no vkEnumerateInstanceVersion: a Vulkan 1.0 loader
	GOLEM_VK_CREATE_INSTANCE = 2, // vkCreateInstance failed (result holds the VkResult)
	GOLEM_VK_MISSING_FUNCTION = 3, // an instance function was not found (function names it)
	GOLEM_VK_ENUMERATE = 4,      // vkEnumeratePhysicalDevices failed
};

// golem_vk_device is what the probe learns about one physical device.
typedef struct {
	char name[256];
	uint32_t api_version, driver_version, vendor_id, device_id;
	int32_t device_type;
	int has_uuid;                // device_uuid is valid (Vulkan 1.1 device)
	uint8_t device_uuid[16];
	int has_driver_props;        // driver_name and driver_info are valid (Vulkan 1.2 device)
	char driver_name[256];
	char driver_info[256];
	uint64_t device_local_bytes; // largest device-local memory heap
} golem_vk_device;

// golem_vk_probe_result is the whole answer of one probe.
typedef struct {
	int stage;
	gvk_result result;
	const char *function;        // a static string naming the failing call
	uint32_t loader_version;
	uint32_t count;              // devices described (at most GOLEM_VK_MAX_DEVICES)
	golem_vk_device devices[GOLEM_VK_MAX_DEVICES];
} golem_vk_probe_result;

// golem_vk_lib holds the dlopen handle and vkGetInstanceProcAddr.
typedef struct golem_vk_lib golem_vk_lib;

// golem_vk_open dlopens path (RTLD_NOW|RTLD_LOCAL) and resolves
// vkGetInstanceProcAddr. On failure it returns NULL and writes the reason
// into err.
golem_vk_lib *golem_vk_open(const char *path, char *err, size_t errlen);

// golem_vk_close unloads the loader and frees lib.
void golem_vk_close(golem_vk_lib *lib);

// golem_vk_probe creates a Vulkan 1.2 instance, describes every physical
// device into *out and destroys the instance again.
void golem_vk_probe(golem_vk_lib *lib, golem_vk_probe_result *out);

#endif
