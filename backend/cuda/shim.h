// shim.h: the C side of golem's CUDA driver.
//
// golem does not link against the CUDA toolkit and needs no cuda.h: the
// driver library (libcuda.so.1, or the file GOLEM_CUDA_LIBRARY names, such
// as the emulator bin/libgolem-cuda-emu.so) is dlopen()ed at run time and
// the entry points used are declared here with their C ABI (CUresult and
// CUdevice are ints, handles are pointers, device addresses 64-bit
// integers, sizes size_t). Every declaration matches the driver API as
// documented by NVIDIA for CUDA 11.4 and later; the _v2 entry points are
// used where they exist.
//
// Every function below that works in a context makes it current on the
// calling OS thread first (a goroutine may move between threads), and on
// failure sets *failed to the name of the driver call that failed.
#ifndef GOLEM_CUDA_SHIM_H
#define GOLEM_CUDA_SHIM_H

#include <stddef.h>
#include <stdint.h>

// Driver API types, declared by their ABI.
typedef int CUresult;  // enum cudaError_enum; 0 is CUDA_SUCCESS
typedef int CUdevice;  // a device ordinal handle
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef struct CUgraph_st *CUgraph;
typedef struct CUgraphExec_st *CUgraphExec;
typedef struct {
	char bytes[16];
} CUuuid;

// CUresult values golem names.
enum {
	GOLEM_CUDA_ERROR_OUT_OF_MEMORY = 2,
	GOLEM_CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
	GOLEM_CUDA_ERROR_NOT_READY = 600,
	GOLEM_CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE = 910,
};

// golem_cu_update_info is CUgraphExecUpdateResultInfo (CUDA 12.0+), what
// cuGraphExecUpdate_v2 fills: the CUgraphExecUpdateResult and the nodes at
// fault.
typedef struct {
	int result;
	void *error_node;
	void *error_from_node;
} golem_cu_update_info;

// Device attributes read by the probe (values of enum CUdevice_attribute).
enum {
	GOLEM_CU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK = 8,
	GOLEM_CU_ATTR_MULTIPROCESSOR_COUNT = 16,
	GOLEM_CU_ATTR_INTEGRATED = 18,
	GOLEM_CU_ATTR_COMPUTE_CAPABILITY_MAJOR = 75,
	GOLEM_CU_ATTR_COMPUTE_CAPABILITY_MINOR = 76,
	GOLEM_CU_ATTR_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
};

// golem_cuda_lib holds the dlopen handle and the resolved entry points.
typedef struct golem_cuda_lib golem_cuda_lib;

// golem_cuda_device is what the probe learns about one device.
typedef struct {
	CUresult err;        // first failing call for this device (0: none)
	const char *failed;  // name of that call, a static string
	char name[256];
	unsigned char uuid[16];
	size_t total_mem;
	int cc_major, cc_minor, sm_count;
	int shared_per_block, shared_optin;
	int integrated;       // 1: the GPU shares the host's memory
} golem_cuda_device;

// golem_cuda_open dlopens path (RTLD_NOW|RTLD_LOCAL) and resolves every
// entry point. On failure it returns NULL and writes the reason (dlerror or
// the missing symbol) into err. Entry points only the compute path needs
// may be missing: golem_cuda_missing then names the first one.
golem_cuda_lib *golem_cuda_open(const char *path, char *err, size_t errlen);

// golem_cuda_missing returns the first compute entry point the library
// lacks, or NULL.
const char *golem_cuda_missing(golem_cuda_lib *lib);

// golem_cuda_is_emulator reports whether the library is golem's emulator
// (it exports golem_emu_last_error).
int golem_cuda_is_emulator(golem_cuda_lib *lib);

// golem_cuda_syncs returns how many times the shim has waited on the device
// from the host (cuStreamSynchronize, cuEventSynchronize, cuCtxSynchronize
// calls) through lib: the count the tests check per decode step.
unsigned long long golem_cuda_syncs(golem_cuda_lib *lib);

// golem_cuda_allocs returns how many device (cuMemAlloc_v2) and pinned host
// (cuMemAllocHost_v2) allocations the shim has made through lib.
unsigned long long golem_cuda_allocs(golem_cuda_lib *lib);

// golem_cuda_close unloads the library and frees lib.
void golem_cuda_close(golem_cuda_lib *lib);

// golem_cuda_init calls cuInit(0) and then reads the driver version and the
// device count. On failure *failed names the call that failed.
CUresult golem_cuda_init(golem_cuda_lib *lib, int *driver_version, int *count, const char **failed);

// golem_cuda_device_info fills *out for the device with the given ordinal.
void golem_cuda_device_info(golem_cuda_lib *lib, int ordinal, golem_cuda_device *out);

// golem_cuda_error_text writes "NAME (description)" for err into buf.
void golem_cuda_error_text(golem_cuda_lib *lib, CUresult err, char *buf, size_t buflen);

// golem_cuda_error_name writes the CUresult's name (CUDA_ERROR_...) into buf.
void golem_cuda_error_name(golem_cuda_lib *lib, CUresult err, char *buf, size_t buflen);

// golem_cuda_detail writes the emulator's account of the most recent
// failed call into buf (empty for a real driver).
void golem_cuda_detail(golem_cuda_lib *lib, char *buf, size_t buflen);

// ---------------------------------------------------------------------------
// Contexts, memory and transfers.

// golem_cu_ctx_open retains the primary context of device ordinal.
CUresult golem_cu_ctx_open(golem_cuda_lib *lib, int ordinal, CUdevice *dev, CUcontext *ctx, const char **failed);
// golem_cu_ctx_close releases it.
CUresult golem_cu_ctx_close(golem_cuda_lib *lib, CUdevice dev, const char **failed);
// golem_cu_ctx_current makes ctx current on the calling thread (before
// calls into other libraries on it, such as cuBLASLt).
CUresult golem_cu_ctx_current(golem_cuda_lib *lib, CUcontext ctx, const char **failed);
// golem_cu_sync waits for all work of the context.
CUresult golem_cu_sync(golem_cuda_lib *lib, CUcontext ctx, const char **failed);

// golem_cu_mem_alloc allocates size bytes of device memory. When the device
// is out of memory, *free_bytes is what cuMemGetInfo reports as free.
CUresult golem_cu_mem_alloc(golem_cuda_lib *lib, CUcontext ctx, size_t size, CUdeviceptr *p, size_t *free_bytes, const char **failed);
CUresult golem_cu_mem_free(golem_cuda_lib *lib, CUcontext ctx, CUdeviceptr p, const char **failed);
CUresult golem_cu_mem_info(golem_cuda_lib *lib, CUcontext ctx, size_t *free_bytes, size_t *total, const char **failed);

// golem_cu_stream_create makes a stream (non-blocking with respect to the
// legacy default stream).
CUresult golem_cu_stream_create(golem_cuda_lib *lib, CUcontext ctx, CUstream *s, const char **failed);
CUresult golem_cu_stream_destroy(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const char **failed);

// golem_cu_staging is a pinned host buffer in two halves with an event each:
// transfers go through it chunk by chunk, one half filling while the other
// is copied.
//
// Small writes (at most GOLEM_CU_RING_SLOT bytes: token ids, positions)
// go through a ring of GOLEM_CU_RING_SLOTS pinned slots instead and do not
// wait for the copy: the stream orders it before later work on the stream
// (reads, programs), and a slot is reused only after its copy is done.
enum { GOLEM_CU_RING_SLOTS = 16, GOLEM_CU_RING_SLOT = 4096 };
typedef struct {
	unsigned char *host;
	size_t size;  // bytes, both halves
	CUevent done[2];
	unsigned char *ring;  // GOLEM_CU_RING_SLOTS slots
	CUevent ring_done[GOLEM_CU_RING_SLOTS];
	int ring_used[GOLEM_CU_RING_SLOTS];
	unsigned ring_next;
} golem_cu_staging;
CUresult golem_cu_staging_create(golem_cuda_lib *lib, CUcontext ctx, size_t size, golem_cu_staging *st, const char **failed);
void golem_cu_staging_destroy(golem_cuda_lib *lib, CUcontext ctx, golem_cu_staging *st);

// golem_cu_write copies n bytes of host memory src to device address dst
// and golem_cu_read copies back, through the staging buffer on stream s;
// both return when the copy is complete.
CUresult golem_cu_write(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_staging *st, CUdeviceptr dst, const void *src, size_t n,
                        const char **failed);
CUresult golem_cu_read(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_staging *st, void *dst, CUdeviceptr src, size_t n,
                       const char **failed);
// golem_cu_write_async copies n ≤ GOLEM_CU_RING_SLOT bytes through the
// next ring slot and returns without waiting for the copy (nor for the
// slot's previous copy when cuEventQuery says it is done).
CUresult golem_cu_write_async(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_staging *st, CUdeviceptr dst, const void *src,
                              size_t n, const char **failed);
// golem_cu_stream_sync waits for the work of stream s.
CUresult golem_cu_stream_sync(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const char **failed);
// golem_cu_memset8 fills n bytes at dst with value and waits.
CUresult golem_cu_memset8(golem_cuda_lib *lib, CUcontext ctx, CUstream s, CUdeviceptr dst, unsigned char value, size_t n,
                          const char **failed);

// ---------------------------------------------------------------------------
// Modules and launches.

// golem_cu_module_load loads PTX text (NUL-terminated); on failure the JIT
// error log is in log.
CUresult golem_cu_module_load(golem_cuda_lib *lib, CUcontext ctx, const char *ptx, CUmodule *m, char *log, size_t loglen,
                              const char **failed);
CUresult golem_cu_module_unload(golem_cuda_lib *lib, CUcontext ctx, CUmodule m, const char **failed);
CUresult golem_cu_function(golem_cuda_lib *lib, CUcontext ctx, CUmodule m, const char *name, CUfunction *f, const char **failed);
// golem_cu_func_max_dynamic_shared allows launches of f with up to bytes of
// dynamic shared memory (needed above 48 KiB).
CUresult golem_cu_func_max_dynamic_shared(golem_cuda_lib *lib, CUcontext ctx, CUfunction f, int bytes, const char **failed);

// golem_cu_call is a launch that is a library call (cuBLASLt's matmul)
// instead of a kernel: it issues its work on stream s, with params as a
// kernel's; it returns a CUresult and names what failed.
typedef CUresult (*golem_cu_call)(void *arg, void **params, CUstream s, const char **failed);

// golem_cu_launch is one kernel launch: params[i] points at the value of
// parameter i (in a parameter block packed once, at bind time). With call
// set, the launch is call(call_arg, params, stream) instead.
typedef struct {
	CUfunction f;
	unsigned grid[3], block[3];
	unsigned shared;
	void **params;
	golem_cu_call call;
	void *call_arg;
} golem_cu_launch;

// golem_cu_launch_all launches n launches in order on stream s (no wait).
// On failure *index is the failing launch.
CUresult golem_cu_launch_all(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const golem_cu_launch *l, int n, int *index,
                             const char **failed);

// golem_cu_program is what a run replays: the launches captured once into a
// CUDA graph, preceded by zeroing the status words and followed by copying
// them to pinned host memory.
typedef struct {
	CUgraphExec exec;
	CUdeviceptr status;       // device status words (0: none)
	size_t status_words;
	unsigned *status_host;    // pinned, status_words words
} golem_cu_program;

// golem_cu_capture captures the launches (with the status zeroing and
// read-back around them) on stream s into a graph. When p->exec is set (an
// earlier capture of the same launches, whose parameters changed), the
// graph updates it (cuGraphExecUpdate_v2) and *updated is 1; else, or when
// the driver refuses the update, the graph is instantiated into p->exec.
CUresult golem_cu_capture(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const golem_cu_launch *l, int n, golem_cu_program *p,
                          int *updated, int *index, const char **failed);
// golem_cu_graph_launch enqueues p's graph on s; it does not wait.
CUresult golem_cu_graph_launch(golem_cuda_lib *lib, CUcontext ctx, CUstream s, golem_cu_program *p, const char **failed);
void golem_cu_program_destroy(golem_cuda_lib *lib, CUcontext ctx, golem_cu_program *p);

// golem_cu_run_timed runs the launches without a graph, recording an event
// after launch ends[i]-1 for each of the ns segments, and writes each
// segment's milliseconds into ms (profiling runs).
CUresult golem_cu_run_timed(golem_cuda_lib *lib, CUcontext ctx, CUstream s, const golem_cu_launch *l, int n, const int *ends, int ns,
                            float *ms, golem_cu_program *p, int *index, const char **failed);

// golem_cu_host_alloc / golem_cu_host_free: pinned host memory.
CUresult golem_cu_host_alloc(golem_cuda_lib *lib, CUcontext ctx, size_t size, void **p, const char **failed);
void golem_cu_host_free(golem_cuda_lib *lib, CUcontext ctx, void *p);

#endif
