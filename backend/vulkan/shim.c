//go:build cgo

// shim.c: dlopen()s the Vulkan loader, lists and opens devices, manages
// buffers, pipelines and recorded programs. See shim.h.

#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// VK_KHR_cooperative_matrix is newer than some distributions' headers.
#define GOLEM_STYPE_COOPMAT_FEATURES ((VkStructureType)1000506000)
typedef struct {
	VkStructureType sType;
	void *pNext;
	VkBool32 cooperativeMatrix;
	VkBool32 cooperativeMatrixRobustBufferAccess;
} golem_coopmat_features;

#define GOLEM_STYPE_COOPMAT_PROPERTIES ((VkStructureType)1000506001)
typedef struct {
	VkStructureType sType;
	void *pNext;
	uint32_t MSize, NSize, KSize;
	uint32_t AType, BType, CType, ResultType;
	VkBool32 saturatingAccumulation;
	uint32_t scope;
} golem_coopmat_properties;
typedef VkResult(VKAPI_PTR *golem_PFN_coopmat_props)(VkPhysicalDevice, uint32_t *, golem_coopmat_properties *);

struct golem_vk_lib {
	void *handle;
	PFN_vkGetInstanceProcAddr gipa;
};

// Instance-level entry points.
typedef struct {
	PFN_vkDestroyInstance DestroyInstance;
	PFN_vkEnumeratePhysicalDevices EnumeratePhysicalDevices;
	PFN_vkGetPhysicalDeviceProperties GetPhysicalDeviceProperties;
	PFN_vkGetPhysicalDeviceProperties2 GetPhysicalDeviceProperties2;
	PFN_vkGetPhysicalDeviceFeatures2 GetPhysicalDeviceFeatures2;
	PFN_vkGetPhysicalDeviceMemoryProperties GetPhysicalDeviceMemoryProperties;
	PFN_vkGetPhysicalDeviceQueueFamilyProperties GetPhysicalDeviceQueueFamilyProperties;
	PFN_vkEnumerateDeviceExtensionProperties EnumerateDeviceExtensionProperties;
	PFN_vkCreateDevice CreateDevice;
	PFN_vkGetDeviceProcAddr GetDeviceProcAddr;
	PFN_vkCreateDebugUtilsMessengerEXT CreateDebugUtilsMessengerEXT;
	PFN_vkDestroyDebugUtilsMessengerEXT DestroyDebugUtilsMessengerEXT;
	golem_PFN_coopmat_props CoopMatProps; // vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR (optional)
} inst_fns;

// Device-level entry points.
typedef struct {
	PFN_vkDestroyDevice DestroyDevice;
	PFN_vkGetDeviceQueue GetDeviceQueue;
	PFN_vkDeviceWaitIdle DeviceWaitIdle;
	PFN_vkCreateBuffer CreateBuffer;
	PFN_vkDestroyBuffer DestroyBuffer;
	PFN_vkGetBufferMemoryRequirements GetBufferMemoryRequirements;
	PFN_vkAllocateMemory AllocateMemory;
	PFN_vkFreeMemory FreeMemory;
	PFN_vkBindBufferMemory BindBufferMemory;
	PFN_vkMapMemory MapMemory;
	PFN_vkUnmapMemory UnmapMemory;
	PFN_vkCreateCommandPool CreateCommandPool;
	PFN_vkDestroyCommandPool DestroyCommandPool;
	PFN_vkAllocateCommandBuffers AllocateCommandBuffers;
	PFN_vkFreeCommandBuffers FreeCommandBuffers;
	PFN_vkBeginCommandBuffer BeginCommandBuffer;
	PFN_vkEndCommandBuffer EndCommandBuffer;
	PFN_vkResetCommandBuffer ResetCommandBuffer;
	PFN_vkCmdCopyBuffer CmdCopyBuffer;
	PFN_vkCmdFillBuffer CmdFillBuffer;
	PFN_vkCmdPipelineBarrier CmdPipelineBarrier;
	PFN_vkCmdBindPipeline CmdBindPipeline;
	PFN_vkCmdBindDescriptorSets CmdBindDescriptorSets;
	PFN_vkCmdPushConstants CmdPushConstants;
	PFN_vkCmdDispatch CmdDispatch;
	PFN_vkCmdWriteTimestamp CmdWriteTimestamp;
	PFN_vkCmdResetQueryPool CmdResetQueryPool;
	PFN_vkQueueSubmit QueueSubmit;
	PFN_vkCreateFence CreateFence;
	PFN_vkDestroyFence DestroyFence;
	PFN_vkResetFences ResetFences;
	PFN_vkWaitForFences WaitForFences;
	PFN_vkCreateShaderModule CreateShaderModule;
	PFN_vkDestroyShaderModule DestroyShaderModule;
	PFN_vkCreateDescriptorSetLayout CreateDescriptorSetLayout;
	PFN_vkDestroyDescriptorSetLayout DestroyDescriptorSetLayout;
	PFN_vkCreatePipelineLayout CreatePipelineLayout;
	PFN_vkDestroyPipelineLayout DestroyPipelineLayout;
	PFN_vkCreateComputePipelines CreateComputePipelines;
	PFN_vkDestroyPipeline DestroyPipeline;
	PFN_vkCreateDescriptorPool CreateDescriptorPool;
	PFN_vkDestroyDescriptorPool DestroyDescriptorPool;
	PFN_vkAllocateDescriptorSets AllocateDescriptorSets;
	PFN_vkUpdateDescriptorSets UpdateDescriptorSets;
	PFN_vkCreateQueryPool CreateQueryPool;
	PFN_vkDestroyQueryPool DestroyQueryPool;
	PFN_vkGetQueryPoolResults GetQueryPoolResults;
} dev_fns;

// The staging ring: RING_SLOTS host-visible buffers of RING_BYTES, each with
// a command buffer and a fence, used in turn by transfers to and from
// unmapped buffers, so that copying chunk i+1 into a slot (host memcpy)
// overlaps the device's copy of chunk i.
#define RING_SLOTS 4
#define RING_BYTES (8u << 20)

typedef struct {
	golem_vk_buf buf;
	VkCommandBuffer cb;
	VkFence fence;
	int busy;       // a submitted copy not yet waited for
	void *read_dst; // a read's destination, copied out by slot_wait
	uint64_t read_n;
} ring_slot;

struct golem_vk_dev {
	golem_vk_lib *lib;
	VkInstance instance;
	VkDebugUtilsMessengerEXT messenger; // validation only
	golem_vk_msgs *msgs;
	inst_fns fi;
	dev_fns f;
	VkPhysicalDevice pd;
	VkDevice device;
	VkQueue queue;
	uint32_t qfam;
	VkPhysicalDeviceMemoryProperties mem;
	int map_device_local; // device-local buffers are host-mapped (UMA, CPU devices)
	int force_unmapped;   // never map device-local buffers (tests)
	VkCommandPool pool;
	VkCommandBuffer xfer;
	VkFence xfer_fence;
	ring_slot ring[RING_SLOTS]; // staging ring (created on first use)
	uint32_t ring_made, ring_depth, ring_next;
	uint64_t submits; // queue submissions so far
};

static VkResult ensure_ring(golem_vk_dev *d);

struct golem_vk_prog {
	VkDescriptorPool pool;
	VkDescriptorSet *sets;
	uint32_t nsets;
	VkCommandBuffer cb;
	VkFence fence;
	VkQueryPool queries;
	uint32_t nqueries;
};

#define SMALL_MAPPED_BYTES (64u << 10)

golem_vk_lib *golem_vk_open(const char *path, char *err, size_t errlen) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return NULL;
	}
	golem_vk_lib *lib = calloc(1, sizeof *lib);
	if (lib == NULL) {
		dlclose(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lib->handle = h;
	*(void **)(&lib->gipa) = dlsym(h, "vkGetInstanceProcAddr");
	if (lib->gipa == NULL) {
		snprintf(err, errlen, "%s: symbol vkGetInstanceProcAddr not found", path);
		golem_vk_close(lib);
		return NULL;
	}
	return lib;
}

void golem_vk_close(golem_vk_lib *lib) {
	if (lib == NULL) {
		return;
	}
	if (lib->handle != NULL) {
		dlclose(lib->handle);
	}
	free(lib);
}

// has_ext reports whether name is among the device's extensions.
static int has_ext(const VkExtensionProperties *exts, uint32_t n, const char *name) {
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(exts[i].extensionName, name) == 0) {
			return 1;
		}
	}
	return 0;
}

// on_message is the VK_EXT_debug_utils callback of validated devices: it
// counts the message and keeps the first GOLEM_VK_MAX_MESSAGES.
static VKAPI_ATTR VkBool32 VKAPI_CALL on_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                  VkDebugUtilsMessageTypeFlagsEXT types,
                                                  const VkDebugUtilsMessengerCallbackDataEXT *data, void *user) {
	(void)types;
	golem_vk_msgs *m = user;
	if (m->count < GOLEM_VK_MAX_MESSAGES) {
		const char *sev = severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning";
		snprintf(m->text[m->count], GOLEM_VK_MESSAGE_BYTES, "%s: %s", sev,
		         data != NULL && data->pMessage != NULL ? data->pMessage : "(no message)");
	}
	m->count++;
	return VK_FALSE;
}

// messenger_info describes the messenger of validated devices.
static VkDebugUtilsMessengerCreateInfoEXT messenger_info(golem_vk_msgs *msgs) {
	VkDebugUtilsMessengerCreateInfoEXT mi = {
		.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
		.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
		.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
		               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
		.pfnUserCallback = on_message,
		.pUserData = msgs,
	};
	return mi;
}

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

// layer_has reports whether the validation layer is installed and offers
// extension ext.
static int layer_has(PFN_vkGetInstanceProcAddr gipa, const char *ext) {
	PFN_vkEnumerateInstanceExtensionProperties enumExt =
		(PFN_vkEnumerateInstanceExtensionProperties)gipa(NULL, "vkEnumerateInstanceExtensionProperties");
	if (enumExt == NULL) {
		return 0;
	}
	uint32_t n = 0;
	if (enumExt(VALIDATION_LAYER, &n, NULL) != VK_SUCCESS || n == 0) {
		return 0;
	}
	VkExtensionProperties *props = calloc(n, sizeof *props);
	if (props == NULL) {
		return 0;
	}
	int found = 0;
	if (enumExt(VALIDATION_LAYER, &n, props) == VK_SUCCESS) {
		found = has_ext(props, n, ext);
	}
	free(props);
	return found;
}

// make_instance creates an instance (Vulkan 1.3 when the loader has it, else
// 1.2) and loads its entry points. With msgs, the validation layer is
// enabled with synchronization validation and messages go to msgs (also
// those of instance creation and destruction). On failure it sets why and
// returns NULL.
static VkInstance make_instance(golem_vk_lib *lib, inst_fns *fi, golem_vk_probe_result *why, golem_vk_msgs *msgs) {
	PFN_vkGetInstanceProcAddr gipa = lib->gipa;
	PFN_vkEnumerateInstanceVersion enumVersion =
		(PFN_vkEnumerateInstanceVersion)gipa(NULL, "vkEnumerateInstanceVersion");
	if (enumVersion == NULL) {
		why->stage = GOLEM_VK_LOADER_1_0;
		why->loader_version = VK_API_VERSION_1_0;
		return NULL;
	}
	enumVersion(&why->loader_version);
	PFN_vkCreateInstance createInstance = (PFN_vkCreateInstance)gipa(NULL, "vkCreateInstance");
	if (createInstance == NULL) {
		why->stage = GOLEM_VK_MISSING_FUNCTION;
		why->function = "vkCreateInstance";
		return NULL;
	}
	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "golem",
		.pEngineName = "golem",
		.apiVersion = why->loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : VK_API_VERSION_1_2,
	};
	VkInstanceCreateInfo info = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	const char *layers[1] = {VALIDATION_LAYER};
	const char *exts[2] = {"VK_EXT_debug_utils", "VK_EXT_validation_features"};
	VkValidationFeatureEnableEXT enables[1] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
	VkValidationFeaturesEXT vf = {
		.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
		.enabledValidationFeatureCount = 1,
		.pEnabledValidationFeatures = enables,
	};
	VkDebugUtilsMessengerCreateInfoEXT mi;
	if (msgs != NULL) {
		if (!layer_has(gipa, exts[0]) || !layer_has(gipa, exts[1])) {
			why->stage = GOLEM_VK_NO_VALIDATION;
			return NULL;
		}
		mi = messenger_info(msgs);
		mi.pNext = &vf;
		info.pNext = &mi;
		info.enabledLayerCount = 1;
		info.ppEnabledLayerNames = layers;
		info.enabledExtensionCount = 2;
		info.ppEnabledExtensionNames = exts;
	}
	VkInstance instance = NULL;
	why->result = createInstance(&info, NULL, &instance);
	if (why->result != VK_SUCCESS) {
		why->stage = GOLEM_VK_CREATE_INSTANCE;
		why->function = "vkCreateInstance";
		return NULL;
	}
#define ILOAD(name, required)                                           \
	fi->name = (PFN_vk##name)gipa(instance, "vk" #name);                 \
	if (fi->name == NULL && (required)) {                                \
		why->stage = GOLEM_VK_MISSING_FUNCTION;                          \
		why->function = "vk" #name;                                      \
		goto fail;                                                       \
	}
	ILOAD(DestroyInstance, 1);
	ILOAD(EnumeratePhysicalDevices, 1);
	ILOAD(GetPhysicalDeviceProperties, 1);
	ILOAD(GetPhysicalDeviceMemoryProperties, 1);
	ILOAD(GetPhysicalDeviceQueueFamilyProperties, 1);
	ILOAD(EnumerateDeviceExtensionProperties, 1);
	ILOAD(CreateDevice, 1);
	ILOAD(GetDeviceProcAddr, 1);
	// Optional: absent from instances that could not be made 1.1 or later.
	ILOAD(GetPhysicalDeviceProperties2, 0);
	ILOAD(GetPhysicalDeviceFeatures2, 0);
	fi->CoopMatProps = (golem_PFN_coopmat_props)gipa(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
	ILOAD(CreateDebugUtilsMessengerEXT, msgs != NULL);
	ILOAD(DestroyDebugUtilsMessengerEXT, msgs != NULL);
#undef ILOAD
	return instance;
fail:;
	PFN_vkDestroyInstance destroy = (PFN_vkDestroyInstance)gipa(instance, "vkDestroyInstance");
	if (destroy != NULL) {
		destroy(instance, NULL);
	}
	return NULL;
}

// device_exts returns the device's extensions (malloc'ed; *n set), or NULL.
static VkExtensionProperties *device_exts(inst_fns *fi, VkPhysicalDevice pd, uint32_t *n) {
	*n = 0;
	if (fi->EnumerateDeviceExtensionProperties(pd, NULL, n, NULL) != VK_SUCCESS || *n == 0) {
		*n = 0;
		return NULL;
	}
	VkExtensionProperties *exts = calloc(*n, sizeof *exts);
	if (exts == NULL) {
		*n = 0;
		return NULL;
	}
	if (fi->EnumerateDeviceExtensionProperties(pd, NULL, n, exts) < 0) {
		free(exts);
		*n = 0;
		return NULL;
	}
	return exts;
}

// describe fills *d for one physical device.
static void describe(inst_fns *fi, VkPhysicalDevice pd, golem_vk_device *d) {
	memset(d, 0, sizeof *d);
	VkPhysicalDeviceProperties props;
	memset(&props, 0, sizeof props);
	fi->GetPhysicalDeviceProperties(pd, &props);
	memcpy(d->name, props.deviceName, sizeof d->name);
	d->name[sizeof d->name - 1] = 0;
	d->api_version = props.apiVersion;
	d->driver_version = props.driverVersion;
	d->vendor_id = props.vendorID;
	d->device_id = props.deviceID;
	d->device_type = props.deviceType;
	const VkPhysicalDeviceLimits *lim = &props.limits;
	d->max_storage_buffer_range = lim->maxStorageBufferRange;
	d->min_storage_buffer_offset_alignment = lim->minStorageBufferOffsetAlignment;
	d->max_push_constants_size = lim->maxPushConstantsSize;
	d->max_storage_buffers = lim->maxPerStageDescriptorStorageBuffers;
	d->max_shared_memory = lim->maxComputeSharedMemorySize;
	d->max_invocations = lim->maxComputeWorkGroupInvocations;
	for (int i = 0; i < 3; i++) {
		d->max_workgroup_size[i] = lim->maxComputeWorkGroupSize[i];
		d->max_workgroup_count[i] = lim->maxComputeWorkGroupCount[i];
	}
	d->timestamp_period = lim->timestampPeriod;

	uint32_t next = 0;
	VkExtensionProperties *exts = device_exts(fi, pd, &next);
	int v11 = props.apiVersion >= VK_API_VERSION_1_1 && fi->GetPhysicalDeviceProperties2 != NULL;
	int v12 = v11 && props.apiVersion >= VK_API_VERSION_1_2;
	int v13 = v12 && props.apiVersion >= VK_API_VERSION_1_3;
	int ext_size = has_ext(exts, next, "VK_EXT_subgroup_size_control");
	int ext_dot = has_ext(exts, next, "VK_KHR_shader_integer_dot_product");
	d->f_coopmat = has_ext(exts, next, "VK_KHR_cooperative_matrix");
	d->f_bf16 = has_ext(exts, next, "VK_KHR_shader_bfloat16");

	// The device UUID (core 1.1), the driver name and 1.1 properties (core
	// 1.2), subgroup size range and buffer size (1.3): chain only what the
	// device supports.
	if (v11) {
		VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
		VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
		VkPhysicalDeviceVulkan11Properties p11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES};
		VkPhysicalDeviceVulkan13Properties p13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_PROPERTIES};
		VkPhysicalDeviceSubgroupSizeControlProperties psz = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
		VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
		void **tail = &p2.pNext;
		*tail = &id;
		tail = &id.pNext;
		if (v12) {
			*tail = &drv;
			tail = &drv.pNext;
			*tail = &p11;
			tail = &p11.pNext;
		}
		if (v13) {
			*tail = &p13;
			tail = &p13.pNext;
		} else if (v12 && ext_size) {
			*tail = &psz;
			tail = &psz.pNext;
		}
		fi->GetPhysicalDeviceProperties2(pd, &p2);
		d->has_uuid = 1;
		memcpy(d->device_uuid, id.deviceUUID, sizeof d->device_uuid);
		if (v12) {
			d->has_driver_props = 1;
			memcpy(d->driver_name, drv.driverName, sizeof d->driver_name);
			memcpy(d->driver_info, drv.driverInfo, sizeof d->driver_info);
			d->driver_name[sizeof d->driver_name - 1] = 0;
			d->driver_info[sizeof d->driver_info - 1] = 0;
			d->subgroup_size = p11.subgroupSize;
			d->min_subgroup_size = d->max_subgroup_size = p11.subgroupSize;
			if (p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) {
				d->subgroup_ops = p11.subgroupSupportedOperations;
			}
			d->max_allocation = p11.maxMemoryAllocationSize;
		}
		if (v13) {
			d->min_subgroup_size = p13.minSubgroupSize;
			d->max_subgroup_size = p13.maxSubgroupSize;
			d->max_buffer_size = p13.maxBufferSize;
		} else if (v12 && ext_size) {
			d->min_subgroup_size = psz.minSubgroupSize;
			d->max_subgroup_size = psz.maxSubgroupSize;
		}
	}

	if (v12 && fi->GetPhysicalDeviceFeatures2 != NULL) {
		VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
		VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
		VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
		VkPhysicalDeviceSubgroupSizeControlFeatures fsz = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
		VkPhysicalDeviceShaderIntegerDotProductFeatures fdot = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
		golem_coopmat_features fcm = {.sType = GOLEM_STYPE_COOPMAT_FEATURES};
		VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
		f2.pNext = &f11;
		f11.pNext = &f12;
		void **tail = &f12.pNext;
		if (v13) {
			*tail = &f13;
			tail = &f13.pNext;
		} else {
			if (ext_size) {
				*tail = &fsz;
				tail = &fsz.pNext;
			}
			if (ext_dot) {
				*tail = &fdot;
				tail = &fdot.pNext;
			}
		}
		if (d->f_coopmat) {
			*tail = &fcm;
			tail = &fcm.pNext;
		}
		fi->GetPhysicalDeviceFeatures2(pd, &f2);
		d->f_int16 = f2.features.shaderInt16;
		d->f_int64 = f2.features.shaderInt64;
		d->f_float64 = f2.features.shaderFloat64;
		d->f_storage16 = f11.storageBuffer16BitAccess;
		d->f_storage8 = f12.storageBuffer8BitAccess;
		d->f_float16 = f12.shaderFloat16;
		d->f_int8 = f12.shaderInt8;
		d->f_bda = f12.bufferDeviceAddress;
		d->f_vmm = f12.vulkanMemoryModel && f12.vulkanMemoryModelDeviceScope;
		if (v13) {
			d->f_size_control = f13.subgroupSizeControl && f13.computeFullSubgroups;
			d->f_int_dot = f13.shaderIntegerDotProduct;
		} else {
			d->f_size_control = ext_size && fsz.subgroupSizeControl && fsz.computeFullSubgroups;
			d->f_int_dot = ext_dot && fdot.shaderIntegerDotProduct;
		}
		d->f_coopmat = d->f_coopmat && fcm.cooperativeMatrix;
	}
	free(exts);
	if (d->f_coopmat && fi->CoopMatProps != NULL) {
		uint32_t n = 0;
		if (fi->CoopMatProps(pd, &n, NULL) == VK_SUCCESS && n > 0) {
			golem_coopmat_properties *ps = calloc(n, sizeof *ps);
			if (ps != NULL) {
				for (uint32_t i = 0; i < n; i++) {
					ps[i].sType = GOLEM_STYPE_COOPMAT_PROPERTIES;
				}
				VkResult r = fi->CoopMatProps(pd, &n, ps);
				if (r == VK_SUCCESS || r == VK_INCOMPLETE) {
					for (uint32_t i = 0; i < n && d->coopmat_count < GOLEM_VK_MAX_COOPMAT; i++) {
						golem_vk_coopmat *c = &d->coopmat[d->coopmat_count++];
						c->m = ps[i].MSize;
						c->n = ps[i].NSize;
						c->k = ps[i].KSize;
						c->a = ps[i].AType;
						c->b = ps[i].BType;
						c->c = ps[i].CType;
						c->result = ps[i].ResultType;
						c->scope = ps[i].scope;
					}
				}
				free(ps);
			}
		}
	}

	VkPhysicalDeviceMemoryProperties mem;
	memset(&mem, 0, sizeof mem);
	fi->GetPhysicalDeviceMemoryProperties(pd, &mem);
	for (uint32_t i = 0; i < mem.memoryHeapCount && i < VK_MAX_MEMORY_HEAPS; i++) {
		if ((mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
		    mem.memoryHeaps[i].size > d->device_local_bytes) {
			d->device_local_bytes = mem.memoryHeaps[i].size;
		}
	}
	const VkMemoryPropertyFlags uma = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
	                                  VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	for (uint32_t i = 0; i < mem.memoryTypeCount && i < VK_MAX_MEMORY_TYPES; i++) {
		if ((mem.memoryTypes[i].propertyFlags & uma) == uma) {
			d->uma = 1;
		}
	}

	d->compute_queue_family = -1;
	uint32_t nq = 0;
	fi->GetPhysicalDeviceQueueFamilyProperties(pd, &nq, NULL);
	VkQueueFamilyProperties *qs = nq ? calloc(nq, sizeof *qs) : NULL;
	if (qs != NULL) {
		fi->GetPhysicalDeviceQueueFamilyProperties(pd, &nq, qs);
		// Prefer a compute queue without graphics (dedicated compute), else any.
		for (int pass = 0; pass < 2 && d->compute_queue_family < 0; pass++) {
			for (uint32_t i = 0; i < nq; i++) {
				VkQueueFlags fl = qs[i].queueFlags;
				if (!(fl & VK_QUEUE_COMPUTE_BIT) || qs[i].queueCount == 0) {
					continue;
				}
				if (pass == 0 && (fl & VK_QUEUE_GRAPHICS_BIT)) {
					continue;
				}
				d->compute_queue_family = (int)i;
				d->timestamp_valid_bits = qs[i].timestampValidBits;
				break;
			}
		}
		free(qs);
	}
}

void golem_vk_probe(golem_vk_lib *lib, golem_vk_probe_result *out) {
	memset(out, 0, sizeof *out);
	inst_fns fi;
	memset(&fi, 0, sizeof fi);
	VkInstance instance = make_instance(lib, &fi, out, NULL);
	if (instance == NULL) {
		return;
	}
	uint32_t count = 0;
	out->result = fi.EnumeratePhysicalDevices(instance, &count, NULL);
	if (out->result != VK_SUCCESS) {
		out->stage = GOLEM_VK_ENUMERATE;
		out->function = "vkEnumeratePhysicalDevices";
		goto done;
	}
	VkPhysicalDevice devices[GOLEM_VK_MAX_DEVICES];
	uint32_t n = count < GOLEM_VK_MAX_DEVICES ? count : GOLEM_VK_MAX_DEVICES;
	out->result = fi.EnumeratePhysicalDevices(instance, &n, devices);
	if (out->result != VK_SUCCESS && out->result != VK_INCOMPLETE) {
		out->stage = GOLEM_VK_ENUMERATE;
		out->function = "vkEnumeratePhysicalDevices";
		goto done;
	}
	out->result = VK_SUCCESS;
	out->count = n;
	for (uint32_t i = 0; i < n; i++) {
		describe(&fi, devices[i], &out->devices[i]);
	}
done:
	fi.DestroyInstance(instance, NULL);
}

// ---- devices --------------------------------------------------------------

static int load_device_fns(golem_vk_dev *d, golem_vk_probe_result *why) {
#define DLOAD(name)                                                              \
	d->f.name = (PFN_vk##name)d->fi.GetDeviceProcAddr(d->device, "vk" #name);    \
	if (d->f.name == NULL) {                                                     \
		why->stage = GOLEM_VK_MISSING_FUNCTION;                                  \
		why->function = "vk" #name;                                              \
		return 0;                                                                \
	}
	DLOAD(DestroyDevice);
	DLOAD(GetDeviceQueue);
	DLOAD(DeviceWaitIdle);
	DLOAD(CreateBuffer);
	DLOAD(DestroyBuffer);
	DLOAD(GetBufferMemoryRequirements);
	DLOAD(AllocateMemory);
	DLOAD(FreeMemory);
	DLOAD(BindBufferMemory);
	DLOAD(MapMemory);
	DLOAD(UnmapMemory);
	DLOAD(CreateCommandPool);
	DLOAD(DestroyCommandPool);
	DLOAD(AllocateCommandBuffers);
	DLOAD(FreeCommandBuffers);
	DLOAD(BeginCommandBuffer);
	DLOAD(EndCommandBuffer);
	DLOAD(ResetCommandBuffer);
	DLOAD(CmdCopyBuffer);
	DLOAD(CmdFillBuffer);
	DLOAD(CmdPipelineBarrier);
	DLOAD(CmdBindPipeline);
	DLOAD(CmdBindDescriptorSets);
	DLOAD(CmdPushConstants);
	DLOAD(CmdDispatch);
	DLOAD(CmdWriteTimestamp);
	DLOAD(CmdResetQueryPool);
	DLOAD(QueueSubmit);
	DLOAD(CreateFence);
	DLOAD(DestroyFence);
	DLOAD(ResetFences);
	DLOAD(WaitForFences);
	DLOAD(CreateShaderModule);
	DLOAD(DestroyShaderModule);
	DLOAD(CreateDescriptorSetLayout);
	DLOAD(DestroyDescriptorSetLayout);
	DLOAD(CreatePipelineLayout);
	DLOAD(DestroyPipelineLayout);
	DLOAD(CreateComputePipelines);
	DLOAD(DestroyPipeline);
	DLOAD(CreateDescriptorPool);
	DLOAD(DestroyDescriptorPool);
	DLOAD(AllocateDescriptorSets);
	DLOAD(UpdateDescriptorSets);
	DLOAD(CreateQueryPool);
	DLOAD(DestroyQueryPool);
	DLOAD(GetQueryPoolResults);
#undef DLOAD
	return 1;
}

#define SETUP(call, name)                          \
	do {                                           \
		why->result = (call);                      \
		if (why->result != VK_SUCCESS) {           \
			why->stage = GOLEM_VK_SETUP;           \
			why->function = name;                  \
			goto fail;                             \
		}                                          \
	} while (0)

golem_vk_dev *golem_vk_dev_create(golem_vk_lib *lib, uint32_t index, golem_vk_device *info,
                                  golem_vk_probe_result *why, golem_vk_msgs *msgs) {
	memset(why, 0, sizeof *why);
	golem_vk_dev *d = calloc(1, sizeof *d);
	if (d == NULL) {
		why->stage = GOLEM_VK_SETUP;
		why->result = VK_ERROR_OUT_OF_HOST_MEMORY;
		why->function = "calloc";
		return NULL;
	}
	d->lib = lib;
	d->msgs = msgs;
	d->instance = make_instance(lib, &d->fi, why, msgs);
	if (d->instance == NULL) {
		free(d);
		return NULL;
	}
	if (msgs != NULL) {
		VkDebugUtilsMessengerCreateInfoEXT mi = messenger_info(msgs);
		why->result = d->fi.CreateDebugUtilsMessengerEXT(d->instance, &mi, NULL, &d->messenger);
		if (why->result != VK_SUCCESS) {
			why->stage = GOLEM_VK_SETUP;
			why->function = "vkCreateDebugUtilsMessengerEXT";
			d->messenger = VK_NULL_HANDLE;
			goto fail;
		}
	}
	{
		uint32_t count = 0;
		why->result = d->fi.EnumeratePhysicalDevices(d->instance, &count, NULL);
		if (why->result != VK_SUCCESS) {
			why->stage = GOLEM_VK_ENUMERATE;
			why->function = "vkEnumeratePhysicalDevices";
			goto fail;
		}
		VkPhysicalDevice devices[GOLEM_VK_MAX_DEVICES];
		uint32_t n = count < GOLEM_VK_MAX_DEVICES ? count : GOLEM_VK_MAX_DEVICES;
		why->result = d->fi.EnumeratePhysicalDevices(d->instance, &n, devices);
		if (why->result != VK_SUCCESS && why->result != VK_INCOMPLETE) {
			why->stage = GOLEM_VK_ENUMERATE;
			why->function = "vkEnumeratePhysicalDevices";
			goto fail;
		}
		why->result = VK_SUCCESS;
		if (index >= n) {
			why->stage = GOLEM_VK_NO_DEVICE;
			goto fail;
		}
		d->pd = devices[index];
	}
	describe(&d->fi, d->pd, info);
	if (info->compute_queue_family < 0) {
		why->stage = GOLEM_VK_NO_QUEUE;
		goto fail;
	}
	d->qfam = (uint32_t)info->compute_queue_family;
	d->fi.GetPhysicalDeviceMemoryProperties(d->pd, &d->mem);
	d->map_device_local = info->uma && (info->device_type == VK_PHYSICAL_DEVICE_TYPE_CPU ||
	                                     info->device_type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU);

	{
		int v13 = info->api_version >= VK_API_VERSION_1_3;
		const char *exts[4];
		uint32_t next = 0;
		float prio = 1.0f;
		VkDeviceQueueCreateInfo qi = {
			.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
			.queueFamilyIndex = d->qfam,
			.queueCount = 1,
			.pQueuePriorities = &prio,
		};
		VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
		VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
		VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
		VkPhysicalDeviceSubgroupSizeControlFeatures fsz = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
		VkPhysicalDeviceShaderIntegerDotProductFeatures fdot = {
			.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
		golem_coopmat_features fcm = {.sType = GOLEM_STYPE_COOPMAT_FEATURES};
		VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
		f2.features.shaderInt16 = info->f_int16;
		f2.features.shaderInt64 = info->f_int64;
		f2.features.shaderFloat64 = info->f_float64;
		f11.storageBuffer16BitAccess = info->f_storage16;
		f12.storageBuffer8BitAccess = info->f_storage8;
		f12.shaderFloat16 = info->f_float16;
		f12.shaderInt8 = info->f_int8;
		f12.bufferDeviceAddress = info->f_bda;
		f12.vulkanMemoryModel = info->f_vmm;
		f12.vulkanMemoryModelDeviceScope = info->f_vmm;
		f2.pNext = &f11;
		f11.pNext = &f12;
		void **tail = &f12.pNext;
		if (v13) {
			f13.subgroupSizeControl = info->f_size_control;
			f13.computeFullSubgroups = info->f_size_control;
			f13.shaderIntegerDotProduct = info->f_int_dot;
			*tail = &f13;
			tail = &f13.pNext;
		} else {
			if (info->f_size_control) {
				fsz.subgroupSizeControl = VK_TRUE;
				fsz.computeFullSubgroups = VK_TRUE;
				exts[next++] = "VK_EXT_subgroup_size_control";
				*tail = &fsz;
				tail = &fsz.pNext;
			}
			if (info->f_int_dot) {
				fdot.shaderIntegerDotProduct = VK_TRUE;
				exts[next++] = "VK_KHR_shader_integer_dot_product";
				*tail = &fdot;
				tail = &fdot.pNext;
			}
		}
		if (info->f_coopmat) {
			fcm.cooperativeMatrix = VK_TRUE;
			exts[next++] = "VK_KHR_cooperative_matrix";
			*tail = &fcm;
			tail = &fcm.pNext;
		}
		VkDeviceCreateInfo ci = {
			.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
			.pNext = &f2,
			.queueCreateInfoCount = 1,
			.pQueueCreateInfos = &qi,
			.enabledExtensionCount = next,
			.ppEnabledExtensionNames = exts,
		};
		why->result = d->fi.CreateDevice(d->pd, &ci, NULL, &d->device);
		if (why->result != VK_SUCCESS) {
			d->device = NULL;
			why->stage = GOLEM_VK_CREATE_DEVICE;
			why->function = "vkCreateDevice";
			goto fail;
		}
	}
	if (!load_device_fns(d, why)) {
		goto fail;
	}
	d->f.GetDeviceQueue(d->device, d->qfam, 0, &d->queue);
	{
		VkCommandPoolCreateInfo pi = {
			.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
			.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
			.queueFamilyIndex = d->qfam,
		};
		SETUP(d->f.CreateCommandPool(d->device, &pi, NULL, &d->pool), "vkCreateCommandPool");
		VkCommandBufferAllocateInfo ai = {
			.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
			.commandPool = d->pool,
			.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
			.commandBufferCount = 1,
		};
		SETUP(d->f.AllocateCommandBuffers(d->device, &ai, &d->xfer), "vkAllocateCommandBuffers");
		VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
		SETUP(d->f.CreateFence(d->device, &fi, NULL, &d->xfer_fence), "vkCreateFence");
	}
	return d;
fail:
	golem_vk_dev_destroy(d);
	return NULL;
}
#undef SETUP

void golem_vk_dev_destroy(golem_vk_dev *d) {
	if (d == NULL) {
		return;
	}
	if (d->device != NULL) {
		if (d->f.DeviceWaitIdle != NULL) {
			d->f.DeviceWaitIdle(d->device);
		}
		for (uint32_t i = 0; i < d->ring_made; i++) {
			ring_slot *rs = &d->ring[i];
			rs->busy = 0;
			rs->read_dst = NULL;
			golem_vk_buf_destroy(d, &rs->buf);
			d->f.DestroyFence(d->device, rs->fence, NULL);
			d->f.FreeCommandBuffers(d->device, d->pool, 1, &rs->cb);
		}
		d->ring_made = 0;
		if (d->xfer_fence != VK_NULL_HANDLE) {
			d->f.DestroyFence(d->device, d->xfer_fence, NULL);
		}
		if (d->pool != VK_NULL_HANDLE) {
			d->f.DestroyCommandPool(d->device, d->pool, NULL);
		}
		if (d->f.DestroyDevice != NULL) {
			d->f.DestroyDevice(d->device, NULL);
		} else {
			PFN_vkDestroyDevice destroy = (PFN_vkDestroyDevice)d->fi.GetDeviceProcAddr(d->device, "vkDestroyDevice");
			if (destroy != NULL) {
				destroy(d->device, NULL);
			}
		}
	}
	if (d->instance != NULL) {
		if (d->messenger != VK_NULL_HANDLE) {
			d->fi.DestroyDebugUtilsMessengerEXT(d->instance, d->messenger, NULL);
		}
		d->fi.DestroyInstance(d->instance, NULL);
	}
	free(d);
}

void golem_vk_dev_invalid_call(golem_vk_dev *d) {
	VkBufferCreateInfo bi = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = 0,
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkBuffer buf = VK_NULL_HANDLE;
	if (d->f.CreateBuffer(d->device, &bi, NULL, &buf) == VK_SUCCESS && buf != VK_NULL_HANDLE) {
		d->f.DestroyBuffer(d->device, buf, NULL);
	}
}

VkResult golem_vk_dev_force_staging(golem_vk_dev *d) {
	d->map_device_local = 0;
	d->force_unmapped = 1;
	return ensure_ring(d);
}

// ---- buffers --------------------------------------------------------------

// find_type returns a memory type allowed by bits with every required flag,
// preferring one with every preferred flag; -1 when none.
static int find_type(golem_vk_dev *d, uint32_t bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) {
	int fallback = -1;
	for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++) {
		if (!(bits & (1u << i))) {
			continue;
		}
		VkMemoryPropertyFlags f = d->mem.memoryTypes[i].propertyFlags;
		if ((f & required) != required) {
			continue;
		}
		if ((f & preferred) == preferred) {
			return (int)i;
		}
		if (fallback < 0) {
			fallback = (int)i;
		}
	}
	return fallback;
}

// usage is every buffer's usage: storage, and both ends of copies.
#define BUFFER_USAGE \
	(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT)

VkResult golem_vk_buf_new(golem_vk_dev *d, uint64_t size, golem_vk_buf *out, uint64_t *req_size, uint64_t *req_align,
                          uint32_t *type_bits) {
	memset(out, 0, sizeof *out);
	size = (size + 15) & ~(uint64_t)15;
	if (size == 0) {
		size = 16;
	}
	VkBufferCreateInfo bi = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = size,
		.usage = BUFFER_USAGE,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkResult r = d->f.CreateBuffer(d->device, &bi, NULL, &out->buffer);
	if (r != VK_SUCCESS) {
		out->buffer = VK_NULL_HANDLE;
		return r;
	}
	VkMemoryRequirements req;
	d->f.GetBufferMemoryRequirements(d->device, out->buffer, &req);
	out->size = size;
	*req_size = req.size;
	*req_align = req.alignment;
	*type_bits = req.memoryTypeBits;
	return VK_SUCCESS;
}

int golem_vk_mem_type(golem_vk_dev *d, uint32_t bits, int host, uint64_t size, int *map) {
	const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
	                            HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT, CA = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
	int type = -1;
	switch (host) {
	case 0:
		// Mapped device-local memory: always on UMA devices; on discrete GPUs
		// for small buffers (token ids, positions), which then need no
		// staging round trip per write.
		if (d->map_device_local || (!d->force_unmapped && size <= SMALL_MAPPED_BYTES)) {
			type = find_type(d, bits, DL | HV | HC, DL | HV | HC | CA);
		}
		if (type < 0) {
			type = find_type(d, bits, DL, DL);
		}
		break;
	case 1:
		type = find_type(d, bits, HV | HC, HV | HC | DL);
		break;
	case 2:
		type = find_type(d, bits, HV | HC, HV | HC | CA);
		break;
	default: // 3: device-local, never the host-visible heap (the fallback of 0)
		type = find_type(d, bits, DL, DL);
		if (type >= 0 && (d->mem.memoryTypes[type].propertyFlags & HV) && !d->map_device_local) {
			for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++) {
				VkMemoryPropertyFlags f = d->mem.memoryTypes[i].propertyFlags;
				if ((bits & (1u << i)) && (f & DL) && !(f & HV)) {
					type = (int)i;
					break;
				}
			}
		}
		break;
	}
	if (type < 0) {
		type = find_type(d, bits, 0, 0);
	}
	*map = 0;
	if (type >= 0) {
		VkMemoryPropertyFlags f = d->mem.memoryTypes[type].propertyFlags;
		*map = (f & (HV | HC)) == (HV | HC) && !((host == 0 || host == 3) && d->force_unmapped);
	}
	return type;
}

VkResult golem_vk_mem_alloc(golem_vk_dev *d, uint32_t type, uint64_t size, int map, golem_vk_mem *out) {
	memset(out, 0, sizeof *out);
	VkMemoryAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
		.allocationSize = size,
		.memoryTypeIndex = type,
	};
	VkResult r = d->f.AllocateMemory(d->device, &ai, NULL, &out->memory);
	if (r != VK_SUCCESS) {
		out->memory = VK_NULL_HANDLE;
		return r;
	}
	if (map) {
		r = d->f.MapMemory(d->device, out->memory, 0, VK_WHOLE_SIZE, 0, &out->map);
		if (r != VK_SUCCESS) {
			d->f.FreeMemory(d->device, out->memory, NULL);
			memset(out, 0, sizeof *out);
			return r;
		}
	}
	out->size = size;
	out->type = type;
	return VK_SUCCESS;
}

void golem_vk_mem_free(golem_vk_dev *d, golem_vk_mem *m) {
	if (m->map != NULL) {
		d->f.UnmapMemory(d->device, m->memory);
	}
	if (m->memory != VK_NULL_HANDLE) {
		d->f.FreeMemory(d->device, m->memory, NULL);
	}
	memset(m, 0, sizeof *m);
}

VkResult golem_vk_buf_bind(golem_vk_dev *d, golem_vk_buf *b, const golem_vk_mem *m, uint64_t off) {
	VkResult r = d->f.BindBufferMemory(d->device, b->buffer, m->memory, off);
	if (r != VK_SUCCESS) {
		return r;
	}
	b->memory = m->memory;
	b->owns_memory = 0;
	if (m->map != NULL) {
		b->map = (char *)m->map + off;
		b->coherent = 1;
	}
	return VK_SUCCESS;
}

VkResult golem_vk_buf_create(golem_vk_dev *d, uint64_t size, int host, golem_vk_buf *out) {
	uint64_t req_size, req_align;
	uint32_t bits;
	VkResult r = golem_vk_buf_new(d, size, out, &req_size, &req_align, &bits);
	if (r != VK_SUCCESS) {
		return r;
	}
	int map = 0;
	int type = golem_vk_mem_type(d, bits, host, out->size, &map);
	if (type < 0) {
		golem_vk_buf_destroy(d, out);
		return VK_ERROR_FEATURE_NOT_PRESENT;
	}
	golem_vk_mem m;
	r = golem_vk_mem_alloc(d, (uint32_t)type, req_size, map, &m);
	if (r != VK_SUCCESS && host == 0) {
		// The small host-visible device-local heap (a PCIe BAR) may be full.
		int plain = golem_vk_mem_type(d, bits, 3, out->size, &map);
		if (plain >= 0 && plain != type) {
			r = golem_vk_mem_alloc(d, (uint32_t)plain, req_size, map, &m);
		}
	}
	if (r != VK_SUCCESS) {
		golem_vk_buf_destroy(d, out);
		return r;
	}
	if ((r = golem_vk_buf_bind(d, out, &m, 0)) != VK_SUCCESS) {
		golem_vk_mem_free(d, &m);
		golem_vk_buf_destroy(d, out);
		return r;
	}
	out->owns_memory = 1;
	return VK_SUCCESS;
}

void golem_vk_buf_destroy(golem_vk_dev *d, golem_vk_buf *b) {
	// A staged upload may still read or write the buffer.
	golem_vk_dev_wait_transfers(d);
	if (b->owns_memory && b->map != NULL) {
		d->f.UnmapMemory(d->device, b->memory);
	}
	b->map = NULL;
	if (b->buffer != VK_NULL_HANDLE) {
		d->f.DestroyBuffer(d->device, b->buffer, NULL);
		b->buffer = VK_NULL_HANDLE;
	}
	if (b->owns_memory && b->memory != VK_NULL_HANDLE) {
		d->f.FreeMemory(d->device, b->memory, NULL);
	}
	b->memory = VK_NULL_HANDLE;
	b->owns_memory = 0;
}

// barrier records a global memory barrier.
static void barrier(golem_vk_dev *d, VkCommandBuffer cb, VkPipelineStageFlags src, VkAccessFlags srcAccess,
                    VkPipelineStageFlags dst, VkAccessFlags dstAccess) {
	VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = srcAccess,
		.dstAccessMask = dstAccess,
	};
	d->f.CmdPipelineBarrier(cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

// record_copy records into cb a copy of n bytes between two buffers (with
// src VK_NULL_HANDLE: a fill of the destination range with zeros) between
// barriers that order it after every earlier host, transfer and shader
// write and make it visible to later ones.
static VkResult record_copy(golem_vk_dev *d, VkCommandBuffer cb, VkBuffer src, uint64_t soff, VkBuffer dst,
                            uint64_t doff, uint64_t n) {
	VkResult r = d->f.ResetCommandBuffer(cb, 0);
	if (r != VK_SUCCESS) {
		return r;
	}
	VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
		.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
	};
	if ((r = d->f.BeginCommandBuffer(cb, &bi)) != VK_SUCCESS) {
		return r;
	}
	barrier(d, cb, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
	        VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
	        VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
	if (src == VK_NULL_HANDLE) {
		d->f.CmdFillBuffer(cb, dst, doff, n, 0);
	} else {
		VkBufferCopy region = {.srcOffset = soff, .dstOffset = doff, .size = n};
		d->f.CmdCopyBuffer(cb, src, dst, 1, &region);
	}
	barrier(d, cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
	        VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
	        VK_ACCESS_HOST_READ_BIT | VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
	            VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
	return d->f.EndCommandBuffer(cb);
}

// submit submits cb signalling fence (reset first).
static VkResult submit(golem_vk_dev *d, VkCommandBuffer cb, VkFence fence) {
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &cb,
	};
	VkResult r = d->f.ResetFences(d->device, 1, &fence);
	if (r != VK_SUCCESS) {
		return r;
	}
	if ((r = d->f.QueueSubmit(d->queue, 1, &si, fence)) == VK_SUCCESS) {
		d->submits++;
	}
	return r;
}

// copy_once copies n bytes between two buffers on the device and waits;
// with src VK_NULL_HANDLE it fills the destination range with zeros.
static VkResult copy_once(golem_vk_dev *d, VkBuffer src, uint64_t soff, VkBuffer dst, uint64_t doff, uint64_t n) {
	VkResult r = record_copy(d, d->xfer, src, soff, dst, doff, n);
	if (r == VK_SUCCESS) {
		r = submit(d, d->xfer, d->xfer_fence);
	}
	if (r != VK_SUCCESS) {
		return r;
	}
	return d->f.WaitForFences(d->device, 1, &d->xfer_fence, VK_TRUE, UINT64_MAX);
}

// ---- the staging ring -----------------------------------------------------

// ensure_ring creates the ring's slots: host-visible buffers of
// RING_BYTES, each with its command buffer and fence.
static VkResult ensure_ring(golem_vk_dev *d) {
	for (; d->ring_made < RING_SLOTS; d->ring_made++) {
		ring_slot *s = &d->ring[d->ring_made];
		VkResult r = golem_vk_buf_create(d, RING_BYTES, 2, &s->buf);
		if (r != VK_SUCCESS) {
			return r;
		}
		VkCommandBufferAllocateInfo ai = {
			.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
			.commandPool = d->pool,
			.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
			.commandBufferCount = 1,
		};
		if ((r = d->f.AllocateCommandBuffers(d->device, &ai, &s->cb)) != VK_SUCCESS) {
			s->cb = NULL;
			golem_vk_buf_destroy(d, &s->buf);
			return r;
		}
		VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
		if ((r = d->f.CreateFence(d->device, &fi, NULL, &s->fence)) != VK_SUCCESS) {
			d->f.FreeCommandBuffers(d->device, d->pool, 1, &s->cb);
			golem_vk_buf_destroy(d, &s->buf);
			return r;
		}
	}
	if (d->ring_depth == 0 || d->ring_depth > RING_SLOTS) {
		d->ring_depth = RING_SLOTS;
	}
	return VK_SUCCESS;
}

// slot_wait waits for a slot's copy and finishes it: a read's bytes are
// copied out of the slot.
static VkResult slot_wait(golem_vk_dev *d, ring_slot *s) {
	if (!s->busy) {
		return VK_SUCCESS;
	}
	VkResult r = d->f.WaitForFences(d->device, 1, &s->fence, VK_TRUE, UINT64_MAX);
	if (r != VK_SUCCESS) {
		return r;
	}
	s->busy = 0;
	if (s->read_dst != NULL) {
		memcpy(s->read_dst, s->buf.map, s->read_n);
		s->read_dst = NULL;
	}
	return VK_SUCCESS;
}

VkResult golem_vk_dev_wait_transfers(golem_vk_dev *d) {
	VkResult out = VK_SUCCESS;
	for (uint32_t i = 0; i < d->ring_made; i++) {
		VkResult r = slot_wait(d, &d->ring[i]);
		if (r != VK_SUCCESS) {
			d->ring[i].busy = 0;
			d->ring[i].read_dst = NULL;
			out = r;
		}
	}
	return out;
}

// ring_copy copies one chunk through the next slot: for a write, src
// (host) into the slot and the slot into dst at off; for a read, b at off
// into the slot, and the slot into dst once the copy is done (slot_wait).
static VkResult ring_copy(golem_vk_dev *d, golem_vk_buf *b, uint64_t off, const void *src, void *dst, uint64_t n) {
	ring_slot *s = &d->ring[d->ring_next];
	d->ring_next = (d->ring_next + 1) % d->ring_depth;
	VkResult r = slot_wait(d, s);
	if (r != VK_SUCCESS) {
		return r;
	}
	if (src != NULL) {
		memcpy(s->buf.map, src, n);
		r = record_copy(d, s->cb, s->buf.buffer, 0, b->buffer, off, n);
	} else {
		r = record_copy(d, s->cb, b->buffer, off, s->buf.buffer, 0, n);
	}
	if (r == VK_SUCCESS) {
		r = submit(d, s->cb, s->fence);
	}
	if (r != VK_SUCCESS) {
		return r;
	}
	s->busy = 1;
	s->read_dst = dst;
	s->read_n = n;
	return VK_SUCCESS;
}

VkResult golem_vk_buf_write(golem_vk_dev *d, golem_vk_buf *b, uint64_t off, const void *src, uint64_t n) {
	if (b->map != NULL) {
		memcpy((char *)b->map + off, src, n);
		return VK_SUCCESS;
	}
	VkResult r = ensure_ring(d);
	if (r != VK_SUCCESS) {
		return r;
	}
	// The copy of chunk i runs while chunk i+1 is copied into the next
	// slot; the last copies finish later (the queue orders them before
	// anything submitted after, and freeing a buffer waits for them).
	const char *p = src;
	while (n > 0) {
		uint64_t c = n < RING_BYTES ? n : RING_BYTES;
		if ((r = ring_copy(d, b, off, p, NULL, c)) != VK_SUCCESS) {
			return r;
		}
		p += c;
		off += c;
		n -= c;
	}
	return VK_SUCCESS;
}

VkResult golem_vk_buf_read(golem_vk_dev *d, golem_vk_buf *b, uint64_t off, void *dst, uint64_t n) {
	if (b->map != NULL) {
		memcpy(dst, (const char *)b->map + off, n);
		return VK_SUCCESS;
	}
	VkResult r = ensure_ring(d);
	if (r != VK_SUCCESS) {
		return r;
	}
	char *o = dst;
	while (n > 0) {
		uint64_t c = n < RING_BYTES ? n : RING_BYTES;
		if ((r = ring_copy(d, b, off, NULL, o, c)) != VK_SUCCESS) {
			golem_vk_dev_wait_transfers(d); // no slot may keep dst
			return r;
		}
		o += c;
		off += c;
		n -= c;
	}
	return golem_vk_dev_wait_transfers(d);
}

VkResult golem_vk_buf_zero(golem_vk_dev *d, golem_vk_buf *b, uint64_t off, uint64_t n) {
	if (b->map != NULL) {
		memset((char *)b->map + off, 0, n);
		return VK_SUCCESS;
	}
	return copy_once(d, VK_NULL_HANDLE, 0, b->buffer, off, n);
}

void golem_vk_dev_set_ring(golem_vk_dev *d, uint32_t depth) {
	golem_vk_dev_wait_transfers(d);
	d->ring_depth = depth < 1 ? 1 : depth > RING_SLOTS ? RING_SLOTS : depth;
	d->ring_next = 0;
}

uint64_t golem_vk_dev_submits(golem_vk_dev *d) { return d->submits; }

// ---- pipelines ------------------------------------------------------------

VkResult golem_vk_pipe_create(golem_vk_dev *d, const uint32_t *code, size_t code_bytes, uint32_t nbind,
                              uint32_t push_bytes, const uint32_t *spec_ids, const uint32_t *spec_vals,
                              uint32_t nspec, golem_vk_pipe *out) {
	memset(out, 0, sizeof *out);
	out->bindings = nbind;
	out->push_bytes = push_bytes;
	VkShaderModuleCreateInfo mi = {
		.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
		.codeSize = code_bytes,
		.pCode = code,
	};
	VkResult r = d->f.CreateShaderModule(d->device, &mi, NULL, &out->module);
	if (r != VK_SUCCESS) {
		goto fail;
	}
	VkDescriptorSetLayoutBinding *bs = nbind ? calloc(nbind, sizeof *bs) : NULL;
	if (nbind && bs == NULL) {
		r = VK_ERROR_OUT_OF_HOST_MEMORY;
		goto fail;
	}
	for (uint32_t i = 0; i < nbind; i++) {
		bs[i].binding = i;
		bs[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
		bs[i].descriptorCount = 1;
		bs[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
	}
	VkDescriptorSetLayoutCreateInfo li = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = nbind,
		.pBindings = bs,
	};
	r = d->f.CreateDescriptorSetLayout(d->device, &li, NULL, &out->set_layout);
	free(bs);
	if (r != VK_SUCCESS) {
		goto fail;
	}
	VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = push_bytes};
	VkPipelineLayoutCreateInfo pli = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1,
		.pSetLayouts = &out->set_layout,
		.pushConstantRangeCount = push_bytes ? 1 : 0,
		.pPushConstantRanges = push_bytes ? &pr : NULL,
	};
	r = d->f.CreatePipelineLayout(d->device, &pli, NULL, &out->layout);
	if (r != VK_SUCCESS) {
		goto fail;
	}
	VkSpecializationMapEntry *entries = nspec ? calloc(nspec, sizeof *entries) : NULL;
	if (nspec && entries == NULL) {
		r = VK_ERROR_OUT_OF_HOST_MEMORY;
		goto fail;
	}
	for (uint32_t i = 0; i < nspec; i++) {
		entries[i].constantID = spec_ids[i];
		entries[i].offset = 4 * i;
		entries[i].size = 4;
	}
	VkSpecializationInfo spec = {
		.mapEntryCount = nspec,
		.pMapEntries = entries,
		.dataSize = 4 * (size_t)nspec,
		.pData = spec_vals,
	};
	VkComputePipelineCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage =
			{
				.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
				.stage = VK_SHADER_STAGE_COMPUTE_BIT,
				.module = out->module,
				.pName = "main",
				.pSpecializationInfo = nspec ? &spec : NULL,
			},
		.layout = out->layout,
	};
	r = d->f.CreateComputePipelines(d->device, VK_NULL_HANDLE, 1, &ci, NULL, &out->pipeline);
	free(entries);
	if (r != VK_SUCCESS) {
		out->pipeline = VK_NULL_HANDLE;
		goto fail;
	}
	return VK_SUCCESS;
fail:
	golem_vk_pipe_destroy(d, out);
	return r;
}

void golem_vk_pipe_destroy(golem_vk_dev *d, golem_vk_pipe *p) {
	if (p->pipeline != VK_NULL_HANDLE) {
		d->f.DestroyPipeline(d->device, p->pipeline, NULL);
	}
	if (p->layout != VK_NULL_HANDLE) {
		d->f.DestroyPipelineLayout(d->device, p->layout, NULL);
	}
	if (p->set_layout != VK_NULL_HANDLE) {
		d->f.DestroyDescriptorSetLayout(d->device, p->set_layout, NULL);
	}
	if (p->module != VK_NULL_HANDLE) {
		d->f.DestroyShaderModule(d->device, p->module, NULL);
	}
	memset(p, 0, sizeof *p);
}

// ---- programs -------------------------------------------------------------

golem_vk_prog *golem_vk_prog_create(golem_vk_dev *d, const golem_vk_dispatch *ds, uint32_t nd, uint32_t nqueries,
                                    VkResult *res) {
	golem_vk_prog *p = calloc(1, sizeof *p);
	VkDescriptorSetLayout *layouts = NULL;
	if (p == NULL) {
		*res = VK_ERROR_OUT_OF_HOST_MEMORY;
		return NULL;
	}
	uint32_t ndesc = 0;
	for (uint32_t i = 0; i < nd; i++) {
		ndesc += ds[i].pipe->bindings;
	}
	VkResult r = VK_SUCCESS;
	if (nd > 0) {
		VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = ndesc ? ndesc : 1};
		VkDescriptorPoolCreateInfo pi = {
			.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
			.maxSets = nd,
			.poolSizeCount = 1,
			.pPoolSizes = &ps,
		};
		if ((r = d->f.CreateDescriptorPool(d->device, &pi, NULL, &p->pool)) != VK_SUCCESS) {
			goto fail;
		}
		p->sets = calloc(nd, sizeof *p->sets);
		layouts = calloc(nd, sizeof *layouts);
		if (p->sets == NULL || layouts == NULL) {
			r = VK_ERROR_OUT_OF_HOST_MEMORY;
			goto fail;
		}
		for (uint32_t i = 0; i < nd; i++) {
			layouts[i] = ds[i].pipe->set_layout;
		}
		VkDescriptorSetAllocateInfo ai = {
			.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
			.descriptorPool = p->pool,
			.descriptorSetCount = nd,
			.pSetLayouts = layouts,
		};
		if ((r = d->f.AllocateDescriptorSets(d->device, &ai, p->sets)) != VK_SUCCESS) {
			goto fail;
		}
		p->nsets = nd;
	}
	{
		VkCommandBufferAllocateInfo ai = {
			.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
			.commandPool = d->pool,
			.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
			.commandBufferCount = 1,
		};
		if ((r = d->f.AllocateCommandBuffers(d->device, &ai, &p->cb)) != VK_SUCCESS) {
			p->cb = NULL;
			goto fail;
		}
		VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
		if ((r = d->f.CreateFence(d->device, &fi, NULL, &p->fence)) != VK_SUCCESS) {
			goto fail;
		}
	}
	if (nqueries > 0) {
		VkQueryPoolCreateInfo qi = {
			.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
			.queryType = VK_QUERY_TYPE_TIMESTAMP,
			.queryCount = nqueries,
		};
		if ((r = d->f.CreateQueryPool(d->device, &qi, NULL, &p->queries)) != VK_SUCCESS) {
			goto fail;
		}
		p->nqueries = nqueries;
	}
	free(layouts);
	*res = VK_SUCCESS;
	return p;
fail:
	free(layouts);
	golem_vk_prog_destroy(d, p);
	*res = r;
	return NULL;
}

void golem_vk_prog_destroy(golem_vk_dev *d, golem_vk_prog *p) {
	if (p == NULL) {
		return;
	}
	if (p->queries != VK_NULL_HANDLE) {
		d->f.DestroyQueryPool(d->device, p->queries, NULL);
	}
	if (p->fence != VK_NULL_HANDLE) {
		d->f.DestroyFence(d->device, p->fence, NULL);
	}
	if (p->cb != NULL) {
		d->f.FreeCommandBuffers(d->device, d->pool, 1, &p->cb);
	}
	if (p->pool != VK_NULL_HANDLE) {
		d->f.DestroyDescriptorPool(d->device, p->pool, NULL);
	}
	free(p->sets);
	free(p);
}

// dispatch_barrier records the barrier before dispatch x: buffer memory
// barriers on its ranges (shader writes made visible to shader reads and
// writes), or an execution dependency alone.
static VkResult dispatch_barrier(golem_vk_dev *d, VkCommandBuffer cb, const golem_vk_dispatch *x,
                                 const golem_vk_binding *ranges) {
	VkBufferMemoryBarrier one[8];
	VkBufferMemoryBarrier *bb = one;
	if (x->nranges > 8) {
		bb = calloc(x->nranges, sizeof *bb);
		if (bb == NULL) {
			return VK_ERROR_OUT_OF_HOST_MEMORY;
		}
	}
	for (uint32_t k = 0; k < x->nranges; k++) {
		const golem_vk_binding *r = &ranges[x->first_range + k];
		bb[k] = (VkBufferMemoryBarrier){
			.sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
			.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
			.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
			.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
			.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
			.buffer = r->buffer,
			.offset = r->offset,
			.size = r->range,
		};
	}
	d->f.CmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 0, NULL,
	                        x->nranges, bb, 0, NULL);
	if (bb != one) {
		free(bb);
	}
	return VK_SUCCESS;
}

VkResult golem_vk_prog_record(golem_vk_dev *d, golem_vk_prog *p, const golem_vk_dispatch *ds, uint32_t nd,
                              const golem_vk_binding *bs, const uint32_t *words, const golem_vk_binding *ranges,
                              const golem_vk_binding *copies, uint32_t ncopies, uint32_t *barriers) {
	*barriers = 0;
	uint32_t ndesc = 0;
	for (uint32_t i = 0; i < nd; i++) {
		ndesc += ds[i].pipe->bindings;
	}
	if (ndesc > 0) {
		VkDescriptorBufferInfo *infos = calloc(ndesc, sizeof *infos);
		VkWriteDescriptorSet *writes = calloc(ndesc, sizeof *writes);
		if (infos == NULL || writes == NULL) {
			free(infos);
			free(writes);
			return VK_ERROR_OUT_OF_HOST_MEMORY;
		}
		uint32_t k = 0;
		for (uint32_t i = 0; i < nd; i++) {
			for (uint32_t j = 0; j < ds[i].pipe->bindings; j++, k++) {
				const golem_vk_binding *b = &bs[ds[i].first_binding + j];
				infos[k].buffer = b->buffer;
				infos[k].offset = b->offset;
				infos[k].range = b->range;
				writes[k].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
				writes[k].dstSet = p->sets[i];
				writes[k].dstBinding = j;
				writes[k].descriptorCount = 1;
				writes[k].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
				writes[k].pBufferInfo = &infos[k];
			}
		}
		d->f.UpdateDescriptorSets(d->device, ndesc, writes, 0, NULL);
		free(infos);
		free(writes);
	}
	VkResult r = d->f.ResetCommandBuffer(p->cb, 0);
	if (r != VK_SUCCESS) {
		return r;
	}
	VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
	if ((r = d->f.BeginCommandBuffer(p->cb, &bi)) != VK_SUCCESS) {
		return r;
	}
	// Earlier uploads (transfers, host writes) before the first dispatch.
	barrier(d, p->cb, VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
	        VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
	        VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
	if (p->nqueries > 0) {
		d->f.CmdResetQueryPool(p->cb, p->queries, 0, p->nqueries);
		d->f.CmdWriteTimestamp(p->cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, p->queries, 0);
	}
	VkPipeline bound = VK_NULL_HANDLE;
	for (uint32_t i = 0; i < nd; i++) {
		const golem_vk_dispatch *x = &ds[i];
		if (x->barrier) {
			if ((r = dispatch_barrier(d, p->cb, x, ranges)) != VK_SUCCESS) {
				return r;
			}
			(*barriers)++;
		}
		if (x->pipe->pipeline != bound) {
			d->f.CmdBindPipeline(p->cb, VK_PIPELINE_BIND_POINT_COMPUTE, x->pipe->pipeline);
			bound = x->pipe->pipeline;
		}
		d->f.CmdBindDescriptorSets(p->cb, VK_PIPELINE_BIND_POINT_COMPUTE, x->pipe->layout, 0, 1, &p->sets[i], 0, NULL);
		if (x->pipe->push_bytes > 0) {
			d->f.CmdPushConstants(p->cb, x->pipe->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, x->pipe->push_bytes,
			                      words + x->first_word);
		}
		d->f.CmdDispatch(p->cb, x->groups[0], x->groups[1], x->groups[2]);
		if (x->timestamp >= 0 && (uint32_t)x->timestamp < p->nqueries) {
			d->f.CmdWriteTimestamp(p->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, p->queries, (uint32_t)x->timestamp);
		}
	}
	// Results visible to the host and to later transfers (and later
	// programs' shaders: the next submission starts with its own barrier).
	barrier(d, p->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
	        VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
	        VK_ACCESS_HOST_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
	if (ncopies > 0) {
		// Outputs copied into their host-visible read-back buffers in the
		// same submission (golem_vk_buf_read then needs none).
		for (uint32_t k = 0; k < ncopies; k++) {
			const golem_vk_binding *src = &copies[2 * k], *dst = &copies[2 * k + 1];
			VkBufferCopy region = {.srcOffset = src->offset, .dstOffset = dst->offset, .size = src->range};
			d->f.CmdCopyBuffer(p->cb, src->buffer, dst->buffer, 1, &region);
		}
		barrier(d, p->cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_HOST_BIT,
		        VK_ACCESS_HOST_READ_BIT);
	}
	return d->f.EndCommandBuffer(p->cb);
}

VkResult golem_vk_prog_run(golem_vk_dev *d, golem_vk_prog *p, void *status, uint64_t status_bytes,
                           uint64_t timeout_ns, uint64_t *ticks) {
	if (status != NULL && status_bytes > 0) {
		memset(status, 0, status_bytes);
	}
	VkResult r = d->f.ResetFences(d->device, 1, &p->fence);
	if (r != VK_SUCCESS) {
		return r;
	}
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &p->cb,
	};
	if ((r = d->f.QueueSubmit(d->queue, 1, &si, p->fence)) != VK_SUCCESS) {
		return r;
	}
	d->submits++;
	if ((r = d->f.WaitForFences(d->device, 1, &p->fence, VK_TRUE, timeout_ns)) != VK_SUCCESS) {
		return r;
	}
	if (p->nqueries > 0 && ticks != NULL) {
		r = d->f.GetQueryPoolResults(d->device, p->queries, 0, p->nqueries, 8 * (size_t)p->nqueries, ticks, 8,
		                             VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
		if (r == VK_NOT_READY) {
			r = VK_SUCCESS;
		}
	}
	return r;
}
