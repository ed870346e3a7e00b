// A stand-in for libcuda.so.1, built by the tests with gcc so the probe's C
// and Go sides run on machines without an NVIDIA driver. Macros choose the
// behaviour:
//   INIT_ERR=n   cuInit returns n
//   COUNT=n      number of devices (default 2)
//   NAME_ERR=n   cuDeviceGetName of device 1 returns n
//   NO_UUID_V2   export only cuDeviceGetUuid (the pre-11.4 name)
//   NO_TOTALMEM  omit cuDeviceTotalMem_v2
//   INTEGRATED=1 device 1 reports CU_DEVICE_ATTRIBUTE_INTEGRATED
//   NO_COMPUTE   omit every entry point only computing needs
//   NO_GRAPH_UPDATE omit cuGraphExecUpdate_v2 (a driver older than CUDA 12.0)
// The compute entry points are stubs that fail (the fake cannot compute).
#include <stddef.h>
#include <string.h>

#ifndef INIT_ERR
#define INIT_ERR 0
#endif
#ifndef COUNT
#define COUNT 2
#endif
#ifndef NAME_ERR
#define NAME_ERR 0
#endif
#ifndef INTEGRATED
#define INTEGRATED 0
#endif

int cuInit(unsigned int flags) { return flags == 0 ? INIT_ERR : 1; }
int cuDriverGetVersion(int *v) { *v = 13000; return 0; }
int cuDeviceGetCount(int *n) { *n = COUNT; return 0; }
int cuDeviceGet(int *dev, int ordinal) {
	if (ordinal < 0 || ordinal >= COUNT) return 101; // CUDA_ERROR_INVALID_DEVICE
	*dev = ordinal;
	return 0;
}
int cuDeviceGetName(char *name, int len, int dev) {
	if (dev == 1 && NAME_ERR != 0) return NAME_ERR;
	const char *n = dev == 0 ? "Fake H100 80GB HBM3" : "Fake L4";
	strncpy(name, n, (size_t)len);
	return 0;
}
#ifndef NO_TOTALMEM
int cuDeviceTotalMem_v2(size_t *bytes, int dev) { *bytes = dev == 0 ? (size_t)85520809984ULL : (size_t)23580639232ULL; return 0; }
#endif
static int uuid(char *out, int dev) {
	for (int i = 0; i < 16; i++) out[i] = (char)(0x10 * dev + i);
	return 0;
}
#ifdef NO_UUID_V2
int cuDeviceGetUuid(char *out, int dev) { return uuid(out, dev); }
#else
int cuDeviceGetUuid_v2(char *out, int dev) { return uuid(out, dev); }
int cuDeviceGetUuid(char *out, int dev) { (void)out; (void)dev; return 999; }
#endif
int cuDeviceGetAttribute(int *v, int attr, int dev) {
	switch (attr) {
	case 75: *v = dev == 0 ? 9 : 8; return 0;
	case 76: *v = dev == 0 ? 0 : 9; return 0;
	case 16: *v = dev == 0 ? 132 : 58; return 0;
	case 18: *v = dev == 1 ? INTEGRATED : 0; return 0;
	}
	return 1; // CUDA_ERROR_INVALID_VALUE
}
int cuGetErrorName(int err, const char **s) {
	switch (err) {
	case 100: *s = "CUDA_ERROR_NO_DEVICE"; return 0;
	case 3: *s = "CUDA_ERROR_NOT_INITIALIZED"; return 0;
	}
	return 1;
}
int cuGetErrorString(int err, const char **s) {
	switch (err) {
	case 100: *s = "no CUDA-capable device is detected"; return 0;
	case 3: *s = "initialization error"; return 0;
	}
	return 1;
}

#ifndef NO_COMPUTE
#define STUB(name) int name(void) { return 801; } // CUDA_ERROR_NOT_SUPPORTED
STUB(cuDevicePrimaryCtxRetain)
STUB(cuDevicePrimaryCtxRelease_v2)
STUB(cuCtxSetCurrent)
STUB(cuCtxSynchronize)
STUB(cuMemGetInfo_v2)
STUB(cuMemAlloc_v2)
STUB(cuMemFree_v2)
STUB(cuMemAllocHost_v2)
STUB(cuMemFreeHost)
STUB(cuMemcpyHtoDAsync_v2)
STUB(cuMemcpyDtoHAsync_v2)
STUB(cuMemsetD32Async)
STUB(cuMemsetD8Async)
STUB(cuModuleLoadDataEx)
STUB(cuModuleUnload)
STUB(cuModuleGetFunction)
STUB(cuFuncSetAttribute)
STUB(cuLaunchKernel)
STUB(cuStreamCreate)
STUB(cuStreamDestroy_v2)
STUB(cuStreamSynchronize)
STUB(cuEventCreate)
STUB(cuEventDestroy_v2)
STUB(cuEventRecord)
STUB(cuEventSynchronize)
STUB(cuEventQuery)
STUB(cuEventElapsedTime)
STUB(cuStreamBeginCapture_v2)
STUB(cuStreamEndCapture)
STUB(cuGraphInstantiateWithFlags)
STUB(cuGraphLaunch)
STUB(cuGraphExecDestroy)
#ifndef NO_GRAPH_UPDATE
STUB(cuGraphExecUpdate_v2)
#endif
STUB(cuGraphDestroy)
#endif
