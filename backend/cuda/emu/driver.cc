// driver.cc: the subset of the CUDA driver API that golem calls, with the
// driver's names, signatures and error codes, on top of kernel.cc. Every
// other symbol of the library is hidden.
//
// One device (cuda:0, "golem CUDA emulator (CPU)", sm_80). Work is done when
// it is issued: a launch or an asynchronous copy has finished when the call
// returns, so streams and events only order and time things; a stream being
// captured records its work into a graph instead, which cuGraphLaunch
// replays. A failed launch (a fault, a deadlock, a write past an
// allocation) makes the context's error sticky, as on a GPU: every later
// call returns it until the primary context is released.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "emu.h"

using namespace golem_emu;

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

#define API extern "C" __attribute__((visibility("default")))

namespace {

// ---------------------------------------------------------------------------
// Errors.

struct ErrorName {
	int code;
	const char *name, *text;
};
const ErrorName kErrors[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {200, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {209, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {222, "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "the provided PTX was compiled with an unsupported toolchain."},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {401, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {701, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {715, "CUDA_ERROR_ILLEGAL_INSTRUCTION", "an illegal instruction was encountered"},
    {719, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
    {901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
    {910, "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE", "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};
constexpr int kIllegalState = 401;
constexpr int kNotReady = 600;

// last_error is the detail of the process's most recent failed call
// (golem_emu_last_error returns it); successful calls leave it. It is not
// per thread: golem reads it in a second call right after the failing
// one, and a Go program may make the two calls on different threads (a
// long call, such as a launch, can resume on another thread).
struct LastError {
	std::mutex mu;
	std::string msg;
	void set(const std::string& m) {
		std::lock_guard<std::mutex> lock(mu);
		msg = m;
	}
	std::string get() {
		std::lock_guard<std::mutex> lock(mu);
		return msg;
	}
} last_error;

CUresult fail(CUresult code, std::string msg) {
	last_error.set("golem-cuda-emu: " + msg);
	return code;
}

// ---------------------------------------------------------------------------
// Device memory: every allocation is its own mapping with a PROT_NONE page
// before it and right after its 256-byte-aligned end; it starts filled with
// the NaN pattern, and so do the bytes between its end and the guard page,
// which are checked after every launch.

struct Allocation {
	uintptr_t base;
	size_t size, padded;  // padded: size rounded up to 256
	char* map;
	size_t maplen;
	uint64_t id;
};

std::mutex mem_mu;
std::map<uintptr_t, Allocation> allocations;  // by base
std::map<void*, size_t> host_allocations;  // pinned host memory and its size
size_t allocated = 0;
uint64_t next_alloc_id = 1;

size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }
size_t round_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// total_memory is the device's memory: GOLEM_CUDA_EMU_MEMORY bytes when set,
// else half the host's physical memory.
size_t total_memory() {
	static size_t total = [] {
		const char* env = getenv("GOLEM_CUDA_EMU_MEMORY");
		if (env != nullptr && *env != 0) return (size_t)strtoull(env, nullptr, 10);
		return (size_t)sysconf(_SC_PHYS_PAGES) * page_size() / 2;
	}();
	return total;
}

std::string human(size_t n) {
	const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) v /= 1024, u++;
	return u == 0 ? format("%zu bytes", n) : format("%.1f %s", v, units[u]);
}

// find_allocation returns the allocation holding p (in its padded range),
// or null. mem_mu must be held.
const Allocation* find_allocation(uintptr_t p) {
	auto it = allocations.upper_bound(p);
	if (it == allocations.begin()) return nullptr;
	--it;
	const Allocation& a = it->second;
	return p < a.base + a.padded ? &a : nullptr;
}

// check_range validates the device range [p, p+n) of call.
CUresult check_range(const char* call, CUdeviceptr p, size_t n) {
	std::lock_guard<std::mutex> lock(mem_mu);
	const Allocation* a = find_allocation(p);
	if (a == nullptr) return fail(kInvalidValue, format("%s: device address 0x%llx is not in an allocation", call, p));
	if (p + n > a->base + a->size) {
		return fail(kInvalidValue, format("%s: %zu bytes at offset %llu run past the end of allocation #%llu (%zu bytes)", call, n,
		                                  (unsigned long long)(p - a->base), (unsigned long long)a->id, a->size));
	}
	return kSuccess;
}

// slack_damage finds bytes between a's end and its guard page that no
// longer hold the poison pattern: [*first, *last].
bool slack_damage(const Allocation& a, size_t* first, size_t* last) {
	const unsigned char* s = reinterpret_cast<const unsigned char*>(a.base);
	bool bad = false;
	for (size_t i = a.size; i < a.padded; i++) {
		if (s[i] != (unsigned char)(kPoison >> (8 * (i % 4)))) {
			if (!bad) *first = i;
			*last = i;
			bad = true;
		}
	}
	return bad;
}

// check_slack finds an allocation whose bytes past its end were written.
bool check_slack(std::string* msg) {
	std::lock_guard<std::mutex> lock(mem_mu);
	for (auto& [base, a] : allocations) {
		size_t first, last;
		if (slack_damage(a, &first, &last)) {
			*msg = format("wrote past the end of allocation #%llu (%zu bytes at 0x%llx): bytes %zu..%zu changed", (unsigned long long)a.id,
			              a.size, (unsigned long long)a.base, first, last);
			poison(reinterpret_cast<void*>(a.base + a.size), a.padded - a.size);
			return false;
		}
	}
	return true;
}

// ---------------------------------------------------------------------------
// Objects.

struct Module;

struct Function {
	const KernelInfo* kernel;
	Module* module;
	int max_dynamic_shared = 48 * 1024;
};

struct Module {
	std::vector<Function*> functions;
};

struct Event {
	bool timing = true, recorded = false;
	std::chrono::steady_clock::time_point t;
};

struct Node {
	enum Kind { kKernel, kCopy, kMemset8, kMemset32, kEventRecord } kind;
	explicit Node(Kind k) : kind(k) {}
	// kernel
	Function* fn = nullptr;
	golem_uint3 grid{}, block{};
	unsigned shared = 0;
	std::vector<unsigned char> params;
	std::vector<size_t> offsets;
	// copy and memset: dst, src (host or device), bytes or elements
	void* dst = nullptr;
	const void* src = nullptr;
	size_t n = 0;
	unsigned value = 0;
	Event* event = nullptr;
};

struct Graph {
	std::vector<Node> nodes;
};

struct GraphExec {
	std::vector<Node> nodes;
};

struct Stream {
	bool capturing = false, invalidated = false;
	Graph* graph = nullptr;
};

struct Context {
	int refs = 0;
	std::atomic<uint64_t> launches{0};
	std::mutex mu;  // the handle sets and the sticky error
	int sticky = 0;
	std::string sticky_msg;
	std::set<void*> modules, functions, streams, events, graphs, execs;
};

bool initialized = false;
Context primary;
thread_local Context* current_ctx = nullptr;

const char kDeviceName[] = "golem CUDA emulator (CPU)";

// enter checks the common preconditions of a call that needs a context.
CUresult enter() {
	if (!initialized) return fail(kNotInitialized, "cuInit has not been called");
	if (current_ctx == nullptr) return fail(kInvalidContext, "no context is current on this thread (cuCtxSetCurrent)");
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.sticky != 0) {
		last_error.set(primary.sticky_msg);
		return primary.sticky;
	}
	return kSuccess;
}

bool live(std::set<void*>& set, void* h) {
	std::lock_guard<std::mutex> lock(primary.mu);
	return h != nullptr && set.count(h) != 0;
}

// Streams: NULL and the legacy/per-thread handles are the default stream.
CUresult get_stream(void* h, Stream** out) {
	*out = nullptr;
	if (h == nullptr || h == (void*)1 || h == (void*)2) return kSuccess;
	if (!live(primary.streams, h)) return fail(kInvalidHandle, format("stream %p does not exist (destroyed?)", h));
	*out = static_cast<Stream*>(h);
	return kSuccess;
}

// capture_error invalidates the capture of s, or of every stream being
// captured when s is null (a synchronous call), for an operation that may
// not run during a capture.
CUresult capture_error(Stream* s, const char* call) {
	std::lock_guard<std::mutex> lock(primary.mu);
	for (void* h : primary.streams) {
		Stream* t = static_cast<Stream*>(h);
		if (t->capturing && (s == nullptr || s == t)) t->invalidated = true;
	}
	return fail(kCaptureUnsupported, format("%s is not allowed while a stream is being captured", call));
}

bool any_capturing() {
	std::lock_guard<std::mutex> lock(primary.mu);
	for (void* h : primary.streams) {
		if (static_cast<Stream*>(h)->capturing) return true;
	}
	return false;
}

void set_sticky(int code, const std::string& msg) {
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.sticky == 0) {
		primary.sticky = code;
		primary.sticky_msg = msg;
	}
}

bool trace() {
	static bool on = getenv("GOLEM_CUDA_EMU_TRACE") != nullptr && *getenv("GOLEM_CUDA_EMU_TRACE") != 0;
	return on;
}

// launch runs a kernel node now.
CUresult launch(const Node& n) {
	std::vector<void*> ptrs(n.offsets.size());
	for (size_t i = 0; i < ptrs.size(); i++) ptrs[i] = const_cast<unsigned char*>(n.params.data()) + n.offsets[i];
	LaunchConfig cfg{n.fn->kernel, n.grid, n.block, n.shared, (unsigned)n.fn->max_dynamic_shared, ptrs.data(), ++primary.launches};
	if (trace()) {
		fprintf(stderr, "golem-cuda-emu: launch #%llu %s grid (%u,%u,%u) block (%u,%u,%u) shared %u\n", (unsigned long long)cfg.number,
		        cfg.kernel->name, n.grid.x, n.grid.y, n.grid.z, n.block.x, n.block.y, n.block.z, n.shared);
	}
	Failure f;
	if (!run_launch(cfg, &f)) {
		std::string msg = "golem-cuda-emu: " + f.message;
		fprintf(stderr, "%s\n", msg.c_str());
		set_sticky(f.code, msg);
		last_error.set(msg);
		return f.code;
	}
	std::string slack;
	if (!check_slack(&slack)) {
		std::string msg = format("golem-cuda-emu: kernel %s launch #%llu %s", cfg.kernel->name, (unsigned long long)cfg.number, slack.c_str());
		fprintf(stderr, "%s\n", msg.c_str());
		set_sticky(kIllegalAddress, msg);
		last_error.set(msg);
		return kIllegalAddress;
	}
	return kSuccess;
}

CUresult run_node(const Node& n) {
	switch (n.kind) {
	case Node::kKernel: return launch(n);
	case Node::kCopy: memmove(n.dst, n.src, n.n); return kSuccess;
	case Node::kMemset8: memset(n.dst, (int)n.value, n.n); return kSuccess;
	case Node::kMemset32:
		for (size_t i = 0; i < n.n; i++) memcpy(static_cast<char*>(n.dst) + 4 * i, &n.value, 4);
		return kSuccess;
	case Node::kEventRecord:
		n.event->t = std::chrono::steady_clock::now();
		n.event->recorded = true;
		return kSuccess;
	}
	return fail(kUnknown, "unknown graph node");
}

// submit runs n on stream s now, or records it when s is being captured.
CUresult submit(Stream* s, Node n) {
	if (s != nullptr && s->capturing) {
		s->graph->nodes.push_back(std::move(n));
		return kSuccess;
	}
	return run_node(n);
}

// ---------------------------------------------------------------------------
// PTX modules: the text must be a PTX module whose .entry functions all have
// an emulated kernel with parameters of the same sizes.

void skip_space(const char*& p) {
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
		if (p[0] == '/' && p[1] == '/') {
			while (*p && *p != '\n') p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char* e = strstr(p + 2, "*/");
			p = e ? e + 2 : p + strlen(p);
		} else {
			return;
		}
	}
}

std::string ident(const char*& p) {
	const char* s = p;
	while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || *p == '.')) p++;
	return std::string(s, p);
}

// param_size returns the size in bytes of one .param declaration's text
// (".param .u64 name", ".param .align 4 .b8 name[32]"), or 0.
size_t param_size(const std::string& decl) {
	size_t elem = 0;
	for (const char* t : {".u64", ".s64", ".b64", ".f64"}) if (decl.find(t) != std::string::npos) elem = 8;
	if (elem == 0) for (const char* t : {".u32", ".s32", ".b32", ".f32"}) if (decl.find(t) != std::string::npos) elem = 4;
	if (elem == 0) for (const char* t : {".u16", ".s16", ".b16", ".f16"}) if (decl.find(t) != std::string::npos) elem = 2;
	if (elem == 0) for (const char* t : {".u8", ".s8", ".b8"}) if (decl.find(t) != std::string::npos) elem = 1;
	size_t lb = decl.find('[');
	if (lb != std::string::npos) return elem * strtoull(decl.c_str() + lb + 1, nullptr, 10);
	return elem;
}

CUresult parse_ptx(const char* text, Module* m) {
	if (memcmp(text, "\x7f" "ELF", 4) == 0) return fail(kInvalidImage, "the emulator loads PTX text, not cubin or fatbin images");
	const char* v = strstr(text, ".version");
	if (v == nullptr) return fail(kInvalidPTX, "not a PTX module (no .version directive)");
	int major = 0, minor = 0;
	if (sscanf(v, ".version %d.%d", &major, &minor) != 2) return fail(kInvalidPTX, "malformed .version directive");
	if (major > 9 || (major == 9 && minor > 0)) {
		return fail(kUnsupportedPTXVersion, format("PTX ISA %d.%d is newer than this driver supports (CUDA 13.0: PTX ISA 9.0)", major, minor));
	}
	const char* t = strstr(text, ".target");
	if (t == nullptr) return fail(kInvalidPTX, "no .target directive");
	int sm = 0;
	if (sscanf(t, ".target sm_%d", &sm) != 1) return fail(kInvalidPTX, "malformed .target directive");
	if (sm > 80) return fail(kNoBinaryForGPU, format("the PTX targets sm_%d; the emulated device is sm_80", sm));
	for (const char* p = text; (p = strstr(p, ".entry")) != nullptr;) {
		p += strlen(".entry");
		skip_space(p);
		std::string name = ident(p);
		skip_space(p);
		if (name.empty() || *p != '(') return fail(kInvalidPTX, format("malformed .entry %s", name.c_str()));
		const char* end = strchr(p, ')');
		if (end == nullptr) return fail(kInvalidPTX, format(".entry %s: unterminated parameter list", name.c_str()));
		std::vector<size_t> sizes;
		std::string list(p + 1, end);
		for (size_t pos = 0; (pos = list.find(".param", pos)) != std::string::npos;) {
			size_t next = list.find(".param", pos + 1);
			sizes.push_back(param_size(list.substr(pos, next == std::string::npos ? std::string::npos : next - pos)));
			pos = next == std::string::npos ? list.size() : next;
		}
		const KernelInfo* k = find_kernel(name.c_str());
		if (k == nullptr) {
			return fail(kInvalidPTX, format("PTX entry %s has no emulated kernel (is bin/libgolem-cuda-emu.so older than the PTX? make cuda-emu)",
			                                name.c_str()));
		}
		bool same = (int)sizes.size() == k->nparams;
		for (int i = 0; same && i < k->nparams; i++) same = sizes[i] == k->sizes[i];
		if (!same) {
			std::string ptx, emu;
			for (size_t s : sizes) ptx += format("%s%zu", ptx.empty() ? "" : ",", s);
			for (int i = 0; i < k->nparams; i++) emu += format("%s%u", i ? "," : "", k->sizes[i]);
			return fail(kInvalidPTX, format("PTX entry %s takes parameters of (%s) bytes but the emulated kernel takes (%s) (make cuda-emu)",
			                                name.c_str(), ptx.c_str(), emu.c_str()));
		}
		Function* f = new Function{k, m};
		m->functions.push_back(f);
		p = end;
	}
	if (m->functions.empty()) return fail(kInvalidPTX, "the PTX module has no .entry function");
	return kSuccess;
}

}  // namespace

// describe_address (emu.h) locates p among the allocations.
std::string golem_emu::describe_address(uintptr_t p) {
	std::lock_guard<std::mutex> lock(mem_mu);
	if (p < 4096) return "a null pointer";
	size_t page = page_size();
	const Allocation* best = nullptr;
	for (auto& [base, a] : allocations) {
		uintptr_t lo = reinterpret_cast<uintptr_t>(a.map), hi = lo + a.maplen;
		if (p >= lo && p < hi) {
			best = &a;
			break;
		}
	}
	if (best != nullptr) {
		const Allocation& a = *best;
		if (p >= a.base + a.size) {
			return format("%llu bytes past the end of allocation #%llu (%zu bytes at 0x%llx)", (unsigned long long)(p - (a.base + a.size)),
			              (unsigned long long)a.id, a.size, (unsigned long long)a.base);
		}
		if (p < a.base) {
			return format("%llu bytes before the start of allocation #%llu (%zu bytes at 0x%llx)", (unsigned long long)(a.base - p),
			              (unsigned long long)a.id, a.size, (unsigned long long)a.base);
		}
		return format("inside allocation #%llu at offset %llu", (unsigned long long)a.id, (unsigned long long)(p - a.base));
	}
	(void)page;
	// Not near any allocation: name the closest one below.
	auto it = allocations.upper_bound(p);
	if (it != allocations.begin()) {
		--it;
		const Allocation& a = it->second;
		return format("not in any allocation (%llu bytes past the end of allocation #%llu, %zu bytes at 0x%llx)",
		              (unsigned long long)(p - (a.base + a.size)), (unsigned long long)a.id, a.size, (unsigned long long)a.base);
	}
	return "not in any allocation";
}

// ---------------------------------------------------------------------------
// The driver API.

API CUresult cuGetErrorName(CUresult e, const char** s) {
	for (const ErrorName& n : kErrors) {
		if (n.code == e) {
			*s = n.name;
			return kSuccess;
		}
	}
	*s = nullptr;
	return kInvalidValue;
}

API CUresult cuGetErrorString(CUresult e, const char** s) {
	for (const ErrorName& n : kErrors) {
		if (n.code == e) {
			*s = n.text;
			return kSuccess;
		}
	}
	*s = nullptr;
	return kInvalidValue;
}

// golem_emu_last_error copies the detail of the process's most recent failed call
// (or the context's sticky error) into buf and returns its length.
API size_t golem_emu_last_error(char* buf, size_t len) {
	std::string s = last_error.get();
	if (s.empty()) {
		std::lock_guard<std::mutex> lock(primary.mu);
		s = primary.sticky_msg;
	}
	if (len > 0) snprintf(buf, len, "%s", s.c_str());
	return s.size();
}

API CUresult cuInit(unsigned int flags) {
	if (flags != 0) return fail(kInvalidValue, "cuInit: flags must be 0");
	install_fault_handler();
	initialized = true;
	return kSuccess;
}

API CUresult cuDriverGetVersion(int* v) {
	if (v == nullptr) return fail(kInvalidValue, "cuDriverGetVersion: null pointer");
	*v = 13000;
	return kSuccess;
}

API CUresult cuDeviceGetCount(int* n) {
	if (!initialized) return fail(kNotInitialized, "cuInit has not been called");
	*n = 1;
	return kSuccess;
}

API CUresult cuDeviceGet(CUdevice* d, int ordinal) {
	if (!initialized) return fail(kNotInitialized, "cuInit has not been called");
	if (ordinal != 0) return fail(kInvalidDevice, format("device %d does not exist (the emulator has one)", ordinal));
	*d = 0;
	return kSuccess;
}

API CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
	if (d != 0) return fail(kInvalidDevice, format("device %d does not exist (the emulator has one)", d));
	snprintf(name, (size_t)len, "%s", kDeviceName);
	return kSuccess;
}

API CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice d) {
	if (d != 0) return fail(kInvalidDevice, format("device %d does not exist (the emulator has one)", d));
	*bytes = total_memory();
	return kSuccess;
}

API CUresult cuDeviceGetUuid_v2(unsigned char* uuid, CUdevice d) {
	if (d != 0) return fail(kInvalidDevice, format("device %d does not exist (the emulator has one)", d));
	memcpy(uuid, "golem-cuda-emu-0", 16);
	return kSuccess;
}

API CUresult cuDeviceGetUuid(unsigned char* uuid, CUdevice d) { return cuDeviceGetUuid_v2(uuid, d); }

API CUresult cuDeviceGetAttribute(int* v, int attr, CUdevice d) {
	if (d != 0) return fail(kInvalidDevice, format("device %d does not exist (the emulator has one)", d));
	switch (attr) {
	case 1: *v = 1024; break;           // MAX_THREADS_PER_BLOCK
	case 2: case 3: *v = 1024; break;   // MAX_BLOCK_DIM_X, Y
	case 4: *v = 64; break;             // MAX_BLOCK_DIM_Z
	case 5: *v = 2147483647; break;     // MAX_GRID_DIM_X
	case 6: case 7: *v = 65535; break;  // MAX_GRID_DIM_Y, Z
	case 8: *v = 48 * 1024; break;      // MAX_SHARED_MEMORY_PER_BLOCK
	case 9: *v = 64 * 1024; break;      // TOTAL_CONSTANT_MEMORY
	case 10: *v = 32; break;            // WARP_SIZE
	case 12: *v = 65536; break;         // MAX_REGISTERS_PER_BLOCK
	case 16: *v = (int)sysconf(_SC_NPROCESSORS_ONLN); break;  // MULTIPROCESSOR_COUNT
	case 18: *v = 0; break;             // INTEGRATED
	case 39: *v = 2048; break;          // MAX_THREADS_PER_MULTIPROCESSOR
	case 75: *v = 8; break;             // COMPUTE_CAPABILITY_MAJOR
	case 76: *v = 0; break;             // COMPUTE_CAPABILITY_MINOR
	case 81: *v = 164 * 1024; break;    // MAX_SHARED_MEMORY_PER_MULTIPROCESSOR
	case 97: *v = 163 * 1024; break;    // MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
	default: return fail(kInvalidValue, format("cuDeviceGetAttribute: attribute %d is not emulated", attr));
	}
	return kSuccess;
}

API CUresult cuDevicePrimaryCtxRetain(void** ctx, CUdevice d) {
	if (!initialized) return fail(kNotInitialized, "cuInit has not been called");
	if (d != 0) return fail(kInvalidDevice, format("device %d does not exist", d));
	std::lock_guard<std::mutex> lock(primary.mu);
	primary.refs++;
	*ctx = &primary;
	return kSuccess;
}

API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice d) {
	if (d != 0) return fail(kInvalidDevice, format("device %d does not exist (the emulator has one)", d));
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.refs == 0) return fail(kInvalidContext, "cuDevicePrimaryCtxRelease: the primary context is not retained");
	if (--primary.refs == 0) {
		// The context is destroyed: its memory and objects go, its error too.
		std::lock_guard<std::mutex> mlock(mem_mu);
		for (auto& [base, a] : allocations) munmap(a.map, a.maplen);
		allocations.clear();
		allocated = 0;
		primary.modules.clear();
		primary.functions.clear();
		primary.streams.clear();
		primary.events.clear();
		primary.graphs.clear();
		primary.execs.clear();
		primary.sticky = 0;
		primary.sticky_msg.clear();
	}
	return kSuccess;
}

API CUresult cuCtxSetCurrent(void* ctx) {
	if (ctx != nullptr && ctx != &primary) return fail(kInvalidContext, "cuCtxSetCurrent: not a context of this driver");
	current_ctx = static_cast<Context*>(ctx);
	return kSuccess;
}

API CUresult cuCtxGetCurrent(void** ctx) {
	*ctx = current_ctx;
	return kSuccess;
}

API CUresult cuCtxSynchronize() {
	if (CUresult r = enter()) return r;
	if (any_capturing()) return capture_error(nullptr, "cuCtxSynchronize");
	return kSuccess;
}

API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(mem_mu);
	*total = total_memory();
	*free_bytes = allocated < *total ? *total - allocated : 0;
	return kSuccess;
}

API CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t size) {
	if (CUresult r = enter()) return r;
	if (size == 0) return fail(kInvalidValue, "cuMemAlloc: size 0");
	size_t page = page_size();
	size_t padded = round_up(size, 256);
	size_t body = round_up(padded, page);
	size_t maplen = page + body + page;
	std::lock_guard<std::mutex> lock(mem_mu);
	size_t total = total_memory();
	if (allocated + body > total) {
		return fail(kOutOfMemory, format("cuMemAlloc: %s asked, %s free of %s (GOLEM_CUDA_EMU_MEMORY sets the size)", human(size).c_str(),
		                                  human(allocated < total ? total - allocated : 0).c_str(), human(total).c_str()));
	}
	void* m = mmap(nullptr, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) return fail(kOutOfMemory, format("cuMemAlloc: mmap of %zu bytes failed", maplen));
	char* map = static_cast<char*>(m);
	mprotect(map, page, PROT_NONE);
	mprotect(map + page + body, page, PROT_NONE);
	Allocation a{reinterpret_cast<uintptr_t>(map + page + body - padded), size, padded, map, maplen, next_alloc_id++};
	poison(reinterpret_cast<void*>(a.base), padded);
	allocations[a.base] = a;
	allocated += body;
	*p = a.base;
	return kSuccess;
}

API CUresult cuMemFree_v2(CUdeviceptr p) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(mem_mu);
	auto it = allocations.find(p);
	if (it == allocations.end()) return fail(kInvalidValue, format("cuMemFree: 0x%llx is not the start of an allocation", p));
	munmap(it->second.map, it->second.maplen);
	allocated -= it->second.maplen - 2 * page_size();
	allocations.erase(it);
	return kSuccess;
}

API CUresult cuMemAllocHost_v2(void** p, size_t size) {
	if (CUresult r = enter()) return r;
	void* m = mmap(nullptr, size == 0 ? 1 : size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) return fail(kOutOfMemory, format("cuMemAllocHost: %zu bytes", size));
	std::lock_guard<std::mutex> lock(mem_mu);
	host_allocations[m] = size == 0 ? 1 : size;
	*p = m;
	return kSuccess;
}

API CUresult cuMemFreeHost(void* p) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(mem_mu);
	auto it = host_allocations.find(p);
	if (it == host_allocations.end()) return fail(kInvalidValue, format("cuMemFreeHost: %p was not allocated by cuMemAllocHost", p));
	munmap(it->first, it->second);
	host_allocations.erase(it);
	return kSuccess;
}

namespace {

CUresult copy(const char* call, void* stream, void* dst, CUdeviceptr ddst, const void* src, CUdeviceptr dsrc, size_t n, bool async) {
	if (CUresult r = enter()) return r;
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	if (!async && any_capturing()) return capture_error(nullptr, call);
	if (ddst != 0 || dst == nullptr) {
		if (CUresult r = check_range(call, ddst, n)) return r;
		dst = reinterpret_cast<void*>(ddst);
	}
	if (dsrc != 0 || src == nullptr) {
		if (CUresult r = check_range(call, dsrc, n)) return r;
		src = reinterpret_cast<const void*>(dsrc);
	}
	if (n == 0) return kSuccess;
	Node node(Node::kCopy);
	node.dst = dst;
	node.src = src;
	node.n = n;
	return submit(s, std::move(node));
}

CUresult memset_n(const char* call, void* stream, CUdeviceptr d, unsigned value, size_t count, int width, bool async) {
	if (CUresult r = enter()) return r;
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	if (!async && any_capturing()) return capture_error(nullptr, call);
	if (width == 4 && d % 4 != 0) return fail(kInvalidValue, format("%s: address 0x%llx is not 4-byte aligned", call, d));
	if (CUresult r = check_range(call, d, count * width)) return r;
	Node node(width == 1 ? Node::kMemset8 : Node::kMemset32);
	node.dst = reinterpret_cast<void*>(d);
	node.n = count;
	node.value = value;
	return submit(s, std::move(node));
}

}  // namespace

API CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* h, size_t n) { return copy("cuMemcpyHtoD", nullptr, nullptr, d, h, 0, n, false); }
API CUresult cuMemcpyDtoH_v2(void* h, CUdeviceptr d, size_t n) { return copy("cuMemcpyDtoH", nullptr, h, 0, nullptr, d, n, false); }
API CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { return copy("cuMemcpyDtoD", nullptr, nullptr, d, nullptr, s, n, false); }
API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* h, size_t n, void* st) { return copy("cuMemcpyHtoDAsync", st, nullptr, d, h, 0, n, true); }
API CUresult cuMemcpyDtoHAsync_v2(void* h, CUdeviceptr d, size_t n, void* st) { return copy("cuMemcpyDtoHAsync", st, h, 0, nullptr, d, n, true); }
API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, void* st) { return copy("cuMemcpyDtoDAsync", st, nullptr, d, nullptr, s, n, true); }
API CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return memset_n("cuMemsetD8", nullptr, d, v, n, 1, false); }
API CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) { return memset_n("cuMemsetD32", nullptr, d, v, n, 4, false); }
API CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void* st) { return memset_n("cuMemsetD8Async", st, d, v, n, 1, true); }
API CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, void* st) { return memset_n("cuMemsetD32Async", st, d, v, n, 4, true); }

API CUresult cuModuleLoadDataEx(void** mod, const void* image, unsigned int nopts, int* opts, void** values) {
	if (CUresult r = enter()) return r;
	if (image == nullptr) return fail(kInvalidValue, "cuModuleLoadData: null image");
	Module* m = new Module();
	CUresult r = parse_ptx(static_cast<const char*>(image), m);
	if (r != kSuccess) {
		// The JIT error log, when asked for (CU_JIT_ERROR_LOG_BUFFER = 5,
		// its size = 6).
		char* log = nullptr;
		size_t loglen = 0;
		for (unsigned i = 0; i < nopts; i++) {
			if (opts[i] == 5) log = static_cast<char*>(values[i]);
			if (opts[i] == 6) loglen = (size_t)(uintptr_t)values[i];
		}
		if (log != nullptr && loglen > 0) snprintf(log, loglen, "%s", last_error.get().c_str());
		for (Function* f : m->functions) delete f;
		delete m;
		return r;
	}
	std::lock_guard<std::mutex> lock(primary.mu);
	primary.modules.insert(m);
	for (Function* f : m->functions) primary.functions.insert(f);
	*mod = m;
	return kSuccess;
}

API CUresult cuModuleLoadData(void** mod, const void* image) { return cuModuleLoadDataEx(mod, image, 0, nullptr, nullptr); }

API CUresult cuModuleUnload(void* mod) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.modules.erase(mod) == 0) return fail(kInvalidHandle, format("cuModuleUnload: module %p does not exist", mod));
	for (Function* f : static_cast<Module*>(mod)->functions) primary.functions.erase(f);
	return kSuccess;
}

API CUresult cuModuleGetFunction(void** fn, void* mod, const char* name) {
	if (CUresult r = enter()) return r;
	if (!live(primary.modules, mod)) return fail(kInvalidHandle, format("cuModuleGetFunction: module %p does not exist", mod));
	for (Function* f : static_cast<Module*>(mod)->functions) {
		if (strcmp(f->kernel->name, name) == 0) {
			*fn = f;
			return kSuccess;
		}
	}
	return fail(kNotFound, format("cuModuleGetFunction: the module has no kernel %s", name));
}

API CUresult cuFuncSetAttribute(void* fn, int attr, int value) {
	if (CUresult r = enter()) return r;
	if (!live(primary.functions, fn)) return fail(kInvalidHandle, "cuFuncSetAttribute: no such function");
	Function* f = static_cast<Function*>(fn);
	if (attr == 8) {  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
		if (value < 0 || value > 163 * 1024) {
			return fail(kInvalidValue, format("cuFuncSetAttribute: %d bytes of dynamic shared memory (sm_80 allows 163 KiB)", value));
		}
		f->max_dynamic_shared = value;
	}
	return kSuccess;
}

API CUresult cuFuncGetAttribute(int* v, int attr, void* fn) {
	if (CUresult r = enter()) return r;
	if (!live(primary.functions, fn)) return fail(kInvalidHandle, "cuFuncGetAttribute: no such function");
	Function* f = static_cast<Function*>(fn);
	switch (attr) {
	case 0: *v = 1024; break;                   // MAX_THREADS_PER_BLOCK
	case 8: *v = f->max_dynamic_shared; break;  // MAX_DYNAMIC_SHARED_SIZE_BYTES
	default: *v = 0;
	}
	return kSuccess;
}

API CUresult cuLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared,
                            void* stream, void** params, void** extra) {
	if (CUresult r = enter()) return r;
	if (!live(primary.functions, fn)) return fail(kInvalidHandle, format("cuLaunchKernel: function %p does not exist", fn));
	Function* f = static_cast<Function*>(fn);
	const KernelInfo* k = f->kernel;
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	if (gx == 0 || gy == 0 || gz == 0 || gx > 2147483647u || gy > 65535 || gz > 65535) {
		return fail(kInvalidValue, format("cuLaunchKernel %s: grid (%u,%u,%u) outside (1..2^31-1, 1..65535, 1..65535)", k->name, gx, gy, gz));
	}
	if (bx == 0 || by == 0 || bz == 0 || bx > 1024 || by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > 1024) {
		return fail(kInvalidValue, format("cuLaunchKernel %s: block (%u,%u,%u) outside 1024 threads (x, y <= 1024, z <= 64)", k->name, bx, by, bz));
	}
	if ((int)shared > f->max_dynamic_shared) {
		return fail(kInvalidValue, format("cuLaunchKernel %s: %u bytes of dynamic shared memory, over the function's limit of %d "
		                                  "(cuFuncSetAttribute MAX_DYNAMIC_SHARED_SIZE_BYTES)",
		                                  k->name, shared, f->max_dynamic_shared));
	}
	Node n(Node::kKernel);
	n.fn = f;
	n.grid = golem_uint3{gx, gy, gz};
	n.block = golem_uint3{bx, by, bz};
	n.shared = shared;
	// Copy the parameter values now, as the driver does.
	const unsigned char* buffer = nullptr;
	size_t buffer_size = 0;
	if (params == nullptr && extra != nullptr) {
		for (void** e = extra; *e != nullptr; e += 2) {  // CU_LAUNCH_PARAM_END = 0
			if (*e == (void*)1) buffer = static_cast<const unsigned char*>(e[1]);  // CU_LAUNCH_PARAM_BUFFER_POINTER
			else if (*e == (void*)2) buffer_size = *static_cast<size_t*>(e[1]);   // CU_LAUNCH_PARAM_BUFFER_SIZE
		}
	}
	if (k->nparams > 0 && params == nullptr && buffer == nullptr) {
		return fail(kInvalidValue, format("cuLaunchKernel %s: no parameters given (kernelParams and extra are null)", k->name));
	}
	size_t off = 0, boff = 0;
	for (int i = 0; i < k->nparams; i++) {
		off = round_up(off, 16);
		n.offsets.push_back(off);
		n.params.resize(off + k->sizes[i]);
		const void* src;
		if (params != nullptr) {
			src = params[i];
			if (src == nullptr) return fail(kInvalidValue, format("cuLaunchKernel %s: parameter %d is a null pointer", k->name, i));
		} else {
			boff = round_up(boff, k->aligns[i]);
			if (boff + k->sizes[i] > buffer_size) {
				return fail(kInvalidValue, format("cuLaunchKernel %s: the parameter buffer holds %zu bytes, parameter %d needs %zu", k->name,
				                                  buffer_size, i, boff + k->sizes[i]));
			}
			src = buffer + boff;
			boff += k->sizes[i];
		}
		memcpy(n.params.data() + off, src, k->sizes[i]);
		off += k->sizes[i];
	}
	return submit(s, std::move(n));
}

API CUresult cuStreamCreate(void** stream, unsigned int flags) {
	if (CUresult r = enter()) return r;
	(void)flags;
	Stream* s = new Stream();
	std::lock_guard<std::mutex> lock(primary.mu);
	primary.streams.insert(s);
	*stream = s;
	return kSuccess;
}

API CUresult cuStreamDestroy_v2(void* stream) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.streams.erase(stream) == 0) return fail(kInvalidHandle, format("cuStreamDestroy: stream %p does not exist", stream));
	return kSuccess;
}

API CUresult cuStreamSynchronize(void* stream) {
	if (CUresult r = enter()) return r;
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	if (s != nullptr && s->capturing) return capture_error(s, "cuStreamSynchronize");
	return kSuccess;
}

API CUresult cuEventCreate(void** event, unsigned int flags) {
	if (CUresult r = enter()) return r;
	Event* e = new Event();
	e->timing = (flags & 2) == 0;  // CU_EVENT_DISABLE_TIMING
	std::lock_guard<std::mutex> lock(primary.mu);
	primary.events.insert(e);
	*event = e;
	return kSuccess;
}

API CUresult cuEventDestroy_v2(void* event) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.events.erase(event) == 0) return fail(kInvalidHandle, format("cuEventDestroy: event %p does not exist", event));
	return kSuccess;
}

API CUresult cuEventRecord(void* event, void* stream) {
	if (CUresult r = enter()) return r;
	if (!live(primary.events, event)) return fail(kInvalidHandle, format("cuEventRecord: event %p does not exist", event));
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	Node n(Node::kEventRecord);
	n.event = static_cast<Event*>(event);
	return submit(s, std::move(n));
}

API CUresult cuEventSynchronize(void* event) {
	if (CUresult r = enter()) return r;
	if (!live(primary.events, event)) return fail(kInvalidHandle, format("cuEventSynchronize: event %p does not exist", event));
	return kSuccess;
}

// cuEventQuery: work is done when it is issued, so every recorded event
// (and one never recorded, as the driver says) is complete.
API CUresult cuEventQuery(void* event) {
	if (CUresult r = enter()) return r;
	if (!live(primary.events, event)) return fail(kInvalidHandle, format("cuEventQuery: event %p does not exist", event));
	return kSuccess;
}

API CUresult cuEventElapsedTime(float* ms, void* start, void* end) {
	if (CUresult r = enter()) return r;
	if (!live(primary.events, start) || !live(primary.events, end)) return fail(kInvalidHandle, "cuEventElapsedTime: no such event");
	Event *a = static_cast<Event*>(start), *b = static_cast<Event*>(end);
	if (!a->timing || !b->timing) return fail(kInvalidHandle, "cuEventElapsedTime: an event was created with CU_EVENT_DISABLE_TIMING");
	if (!a->recorded || !b->recorded) return fail(kNotReady, "cuEventElapsedTime: an event has not been recorded");
	*ms = std::chrono::duration<float, std::milli>(b->t - a->t).count();
	return kSuccess;
}

API CUresult cuStreamBeginCapture_v2(void* stream, int mode) {
	if (CUresult r = enter()) return r;
	(void)mode;
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	if (s == nullptr) return fail(kCaptureUnsupported, "cuStreamBeginCapture: the default stream cannot be captured");
	if (s->capturing) return fail(kIllegalState, "cuStreamBeginCapture: the stream is already being captured");
	s->capturing = true;
	s->invalidated = false;
	s->graph = new Graph();
	return kSuccess;
}

API CUresult cuStreamEndCapture(void* stream, void** graph) {
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	if (s == nullptr || !s->capturing) return fail(kIllegalState, "cuStreamEndCapture: the stream is not being captured");
	s->capturing = false;
	Graph* g = s->graph;
	s->graph = nullptr;
	if (s->invalidated) {
		delete g;
		*graph = nullptr;
		return fail(kCaptureInvalidated, "cuStreamEndCapture: an operation not allowed during capture invalidated it");
	}
	std::lock_guard<std::mutex> lock(primary.mu);
	primary.graphs.insert(g);
	*graph = g;
	return kSuccess;
}

API CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long flags) {
	if (CUresult r = enter()) return r;
	(void)flags;
	if (!live(primary.graphs, graph)) return fail(kInvalidHandle, format("cuGraphInstantiate: graph %p does not exist", graph));
	GraphExec* e = new GraphExec{static_cast<Graph*>(graph)->nodes};
	std::lock_guard<std::mutex> lock(primary.mu);
	primary.execs.insert(e);
	*exec = e;
	return kSuccess;
}

API CUresult cuGraphLaunch(void* exec, void* stream) {
	if (CUresult r = enter()) return r;
	if (!live(primary.execs, exec)) return fail(kInvalidHandle, format("cuGraphLaunch: graph exec %p does not exist", exec));
	Stream* s;
	if (CUresult r = get_stream(stream, &s)) return r;
	if (s != nullptr && s->capturing) return fail(kNotSupported, "cuGraphLaunch: capturing a graph launch is not emulated");
	for (const Node& n : static_cast<GraphExec*>(exec)->nodes) {
		if (CUresult r = run_node(n)) return r;
	}
	return kSuccess;
}

// CUgraphExecUpdateResultInfo (CUDA 12.0+).
struct UpdateResultInfo {
	int result;
	void* error_node;
	void* error_from_node;
};

// cuGraphExecUpdate_v2 takes graph's parameters into exec when the two
// have the same topology: as many nodes, of the same kinds, kernel nodes
// of the same functions (grids, blocks, parameters, copy and memset
// addresses and values, recorded events may change). Otherwise
// it changes nothing and fails with CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE,
// the reason in info->result (CUgraphExecUpdateResult).
API CUresult cuGraphExecUpdate_v2(void* exec, void* graph, UpdateResultInfo* info) {
	if (CUresult r = enter()) return r;
	if (info == nullptr) return fail(kInvalidValue, "cuGraphExecUpdate: null result info");
	*info = UpdateResultInfo{};
	if (!live(primary.execs, exec)) return fail(kInvalidHandle, format("cuGraphExecUpdate: graph exec %p does not exist", exec));
	if (!live(primary.graphs, graph)) return fail(kInvalidHandle, format("cuGraphExecUpdate: graph %p does not exist", graph));
	GraphExec* e = static_cast<GraphExec*>(exec);
	const std::vector<Node>& nodes = static_cast<Graph*>(graph)->nodes;
	constexpr int kUpdateFailure = 910;
	// CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, _NODE_TYPE_CHANGED, _FUNCTION_CHANGED.
	enum { kTopology = 2, kNodeType = 3, kFunction = 4 };
	if (nodes.size() != e->nodes.size()) {
		info->result = kTopology;
		return fail(kUpdateFailure, format("cuGraphExecUpdate: the graph has %zu nodes, the executable graph %zu", nodes.size(), e->nodes.size()));
	}
	for (size_t i = 0; i < nodes.size(); i++) {
		const Node &a = e->nodes[i], &b = nodes[i];
		if (a.kind != b.kind) {
			info->result = kNodeType;
			return fail(kUpdateFailure, format("cuGraphExecUpdate: node %zu changed its type", i));
		}
		if (a.kind == Node::kKernel && a.fn != b.fn) {
			info->result = kFunction;
			return fail(kUpdateFailure, format("cuGraphExecUpdate: node %zu changed its function (%s to %s)", i, a.fn->kernel->name,
			                                   b.fn->kernel->name));
		}
	}
	e->nodes = nodes;
	return kSuccess;
}

API CUresult cuGraphExecDestroy(void* exec) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.execs.erase(exec) == 0) return fail(kInvalidHandle, format("cuGraphExecDestroy: graph exec %p does not exist", exec));
	delete static_cast<GraphExec*>(exec);
	return kSuccess;
}

API CUresult cuGraphDestroy(void* graph) {
	if (CUresult r = enter()) return r;
	std::lock_guard<std::mutex> lock(primary.mu);
	if (primary.graphs.erase(graph) == 0) return fail(kInvalidHandle, format("cuGraphDestroy: graph %p does not exist", graph));
	delete static_cast<Graph*>(graph);
	return kSuccess;
}
