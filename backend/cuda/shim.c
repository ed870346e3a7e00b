//go:build cgo

// shim.c: dlopen()s libcuda.so.1 and queries devices through the driver API.
// See shim.h for why there is no cuda.h here.

#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Entry points, declared by their C signatures.
typedef CUresult (*fn_cuInit)(unsigned int flags);
typedef CUresult (*fn_cuDriverGetVersion)(int *version);
typedef CUresult (*fn_cuDeviceGetCount)(int *count);
typedef CUresult (*fn_cuDeviceGet)(CUdevice *dev, int ordinal);
typedef CUresult (*fn_cuDeviceGetName)(char *name, int len, CUdevice dev);
typedef CUresult (*fn_cuDeviceTotalMem)(size_t *bytes, CUdevice dev);
typedef CUresult (*fn_cuDeviceGetUuid)(CUuuid *uuid, CUdevice dev);
typedef CUresult (*fn_cuDeviceGetAttribute)(int *value, int attrib, CUdevice dev);
typedef CUresult (*fn_cuGetErrorString)(CUresult err, const char **str);

struct golem_cuda_lib {
	void *handle;
	fn_cuInit cuInit;
	fn_cuDriverGetVersion cuDriverGetVersion;
	fn_cuDeviceGetCount cuDeviceGetCount;
	fn_cuDeviceGet cuDeviceGet;
	fn_cuDeviceGetName cuDeviceGetName;
	fn_cuDeviceTotalMem cuDeviceTotalMem;
	fn_cuDeviceGetUuid cuDeviceGetUuid;
	fn_cuDeviceGetAttribute cuDeviceGetAttribute;
	fn_cuGetErrorString cuGetErrorString;   // may be NULL
	fn_cuGetErrorString cuGetErrorName;     // same signature; may be NULL
};

golem_cuda_lib *golem_cuda_open(const char *path, char *err, size_t errlen) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return NULL;
	}
	golem_cuda_lib *lib = calloc(1, sizeof *lib);
	if (lib == NULL) {
		dlclose(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lib->handle = h;

// REQUIRE resolves a symbol the probe cannot do without.
#define REQUIRE(field, sym)                                                   \
	do {                                                                      \
		*(void **)(&lib->field) = dlsym(h, sym);                              \
		if (lib->field == NULL) {                                             \
			snprintf(err, errlen, "%s: symbol %s not found", path, sym);      \
			golem_cuda_close(lib);                                            \
			return NULL;                                                      \
		}                                                                     \
	} while (0)

	REQUIRE(cuInit, "cuInit");
	REQUIRE(cuDriverGetVersion, "cuDriverGetVersion");
	REQUIRE(cuDeviceGetCount, "cuDeviceGetCount");
	REQUIRE(cuDeviceGet, "cuDeviceGet");
	REQUIRE(cuDeviceGetName, "cuDeviceGetName");
	REQUIRE(cuDeviceTotalMem, "cuDeviceTotalMem_v2");
	REQUIRE(cuDeviceGetAttribute, "cuDeviceGetAttribute");
#undef REQUIRE

	// cuDeviceGetUuid_v2 (CUDA 11.4+) returns the same UUID as nvidia-smi
	// on MIG instances too; the original is the fallback.
	*(void **)(&lib->cuDeviceGetUuid) = dlsym(h, "cuDeviceGetUuid_v2");
	if (lib->cuDeviceGetUuid == NULL) {
		*(void **)(&lib->cuDeviceGetUuid) = dlsym(h, "cuDeviceGetUuid");
	}
	*(void **)(&lib->cuGetErrorString) = dlsym(h, "cuGetErrorString");
	*(void **)(&lib->cuGetErrorName) = dlsym(h, "cuGetErrorName");
	return lib;
}

void golem_cuda_close(golem_cuda_lib *lib) {
	if (lib == NULL) {
		return;
	}
	if (lib->handle != NULL) {
		dlclose(lib->handle);
	}
	free(lib);
}

CUresult golem_cuda_init(golem_cuda_lib *lib, int *driver_version, int *count, const char **failed) {
	CUresult r;
	*driver_version = 0;
	*count = 0;
	*failed = "cuInit";
	if ((r = lib->cuInit(0)) != 0) {
		return r;
	}
	*failed = "cuDriverGetVersion";
	if ((r = lib->cuDriverGetVersion(driver_version)) != 0) {
		return r;
	}
	*failed = "cuDeviceGetCount";
	if ((r = lib->cuDeviceGetCount(count)) != 0) {
		return r;
	}
	*failed = NULL;
	return 0;
}

void golem_cuda_device_info(golem_cuda_lib *lib, int ordinal, golem_cuda_device *out) {
	memset(out, 0, sizeof *out);
	CUdevice dev;
	CUresult r;

// CHECK records the first failing call and stops.
#define CHECK(call, name)            \
	do {                             \
		if ((r = (call)) != 0) {     \
			out->err = r;            \
			out->failed = name;      \
			return;                  \
		}                            \
	} while (0)

	CHECK(lib->cuDeviceGet(&dev, ordinal), "cuDeviceGet");
	CHECK(lib->cuDeviceGetName(out->name, (int)sizeof out->name - 1, dev), "cuDeviceGetName");
	CHECK(lib->cuDeviceTotalMem(&out->total_mem, dev), "cuDeviceTotalMem_v2");
	if (lib->cuDeviceGetUuid != NULL) {
		CUuuid u;
		CHECK(lib->cuDeviceGetUuid(&u, dev), "cuDeviceGetUuid");
		memcpy(out->uuid, u.bytes, sizeof out->uuid);
	}
	CHECK(lib->cuDeviceGetAttribute(&out->cc_major, GOLEM_CU_ATTR_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute");
	CHECK(lib->cuDeviceGetAttribute(&out->cc_minor, GOLEM_CU_ATTR_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute");
	CHECK(lib->cuDeviceGetAttribute(&out->sm_count, GOLEM_CU_ATTR_MULTIPROCESSOR_COUNT, dev), "cuDeviceGetAttribute");
	CHECK(lib->cuDeviceGetAttribute(&out->integrated, GOLEM_CU_ATTR_INTEGRATED, dev), "cuDeviceGetAttribute");
#undef CHECK
}

void golem_cuda_error_text(golem_cuda_lib *lib, CUresult err, char *buf, size_t buflen) {
	const char *name = NULL, *str = NULL;
	if (lib->cuGetErrorName == NULL || lib->cuGetErrorName(err, &name) != 0) {
		name = NULL;
	}
	if (lib->cuGetErrorString == NULL || lib->cuGetErrorString(err, &str) != 0) {
		str = NULL;
	}
	if (name != NULL && str != NULL) {
		snprintf(buf, buflen, "%s (%s)", name, str);
	} else if (name != NULL || str != NULL) {
		snprintf(buf, buflen, "%s (CUresult %d)", name ? name : str, err);
	} else {
		snprintf(buf, buflen, "CUresult %d", err);
	}
}
