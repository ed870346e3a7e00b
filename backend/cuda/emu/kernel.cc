// kernel.cc: running a kernel launch on the CPU.
//
// Every GPU thread of a block is a fiber with its own stack, switched by a
// few lines of assembly (x86-64; ucontext elsewhere) on the OS thread that
// called cuLaunchKernel. The scheduler runs the block's fibers in order;
// each runs until it exits or waits at __syncthreads or a warp operation.
// A barrier completes when every thread of the block has reached it, a
// warp operation when every non-exited lane of its mask has; then the
// waiters become runnable again. When no fiber can run but some have not
// exited, the block is deadlocked: the launch fails with a message that
// says who waits where. Blocks run one after another.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <mutex>

#include "emu.h"

namespace golem_emu {

__thread ThreadView* current __attribute__((tls_model("initial-exec"))) = nullptr;

std::string format(const char* fmt, ...) {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return buf;
}

void poison(void* p, size_t n) {
	unsigned char* b = static_cast<unsigned char*>(p);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) memcpy(b + i, &kPoison, 4);
	for (; i < n; i++) b[i] = (unsigned char)(kPoison >> (8 * (i % 4)));
}

// ---------------------------------------------------------------------------
// Kernel registry (filled by static constructors of the kernel units).

static KernelInfo* registry = nullptr;

void register_kernel(KernelInfo* k) {
	k->next = registry;
	registry = k;
}

const KernelInfo* find_kernel(const char* name) {
	for (KernelInfo* k = registry; k != nullptr; k = k->next) {
		if (strcmp(k->name, name) == 0) return k;
	}
	return nullptr;
}

// ---------------------------------------------------------------------------
// Context switching.

#if defined(__x86_64__)
// golem_emu_switch(save, to) saves the callee-saved registers on the
// current stack, stores the stack pointer in *save, then restores them from
// stack pointer to and returns there. (MXCSR and the x87 control word are
// callee-saved too, but neither the emulator nor kernels change them.)
extern "C" void golem_emu_switch(void** save, void* to);
// golem_emu_fiber_start is where a new fiber's first switch returns to: it
// calls r13(r12) (fiber_main, which never returns).
extern "C" void golem_emu_fiber_start();
asm(R"(
	.text
	.p2align 4
	.globl golem_emu_switch
	.hidden golem_emu_switch
	.type golem_emu_switch,@function
golem_emu_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
	.size golem_emu_switch, .-golem_emu_switch

	.p2align 4
	.globl golem_emu_fiber_start
	.hidden golem_emu_fiber_start
	.type golem_emu_fiber_start,@function
golem_emu_fiber_start:
	movq %r12, %rdi
	callq *%r13
	ud2
	.size golem_emu_fiber_start, .-golem_emu_fiber_start
)");
#endif

// ---------------------------------------------------------------------------
// Fibers, blocks and executors.

enum FiberState { kRunnable, kAtBarrier, kAtWarp, kExited };

constexpr size_t kStackSize = 128 * 1024;  // per GPU thread, a guard page below
constexpr unsigned kMaxThreads = 1024;
constexpr size_t kSharedArena = 228 * 1024;  // more than any device allows

struct Executor;

// AsyncCopy is one pending cp.async.
struct AsyncCopy {
	void* dst;
	const void* src;
	unsigned size, src_bytes, group;
};

struct Fiber {
	ThreadView view;  // first: current points here
	void* sp;
	int state;
	int slot;  // its stack, or -1 before it starts
	unsigned linear;  // thread index in the block
	unsigned result;  // of the last warp operation or barrier reduction
	Executor* ex;
	// cp.async copies not yet done: group is the number of groups committed
	// before the copy was issued (see cp_async).
	std::vector<AsyncCopy> copies;
	unsigned groups;
#if !defined(__x86_64__)
	ucontext_t uc;
#endif
};

// WarpGroup is one pending warp operation: the lanes of mask that have
// arrived, each with its value and b operand.
struct WarpGroup {
	bool active;
	int op;
	unsigned mask, arrived;
	int c;
	const char* file;
	int line;
};

struct Warp {
	unsigned existing;  // lanes that exist (a partial last warp has fewer)
	unsigned exited;
	unsigned active;  // number of active groups
	unsigned value[32];
	int b[32];
	void* arg[32];  // collective operations (mma, ldmatrix): each lane's arguments
	WarpGroup groups[32];
};

struct SharedSite {
	const void* site;
	size_t offset, size;
	const char* name;
};

// Executor holds what one running launch needs: fiber stacks, the shared
// memory arena and the block's state. Executors are pooled.
struct Executor {
	char* stacks = nullptr;  // kMaxThreads stacks of kStackSize
	char* shared = nullptr;  // kSharedArena bytes, a guard page after
	Fiber fibers[kMaxThreads];
	// Free stack slots (LIFO): a fiber takes one when it starts and gives
	// it back when it exits, so a kernel without barriers runs every thread
	// on the same, cache-hot stack.
	int free_slots[kMaxThreads];
	unsigned nfree = 0;
	Warp warps[kMaxThreads / 32];
	std::vector<SharedSite> sites;
	void* sched_sp = nullptr;
#if !defined(__x86_64__)
	ucontext_t sched_uc;
#endif

	// The block being run.
	const LaunchConfig* cfg = nullptr;
	BlockView block;
	unsigned nthreads = 0, live = 0;
	size_t shared_used = 0, static_shared = 0;
	// The block's barrier: arrivals so far, its site, a different site if
	// one was seen, and the barrier reduction.
	unsigned bar_count = 0;
	const char* bar_file = nullptr;
	int bar_line = 0;
	const char* bar_other_file = nullptr;
	int bar_other_line = 0;
	unsigned bar_other_count = 0;
	int bar_op = -1;
	int bar_acc = 0;
	// A failure raised by a fiber (or the fault handler).
	bool failed = false;
	Failure failure;
	// Fault details recorded by the signal handler.
	int fault_sig = 0, fault_code = 0;
	uintptr_t fault_addr = 0;
	bool fault_write = false, fault_known_rw = false;
	Fiber* fault_fiber = nullptr;
};

static std::mutex pool_mu;
static std::vector<Executor*> pool;

static Executor* acquire_executor() {
	{
		std::lock_guard<std::mutex> lock(pool_mu);
		if (!pool.empty()) {
			Executor* ex = pool.back();
			pool.pop_back();
			return ex;
		}
	}
	Executor* ex = new Executor();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void* st = mmap(nullptr, kMaxThreads * kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void* sh = mmap(nullptr, kSharedArena + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED || sh == MAP_FAILED) {
		fprintf(stderr, "golem-cuda-emu: cannot map fiber stacks: out of memory\n");
		abort();
	}
	ex->stacks = static_cast<char*>(st);
	ex->shared = static_cast<char*>(sh);
	for (unsigned i = 0; i < kMaxThreads; i++) {
		mprotect(ex->stacks + i * kStackSize, page, PROT_NONE);
		ex->free_slots[i] = (int)(kMaxThreads - 1 - i);
	}
	ex->nfree = kMaxThreads;
	mprotect(ex->shared + kSharedArena, page, PROT_NONE);
	return ex;
}

static void release_executor(Executor* ex) {
	std::lock_guard<std::mutex> lock(pool_mu);
	pool.push_back(ex);
}

// The executor and fiber running on this OS thread (for the fault handler
// and the header's entry points).
static thread_local Executor* running __attribute__((tls_model("initial-exec"))) = nullptr;
static thread_local volatile sig_atomic_t in_fiber __attribute__((tls_model("initial-exec"))) = 0;

static inline Fiber* self() { return reinterpret_cast<Fiber*>(current); }

// yield switches from the running fiber back to the scheduler.
static void yield(Fiber* f) {
	in_fiber = 0;
#if defined(__x86_64__)
	golem_emu_switch(&f->sp, f->ex->sched_sp);
#else
	swapcontext(&f->uc, &f->ex->sched_uc);
#endif
}

// fail_here records a failure raised by the running fiber and leaves it for
// good (its block is abandoned).
[[noreturn]] static void fail_here(int code, std::string msg) {
	Fiber* f = self();
	Executor* ex = f->ex;
	if (!ex->failed) {
		ex->failed = true;
		ex->failure.code = code;
		ex->failure.message = std::move(msg);
	}
	yield(f);
	abort();  // never resumed
}

static std::string where(const Executor* ex) {
	const BlockView& b = ex->block;
	return format("kernel %s launch #%llu block (%u,%u,%u)", ex->cfg->kernel->name, (unsigned long long)ex->cfg->number, b.idx.x,
	              b.idx.y, b.idx.z);
}

static std::string thread_str(const Fiber* f) { return format("thread (%u,%u,%u)", f->view.idx.x, f->view.idx.y, f->view.idx.z); }

void check_warp_groups(Executor* ex, Warp& w, unsigned warp);
static void finish_copies(Fiber* f, unsigned upto);

static void fiber_main(Fiber* f) {
	const LaunchConfig* cfg = f->ex->cfg;
	cfg->kernel->invoke(cfg->kernel->fn, cfg->params);
	finish_copies(f, ~0u);
	f->state = kExited;
	Executor* ex = f->ex;
	ex->live--;
	Warp& w = ex->warps[f->linear / 32];
	w.exited |= 1u << (f->linear % 32);
	// Pending warp operations that waited for this lane may complete now.
	check_warp_groups(ex, w, f->linear / 32);
	yield(f);
	abort();
}

#if !defined(__x86_64__)
static void fiber_trampoline(unsigned lo, unsigned hi) {
	fiber_main(reinterpret_cast<Fiber*>(((uintptr_t)hi << 32) | lo));
}
#endif

// init_fiber prepares the fiber of thread i (linear index) at (x, y, z).
static void init_fiber(Executor* ex, Fiber* f, unsigned i, unsigned x, unsigned y, unsigned z) {
	f->ex = ex;
	f->linear = i;
	f->state = kRunnable;
	f->slot = -1;
	f->result = 0;
	f->copies.clear();
	f->groups = 0;
	f->view.idx = golem_uint3{x, y, z};
	f->view.lane = i % 32;
	f->view.block = &ex->block;
}

// start_fiber gives f a stack and the frame its first resume returns into.
static void start_fiber(Executor* ex, Fiber* f) {
	int slot = ex->free_slots[--ex->nfree];
	f->slot = slot;
	// Stack tops are staggered by cache lines and pages: tops 128 KiB apart
	// would all fall in the same cache sets.
	char* top = ex->stacks + (size_t)(slot + 1) * kStackSize - (size_t)(slot % 61) * 64 - (size_t)(slot % 7) * 4096;
#if defined(__x86_64__)
	// The frame golem_emu_switch pops: r15..rbp and the return address.
	// After it, rsp = top - 16: 16-byte aligned at fiber_start's call, as
	// the ABI wants.
	uint64_t* sp = reinterpret_cast<uint64_t*>(top - 72);
	sp[0] = 0;                                        // r15
	sp[1] = 0;                                        // r14
	sp[2] = reinterpret_cast<uint64_t>(&fiber_main);  // r13
	sp[3] = reinterpret_cast<uint64_t>(f);            // r12
	sp[4] = 0;                                        // rbx
	sp[5] = 0;                                        // rbp
	sp[6] = reinterpret_cast<uint64_t>(&golem_emu_fiber_start);
	sp[7] = 0;
	sp[8] = 0;
	f->sp = sp;
#else
	getcontext(&f->uc);
	f->uc.uc_stack.ss_sp = ex->stacks + (size_t)slot * kStackSize;
	f->uc.uc_stack.ss_size = (size_t)(top - (ex->stacks + (size_t)slot * kStackSize));
	f->uc.uc_link = nullptr;
	uintptr_t p = reinterpret_cast<uintptr_t>(f);
	makecontext(&f->uc, (void (*)())fiber_trampoline, 2, (unsigned)p, (unsigned)(p >> 32));
#endif
}

// resume runs fiber f until it yields.
static void resume(Executor* ex, Fiber* f) {
	if (f->slot < 0) start_fiber(ex, f);
	current = &f->view;
	in_fiber = 1;
#if defined(__x86_64__)
	golem_emu_switch(&ex->sched_sp, f->sp);
#else
	swapcontext(&ex->sched_uc, &f->uc);
#endif
	in_fiber = 0;
	current = nullptr;
	if (f->state == kExited) {
		ex->free_slots[ex->nfree++] = f->slot;
	}
}

// ---------------------------------------------------------------------------
// Barriers.

static size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

static const char* base_name(const char* path) {
	const char* s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void release_barrier(Executor* ex) {
	for (unsigned i = 0; i < ex->nthreads; i++) {
		if (ex->fibers[i].state == kAtBarrier) {
			ex->fibers[i].state = kRunnable;
			ex->fibers[i].result = (unsigned)ex->bar_acc;
		}
	}
	ex->bar_count = 0;
	ex->bar_other_file = nullptr;
	ex->bar_other_count = 0;
	ex->bar_op = -1;
}

static unsigned arrive(int op, int pred, const char* file, int line) {
	Fiber* f = self();
	Executor* ex = f->ex;
	if (ex->bar_count == 0) {
		ex->bar_file = file;
		ex->bar_line = line;
		ex->bar_op = op;
		ex->bar_acc = op == kBarAnd ? 1 : 0;
	} else if (line != ex->bar_line || strcmp(file, ex->bar_file) != 0) {
		if (ex->bar_other_file == nullptr) {
			ex->bar_other_file = file;
			ex->bar_other_line = line;
		}
		ex->bar_other_count++;
	}
	switch (op) {
	case kBarPopc: ex->bar_acc += pred; break;
	case kBarAnd: ex->bar_acc &= pred; break;
	case kBarOr: ex->bar_acc |= pred; break;
	}
	ex->bar_count++;
	if (ex->bar_count == ex->nthreads) {
		if (ex->bar_other_file != nullptr) {
			fail_here(kLaunchFailed,
			          format("%s: divergent __syncthreads: %u threads wait at %s:%d and %u at %s:%d (undefined on a GPU: it may hang)",
			                 where(ex).c_str(), ex->bar_count - ex->bar_other_count, base_name(ex->bar_file), ex->bar_line,
			                 ex->bar_other_count, base_name(ex->bar_other_file), ex->bar_other_line));
		}
		unsigned r = (unsigned)ex->bar_acc;
		release_barrier(ex);
		return r;
	}
	f->state = kAtBarrier;
	yield(f);
	return f->result;
}

void syncthreads(const char* file, int line) { arrive(-1, 0, file, line); }

int syncthreads_reduce(int op, int pred, const char* file, int line) { return (int)arrive(op, pred, file, line); }

// ---------------------------------------------------------------------------
// Warp operations.

static const char* warp_op_name(int op) {
	switch (op) {
	case kShflIdx: return "__shfl_sync";
	case kShflUp: return "__shfl_up_sync";
	case kShflDown: return "__shfl_down_sync";
	case kShflBfly: return "__shfl_xor_sync";
	case kBallot: return "__ballot_sync";
	case kAll: return "__all_sync";
	case kAny: return "__any_sync";
	case kSyncWarp: return "__syncwarp";
	case kMma: return "mma.sync.m16n8k16";
	case kLdmatrix: return "ldmatrix";
	}
	return "?";
}

// complete_group computes every arrived lane's result (PTX shfl.sync and
// vote.sync semantics) and makes the waiters runnable.
static void complete_collective(Executor* ex, Warp& w, unsigned warp, WarpGroup& g);

static void complete_group(Executor* ex, Warp& w, unsigned warp, WarpGroup& g) {
	if (g.op >= kMma) {
		complete_collective(ex, w, warp, g);
		return;
	}
	unsigned ballot = 0;
	for (unsigned l = 0; l < 32; l++) {
		if ((g.arrived >> l) & 1u && w.value[l] != 0) ballot |= 1u << l;
	}
	for (unsigned l = 0; l < 32; l++) {
		if (!((g.arrived >> l) & 1u)) continue;
		Fiber& f = ex->fibers[warp * 32 + l];
		unsigned r = 0;
		if (g.op <= kShflBfly) {
			int lane = (int)l, b = w.b[l] & 31, c = g.c;
			int segmask = (c >> 8) & 31, cval = c & 31;
			int maxLane = (lane & segmask) | (cval & ~segmask), minLane = lane & segmask;
			int j = lane;
			bool pval = false;
			switch (g.op) {
			case kShflUp: j = lane - b; pval = j >= maxLane; break;
			case kShflDown: j = lane + b; pval = j <= maxLane; break;
			case kShflBfly: j = lane ^ b; pval = j <= maxLane; break;
			case kShflIdx: j = minLane | (b & ~segmask); pval = j <= maxLane; break;
			}
			if (!pval) j = lane;
			// A source lane that is not taking part gives an undefined value:
			// the poison pattern.
			r = (j >= 0 && j < 32 && ((g.arrived >> j) & 1u)) ? w.value[j] : kPoison;
		} else if (g.op == kBallot) {
			r = ballot;
		} else if (g.op == kAll) {
			r = ballot == g.arrived;
		} else if (g.op == kAny) {
			r = ballot != 0;
		}
		f.result = r;
		if (&f != self()) f.state = kRunnable;
	}
	g.active = false;
	w.active--;
}

// required returns the lanes group g still waits for.
static unsigned missing(const Warp& w, const WarpGroup& g) { return g.mask & w.existing & ~w.exited & ~g.arrived; }

void check_warp_groups(Executor* ex, Warp& w, unsigned warp) {
	if (w.active == 0) return;
	for (WarpGroup& g : w.groups) {
		if (g.active && missing(w, g) == 0) complete_group(ex, w, warp, g);
	}
}

// join adds the running fiber to the pending group of its warp that
// matches (op, mask, c), or opens one; mismatched lanes are an error.
static WarpGroup* join(Fiber* f, int op, unsigned mask, int c, const char* file, int line) {
	Executor* ex = f->ex;
	unsigned warp = f->linear / 32, lane = f->linear % 32, bit = 1u << lane;
	Warp& w = ex->warps[warp];
	if (!(mask & bit)) {
		fail_here(kLaunchFailed, format("%s %s: %s at %s:%d with mask 0x%08x, which does not name the calling lane %u", where(ex).c_str(),
		                                thread_str(f).c_str(), warp_op_name(op), base_name(file), line, mask, lane));
	}
	WarpGroup* g = nullptr;
	for (WarpGroup& q : w.groups) {
		if (!q.active || !(q.mask & mask)) continue;
		if (q.mask != mask || q.op != op || q.c != c) {
			fail_here(kLaunchFailed,
			          format("%s %s: %s at %s:%d with mask 0x%08x while lanes 0x%08x wait at %s at %s:%d with mask 0x%08x (the lanes of a "
			                 "mask must make the same warp operation)",
			                 where(ex).c_str(), thread_str(f).c_str(), warp_op_name(op), base_name(file), line, mask, q.arrived,
			                 warp_op_name(q.op), base_name(q.file), q.line, q.mask));
		}
		g = &q;
		break;
	}
	if (g == nullptr) {
		for (WarpGroup& q : w.groups) {
			if (!q.active) {
				g = &q;
				break;
			}
		}
		*g = WarpGroup{true, op, mask, 0, c, file, line};
		w.active++;
	}
	return g;
}

// arrive_warp marks the running fiber arrived at g and waits for the group
// to complete (the last lane to arrive completes it).
static void arrive_warp(Fiber* f, WarpGroup* g) {
	Executor* ex = f->ex;
	unsigned warp = f->linear / 32, lane = f->linear % 32;
	Warp& w = ex->warps[warp];
	g->arrived |= 1u << lane;
	if (missing(w, *g) == 0) {
		complete_group(ex, w, warp, *g);
		return;
	}
	f->state = kAtWarp;
	yield(f);
}

unsigned warp_op(int op, unsigned mask, unsigned value, int b, int c, const char* file, int line) {
	Fiber* f = self();
	WarpGroup* g = join(f, op, mask, c, file, line);
	Warp& w = f->ex->warps[f->linear / 32];
	w.value[f->linear % 32] = value;
	w.b[f->linear % 32] = b;
	arrive_warp(f, g);
	return f->result;
}

// ---------------------------------------------------------------------------
// Tensor cores, ldmatrix and cp.async.

// in_shared reports whether [p, p+n) lies in the block's shared memory.
static bool in_shared(const Executor* ex, const void* p, size_t n) {
	uintptr_t a = reinterpret_cast<uintptr_t>(p), lo = reinterpret_cast<uintptr_t>(ex->shared);
	return a >= lo && a + n <= lo + kSharedArena;
}

static float half_to_float(uint16_t h, bool bf16) { return bf16 ? golem_bf16_to_f32(h) : golem_f16_to_f32(h); }

// mma_lanes computes D = A·B + C for the warp from every lane's fragments
// (PTX ISA, "Matrix fragments for mma.m16n8k16 with floating point type"):
// lane l, g = l/4, t = l%4, holds A[g][2t..2t+1] in a0, A[g+8][2t..] in
// a1, A[g][2t+8..] in a2, A[g+8][2t+8..] in a3 (the lower column in the
// lower half); B[2t..2t+1][g] in b0, B[2t+8..2t+9][g] in b1; C and D
// [g][2t], [g][2t+1], [g+8][2t], [g+8][2t+1]. Products are exact; each
// element's sum is taken in double and rounded to float once.
static void mma_lanes(Warp& w, bool bf16) {
	float A[16][16], B[16][8], C[16][8];
	for (unsigned l = 0; l < 32; l++) {
		const MmaArgs* m = static_cast<const MmaArgs*>(w.arg[l]);
		unsigned g = l / 4, t = l % 4;
		for (unsigned r = 0; r < 4; r++) {
			unsigned row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
			A[row][col] = half_to_float((uint16_t)m->a[r], bf16);
			A[row][col + 1] = half_to_float((uint16_t)(m->a[r] >> 16), bf16);
		}
		for (unsigned r = 0; r < 2; r++) {
			B[2 * t + 8 * r][g] = half_to_float((uint16_t)m->b[r], bf16);
			B[2 * t + 8 * r + 1][g] = half_to_float((uint16_t)(m->b[r] >> 16), bf16);
		}
		for (unsigned i = 0; i < 4; i++) C[g + 8 * (i >> 1)][2 * t + (i & 1)] = m->c[i];
	}
	for (unsigned l = 0; l < 32; l++) {
		MmaArgs* m = static_cast<MmaArgs*>(w.arg[l]);
		unsigned g = l / 4, t = l % 4;
		for (unsigned i = 0; i < 4; i++) {
			unsigned row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
			double acc = C[row][col];
			for (unsigned k = 0; k < 16; k++) acc += (double)A[row][k] * (double)B[k][col];
			m->d[i] = (float)acc;
		}
	}
}

// LdmatrixArgs is one lane's ldmatrix: the row address it gives and its
// result registers.
struct LdmatrixArgs {
	const void* row;
	uint32_t* r;
};

// ldmatrix_lanes: matrix i's row j is at the address lane 8i+j gives; lane
// l receives, of each matrix, row l/4 elements 2(l%4) and 2(l%4)+1, or
// with trans column l/4 rows 2(l%4) and 2(l%4)+1 (lower half first).
static void ldmatrix_lanes(Warp& w, int count, bool trans) {
	for (unsigned l = 0; l < 32; l++) {
		LdmatrixArgs* me = static_cast<LdmatrixArgs*>(w.arg[l]);
		for (int i = 0; i < count; i++) {
			uint16_t e[2];
			for (unsigned k = 0; k < 2; k++) {
				unsigned row = trans ? 2 * (l % 4) + k : l / 4, col = trans ? l / 4 : 2 * (l % 4) + k;
				const LdmatrixArgs* src = static_cast<const LdmatrixArgs*>(w.arg[8 * i + row]);
				memcpy(&e[k], static_cast<const char*>(src->row) + 2 * col, 2);
			}
			me->r[i] = (uint32_t)e[0] | ((uint32_t)e[1] << 16);
		}
	}
}

static void complete_collective(Executor* ex, Warp& w, unsigned warp, WarpGroup& g) {
	if (g.arrived != 0xffffffffu) {
		fail_here(kLaunchFailed, format("%s warp %u: %s at %s:%d reached by lanes 0x%08x only (it needs the whole warp; the others exited)",
		                                where(ex).c_str(), warp, warp_op_name(g.op), base_name(g.file), g.line, g.arrived));
	}
	if (g.op == kMma) {
		mma_lanes(w, g.c != 0);
	} else {
		int count = g.c & 7;
		// Every lane that gives a row address: check it before reading.
		for (unsigned l = 0; l < 8u * (unsigned)count; l++) {
			const void* row = static_cast<const LdmatrixArgs*>(w.arg[l])->row;
			if ((reinterpret_cast<uintptr_t>(row) & 15) != 0 || !in_shared(ex, row, 16)) {
				fail_here(kIllegalAddress, format("%s warp %u lane %u: ldmatrix at %s:%d: row address %p is %s", where(ex).c_str(), warp, l,
				                                  base_name(g.file), g.line, row,
				                                  (reinterpret_cast<uintptr_t>(row) & 15) != 0 ? "not 16-byte aligned"
				                                                                                 : "not in the block's shared memory"));
			}
		}
		ldmatrix_lanes(w, count, (g.c & 8) != 0);
	}
	for (unsigned l = 0; l < 32; l++) {
		Fiber& f = ex->fibers[warp * 32 + l];
		if (&f != self()) f.state = kRunnable;
	}
	g.active = false;
	w.active--;
}

void mma_m16n8k16(int bf16, MmaArgs* args, const char* file, int line) {
	Fiber* f = self();
	WarpGroup* g = join(f, kMma, 0xffffffffu, bf16, file, line);
	f->ex->warps[f->linear / 32].arg[f->linear % 32] = args;
	arrive_warp(f, g);
}

void ldmatrix(int count, int trans, const void* row, uint32_t* r, const char* file, int line) {
	Fiber* f = self();
	LdmatrixArgs args{row, r};
	WarpGroup* g = join(f, kLdmatrix, 0xffffffffu, count | (trans ? 8 : 0), file, line);
	f->ex->warps[f->linear / 32].arg[f->linear % 32] = &args;
	arrive_warp(f, g);
}

// cp.async copies are queued per thread and done when the thread waits for
// their group (or exits): a thread that reads the destination without
// waiting, or another thread that reads it without a barrier after that
// wait, sees the old bytes (the NaN pattern in fresh shared memory).
void cp_async(void* dst, const void* src, unsigned size, unsigned src_bytes, const char* file, int line) {
	Fiber* f = self();
	Executor* ex = f->ex;
	uintptr_t d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
	const char* why = nullptr;
	if (src_bytes > size) {
		why = "src_bytes exceeds the copy size";
	} else if (d % size != 0 || s % size != 0) {
		why = "an address is not aligned to the copy size";
	} else if (!in_shared(ex, dst, size)) {
		why = "the destination is not in the block's shared memory";
	} else if (src_bytes > 0 && in_shared(ex, src, 1)) {
		why = "the source is shared memory, not global";
	}
	if (why != nullptr) {
		fail_here(kIllegalAddress, format("%s %s: cp.async of %u bytes (%u read) from %p to %p at %s:%d: %s", where(ex).c_str(),
		                                  thread_str(f).c_str(), size, src_bytes, src, dst, base_name(file), line, why));
	}
	f->copies.push_back(AsyncCopy{dst, src, size, src_bytes, f->groups});
}

void cp_async_commit() { self()->groups++; }

// finish_copies does f's copies of groups below upto, in issue order.
static void finish_copies(Fiber* f, unsigned upto) {
	size_t keep = 0;
	for (size_t i = 0; i < f->copies.size(); i++) {
		AsyncCopy& c = f->copies[i];
		if (c.group < upto) {
			if (c.src_bytes > 0) memcpy(c.dst, c.src, c.src_bytes);
			memset(static_cast<char*>(c.dst) + c.src_bytes, 0, c.size - c.src_bytes);
		} else {
			f->copies[keep++] = c;
		}
	}
	f->copies.resize(keep);
}

void cp_async_wait(int n) {
	Fiber* f = self();
	if ((unsigned)n < f->groups) finish_copies(f, f->groups - (unsigned)n);
}

// ---------------------------------------------------------------------------
// Shared memory.

void* shared_static(const void* site, unsigned long size, unsigned long align, const char* name) {
	Fiber* f = self();
	Executor* ex = f->ex;
	for (const SharedSite& s : ex->sites) {
		if (s.site == site) return ex->shared + s.offset;
	}
	size_t off = align_up(ex->shared_used, align < 16 ? 16 : align);
	size_t static_total = ex->static_shared + size;
	const size_t kStaticLimit = 48 * 1024, kOptinLimit = 163 * 1024;
	if (static_total > kStaticLimit) {
		fail_here(kLaunchOutOfResources, format("%s: static shared memory %s (%lu bytes) brings the block to %zu bytes, over the 48 KiB a "
		                                        "kernel may declare statically",
		                                        where(ex).c_str(), name, size, static_total));
	}
	if (static_total + ex->cfg->dynamic_shared > kOptinLimit) {
		fail_here(kLaunchOutOfResources,
		          format("%s: shared memory %s (%lu bytes) brings the block to %zu bytes with %u dynamic, over sm_80's 163 KiB",
		                 where(ex).c_str(), name, size, static_total + ex->cfg->dynamic_shared, ex->cfg->dynamic_shared));
	}
	ex->static_shared = static_total;
	ex->shared_used = off + size;
	poison(ex->shared + off, size);
	ex->sites.push_back(SharedSite{site, off, size, name});
	return ex->shared + off;
}

// dynamic_base is where a launch's dynamic shared memory starts: it ends
// at the arena's end, where the guard page catches an access past it.
static char* dynamic_base(Executor* ex) { return ex->shared + kSharedArena - align_up(ex->cfg->dynamic_shared, 16); }

void* shared_dynamic() { return dynamic_base(self()->ex); }

// ---------------------------------------------------------------------------
// Faults: a SIGSEGV, SIGBUS or SIGFPE raised by kernel code ends its
// launch (the scheduler gets control back and reports it); any other is
// passed to the handler that was there before (Go's, in golem).

static struct sigaction old_action[65];

static void on_fault(int sig, siginfo_t* si, void* ucv) {
	Executor* ex = running;
	if (in_fiber && ex != nullptr && current != nullptr) {
		ex->fault_sig = sig;
		ex->fault_code = si->si_code;
		ex->fault_addr = reinterpret_cast<uintptr_t>(si->si_addr);
		ex->fault_fiber = self();
#if defined(__x86_64__) && defined(REG_ERR)
		ucontext_t* uc = static_cast<ucontext_t*>(ucv);
		ex->fault_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
		ex->fault_known_rw = sig == SIGSEGV;
#else
		(void)ucv;
#endif
		ex->failed = true;
		in_fiber = 0;
		// Leave the signal frame for good: back to the scheduler, which
		// unblocks the signal.
		void* dummy;
#if defined(__x86_64__)
		golem_emu_switch(&dummy, ex->sched_sp);
#else
		(void)dummy;
		setcontext(&ex->sched_uc);
#endif
		abort();
	}
	struct sigaction* old = &old_action[sig];
	if (old->sa_flags & SA_SIGINFO) {
		if (old->sa_sigaction != nullptr) {
			old->sa_sigaction(sig, si, ucv);
			return;
		}
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	// No handler before us: let the fault happen again with the default.
	signal(sig, SIG_DFL);
}

void install_fault_handler() {
	static std::once_flag once;
	std::call_once(once, [] {
		for (int sig : {SIGSEGV, SIGBUS, SIGFPE}) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_sigaction = on_fault;
			sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
			sigemptyset(&sa.sa_mask);
			sigaction(sig, &sa, &old_action[sig]);
		}
	});
}

// ensure_altstack gives this OS thread a signal stack when it has none (Go
// threads have one), so a fiber's stack overflow can still be reported.
static void ensure_altstack() {
	static thread_local bool done = false;
	if (done) return;
	done = true;
	stack_t cur;
	if (sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;
	stack_t st;
	st.ss_size = 64 * 1024;
	st.ss_sp = malloc(st.ss_size);
	st.ss_flags = 0;
	if (st.ss_sp != nullptr) sigaltstack(&st, nullptr);
}

static std::string describe_fault(Executor* ex) {
	Fiber* f = ex->fault_fiber;
	std::string who = where(ex) + " " + thread_str(f);
	if (ex->fault_sig == SIGFPE) {
		const char* what = ex->fault_code == FPE_INTDIV ? "integer division by zero" : "arithmetic exception";
		return format("%s: %s (a GPU gives an undefined result instead)", who.c_str(), what);
	}
	uintptr_t a = ex->fault_addr;
	// A fiber stack's guard page: the thread used more than its stack.
	uintptr_t st = reinterpret_cast<uintptr_t>(ex->stacks);
	if (a >= st && a < st + kMaxThreads * kStackSize && (a - st) % kStackSize < (size_t)sysconf(_SC_PAGESIZE)) {
		return format("%s: stack overflow (the emulator gives each thread %zu KiB)", who.c_str(), kStackSize / 1024);
	}
	uintptr_t sh = reinterpret_cast<uintptr_t>(ex->shared);
	if (a >= sh + kSharedArena && a < sh + kSharedArena + (uintptr_t)sysconf(_SC_PAGESIZE)) {
		return format("%s: %s past the end of shared memory", who.c_str(), ex->fault_known_rw ? (ex->fault_write ? "write" : "read") : "access");
	}
	const char* rw = !ex->fault_known_rw ? "illegal access" : ex->fault_write ? "illegal write" : "illegal read";
	return format("%s: %s at 0x%llx: %s", who.c_str(), rw, (unsigned long long)a, describe_address(a).c_str());
}

// ---------------------------------------------------------------------------
// Running a launch.

static std::string describe_deadlock(Executor* ex) {
	std::string msg = where(ex) + ": ";
	unsigned exited = ex->nthreads - ex->live;
	bool first = true;
	if (ex->bar_count > 0) {
		msg += format("__syncthreads at %s:%d reached by %u of %u threads", base_name(ex->bar_file), ex->bar_line, ex->bar_count,
		              ex->nthreads);
		if (exited > 0) msg += format(" (%u exited)", exited);
		first = false;
	}
	for (unsigned wi = 0; wi < (ex->nthreads + 31) / 32; wi++) {
		Warp& w = ex->warps[wi];
		for (const WarpGroup& g : w.groups) {
			if (!g.active) continue;
			msg += first ? "" : "; ";
			first = false;
			unsigned miss = missing(w, g);
			unsigned at_bar = 0;
			for (unsigned l = 0; l < 32; l++) {
				if ((miss >> l) & 1u && ex->fibers[wi * 32 + l].state == kAtBarrier) at_bar |= 1u << l;
			}
			msg += format("warp %u: %s at %s:%d (mask 0x%08x) waits for lanes 0x%08x", wi, warp_op_name(g.op), base_name(g.file), g.line,
			              g.mask, miss);
			if (at_bar != 0) msg += format(" (lanes 0x%08x wait at __syncthreads)", at_bar);
		}
	}
	if (first) msg += "no thread can run";
	return msg + " (deadlock on a GPU)";
}

// run_block runs one block; false when the launch failed.
static bool run_block(Executor* ex, Failure* out) {
	const LaunchConfig& cfg = *ex->cfg;
	ex->nthreads = cfg.block.x * cfg.block.y * cfg.block.z;
	ex->live = ex->nthreads;
	ex->sites.clear();
	ex->shared_used = 0;
	ex->static_shared = 0;
	poison(dynamic_base(ex), align_up(cfg.dynamic_shared, 16));
	ex->bar_count = 0;
	ex->bar_other_file = nullptr;
	ex->bar_other_count = 0;
	ex->bar_op = -1;
	for (unsigned wi = 0; wi < (ex->nthreads + 31) / 32; wi++) {
		Warp& w = ex->warps[wi];
		unsigned n = ex->nthreads - wi * 32;
		w.existing = n >= 32 ? 0xffffffffu : (1u << n) - 1;
		w.exited = 0;
		w.active = 0;
		for (WarpGroup& g : w.groups) g.active = false;
	}
	unsigned i = 0;
	for (unsigned z = 0; z < cfg.block.z; z++) {
		for (unsigned y = 0; y < cfg.block.y; y++) {
			for (unsigned x = 0; x < cfg.block.x; x++, i++) init_fiber(ex, &ex->fibers[i], i, x, y, z);
		}
	}
	while (ex->live > 0) {
		bool ran = false;
		for (unsigned i = 0; i < ex->nthreads; i++) {
			Fiber* f = &ex->fibers[i];
			if (f->state != kRunnable) continue;
			ran = true;
			resume(ex, f);
			if (ex->failed) {
				if (ex->fault_sig != 0) {
					sigset_t set;
					sigemptyset(&set);
					sigaddset(&set, ex->fault_sig);
					pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
					out->code = ex->fault_sig == SIGFPE ? kIllegalInstruction : kIllegalAddress;
					out->message = describe_fault(ex);
				} else {
					*out = ex->failure;
				}
				return false;
			}
		}
		if (!ran) {
			out->code = kLaunchFailed;
			out->message = describe_deadlock(ex);
			return false;
		}
	}
	return true;
}

bool run_launch(const LaunchConfig& cfg, Failure* out) {
	install_fault_handler();
	ensure_altstack();
	Executor* ex = acquire_executor();
	Executor* prev = running;
	running = ex;
	ex->cfg = &cfg;
	ex->failed = false;
	ex->failure = Failure{};
	ex->fault_sig = 0;
	ex->fault_fiber = nullptr;
	// Fibers abandoned by an earlier failed launch may still hold stacks.
	ex->nfree = 0;
	for (unsigned i = 0; i < kMaxThreads; i++) ex->free_slots[ex->nfree++] = (int)(kMaxThreads - 1 - i);
	ex->block.dim = cfg.block;
	ex->block.grid = cfg.grid;
	bool ok = true;
	for (unsigned z = 0; ok && z < cfg.grid.z; z++) {
		for (unsigned y = 0; ok && y < cfg.grid.y; y++) {
			for (unsigned x = 0; ok && x < cfg.grid.x; x++) {
				ex->block.idx = golem_uint3{x, y, z};
				ok = run_block(ex, out);
			}
		}
	}
	running = prev;
	release_executor(ex);
	return ok;
}

}  // namespace golem_emu
