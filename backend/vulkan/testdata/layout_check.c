// Compiled (never run) by TestLayoutMatchesHeaders: checks that shim.h's own
// declarations have the layout of the real ones in vulkan_core.h.
#include <vulkan/vulkan_core.h>
#include <stddef.h>

#include "../shim.h"

#define SAME_SIZE(mine, real) _Static_assert(sizeof(mine) == sizeof(real), #mine " size")
#define SAME_FIELD(mine, real, mf, rf)                                               \
	_Static_assert(offsetof(mine, mf) == offsetof(real, rf), #mine "." #mf " offset"); \
	_Static_assert(sizeof(((mine *)0)->mf) == sizeof(((real *)0)->rf), #mine "." #mf " size")

_Static_assert((int)GVK_STYPE_APPLICATION_INFO == (int)VK_STRUCTURE_TYPE_APPLICATION_INFO, "stype");
_Static_assert((int)GVK_STYPE_INSTANCE_CREATE_INFO == (int)VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, "stype");
_Static_assert((int)GVK_STYPE_PHYSICAL_DEVICE_PROPERTIES_2 == (int)VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, "stype");
_Static_assert((int)GVK_STYPE_PHYSICAL_DEVICE_ID_PROPERTIES == (int)VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES, "stype");
_Static_assert((int)GVK_STYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES == (int)VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES, "stype");
_Static_assert((int)GVK_MEMORY_HEAP_DEVICE_LOCAL_BIT == (int)VK_MEMORY_HEAP_DEVICE_LOCAL_BIT, "heap flag");
_Static_assert(GVK_MAKE_VERSION(1, 2, 0) == VK_API_VERSION_1_2, "version");

SAME_SIZE(gvk_application_info, VkApplicationInfo);
SAME_FIELD(gvk_application_info, VkApplicationInfo, pApplicationName, pApplicationName);
SAME_FIELD(gvk_application_info, VkApplicationInfo, pEngineName, pEngineName);
SAME_FIELD(gvk_application_info, VkApplicationInfo, apiVersion, apiVersion);

SAME_SIZE(gvk_instance_create_info, VkInstanceCreateInfo);
SAME_FIELD(gvk_instance_create_info, VkInstanceCreateInfo, flags, flags);
SAME_FIELD(gvk_instance_create_info, VkInstanceCreateInfo, pApplicationInfo, pApplicationInfo);
SAME_FIELD(gvk_instance_create_info, VkInstanceCreateInfo, ppEnabledExtensionNames, ppEnabledExtensionNames);

SAME_SIZE(gvk_physical_device_properties, VkPhysicalDeviceProperties);
SAME_FIELD(gvk_physical_device_properties, VkPhysicalDeviceProperties, deviceType, deviceType);
SAME_FIELD(gvk_physical_device_properties, VkPhysicalDeviceProperties, deviceName, deviceName);
SAME_FIELD(gvk_physical_device_properties, VkPhysicalDeviceProperties, pipelineCacheUUID, pipelineCacheUUID);
_Static_assert(offsetof(gvk_physical_device_properties, tail) == offsetof(VkPhysicalDeviceProperties, limits), "limits offset");

SAME_SIZE(gvk_physical_device_properties2, VkPhysicalDeviceProperties2);
SAME_FIELD(gvk_physical_device_properties2, VkPhysicalDeviceProperties2, properties, properties);

SAME_SIZE(gvk_physical_device_id_properties, VkPhysicalDeviceIDProperties);
SAME_FIELD(gvk_physical_device_id_properties, VkPhysicalDeviceIDProperties, deviceUUID, deviceUUID);
SAME_FIELD(gvk_physical_device_id_properties, VkPhysicalDeviceIDProperties, deviceLUIDValid, deviceLUIDValid);

SAME_SIZE(gvk_physical_device_driver_properties, VkPhysicalDeviceDriverProperties);
SAME_FIELD(gvk_physical_device_driver_properties, VkPhysicalDeviceDriverProperties, driverName, driverName);
SAME_FIELD(gvk_physical_device_driver_properties, VkPhysicalDeviceDriverProperties, driverInfo, driverInfo);
SAME_FIELD(gvk_physical_device_driver_properties, VkPhysicalDeviceDriverProperties, conformanceVersion, conformanceVersion);

SAME_SIZE(gvk_physical_device_memory_properties, VkPhysicalDeviceMemoryProperties);
SAME_FIELD(gvk_physical_device_memory_properties, VkPhysicalDeviceMemoryProperties, memoryTypes, memoryTypes);
SAME_FIELD(gvk_physical_device_memory_properties, VkPhysicalDeviceMemoryProperties, memoryHeapCount, memoryHeapCount);
SAME_FIELD(gvk_physical_device_memory_properties, VkPhysicalDeviceMemoryProperties, memoryHeaps, memoryHeaps);
_Static_assert(offsetof(gvk_physical_device_memory_properties, memoryHeaps[1].flags) ==
	offsetof(VkPhysicalDeviceMemoryProperties, memoryHeaps[1].flags), "heap flags offset");
