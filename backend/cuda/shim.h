// shim.h: the C side of golem's CUDA driver probe.
//
// golem does not link against the CUDA toolkit and needs no cuda.h: the
// driver library libcuda.so.1 is dlopen()ed at run time and the few entry
// points used are declared here with their C ABI (CUresult and CUdevice are
// plain ints, sizes are size_t). Every declaration matches the driver API as
// documented by NVIDIA for CUDA 11.4 and later.
#ifndef GOLEM_CUDA_SHIM_H
#define GOLEM_CUDA_SHIM_H

#include <stddef.h>

// Driver API types, declared by their ABI.
typedef int CUresult;   // enum cudaError_enum; 0 is CUDA_SUCCESS
typedef int CUdevice;   // a device ordinal handle
typedef struct {
	char bytes[16];
} CUuuid;

// Device attributes read by the probe (values of enum CUdevice_attribute).
enum {
	GOLEM_CU_ATTR_MULTIPROCESSOR_COUNT = 16,
	GOLEM_CU_ATTR_INTEGRATED = 18,
	GOLEM_CU_ATTR_COMPUTE_CAPABILITY_MAJOR = 75,
	GOLEM_CU_ATTR_COMPUTE_CAPABILITY_MINOR = 76,
};

// golem_cuda_lib holds the dlopen handle and the resolved entry points.
typedef struct golem_cuda_lib golem_cuda_lib;

// golem_cuda_device is what the probe learns about one device.
typedef struct {
	CUresult err;         // first failing call for this device (0: none)
	const char *failed;   // name of that call, a static string
	char name[256];
	unsigned char uuid[16];
	size_t total_mem;
	int cc_major, cc_minor, sm_count;
	int integrated;       // 1: the GPU shares the host's memory
} golem_cuda_device;

// golem_cuda_open dlopens path (RTLD_NOW|RTLD_LOCAL) and resolves every
// entry point. On failure it returns NULL and writes the reason (dlerror or
// the missing symbol) into err.
golem_cuda_lib *golem_cuda_open(const char *path, char *err, size_t errlen);

// golem_cuda_close unloads the library and frees lib.
void golem_cuda_close(golem_cuda_lib *lib);

// golem_cuda_init calls cuInit(0) and then reads the driver version and the
// device count. On failure *failed names the call that failed.
CUresult golem_cuda_init(golem_cuda_lib *lib, int *driver_version, int *count, const char **failed);

// golem_cuda_device_info fills *out for the device with the given ordinal.
void golem_cuda_device_info(golem_cuda_lib *lib, int ordinal, golem_cuda_device *out);

// golem_cuda_error_text writes "NAME (description)" for err into buf.
void golem_cuda_error_text(golem_cuda_lib *lib, CUresult err, char *buf, size_t buflen);

#endif
