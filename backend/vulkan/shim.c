//go:build cgo

// shim.c: dlopen()s the Vulkan loader and lists physical devices. See shim.h
// for why there is no vulkan.h here.

#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Entry points, declared by their C signatures (VKAPI_CALL is the default
// calling convention on the platforms golem builds for).
typedef void (*gvk_void_fn)(void);
typedef gvk_void_fn (*fn_vkGetInstanceProcAddr)(gvk_handle instance, const char *name);
typedef gvk_result (*fn_vkEnumerateInstanceVersion)(uint32_t *version);
typedef gvk_result (*fn_vkCreateInstance)(const gvk_instance_create_info *info, const void *allocator, gvk_handle *instance);
typedef void (*fn_vkDestroyInstance)(gvk_handle instance, const void *allocator);
typedef gvk_result (*fn_vkEnumeratePhysicalDevices)(gvk_handle instance, uint32_t *count, gvk_handle *devices);
typedef void (*fn_vkGetPhysicalDeviceProperties)(gvk_handle device, gvk_physical_device_properties *props);
typedef void (*fn_vkGetPhysicalDeviceProperties2)(gvk_handle device, gvk_physical_device_properties2 *props);
typedef void (*fn_vkGetPhysicalDeviceMemoryProperties)(gvk_handle device, gvk_physical_device_memory_properties *props);

struct golem_vk_lib {
	void *handle;
	fn_vkGetInstanceProcAddr getInstanceProcAddr;
};

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
	*(void **)(&lib->getInstanceProcAddr) = dlsym(h, "vkGetInstanceProcAddr");
	if (lib->getInstanceProcAddr == NULL) {
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

// describe fills *d for one physical device.
static void describe(gvk_handle pd, fn_vkGetPhysicalDeviceProperties getProps,
                     fn_vkGetPhysicalDeviceProperties2 getProps2,
                     fn_vkGetPhysicalDeviceMemoryProperties getMem, golem_vk_device *d) {
	gvk_physical_device_properties props;
	memset(&props, 0, sizeof props);
	getProps(pd, &props);
	memcpy(d->name, props.deviceName, sizeof d->name);
	d->name[sizeof d->name - 1] = 0;
	d->api_version = props.apiVersion;
	d->driver_version = props.driverVersion;
	d->vendor_id = props.vendorID;
	d->device_id = props.deviceID;
	d->device_type = props.deviceType;

	// The device UUID (core 1.1) and driver name (core 1.2) come through
	// vkGetPhysicalDeviceProperties2; chain only what the device supports.
	if (getProps2 != NULL && props.apiVersion >= GVK_MAKE_VERSION(1, 1, 0)) {
		gvk_physical_device_driver_properties drv;
		gvk_physical_device_id_properties id;
		gvk_physical_device_properties2 p2;
		memset(&drv, 0, sizeof drv);
		memset(&id, 0, sizeof id);
		memset(&p2, 0, sizeof p2);
		drv.sType = GVK_STYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
		id.sType = GVK_STYPE_PHYSICAL_DEVICE_ID_PROPERTIES;
		p2.sType = GVK_STYPE_PHYSICAL_DEVICE_PROPERTIES_2;
		p2.pNext = &id;
		int want_driver = props.apiVersion >= GVK_MAKE_VERSION(1, 2, 0);
		if (want_driver) {
			id.pNext = &drv;
		}
		getProps2(pd, &p2);
		d->has_uuid = 1;
		memcpy(d->device_uuid, id.deviceUUID, sizeof d->device_uuid);
		if (want_driver) {
			d->has_driver_props = 1;
			memcpy(d->driver_name, drv.driverName, sizeof d->driver_name);
			memcpy(d->driver_info, drv.driverInfo, sizeof d->driver_info);
			d->driver_name[sizeof d->driver_name - 1] = 0;
			d->driver_info[sizeof d->driver_info - 1] = 0;
		}
	}

	gvk_physical_device_memory_properties mem;
	memset(&mem, 0, sizeof mem);
	getMem(pd, &mem);
	for (uint32_t i = 0; i < mem.memoryHeapCount && i < 16; i++) {
		if ((mem.memoryHeaps[i].flags & GVK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
		    mem.memoryHeaps[i].size > d->device_local_bytes) {
			d->device_local_bytes = mem.memoryHeaps[i].size;
		}
	}
}

void golem_vk_probe(golem_vk_lib *lib, golem_vk_probe_result *out) {
	memset(out, 0, sizeof *out);
	fn_vkGetInstanceProcAddr gipa = lib->getInstanceProcAddr;

// LOAD fetches an entry point or stops the probe naming it.
#define LOAD(type, var, instance, name)                      \
	type var = (type)gipa(instance, name);                   \
	if (var == NULL) {                                       \
		out->stage = GOLEM_VK_MISSING_FUNCTION;              \
		out->function = name;                                \
		goto done;                                           \
	}

	gvk_handle instance = NULL;

	// A loader without vkEnumerateInstanceVersion is a Vulkan 1.0 loader,
	// which may refuse an apiVersion of 1.2.
	fn_vkEnumerateInstanceVersion enumVersion =
		(fn_vkEnumerateInstanceVersion)gipa(NULL, "vkEnumerateInstanceVersion");
	if (enumVersion == NULL) {
		out->stage = GOLEM_VK_LOADER_1_0;
		out->loader_version = GVK_MAKE_VERSION(1, 0, 0);
		return;
	}
	enumVersion(&out->loader_version);

	LOAD(fn_vkCreateInstance, createInstance, NULL, "vkCreateInstance");
	gvk_application_info app = {
		.sType = GVK_STYPE_APPLICATION_INFO,
		.pApplicationName = "golem",
		.pEngineName = "golem",
		.apiVersion = GVK_MAKE_VERSION(1, 2, 0),
	};
	gvk_instance_create_info info = {
		.sType = GVK_STYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	out->result = createInstance(&info, NULL, &instance);
	if (out->result != 0) {
		out->stage = GOLEM_VK_CREATE_INSTANCE;
		out->function = "vkCreateInstance";
		return;
	}

	{
		LOAD(fn_vkEnumeratePhysicalDevices, enumDevices, instance, "vkEnumeratePhysicalDevices");
		LOAD(fn_vkGetPhysicalDeviceProperties, getProps, instance, "vkGetPhysicalDeviceProperties");
		LOAD(fn_vkGetPhysicalDeviceMemoryProperties, getMem, instance, "vkGetPhysicalDeviceMemoryProperties");
		// Optional: absent from instances that could not be made 1.1 or later.
		fn_vkGetPhysicalDeviceProperties2 getProps2 =
			(fn_vkGetPhysicalDeviceProperties2)gipa(instance, "vkGetPhysicalDeviceProperties2");

		uint32_t count = 0;
		out->result = enumDevices(instance, &count, NULL);
		if (out->result != 0) {
			out->stage = GOLEM_VK_ENUMERATE;
			out->function = "vkEnumeratePhysicalDevices";
			goto done;
		}
		gvk_handle devices[GOLEM_VK_MAX_DEVICES];
		uint32_t n = count < GOLEM_VK_MAX_DEVICES ? count : GOLEM_VK_MAX_DEVICES;
		out->result = enumDevices(instance, &n, devices);
		if (out->result != 0 && out->result != 5 /* VK_INCOMPLETE: more than we asked for */) {
			out->stage = GOLEM_VK_ENUMERATE;
			out->function = "vkEnumeratePhysicalDevices";
			goto done;
		}
		out->result = 0;
		out->count = n;
		for (uint32_t i = 0; i < out->count; i++) {
			describe(devices[i], getProps, getProps2, getMem, &out->devices[i]);
		}
	}
#undef LOAD

done:
	if (instance != NULL) {
		fn_vkDestroyInstance destroy = (fn_vkDestroyInstance)gipa(instance, "vkDestroyInstance");
		if (destroy != NULL) {
			destroy(instance, NULL);
		}
	}
}
