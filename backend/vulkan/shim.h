// shim.h: the C side of golem's Vulkan backend.
//
// Built against <vulkan/vulkan.h> with VK_NO_PROTOTYPES: the loader
// libvulkan.so.1 is dlopen()ed at run time and every entry point is fetched
// through vkGetInstanceProcAddr / vkGetDeviceProcAddr into a table of
// function pointers, so a binary built here runs (and reports why Vulkan is
// unusable) on machines without Vulkan. Go calls the small functions below;
// a program run is one call (golem_vk_prog_run).
#ifndef GOLEM_VULKAN_SHIM_H
#define GOLEM_VULKAN_SHIM_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <stddef.h>
#include <stdint.h>

// ---- the loader and the probe ---------------------------------------------

// GOLEM_VK_MAX_DEVICES bounds the devices one probe reports.
#define GOLEM_VK_MAX_DEVICES 16

// Where a probe or a device creation stopped.
enum {
	GOLEM_VK_OK = 0,
	GOLEM_VK_LOADER_1_0 = 1,       // no vkEnumerateInstanceVersion: a Vulkan 1.0 loader
	GOLEM_VK_CREATE_INSTANCE = 2,  // vkCreateInstance failed (result holds the VkResult)
	GOLEM_VK_MISSING_FUNCTION = 3, // an entry point was not found (function names it)
	GOLEM_VK_ENUMERATE = 4,        // vkEnumeratePhysicalDevices failed
	GOLEM_VK_NO_DEVICE = 5,        // the index names no device
	GOLEM_VK_NO_QUEUE = 6,         // the device has no compute queue
	GOLEM_VK_CREATE_DEVICE = 7,    // vkCreateDevice failed
	GOLEM_VK_SETUP = 8,            // a setup call failed (function names it)
	GOLEM_VK_NO_VALIDATION = 9,    // validation asked for, VK_LAYER_KHRONOS_validation or VK_EXT_debug_utils missing
};

// GOLEM_VK_MAX_COOPMAT bounds the cooperative-matrix shapes a probe keeps.
#define GOLEM_VK_MAX_COOPMAT 32

// golem_vk_coopmat is one VkCooperativeMatrixPropertiesKHR: M×N×K and the
// component types (VkComponentTypeKHR: 0 f16, 1 f32, ...) and scope
// (3: subgroup).
typedef struct {
	uint32_t m, n, k;
	uint32_t a, b, c, result;
	uint32_t scope;
} golem_vk_coopmat;

// golem_vk_device is what the probe learns about one physical device.
typedef struct {
	char name[256];
	uint32_t api_version, driver_version, vendor_id, device_id;
	int32_t device_type;
	int has_uuid; // device_uuid is valid (Vulkan 1.1 device)
	uint8_t device_uuid[16];
	int has_driver_props; // driver_name and driver_info are valid (Vulkan 1.2 device)
	char driver_name[256];
	char driver_info[256];
	uint64_t device_local_bytes; // largest device-local memory heap

	// Limits.
	uint64_t max_storage_buffer_range;
	uint64_t min_storage_buffer_offset_alignment;
	uint32_t max_push_constants_size;
	uint32_t max_storage_buffers; // maxPerStageDescriptorStorageBuffers
	uint32_t max_shared_memory;
	uint32_t max_invocations;
	uint32_t max_workgroup_size[3];
	uint32_t max_workgroup_count[3];
	float timestamp_period; // nanoseconds per tick
	uint64_t max_allocation; // maxMemoryAllocationSize (0: unknown)
	uint64_t max_buffer_size; // maxBufferSize (0: unknown)
	uint32_t subgroup_size, min_subgroup_size, max_subgroup_size;
	uint32_t subgroup_ops; // VkSubgroupFeatureFlags usable in compute shaders (0 if not in compute)
	int compute_queue_family; // -1: none
	uint32_t timestamp_valid_bits; // of that queue family
	int uma; // a memory type is device-local, host-visible and host-coherent

	// Optional features (1 when the device has them).
	int f_float16, f_int8, f_int16, f_int64, f_float64;
	int f_storage16, f_storage8;
	int f_int_dot;       // shaderIntegerDotProduct (1.3 or VK_KHR_shader_integer_dot_product)
	int f_size_control;  // subgroupSizeControl and computeFullSubgroups
	int f_coopmat;       // VK_KHR_cooperative_matrix
	uint32_t coopmat_count; // shapes in coopmat (f_coopmat only)
	golem_vk_coopmat coopmat[GOLEM_VK_MAX_COOPMAT];
	int f_bf16;          // VK_KHR_shader_bfloat16 present
	int f_bda;           // bufferDeviceAddress
	int f_vmm;           // vulkanMemoryModel (and its device scope)
} golem_vk_device;

// golem_vk_probe_result is the whole answer of one probe.
typedef struct {
	int stage;
	VkResult result;
	const char *function; // a static string naming the failing call
	uint32_t loader_version;
	uint32_t count; // devices described (at most GOLEM_VK_MAX_DEVICES)
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

// golem_vk_probe creates an instance, describes every physical device into
// *out and destroys the instance again.
void golem_vk_probe(golem_vk_lib *lib, golem_vk_probe_result *out);

// ---- devices --------------------------------------------------------------

typedef struct golem_vk_dev golem_vk_dev;

// GOLEM_VK_MAX_MESSAGES bounds the validation messages kept (all are counted).
#define GOLEM_VK_MAX_MESSAGES 8
#define GOLEM_VK_MESSAGE_BYTES 1024

// golem_vk_msgs collects the messages of the Khronos validation layer
// (warnings and errors, through VK_EXT_debug_utils) of one device. It is
// allocated by the caller, outlives the device (messages emitted while
// the device and instance are destroyed are kept) and is written only from
// Vulkan calls the caller serialises.
typedef struct {
	uint32_t count; // messages received
	char text[GOLEM_VK_MAX_MESSAGES][GOLEM_VK_MESSAGE_BYTES];
} golem_vk_msgs;

// golem_vk_dev_create opens physical device index: an instance, a logical
// device with one compute queue and every optional feature it has enabled,
// a command pool, a staging buffer. It fills *info as the probe would. On
// failure it returns NULL with stage, result and function set in *why.
// With msgs not NULL the instance enables VK_LAYER_KHRONOS_validation with
// synchronization validation and sends every warning and error to msgs
// (GOLEM_VK_NO_VALIDATION when the layer is not installed).
golem_vk_dev *golem_vk_dev_create(golem_vk_lib *lib, uint32_t index, golem_vk_device *info,
                                  golem_vk_probe_result *why, golem_vk_msgs *msgs);

// golem_vk_dev_destroy waits for the device to be idle and destroys it.
void golem_vk_dev_destroy(golem_vk_dev *d);

// golem_vk_dev_invalid_call makes one call that breaks a valid-usage rule
// (a buffer of size 0: VUID-VkBufferCreateInfo-size-00912) and releases
// what it made, so tests can check that validation messages arrive.
void golem_vk_dev_invalid_call(golem_vk_dev *d);

// golem_vk_dev_force_staging makes buffers created from now on device-local
// without a host mapping, so that transfers go through the staging ring
// (tests use it to exercise the discrete-GPU path on any device).
VkResult golem_vk_dev_force_staging(golem_vk_dev *d);

// ---- buffers --------------------------------------------------------------

typedef struct {
	VkBuffer buffer;
	VkDeviceMemory memory;
	void *map;         // persistently mapped (host-visible memory), or NULL
	uint64_t size;     // bytes (rounded up)
	int coherent;      // the mapping needs no flush / invalidate
	int owns_memory;   // memory is the buffer's own (else a block's, see golem_vk_mem)
} golem_vk_buf;

// golem_vk_mem is one device memory allocation (a block that buffers are
// bound into at offsets), mapped persistently when map was asked for.
typedef struct {
	VkDeviceMemory memory;
	void *map;
	uint64_t size;
	uint32_t type;
} golem_vk_mem;

// golem_vk_buf_create makes a storage buffer of size bytes with its own
// memory. host: 0 device local (mapped when that memory is also
// host-visible and coherent; in host-visible device-local memory for small
// buffers on discrete GPUs), 1 host-visible coherent (status buffers), 2
// host-visible, preferably cached (staging, read-back), 3 device local
// outside the host-visible heap.
VkResult golem_vk_buf_create(golem_vk_dev *d, uint64_t size, int host, golem_vk_buf *out);
// golem_vk_buf_destroy destroys b (and its memory when it owns it), after
// waiting for the staging ring's copies.
void golem_vk_buf_destroy(golem_vk_dev *d, golem_vk_buf *b);

// golem_vk_buf_new creates a VkBuffer of size bytes (rounded up to 16)
// without memory and reports its memory requirements.
VkResult golem_vk_buf_new(golem_vk_dev *d, uint64_t size, golem_vk_buf *out, uint64_t *req_size, uint64_t *req_align,
                          uint32_t *type_bits);
// golem_vk_mem_type returns the memory type for host kind host (see
// golem_vk_buf_create) among type_bits for a buffer of size bytes, or -1;
// *map says whether buffers there are mapped.
int golem_vk_mem_type(golem_vk_dev *d, uint32_t type_bits, int host, uint64_t size, int *map);
// golem_vk_mem_alloc allocates size bytes of memory type type, mapped when map.
VkResult golem_vk_mem_alloc(golem_vk_dev *d, uint32_t type, uint64_t size, int map, golem_vk_mem *out);
void golem_vk_mem_free(golem_vk_dev *d, golem_vk_mem *m);
// golem_vk_buf_bind binds b (from golem_vk_buf_new) at byte off of m.
VkResult golem_vk_buf_bind(golem_vk_dev *d, golem_vk_buf *b, const golem_vk_mem *m, uint64_t off);

// golem_vk_buf_write / _read copy between host memory and b at byte offset
// off: a memcpy when b is mapped, else through the staging ring in chunks
// (a write returns when its last chunk is submitted; a read when its bytes
// are in dst).
VkResult golem_vk_buf_write(golem_vk_dev *d, golem_vk_buf *b, uint64_t off, const void *src, uint64_t n);
VkResult golem_vk_buf_read(golem_vk_dev *d, golem_vk_buf *b, uint64_t off, void *dst, uint64_t n);

// golem_vk_dev_wait_transfers waits for every copy of the staging ring.
VkResult golem_vk_dev_wait_transfers(golem_vk_dev *d);
// golem_vk_dev_set_ring uses depth (1..4) slots of the staging ring from
// now on (1: every chunk waits for the previous one; benchmarks).
void golem_vk_dev_set_ring(golem_vk_dev *d, uint32_t depth);
// golem_vk_dev_submits returns the number of queue submissions so far.
uint64_t golem_vk_dev_submits(golem_vk_dev *d);

// golem_vk_buf_zero sets n bytes at offset off (multiples of 4) to zero.
VkResult golem_vk_buf_zero(golem_vk_dev *d, golem_vk_buf *b, uint64_t off, uint64_t n);

// ---- pipelines ------------------------------------------------------------

typedef struct {
	VkShaderModule module;
	VkDescriptorSetLayout set_layout;
	VkPipelineLayout layout;
	VkPipeline pipeline;
	uint32_t bindings;
	uint32_t push_bytes;
} golem_vk_pipe;

// golem_vk_pipe_create builds a compute pipeline from SPIR-V code with
// nbind storage-buffer bindings in set 0, push_bytes of push constants and
// nspec 32-bit specialization constants (spec_ids[i] = spec_vals[i]).
VkResult golem_vk_pipe_create(golem_vk_dev *d, const uint32_t *code, size_t code_bytes, uint32_t nbind,
                              uint32_t push_bytes, const uint32_t *spec_ids, const uint32_t *spec_vals,
                              uint32_t nspec, golem_vk_pipe *out);
void golem_vk_pipe_destroy(golem_vk_dev *d, golem_vk_pipe *p);

// ---- programs -------------------------------------------------------------

// golem_vk_dispatch is one dispatch of a program.
typedef struct {
	golem_vk_pipe *pipe;
	uint32_t first_binding; // index into the bindings array; pipe->bindings of them
	uint32_t first_word;    // index into the push-constant words; pipe->push_bytes/4 of them
	uint32_t groups[3];
	int32_t timestamp;      // >= 0: write timestamp query `timestamp` after this dispatch
	int32_t barrier;        // 1: a compute→compute barrier before this dispatch
	uint32_t first_range;   // its buffer memory barriers: ranges[first_range ..
	uint32_t nranges;       //   first_range+nranges) (0: execution dependency only)
} golem_vk_dispatch;

// golem_vk_binding is one descriptor: a range of a buffer.
typedef struct {
	VkBuffer buffer;
	uint64_t offset;
	uint64_t range;
} golem_vk_binding;

typedef struct golem_vk_prog golem_vk_prog;

// golem_vk_prog_create allocates descriptor sets for the dispatches (whose
// pipes are set), a command buffer, a fence and nqueries timestamp queries.
golem_vk_prog *golem_vk_prog_create(golem_vk_dev *d, const golem_vk_dispatch *ds, uint32_t nd,
                                    uint32_t nqueries, VkResult *res);
void golem_vk_prog_destroy(golem_vk_dev *d, golem_vk_prog *p);

// golem_vk_prog_record writes the descriptor sets and records the command
// buffer: per dispatch its barrier (when ds[i].barrier: buffer memory
// barriers on its ranges, shader writes → shader reads and writes), bind,
// push, dispatch; timestamp query 0 at the start when nqueries > 0. Then,
// after a barrier to transfers, one copy per entry of copies
// (copies[2k] → copies[2k+1], same size), and a barrier to the host. It
// returns the number of barriers between dispatches in *barriers.
VkResult golem_vk_prog_record(golem_vk_dev *d, golem_vk_prog *p, const golem_vk_dispatch *ds, uint32_t nd,
                              const golem_vk_binding *bs, const uint32_t *words, const golem_vk_binding *ranges,
                              const golem_vk_binding *copies, uint32_t ncopies, uint32_t *barriers);

// golem_vk_prog_run zeroes status (status_bytes at a mapped pointer, may be
// NULL), submits the recorded command buffer and waits for it (at most
// timeout_ns). With nqueries > 0 it reads the timestamps into ticks.
VkResult golem_vk_prog_run(golem_vk_dev *d, golem_vk_prog *p, void *status, uint64_t status_bytes,
                           uint64_t timeout_ns, uint64_t *ticks);

#endif
