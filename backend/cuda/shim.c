//go:build cgo

// shim.c: dlopen()s the CUDA driver and calls it. See shim.h for why there
// is no cuda.h here.

#include "shim.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The entry points, declared by their C signatures: one list, expanded into
// the table's fields and into the code that resolves them. R: needed to
// probe (the library is refused without it); C: needed to compute.
#define GOLEM_CUDA_ENTRY_POINTS(R, C)                                                                                  \
	R(cuInit, "cuInit", CUresult, (unsigned int flags))                                                                \
	R(cuDriverGetVersion, "cuDriverGetVersion", CUresult, (int *version))                                              \
	R(cuDeviceGetCount, "cuDeviceGetCount", CUresult, (int *count))                                                    \
	R(cuDeviceGet, "cuDeviceGet", CUresult, (CUdevice * dev, int ordinal))                                             \
	R(cuDeviceGetName, "cuDeviceGetName", CUresult, (char *name, int len, CUdevice dev))                               \
	R(cuDeviceTotalMem, "cuDeviceTotalMem_v2", CUresult, (size_t * bytes, CUdevice dev))                               \
	R(cuDeviceGetAttribute, "cuDeviceGetAttribute", CUresult, (int *value, int attrib, CUdevice dev))                  \
	C(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", CUresult, (CUcontext * ctx, CUdevice dev))                 \
	C(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", CUresult, (CUdevice dev))                             \
	C(cuCtxSetCurrent, "cuCtxSetCurrent", CUresult, (CUcontext ctx))                                                   \
	C(cuCtxSynchronize, "cuCtxSynchronize", CUresult, (void))                                                          \
	C(cuMemGetInfo, "cuMemGetInfo_v2", CUresult, (size_t * free_bytes, size_t * total))                                \
	C(cuMemAlloc, "cuMemAlloc_v2", CUresult, (CUdeviceptr * p, size_t size))                                           \
	C(cuMemFree, "cuMemFree_v2", CUresult, (CUdeviceptr p))                                                            \
	C(cuMemAllocHost, "cuMemAllocHost_v2", CUresult, (void **p, size_t size))                                          \
	C(cuMemFreeHost, "cuMemFreeHost", CUresult, (void *p))                                                             \
	C(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", CUresult, (CUdeviceptr dst, const void *src, size_t n, CUstream s))   \
	C(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", CUresult, (void *dst, CUdeviceptr src, size_t n, CUstream s))         \
	C(cuMemsetD32Async, "cuMemsetD32Async", CUresult, (CUdeviceptr dst, unsigned int v, size_t n, CUstream s))         \
	C(cuMemsetD8Async, "cuMemsetD8Async", CUresult, (CUdeviceptr dst, unsigned char v, size_t n, CUstream s))          \
	C(cuModuleLoadDataEx, "cuModuleLoadDataEx", CUresult,                                                              \
	  (CUmodule * m, const void *image, unsigned int n, int *options, void **values))                                  \
	C(cuModuleUnload, "cuModuleUnload", CUresult, (CUmodule m))                                                        \
	C(cuModuleGetFunction, "cuModuleGetFunction", CUresult, (CUfunction * f, CUmodule m, const char *name))            \
	C(cuFuncSetAttribute, "cuFuncSetAttribute", CUresult, (CUfunction f, int attrib, int value))                       \
	C(cuLaunchKernel, "cuLaunchKernel", CUresult,                                                                      \
	  (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared,    \
	   CUstream s, void **params, void **extra))                                                                       \
	C(cuStreamCreate, "cuStreamCreate", CUresult, (CUstream * s, unsigned int flags))                                  \
	C(cuStreamDestroy, "cuStreamDestroy_v2", CUresult, (CUstream s))                                                   \
	C(cuStreamSynchronize, "cuStreamSynchronize", CUresult, (CUstream s))                                              \
	C(cuEventCreate, "cuEventCreate", CUresult, (CUevent * e, unsigned int flags))                                     \
	C(cuEventDestroy, "cuEventDestroy_v2", CUresult, (CUevent e))                                                      \
	C(cuEventRecord, "cuEventRecord", CUresult, (CUevent e, CUstream s))                                               \
	C(cuEventSynchronize, "cuEventSynchronize", CUresult, (CUevent e))                                                 \
	C(cuEventQuery, "cuEventQuery", CUresult, (CUevent e))                                                             \
	C(cuEventElapsedTime, "cuEventElapsedTime", CUresult, (float *ms, CUevent a, CUevent b))                           \
	C(cuStreamBeginCapture, "cuStreamBeginCapture_v2", CUresult, (CUstream s, int mode))                               \
	C(cuStreamEndCapture, "cuStreamEndCapture", CUresult, (CUstream s, CUgraph * g))                                   \
	C(cuGraphInstantiate, "cuGraphInstantiateWithFlags", CUresult, (CUgraphExec * e, CUgraph g, unsigned long long f)) \
	C(cuGraphLaunch, "cuGraphLaunch", CUresult, (CUgraphExec e, CUstream s))                                           \
	C(cuGraphExecDestroy, "cuGraphExecDestroy", CUresult, (CUgraphExec e))                                             \
	C(cuGraphExecUpdate, "cuGraphExecUpdate_v2", CUresult, (CUgraphExec e, CUgraph g, golem_cu_update_info * info))    \
	C(cuGraphDestroy, "cuGraphDestroy", CUresult, (CUgraph g))

#define GOLEM_FIELD(field, sym, ret, args) ret(*field) args;

typedef CUresult (*fn_cuDeviceGetUuid)(CUuuid *uuid, CUdevice dev);
typedef CUresult (*fn_cuGetErrorString)(CUresult err, const char **str);
typedef size_t (*fn_golem_emu_last_error)(char *buf, size_t len);

struct golem_cuda_lib {
	void *handle;
	const char *missing;  // first compute entry point not found
	unsigned long long syncs;   // host waits on the device (golem_cuda_syncs)
	unsigned long long allocs;  // device and pinned host allocations (golem_cuda_allocs)
	GOLEM_CUDA_ENTRY_POINTS(GOLEM_FIELD, GOLEM_FIELD)
	fn_cuDeviceGetUuid cuDeviceGetUuid;             // may be NULL
	fn_cuGetErrorString cuGetErrorString;           // may be NULL
	fn_cuGetErrorString cuGetErrorName;             // same signature; may be NULL
	fn_golem_emu_last_error golem_emu_last_error;   // the emulator's only
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

// REQUIRE resolves a symbol the probe cannot do without; OPTIONAL one only
// the compute path needs.
#define REQUIRE(field, sym, ret, args)                                   \
	*(void **)(&lib->field) = dlsym(h, sym);                             \
	if (lib->field == NULL) {                                            \
		snprintf(err, errlen, "%s: symbol %s not found", path, sym);     \
		golem_cuda_close(lib);                                           \
		return NULL;                                                     \
	}
#define OPTIONAL(field, sym, ret, args)                                  \
	*(void **)(&lib->field) = dlsym(h, sym);                             \
	if (lib->field == NULL && lib->missing == NULL) {                    \
		lib->missing = sym;                                              \
	}
	GOLEM_CUDA_ENTRY_POINTS(REQUIRE, OPTIONAL)
#undef REQUIRE
#undef OPTIONAL

	// cuDeviceGetUuid_v2 (CUDA 11.4+) returns the same UUID as nvidia-smi
	// on MIG instances too; the original is the fallback.
	*(void **)(&lib->cuDeviceGetUuid) = dlsym(h, "cuDeviceGetUuid_v2");
	if (lib->cuDeviceGetUuid == NULL) {
		*(void **)(&lib->cuDeviceGetUuid) = dlsym(h, "cuDeviceGetUuid");
	}
	*(void **)(&lib->cuGetErrorString) = dlsym(h, "cuGetErrorString");
	*(void **)(&lib->cuGetErrorName) = dlsym(h, "cuGetErrorName");
	*(void **)(&lib->golem_emu_last_error) = dlsym(h, "golem_emu_last_error");
	return lib;
}

const char *golem_cuda_missing(golem_cuda_lib *lib) { return lib->missing; }

int golem_cuda_is_emulator(golem_cuda_lib *lib) { return lib->golem_emu_last_error != NULL; }

unsigned long long golem_cuda_syncs(golem_cuda_lib *lib) { return __atomic_load_n(&lib->syncs, __ATOMIC_RELAXED); }

unsigned long long golem_cuda_allocs(golem_cuda_lib *lib) { return __atomic_load_n(&lib->allocs, __ATOMIC_RELAXED); }

// mem_alloc and host_alloc are the only ways the shim allocates memory
// through the driver: each counts one allocation (golem_cuda_allocs).
static CUresult mem_alloc(golem_cuda_lib *lib, CUdeviceptr *p, size_t size) {
	__atomic_add_fetch(&lib->allocs, 1, __ATOMIC_RELAXED);
	return lib->cuMemAlloc(p, size);
}

static CUresult host_alloc(golem_cuda_lib *lib, void **p, size_t size) {
	__atomic_add_fetch(&lib->allocs, 1, __ATOMIC_RELAXED);
	return lib->cuMemAllocHost(p, size);
}

// stream_sync, event_sync and ctx_sync are the only ways the shim waits on
// the device from the host: each counts one wait (golem_cuda_syncs).
static CUresult stream_sync(golem_cuda_lib *lib, CUstream s) {
	__atomic_add_fetch(&lib->syncs, 1, __ATOMIC_RELAXED);
	return lib->cuStreamSynchronize(s);
}

static CUresult event_sync(golem_cuda_lib *lib, CUevent e) {
	__atomic_add_fetch(&lib->syncs, 1, __ATOMIC_RELAXED);
	return lib->cuEventSynchronize(e);
}

static CUresult ctx_sync(golem_cuda_lib *lib) {
	__atomic_add_fetch(&lib->syncs, 1, __ATOMIC_RELAXED);
	return lib->cuCtxSynchronize();
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
#define CHECK(call, name)        \
	do {                         \
		if ((r = (call)) != 0) { \
			out->err = r;        \
			out->failed = name;  \
			return;              \
		}                        \
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
	if (lib->cuDeviceGetAttribute(&out->integrated, GOLEM_CU_ATTR_INTEGRATED, dev) != 0) {
		out->integrated = 0;
	}
	// Shared memory limits: optional (older fakes and drivers may not say).
	if (lib->cuDeviceGetAttribute(&out->shared_per_block, GOLEM_CU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK, dev) != 0) {
		out->shared_per_block = 48 * 1024;
	}
	if (lib->cuDeviceGetAttribute(&out->shared_optin, GOLEM_CU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dev) != 0) {
		out->shared_optin = out->shared_per_block;
	}
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

void golem_cuda_error_name(golem_cuda_lib *lib, CUresult err, char *buf, size_t buflen) {
	const char *name = NULL;
	if (lib->cuGetErrorName == NULL || lib->cuGetErrorName(err, &name) != 0 || name == NULL) {
		snprintf(buf, buflen, "CUresult %d", err);
		return;
	}
	snprintf(buf, buflen, "%s", name);
}

void golem_cuda_detail(golem_cuda_lib *lib, char *buf, size_t buflen) {
	if (buflen > 0) {
		buf[0] = 0;
	}
	if (lib->golem_emu_last_error != NULL) {
		lib->golem_emu_last_error(buf, buflen);
	}
}

// ---------------------------------------------------------------------------
// Contexts, memory and transfers.

// CALL runs one driver call, recording its name for the error.
#define CALL(name, call)            \
	do {                            \
		*failed = name;             \
		CUresult r_ = (call);       \
		if (r_ != 0) {              \
			return r_;              \
		}                           \
	} while (0)
#define CURRENT(ctx) CALL("cuCtxSetCurrent", lib->cuCtxSetCurrent(ctx))

CUresult golem_cu_ctx_open(golem_cuda_lib *lib, int ordinal, CUdevice *dev, CUcontext *ctx, const char **failed) {
	CALL("cuDeviceGet", lib->cuDeviceGet(dev, ordinal));
	CALL("cuDevicePrimaryCtxRetain", lib->cuDevicePrimaryCtxRetain(ctx, *dev));
	CURRENT(*ctx);
	*failed = NULL;
	return 0;
}

CUresult golem_cu_ctx_close(golem_cuda_lib *lib, CUdevice dev, const char **failed) {
	CALL("cuDevicePrimaryCtxRelease_v2", lib->cuDevicePrimaryCtxRelease(dev));
	return 0;
}

CUresult golem_cu_sync(golem_cuda_lib *lib, CUcontext ctx, const char **failed) {
	CURRENT(ctx);
	CALL("cuCtxSynchronize", ctx_sync(lib));
	return 0;
}

CUresult golem_cu_mem_alloc(golem_cuda_lib *lib, CUcontext ctx, size_t size, CUdeviceptr *p, size_t *free_bytes, const char **failed) {
	CURRENT(ctx);
	*failed = "cuMemAlloc_v2";
	CUresult r = mem_alloc(lib, p, size);
	if (r == GOLEM_CUDA_ERROR_OUT_OF_MEMORY) {
		size_t total;
		if (lib->cuMemGetInfo(free_bytes, &total) != 0) {
			*free_bytes = 0;
		}
	}
	return r;
}

CUresult golem_cu_mem_free(golem_cuda_lib *lib, CUcontext ctx, CUdeviceptr p, const char **failed) {
	CURRENT(ctx);
	CALL("cuMemFree_v2", lib->cuMemFree(p));
	return 0;
}

CUresult golem_cu_mem_info(golem_cuda_lib *lib, CUcontext ctx, size_t *free_bytes, size_t *total, const char **failed) {
	CURRENT(ctx);
	CALL("cuMemGetInfo_v2", lib->cuMemGetInfo(free_bytes, total));
	return 0;
}

CUresult golem_cu_stream_create(golem_cuda_lib *lib, CUcontext ctx, CUstream *s, const char **failed) {
	CURRENT(ctx);
	CALL("cuStreamCreate", lib->cuStreamCreate(s, 1 /* CU_STREAM_NON_BLOCKING */));
	return 0;
}

CUresult golem_cu_stream_destroy(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const char **failed) {
	CURRENT(ctx);
	CALL("cuStreamDestroy_v2", lib->cuStreamDestroy(s));
	return 0;
}

CUresult golem_cu_host_alloc(golem_cuda_lib *lib, CUcontext ctx, size_t size, void **p, const char **failed) {
	CURRENT(ctx);
	CALL("cuMemAllocHost_v2", host_alloc(lib, p, size));
	return 0;
}

void golem_cu_host_free(golem_cuda_lib *lib, CUcontext ctx, void *p) {
	if (p != NULL && lib->cuCtxSetCurrent(ctx) == 0) {
		lib->cuMemFreeHost(p);
	}
}

CUresult golem_cu_ctx_current(golem_cuda_lib *lib, CUcontext ctx, const char **failed) {
	CURRENT(ctx);
	return 0;
}

CUresult golem_cu_staging_create(golem_cuda_lib *lib, CUcontext ctx, size_t size, golem_cu_staging *st, const char **failed) {
	memset(st, 0, sizeof *st);
	CURRENT(ctx);
	CALL("cuMemAllocHost_v2", host_alloc(lib, (void **)&st->host, size + GOLEM_CU_RING_SLOTS * GOLEM_CU_RING_SLOT));
	st->size = size;
	st->ring = st->host + size;
	for (int i = 0; i < 2; i++) {
		CALL("cuEventCreate", lib->cuEventCreate(&st->done[i], 2 /* CU_EVENT_DISABLE_TIMING */));
	}
	for (int i = 0; i < GOLEM_CU_RING_SLOTS; i++) {
		CALL("cuEventCreate", lib->cuEventCreate(&st->ring_done[i], 2 /* CU_EVENT_DISABLE_TIMING */));
	}
	return 0;
}

void golem_cu_staging_destroy(golem_cuda_lib *lib, CUcontext ctx, golem_cu_staging *st) {
	if (lib->cuCtxSetCurrent(ctx) != 0) {
		return;
	}
	for (int i = 0; i < 2; i++) {
		if (st->done[i] != NULL) {
			lib->cuEventDestroy(st->done[i]);
		}
	}
	for (int i = 0; i < GOLEM_CU_RING_SLOTS; i++) {
		if (st->ring_done[i] != NULL) {
			if (st->ring_used[i]) {
				event_sync(lib, st->ring_done[i]);
			}
			lib->cuEventDestroy(st->ring_done[i]);
		}
	}
	if (st->host != NULL) {
		lib->cuMemFreeHost(st->host);
	}
	memset(st, 0, sizeof *st);
}

CUresult golem_cu_write(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_staging *st, CUdeviceptr dst, const void *src, size_t n,
                        const char **failed) {
	CURRENT(ctx);
	size_t half = st->size / 2;
	int used[2] = {0, 0};
	for (size_t off = 0, k = 0; off < n; off += half, k ^= 1) {
		size_t c = n - off < half ? n - off : half;
		unsigned char *buf = st->host + k * half;
		if (used[k]) {  // the copy from this half must be done before refilling it
			CALL("cuEventSynchronize", event_sync(lib, st->done[k]));
		}
		memcpy(buf, (const unsigned char *)src + off, c);
		CALL("cuMemcpyHtoDAsync_v2", lib->cuMemcpyHtoDAsync(dst + off, buf, c, s));
		CALL("cuEventRecord", lib->cuEventRecord(st->done[k], s));
		used[k] = 1;
	}
	CALL("cuStreamSynchronize", stream_sync(lib, s));
	return 0;
}

CUresult golem_cu_write_async(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_staging *st, CUdeviceptr dst, const void *src,
                              size_t n, const char **failed) {
	CURRENT(ctx);
	unsigned k = st->ring_next++ % GOLEM_CU_RING_SLOTS;
	unsigned char *buf = st->ring + (size_t)k * GOLEM_CU_RING_SLOT;
	if (st->ring_used[k]) {  // the copy from this slot must be done before refilling it
		// Usually it is (a read since waited for the stream): ask first, so
		// that the host waits only when it must.
		*failed = "cuEventQuery";
		CUresult q = lib->cuEventQuery(st->ring_done[k]);
		if (q == GOLEM_CUDA_ERROR_NOT_READY) {
			CALL("cuEventSynchronize", event_sync(lib, st->ring_done[k]));
		} else if (q != 0) {
			return q;
		}
	}
	memcpy(buf, src, n);
	CALL("cuMemcpyHtoDAsync_v2", lib->cuMemcpyHtoDAsync(dst, buf, n, s));
	CALL("cuEventRecord", lib->cuEventRecord(st->ring_done[k], s));
	st->ring_used[k] = 1;
	return 0;
}

CUresult golem_cu_stream_sync(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const char **failed) {
	CURRENT(ctx);
	CALL("cuStreamSynchronize", stream_sync(lib, s));
	return 0;
}

CUresult golem_cu_read(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_staging *st, void *dst, CUdeviceptr src, size_t n,
                       const char **failed) {
	CURRENT(ctx);
	size_t half = st->size / 2;
	if (n == 0) {
		return 0;
	}
	// Copy chunk k+1 into one half while chunk k is taken out of the other.
	size_t c0 = n < half ? n : half;
	CALL("cuMemcpyDtoHAsync_v2", lib->cuMemcpyDtoHAsync(st->host, src, c0, s));
	CALL("cuEventRecord", lib->cuEventRecord(st->done[0], s));
	for (size_t off = 0, k = 0; off < n; off += half, k ^= 1) {
		size_t c = n - off < half ? n - off : half;
		size_t next = off + half;
		if (next < n) {
			size_t cn = n - next < half ? n - next : half;
			CALL("cuMemcpyDtoHAsync_v2", lib->cuMemcpyDtoHAsync(st->host + (k ^ 1) * half, src + next, cn, s));
			CALL("cuEventRecord", lib->cuEventRecord(st->done[k ^ 1], s));
		}
		CALL("cuEventSynchronize", event_sync(lib, st->done[k]));
		memcpy((unsigned char *)dst + off, st->host + k * half, c);
	}
	return 0;
}

CUresult golem_cu_memset8(golem_cuda_lib *lib, CUcontext ctx, CUstream s, CUdeviceptr dst, unsigned char value, size_t n,
                          const char **failed) {
	CURRENT(ctx);
	CALL("cuMemsetD8Async", lib->cuMemsetD8Async(dst, value, n, s));
	CALL("cuStreamSynchronize", stream_sync(lib, s));
	return 0;
}

// ---------------------------------------------------------------------------
// Modules and launches.

CUresult golem_cu_module_load(golem_cuda_lib *lib, CUcontext ctx, const char *ptx, CUmodule *m, char *log, size_t loglen,
                              const char **failed) {
	CURRENT(ctx);
	if (loglen > 0) {
		log[0] = 0;
	}
	// CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6.
	int opts[2] = {5, 6};
	void *vals[2] = {log, (void *)(uintptr_t)loglen};
	CALL("cuModuleLoadDataEx", lib->cuModuleLoadDataEx(m, ptx, 2, opts, vals));
	return 0;
}

CUresult golem_cu_module_unload(golem_cuda_lib *lib, CUcontext ctx, CUmodule m, const char **failed) {
	CURRENT(ctx);
	CALL("cuModuleUnload", lib->cuModuleUnload(m));
	return 0;
}

CUresult golem_cu_function(golem_cuda_lib *lib, CUcontext ctx, CUmodule m, const char *name, CUfunction *f, const char **failed) {
	CURRENT(ctx);
	CALL("cuModuleGetFunction", lib->cuModuleGetFunction(f, m, name));
	return 0;
}

CUresult golem_cu_func_max_dynamic_shared(golem_cuda_lib *lib, CUcontext ctx, CUfunction f, int bytes, const char **failed) {
	CURRENT(ctx);
	// CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8.
	CALL("cuFuncSetAttribute", lib->cuFuncSetAttribute(f, 8, bytes));
	return 0;
}

// launch_one runs launch l on s: a kernel, or a library call.
static CUresult launch_one(golem_cuda_lib *lib, CUstream s, const golem_cu_launch *l, const char **failed) {
	if (l->call != NULL) {
		return l->call(l->call_arg, l->params, s, failed);
	}
	*failed = "cuLaunchKernel";
	return lib->cuLaunchKernel(l->f, l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1], l->block[2], l->shared, s, l->params,
	                           NULL);
}

static CUresult launch_all(golem_cuda_lib *lib, CUstream s, const golem_cu_launch *l, int n, int *index, const char **failed) {
	for (int i = 0; i < n; i++) {
		*index = i;
		CUresult r = launch_one(lib, s, &l[i], failed);
		if (r != 0) {
			return r;
		}
	}
	*index = -1;
	return 0;
}

CUresult golem_cu_launch_all(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const golem_cu_launch *l, int n, int *index,
                             const char **failed) {
	*index = -1;
	CURRENT(ctx);
	return launch_all(lib, s, l, n, index, failed);
}

CUresult golem_cu_capture(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const golem_cu_launch *l, int n, golem_cu_program *p,
                          int *updated, int *index, const char **failed) {
	*index = -1;
	*updated = 0;
	CURRENT(ctx);
	// CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1: other threads' calls are not
	// affected by this capture.
	CALL("cuStreamBeginCapture_v2", lib->cuStreamBeginCapture(s, 1));
	CUresult r = 0;
	const char *f = NULL;
	if (p->status_words > 0) {
		f = "cuMemsetD32Async";
		r = lib->cuMemsetD32Async(p->status, 0, p->status_words, s);
	}
	if (r == 0) {
		r = launch_all(lib, s, l, n, index, &f);
	}
	if (r == 0 && p->status_words > 0) {
		f = "cuMemcpyDtoHAsync_v2";
		r = lib->cuMemcpyDtoHAsync(p->status_host, p->status, p->status_words * 4, s);
	}
	CUgraph g = NULL;
	CUresult re = lib->cuStreamEndCapture(s, &g);
	if (r != 0) {
		*failed = f;
		if (g != NULL) {
			lib->cuGraphDestroy(g);
		}
		return r;
	}
	*index = -1;
	CALL("cuStreamEndCapture", re);
	if (p->exec != NULL) {
		// The same launches with other parameters (a binding changed):
		// update the executable graph in place when the driver can.
		golem_cu_update_info info;
		memset(&info, 0, sizeof info);
		*failed = "cuGraphExecUpdate_v2";
		r = lib->cuGraphExecUpdate(p->exec, g, &info);
		if (r == 0) {
			lib->cuGraphDestroy(g);
			*updated = 1;
			return 0;
		}
		if (r != GOLEM_CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE) {
			lib->cuGraphDestroy(g);
			return r;
		}
		lib->cuGraphExecDestroy(p->exec);  // refused: instantiate anew
		p->exec = NULL;
	}
	*failed = "cuGraphInstantiateWithFlags";
	r = lib->cuGraphInstantiate(&p->exec, g, 0);
	lib->cuGraphDestroy(g);
	if (r != 0) {
		p->exec = NULL;
	}
	return r;
}

CUresult golem_cu_graph_launch(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_program *p, const char **failed) {
	CURRENT(ctx);
	CALL("cuGraphLaunch", lib->cuGraphLaunch(p->exec, s));
	return 0;
}

void golem_cu_program_destroy(golem_cuda_lib *lib, CUcontext ctx, golem_cu_program *p) {
	if (p->exec != NULL && lib->cuCtxSetCurrent(ctx) == 0) {
		lib->cuGraphExecDestroy(p->exec);
	}
	p->exec = NULL;
}

CUresult golem_cu_run_timed(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const golem_cu_launch *l, int n, const int *ends, int ns,
                            float *ms, golem_cu_program *p, int *index, const char **failed) {
	*index = -1;
	CURRENT(ctx);
	CUevent *ev = calloc((size_t)ns + 1, sizeof *ev);
	if (ev == NULL) {
		*failed = "calloc";
		return 2;
	}
	CUresult r = 0;
	int made = 0;
	for (; made <= ns && r == 0; made++) {
		*failed = "cuEventCreate";
		r = lib->cuEventCreate(&ev[made], 0);
	}
	if (r != 0) {
		made--;
	}
	if (r == 0 && p->status_words > 0) {
		*failed = "cuMemsetD32Async";
		r = lib->cuMemsetD32Async(p->status, 0, p->status_words, s);
	}
	if (r == 0) {
		*failed = "cuEventRecord";
		r = lib->cuEventRecord(ev[0], s);
	}
	for (int seg = 0, i = 0; r == 0 && seg < ns; seg++) {
		for (; r == 0 && i < ends[seg]; i++) {
			*index = i;
			r = launch_one(lib, s, &l[i], failed);
		}
		if (r == 0) {
			*index = -1;
			*failed = "cuEventRecord";
			r = lib->cuEventRecord(ev[seg + 1], s);
		}
	}
	if (r == 0 && p->status_words > 0) {
		*failed = "cuMemcpyDtoHAsync_v2";
		r = lib->cuMemcpyDtoHAsync(p->status_host, p->status, p->status_words * 4, s);
	}
	if (r == 0) {
		*failed = "cuStreamSynchronize";
		r = stream_sync(lib, s);
	}
	for (int seg = 0; r == 0 && seg < ns; seg++) {
		*failed = "cuEventElapsedTime";
		r = lib->cuEventElapsedTime(&ms[seg], ev[seg], ev[seg + 1]);
	}
	for (int i = 0; i < made; i++) {
		lib->cuEventDestroy(ev[i]);
	}
	free(ev);
	return r;
}
