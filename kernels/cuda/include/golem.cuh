// golem.cuh: the one header every golem CUDA kernel includes first.
//
// A kernel file kernels/cuda/<name>.cu is compiled twice from the same text:
//
//   - the device half: clang-19 -x cuda --cuda-device-only -nocudainc
//     -nocudalib (make kernels) turns it into PTX. No CUDA header and no
//     libdevice exist there: this half maps every construct onto clang's
//     NVPTX builtins or one PTX instruction.
//   - the host-emulation half: g++ -std=c++20 (make cuda-emu) compiles it
//     into bin/libgolem-cuda-emu.so, the emulated CUDA driver, where the
//     threads of a block are cooperative fibers (backend/cuda/emu).
//
// So a kernel never writes a GPU-specific construct inline: thread and block
// indices, barriers, warp shuffles and votes, shared memory, atomics,
// half/bf16 conversions, math functions and bit tricks all come from here.
// docs/cuda.md is the contract: what each construct is on either side.
#ifndef GOLEM_CUH
#define GOLEM_CUH

#include <stdint.h>

#if defined(__CUDA__) && defined(__CUDA_ARCH__)
#define GOLEM_DEVICE_HALF 1
#elif defined(__CUDA__)
#error "golem.cuh: compile kernels with --cuda-device-only (make kernels)"
#elif defined(GOLEM_CUDA_EMU)
#define GOLEM_HOST_HALF 1
#else
#error "golem.cuh: neither the CUDA device compilation nor the emulator (GOLEM_CUDA_EMU)"
#endif

// ---------------------------------------------------------------------------
// Shared by both halves.

// golem_uint3 is the type of threadIdx, blockIdx, blockDim and gridDim.
struct golem_uint3 {
	unsigned x, y, z;
};

// golem_type is T: it lets an array type be written as one macro argument,
// GOLEM_SHARED(float[16][17], tile).
template <class T>
using golem_type = T;

#define warpSize 32

// golem_v4 is 16 bytes for vector loads and stores (ld.v4.u32): the
// address must be 16-byte aligned.
struct __attribute__((aligned(16))) golem_v4 {
	uint32_t x, y, z, w;
};

#if defined(GOLEM_DEVICE_HALF)
// ===========================================================================
// Device half: clang NVPTX builtins and inline PTX.

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(n) __attribute__((launch_bounds(n)))
#define GOLEM_FN static __device__ __forceinline__

// GOLEM_KERNEL(name) registers an extern "C" __global__ kernel with the
// emulator; on the device it is nothing.
#define GOLEM_KERNEL(name) static_assert(true, "")

// Indices and sizes, as in CUDA C.
#define threadIdx                                                                                \
	(golem_uint3{(unsigned)__nvvm_read_ptx_sreg_tid_x(), (unsigned)__nvvm_read_ptx_sreg_tid_y(), \
	             (unsigned)__nvvm_read_ptx_sreg_tid_z()})
#define blockIdx                                                                                     \
	(golem_uint3{(unsigned)__nvvm_read_ptx_sreg_ctaid_x(), (unsigned)__nvvm_read_ptx_sreg_ctaid_y(), \
	             (unsigned)__nvvm_read_ptx_sreg_ctaid_z()})
#define blockDim                                                                                   \
	(golem_uint3{(unsigned)__nvvm_read_ptx_sreg_ntid_x(), (unsigned)__nvvm_read_ptx_sreg_ntid_y(), \
	             (unsigned)__nvvm_read_ptx_sreg_ntid_z()})
#define gridDim                                                                                        \
	(golem_uint3{(unsigned)__nvvm_read_ptx_sreg_nctaid_x(), (unsigned)__nvvm_read_ptx_sreg_nctaid_y(), \
	             (unsigned)__nvvm_read_ptx_sreg_nctaid_z()})
// golem_lane is the thread's lane in its warp (%laneid).
#define golem_lane() ((unsigned)__nvvm_read_ptx_sreg_laneid())

// Shared memory. GOLEM_SHARED declares a block-wide array (static size,
// 16-byte aligned as on the emulator, for ldmatrix and cp.async);
// GOLEM_DYNAMIC_SHARED names the dynamic shared memory of the launch
// (cuLaunchKernel's sharedMemBytes), 16-byte aligned, as a T*.
#define GOLEM_SHARED(T, name) __shared__ __attribute__((aligned(16))) golem_type<T> name
extern __shared__ __attribute__((aligned(16))) unsigned char golem_dynamic_shared[];
#define GOLEM_DYNAMIC_SHARED(T, name) T* const name = reinterpret_cast<T*>(golem_dynamic_shared)

// Barriers (bar.sync 0 and its reductions) and warp synchronisation.
// __syncthreads is clang's builtin.
#define __syncthreads_count(p) __nvvm_bar0_popc((p) ? 1 : 0)
#define __syncthreads_and(p) __nvvm_bar0_and((p) ? 1 : 0)
#define __syncthreads_or(p) __nvvm_bar0_or((p) ? 1 : 0)
GOLEM_FN void __syncwarp(unsigned mask = 0xffffffffu) { __nvvm_bar_warp_sync(mask); }

// Warp shuffles (shfl.sync) for int, unsigned and float, and votes.
#define GOLEM_SHFL_C(width) ((32 - (width)) << 8)
GOLEM_FN int __shfl_sync(unsigned m, int v, int src, int w = 32) { return __nvvm_shfl_sync_idx_i32(m, v, src, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN unsigned __shfl_sync(unsigned m, unsigned v, int src, int w = 32) { return (unsigned)__nvvm_shfl_sync_idx_i32(m, (int)v, src, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN float __shfl_sync(unsigned m, float v, int src, int w = 32) { return __nvvm_shfl_sync_idx_f32(m, v, src, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN int __shfl_xor_sync(unsigned m, int v, int lm, int w = 32) { return __nvvm_shfl_sync_bfly_i32(m, v, lm, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN unsigned __shfl_xor_sync(unsigned m, unsigned v, int lm, int w = 32) { return (unsigned)__nvvm_shfl_sync_bfly_i32(m, (int)v, lm, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN float __shfl_xor_sync(unsigned m, float v, int lm, int w = 32) { return __nvvm_shfl_sync_bfly_f32(m, v, lm, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN int __shfl_down_sync(unsigned m, int v, unsigned d, int w = 32) { return __nvvm_shfl_sync_down_i32(m, v, (int)d, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN unsigned __shfl_down_sync(unsigned m, unsigned v, unsigned d, int w = 32) { return (unsigned)__nvvm_shfl_sync_down_i32(m, (int)v, (int)d, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN float __shfl_down_sync(unsigned m, float v, unsigned d, int w = 32) { return __nvvm_shfl_sync_down_f32(m, v, (int)d, GOLEM_SHFL_C(w) | 0x1f); }
GOLEM_FN int __shfl_up_sync(unsigned m, int v, unsigned d, int w = 32) { return __nvvm_shfl_sync_up_i32(m, v, (int)d, GOLEM_SHFL_C(w)); }
GOLEM_FN unsigned __shfl_up_sync(unsigned m, unsigned v, unsigned d, int w = 32) { return (unsigned)__nvvm_shfl_sync_up_i32(m, (int)v, (int)d, GOLEM_SHFL_C(w)); }
GOLEM_FN float __shfl_up_sync(unsigned m, float v, unsigned d, int w = 32) { return __nvvm_shfl_sync_up_f32(m, v, (int)d, GOLEM_SHFL_C(w)); }
GOLEM_FN unsigned __ballot_sync(unsigned m, int p) { return __nvvm_vote_ballot_sync(m, p != 0); }
GOLEM_FN int __all_sync(unsigned m, int p) { return __nvvm_vote_all_sync(m, p != 0); }
GOLEM_FN int __any_sync(unsigned m, int p) { return __nvvm_vote_any_sync(m, p != 0); }

// Atomics on global or shared memory (generic addresses), relaxed, as CUDA's.
GOLEM_FN int atomicAdd(int* p, int v) { return __nvvm_atom_add_gen_i(p, v); }
GOLEM_FN unsigned atomicAdd(unsigned* p, unsigned v) { return (unsigned)__nvvm_atom_add_gen_i((int*)p, (int)v); }
GOLEM_FN float atomicAdd(float* p, float v) { return __nvvm_atom_add_gen_f(p, v); }
GOLEM_FN int atomicMax(int* p, int v) { return __nvvm_atom_max_gen_i(p, v); }
GOLEM_FN unsigned atomicMax(unsigned* p, unsigned v) { return __nvvm_atom_max_gen_ui(p, v); }
GOLEM_FN int atomicMin(int* p, int v) { return __nvvm_atom_min_gen_i(p, v); }
GOLEM_FN unsigned atomicMin(unsigned* p, unsigned v) { return __nvvm_atom_min_gen_ui(p, v); }
GOLEM_FN unsigned atomicAnd(unsigned* p, unsigned v) { return (unsigned)__nvvm_atom_and_gen_i((int*)p, (int)v); }
GOLEM_FN unsigned atomicOr(unsigned* p, unsigned v) { return (unsigned)__nvvm_atom_or_gen_i((int*)p, (int)v); }
GOLEM_FN unsigned atomicXor(unsigned* p, unsigned v) { return (unsigned)__nvvm_atom_xor_gen_i((int*)p, (int)v); }
GOLEM_FN unsigned atomicExch(unsigned* p, unsigned v) { return (unsigned)__nvvm_atom_xchg_gen_i((int*)p, (int)v); }
GOLEM_FN unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) { return (unsigned)__nvvm_atom_cas_gen_i((int*)p, (int)cmp, (int)v); }
GOLEM_FN int atomicCAS(int* p, int cmp, int v) { return __nvvm_atom_cas_gen_i(p, cmp, v); }
GOLEM_FN void __threadfence() { __nvvm_membar_gl(); }
GOLEM_FN void __threadfence_block() { __nvvm_membar_cta(); }

// F16 and BF16 bit patterns (uint16_t) to and from float: one cvt each,
// round to nearest even; a NaN becomes the canonical NaN (0x7fff, 0x7fffffff).
GOLEM_FN float golem_f16_to_f32(uint16_t h) {
	float f;
	asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
	return f;
}
GOLEM_FN uint16_t golem_f32_to_f16(float f) {
	uint16_t h;
	asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
	return h;
}
GOLEM_FN float golem_bf16_to_f32(uint16_t h) { return __builtin_bit_cast(float, (uint32_t)h << 16); }
GOLEM_FN uint16_t golem_f32_to_bf16(float f) {
	uint16_t h;
	asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
	return h;
}

// Integer dot product of four signed bytes, accumulated (dp4a.s32.s32).
GOLEM_FN int golem_dp4a(int a, int b, int c) {
	int d;
	asm("dp4a.s32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
	return d;
}

// dp4a with unsigned bytes: both (dp4a.u32.u32), or only b's (dp4a.s32.u32)
// or only a's (dp4a.u32.s32); a signed operand makes the sum signed.
GOLEM_FN unsigned golem_dp4a_uu(unsigned a, unsigned b, unsigned c) {
	unsigned d;
	asm("dp4a.u32.u32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
	return d;
}
GOLEM_FN int golem_dp4a_su(int a, unsigned b, int c) {
	int d;
	asm("dp4a.s32.u32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
	return d;
}
GOLEM_FN int golem_dp4a_us(unsigned a, int b, int c) {
	int d;
	asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
	return d;
}

// golem_ld_v4 loads 16 bytes of global memory with one vector load (a
// struct copy may be split into smaller loads).
GOLEM_FN golem_v4 golem_ld_v4(const golem_v4* p) {
	golem_v4 v;
	asm volatile("ld.global.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
	return v;
}

// golem_shared_addr is the shared-window address of a generic pointer into
// shared memory (what ldmatrix and cp.async take).
GOLEM_FN uint32_t golem_shared_addr(const void* p) {
	uint32_t a;
	asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
	return a;
}

// Tensor cores (sm_80): D = A·B + C for a 16×16 A (row major), a 16×8 B
// (column major) and 16×8 f32 C and D, one warp, every lane holding its
// fragment in the PTX ISA's layout (docs/cuda.md): a 4 registers of two
// halves each, b 2, c and d 4 floats. d may be c.
#define GOLEM_MMA(name, ty)                                                                                              \
	GOLEM_FN void name(float* d, const uint32_t* a, const uint32_t* b, const float* c) {                                 \
		asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." ty "." ty ".f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "   \
		             "{%10,%11,%12,%13};"                                                                                \
		             : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])                                                    \
		             : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), \
		               "f"(c[3]));                                                                                       \
	}
GOLEM_MMA(golem_mma_f16, "f16")
GOLEM_MMA(golem_mma_bf16, "bf16")
#undef GOLEM_MMA

// ldmatrix: a warp loads one, two or four 8×8 matrices of 16-bit elements
// from shared memory; lanes 8i..8i+7 give the addresses of matrix i's
// rows (16 bytes each, 16-byte aligned); r[i] is the lane's part of matrix
// i (two elements; transposed with _trans).
GOLEM_FN void golem_ldmatrix_x1(uint32_t* r, const void* row) {
	asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];" : "=r"(r[0]) : "r"(golem_shared_addr(row)) : "memory");
}
GOLEM_FN void golem_ldmatrix_x2(uint32_t* r, const void* row) {
	asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];" : "=r"(r[0]), "=r"(r[1]) : "r"(golem_shared_addr(row)) : "memory");
}
GOLEM_FN void golem_ldmatrix_x4(uint32_t* r, const void* row) {
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
	             : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
	             : "r"(golem_shared_addr(row))
	             : "memory");
}
GOLEM_FN void golem_ldmatrix_x1_trans(uint32_t* r, const void* row) {
	asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];" : "=r"(r[0]) : "r"(golem_shared_addr(row)) : "memory");
}
GOLEM_FN void golem_ldmatrix_x2_trans(uint32_t* r, const void* row) {
	asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];"
	             : "=r"(r[0]), "=r"(r[1])
	             : "r"(golem_shared_addr(row))
	             : "memory");
}
GOLEM_FN void golem_ldmatrix_x4_trans(uint32_t* r, const void* row) {
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
	             : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
	             : "r"(golem_shared_addr(row))
	             : "memory");
}

// cp.async: asynchronous copies from global to shared memory of 4, 8 or
// 16 bytes (.ca; .cg for golem_cp_async16_cg), both addresses aligned to
// the size; only the first src_bytes bytes are read, the rest of the
// destination is zero-filled (src_bytes 0 reads nothing). A thread's
// copies issued since its last commit form a group (golem_cp_async_commit);
// golem_cp_async_wait<n>() waits until at most n of its latest groups are
// pending; golem_cp_async_wait_all() commits and waits for every copy. The
// destination is written only by then: other threads see it after a
// barrier that follows the wait.
#define GOLEM_CP_ASYNC(name, kind, size)                                                                                    \
	GOLEM_FN void name(void* dst, const void* src, uint32_t src_bytes) {                                                    \
		asm volatile("cp.async." kind ".shared.global [%0], [%1], " #size ", %2;" ::"r"(golem_shared_addr(dst)), "l"(src), \
		             "r"(src_bytes)                                                                                         \
		             : "memory");                                                                                           \
	}
GOLEM_CP_ASYNC(golem_cp_async4, "ca", 4)
GOLEM_CP_ASYNC(golem_cp_async8, "ca", 8)
GOLEM_CP_ASYNC(golem_cp_async16, "ca", 16)
GOLEM_CP_ASYNC(golem_cp_async16_cg, "cg", 16)
#undef GOLEM_CP_ASYNC
GOLEM_FN void golem_cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
GOLEM_FN void golem_cp_async_wait() {
	asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}
GOLEM_FN void golem_cp_async_wait_all() { asm volatile("cp.async.wait_all;" ::: "memory"); }

// Arithmetic that is never fused into an FMA (clang contracts a·b + c on
// the device unless told not to): for code that must round as the CPU does.
GOLEM_FN float golem_fmul_rn(float a, float b) { return __nvvm_mul_rn_f(a, b); }
GOLEM_FN float golem_fadd_rn(float a, float b) { return __nvvm_add_rn_f(a, b); }

// Approximate math instructions (the exact functions are below, shared).
GOLEM_FN float golem_rsqrtf(float x) { return __nvvm_rsqrt_approx_f(x); }
GOLEM_FN float golem_ex2f(float x) { return __nvvm_ex2_approx_f(x); }
GOLEM_FN float golem_lg2f(float x) { return __nvvm_lg2_approx_f(x); }
GOLEM_FN float golem_fdividef(float a, float b) { return __nvvm_div_approx_f(a, b); }

#else
// ===========================================================================
// Host-emulation half: the kernel is plain C++20 run by the emulator
// (backend/cuda/emu), one cooperative fiber per GPU thread.

#include <math.h>
#include <string.h>
#include <cstddef>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __shared__ static_assert(false, "golem.cuh: use GOLEM_SHARED for shared memory")
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(n)
#define GOLEM_FN static inline

namespace golem_emu {

// ThreadView is what the header reads of the running GPU thread; the
// emulator's fiber record begins with it. current is the fiber running on
// this OS thread (set on every switch).
struct BlockView {
	golem_uint3 idx, dim, grid;
};
struct ThreadView {
	golem_uint3 idx;
	unsigned lane;
	const BlockView* block;
};
extern __thread ThreadView* current __attribute__((tls_model("initial-exec")));

// Emulator entry points the macros below call; file and line name the call
// site in reports.
void syncthreads(const char* file, int line);
int syncthreads_reduce(int op, int pred, const char* file, int line);
unsigned warp_op(int op, unsigned mask, unsigned value, int b, int c, const char* file, int line);
void* shared_static(const void* site, unsigned long size, unsigned long align, const char* name);
void* shared_dynamic();

// Warp operations (warp_op's op).
enum { kShflIdx, kShflUp, kShflDown, kShflBfly, kBallot, kAll, kAny, kSyncWarp, kMma, kLdmatrix };
// Barrier reductions (syncthreads_reduce's op).
enum { kBarPopc, kBarAnd, kBarOr };

// KernelInfo is one registered kernel: its name, entry and parameter sizes.
struct KernelInfo {
	const char* name;
	void* fn;
	void (*invoke)(void* fn, void* const* params);
	int nparams;
	const unsigned* sizes;
	const unsigned* aligns;
	KernelInfo* next;
};
void register_kernel(KernelInfo* k);

template <class T>
inline T bits_to(unsigned u) {
	return __builtin_bit_cast(T, u);
}

// Registrar records a kernel at load time; its parameter types come from
// the function type by deduction and unpack cuLaunchKernel's void** params.
struct Registrar {
	KernelInfo info;
	template <class... A>
	Registrar(const char* name, void (*fn)(A...)) {
		static_assert((std::is_trivially_copyable_v<A> && ...), "golem.cuh: kernel parameters must be trivially copyable");
		static const unsigned sizes[] = {(unsigned)sizeof(A)..., 0u};
		static const unsigned aligns[] = {(unsigned)alignof(A)..., 0u};
		info = KernelInfo{name, (void*)fn, &invoke<A...>, (int)sizeof...(A), sizes, aligns, nullptr};
		register_kernel(&info);
	}
	template <class... A>
	static void invoke(void* fn, void* const* params) {
		call<A...>(fn, params, std::index_sequence_for<A...>{});
	}
	template <class... A, std::size_t... I>
	static void call(void* fn, void* const* params, std::index_sequence<I...>) {
		reinterpret_cast<void (*)(A...)>(fn)(*static_cast<std::remove_cv_t<A>*>(params[I])...);
	}
};

}  // namespace golem_emu

#define GOLEM_KERNEL(name) static ::golem_emu::Registrar golem_registrar_##name(#name, name)

#define threadIdx (::golem_emu::current->idx)
#define blockIdx (::golem_emu::current->block->idx)
#define blockDim (::golem_emu::current->block->dim)
#define gridDim (::golem_emu::current->block->grid)
#define golem_lane() (::golem_emu::current->lane)

// Shared memory: per block, poisoned with the NaN pattern for every block.
// The first thread of a block that reaches a declaration allocates it;
// the others get the same array.
#define GOLEM_SHARED(T, name)                                                                                     \
	static const char golem_site_##name = 0;                                                                      \
	golem_type<T>& name = *static_cast<golem_type<T>*>(                                                           \
	    ::golem_emu::shared_static(&golem_site_##name, sizeof(golem_type<T>), alignof(golem_type<T>), #name))
#define GOLEM_DYNAMIC_SHARED(T, name) T* const name = static_cast<T*>(::golem_emu::shared_dynamic())

#define __syncthreads() ::golem_emu::syncthreads(__FILE__, __LINE__)
#define __syncthreads_count(p) ::golem_emu::syncthreads_reduce(::golem_emu::kBarPopc, (p) ? 1 : 0, __FILE__, __LINE__)
#define __syncthreads_and(p) ::golem_emu::syncthreads_reduce(::golem_emu::kBarAnd, (p) ? 1 : 0, __FILE__, __LINE__)
#define __syncthreads_or(p) ::golem_emu::syncthreads_reduce(::golem_emu::kBarOr, (p) ? 1 : 0, __FILE__, __LINE__)

namespace golem_emu {
template <class T>
inline T shfl(int op, unsigned m, T v, int b, int c, const char* file, int line) {
	static_assert(sizeof(T) == 4, "golem.cuh: shuffles move 32-bit values");
	return __builtin_bit_cast(T, warp_op(op, m, __builtin_bit_cast(unsigned, v), b, c, file, line));
}
}  // namespace golem_emu

// The width argument (default 32) is optional, as in CUDA.
#define GOLEM_SHFL_W(...) GOLEM_SHFL_W_(__VA_ARGS__, 32, 32)
#define GOLEM_SHFL_W_(m, v, b, w, ...) (w)
#define GOLEM_SHFL_ARGS(m, v, b, ...) (m), (v), (b)
#define __shfl_sync(...)                                                                                  \
	::golem_emu::shfl(::golem_emu::kShflIdx, GOLEM_SHFL_ARGS(__VA_ARGS__, 0),                             \
	                  ((32 - GOLEM_SHFL_W(__VA_ARGS__)) << 8) | 0x1f, __FILE__, __LINE__)
#define __shfl_xor_sync(...)                                                                              \
	::golem_emu::shfl(::golem_emu::kShflBfly, GOLEM_SHFL_ARGS(__VA_ARGS__, 0),                            \
	                  ((32 - GOLEM_SHFL_W(__VA_ARGS__)) << 8) | 0x1f, __FILE__, __LINE__)
#define __shfl_down_sync(...)                                                                             \
	::golem_emu::shfl(::golem_emu::kShflDown, GOLEM_SHFL_ARGS(__VA_ARGS__, 0),                            \
	                  ((32 - GOLEM_SHFL_W(__VA_ARGS__)) << 8) | 0x1f, __FILE__, __LINE__)
#define __shfl_up_sync(...)                                                                               \
	::golem_emu::shfl(::golem_emu::kShflUp, GOLEM_SHFL_ARGS(__VA_ARGS__, 0),                              \
	                  ((32 - GOLEM_SHFL_W(__VA_ARGS__)) << 8), __FILE__, __LINE__)
#define __ballot_sync(m, p) ::golem_emu::warp_op(::golem_emu::kBallot, (m), (p) ? 1u : 0u, 0, 0, __FILE__, __LINE__)
#define __all_sync(m, p) ((int)::golem_emu::warp_op(::golem_emu::kAll, (m), (p) ? 1u : 0u, 0, 0, __FILE__, __LINE__))
#define __any_sync(m, p) ((int)::golem_emu::warp_op(::golem_emu::kAny, (m), (p) ? 1u : 0u, 0, 0, __FILE__, __LINE__))
#define GOLEM_SYNCWARP_M(...) GOLEM_SYNCWARP_M_(__VA_ARGS__ __VA_OPT__(, ) 0xffffffffu, 0)
#define GOLEM_SYNCWARP_M_(m, ...) (m)
#define __syncwarp(...) ((void)::golem_emu::warp_op(::golem_emu::kSyncWarp, GOLEM_SYNCWARP_M(__VA_ARGS__), 0u, 0, 0, __FILE__, __LINE__))

// Atomics: the host's atomic instructions (relaxed).
GOLEM_FN int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
GOLEM_FN unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
GOLEM_FN float atomicAdd(float* p, float v) {
	unsigned* u = reinterpret_cast<unsigned*>(p);
	unsigned old = __atomic_load_n(u, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(u, &old, __builtin_bit_cast(unsigned, __builtin_bit_cast(float, old) + v), true,
	                                    __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
	return __builtin_bit_cast(float, old);
}
GOLEM_FN int atomicMax(int* p, int v) {
	int old = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
	return old;
}
GOLEM_FN unsigned atomicMax(unsigned* p, unsigned v) {
	unsigned old = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (old < v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
	return old;
}
GOLEM_FN int atomicMin(int* p, int v) {
	int old = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (old > v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
	return old;
}
GOLEM_FN unsigned atomicMin(unsigned* p, unsigned v) {
	unsigned old = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (old > v && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
	}
	return old;
}
GOLEM_FN unsigned atomicAnd(unsigned* p, unsigned v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }
GOLEM_FN unsigned atomicOr(unsigned* p, unsigned v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
GOLEM_FN unsigned atomicXor(unsigned* p, unsigned v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }
GOLEM_FN unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
GOLEM_FN unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) {
	__atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	return cmp;
}
GOLEM_FN int atomicCAS(int* p, int cmp, int v) {
	__atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	return cmp;
}
GOLEM_FN void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
GOLEM_FN void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// F16 and BF16 as the PTX cvt instructions do them: round to nearest even,
// NaN to the canonical NaN.
GOLEM_FN float golem_f16_to_f32(uint16_t h) {
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
	if (e == 0) {
		float v = (float)m * (1.0f / 16777216.0f);  // m·2^-24, exact
		return __builtin_bit_cast(float, __builtin_bit_cast(uint32_t, v) | sign);
	}
	if (e == 31) {
		return __builtin_bit_cast(float, m != 0 ? 0x7fffffffu : (sign | 0x7f800000u));
	}
	return __builtin_bit_cast(float, sign | ((e + 112u) << 23) | (m << 13));
}
GOLEM_FN uint16_t golem_f32_to_f16(float f) {
	uint32_t b = __builtin_bit_cast(uint32_t, f);
	uint16_t sign = (uint16_t)((b >> 16) & 0x8000u);
	b &= 0x7fffffffu;
	if (b > 0x7f800000u) return 0x7fff;
	if (b >= 0x477ff000u) return sign | 0x7c00u;
	if (b >= 0x38800000u) {
		b -= (127u - 15u) << 23;
		b += 0xfffu + ((b >> 13) & 1u);
		return (uint16_t)(sign | (b >> 13));
	}
	if (b < 0x33000000u) return sign;
	uint32_t e = b >> 23, m = (b & 0x7fffffu) | 0x800000u, shift = 126u - e;
	uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
	if (rem > half || (rem == half && (q & 1u))) q++;
	return (uint16_t)(sign | q);
}
GOLEM_FN float golem_bf16_to_f32(uint16_t h) { return __builtin_bit_cast(float, (uint32_t)h << 16); }
GOLEM_FN uint16_t golem_f32_to_bf16(float f) {
	uint32_t u = __builtin_bit_cast(uint32_t, f);
	if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

GOLEM_FN int golem_dp4a(int a, int b, int c) {
	for (int i = 0; i < 4; i++) c += (int)(int8_t)(a >> (8 * i)) * (int)(int8_t)(b >> (8 * i));
	return c;
}

GOLEM_FN unsigned golem_dp4a_uu(unsigned a, unsigned b, unsigned c) {
	for (int i = 0; i < 4; i++) c += (unsigned)(uint8_t)(a >> (8 * i)) * (unsigned)(uint8_t)(b >> (8 * i));
	return c;
}
GOLEM_FN int golem_dp4a_su(int a, unsigned b, int c) {
	for (int i = 0; i < 4; i++) c += (int)(int8_t)(a >> (8 * i)) * (int)(uint8_t)(b >> (8 * i));
	return c;
}
GOLEM_FN int golem_dp4a_us(unsigned a, int b, int c) {
	for (int i = 0; i < 4; i++) c += (int)(uint8_t)(a >> (8 * i)) * (int)(int8_t)(b >> (8 * i));
	return c;
}

GOLEM_FN golem_v4 golem_ld_v4(const golem_v4* p) { return *p; }

// Tensor cores, ldmatrix and cp.async: warp collectives and per-thread
// copy queues of the emulator (backend/cuda/emu/kernel.cc), which computes
// each with the PTX ISA's fragment layouts and checks alignment and
// address spaces. The call site names the instruction in reports.
namespace golem_emu {
struct MmaArgs {
	const uint32_t* a;
	const uint32_t* b;
	const float* c;
	float d[4];
};
void mma_m16n8k16(int bf16, MmaArgs* args, const char* file, int line);
void ldmatrix(int count, int trans, const void* row, uint32_t* r, const char* file, int line);
void cp_async(void* dst, const void* src, unsigned size, unsigned src_bytes, const char* file, int line);
void cp_async_commit();
void cp_async_wait(int n);
}  // namespace golem_emu

GOLEM_FN void golem_mma_f16(float* d, const uint32_t* a, const uint32_t* b, const float* c, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE()) {
	::golem_emu::MmaArgs m{a, b, c, {}};
	::golem_emu::mma_m16n8k16(0, &m, file, line);
	for (int i = 0; i < 4; i++) d[i] = m.d[i];
}
GOLEM_FN void golem_mma_bf16(float* d, const uint32_t* a, const uint32_t* b, const float* c, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
	::golem_emu::MmaArgs m{a, b, c, {}};
	::golem_emu::mma_m16n8k16(1, &m, file, line);
	for (int i = 0; i < 4; i++) d[i] = m.d[i];
}
#define GOLEM_LDMATRIX(name, count, trans)                                                                            \
	GOLEM_FN void name(uint32_t* r, const void* row, const char* file = __builtin_FILE(), int line = __builtin_LINE()) { \
		::golem_emu::ldmatrix(count, trans, row, r, file, line);                                                      \
	}
GOLEM_LDMATRIX(golem_ldmatrix_x1, 1, 0)
GOLEM_LDMATRIX(golem_ldmatrix_x2, 2, 0)
GOLEM_LDMATRIX(golem_ldmatrix_x4, 4, 0)
GOLEM_LDMATRIX(golem_ldmatrix_x1_trans, 1, 1)
GOLEM_LDMATRIX(golem_ldmatrix_x2_trans, 2, 1)
GOLEM_LDMATRIX(golem_ldmatrix_x4_trans, 4, 1)
#undef GOLEM_LDMATRIX
#define GOLEM_CP_ASYNC(name, size)                                                                                           \
	GOLEM_FN void name(void* dst, const void* src, uint32_t src_bytes, const char* file = __builtin_FILE(),                   \
	                   int line = __builtin_LINE()) {                                                                        \
		::golem_emu::cp_async(dst, src, size, src_bytes, file, line);                                                        \
	}
GOLEM_CP_ASYNC(golem_cp_async4, 4)
GOLEM_CP_ASYNC(golem_cp_async8, 8)
GOLEM_CP_ASYNC(golem_cp_async16, 16)
GOLEM_CP_ASYNC(golem_cp_async16_cg, 16)
#undef GOLEM_CP_ASYNC
GOLEM_FN void golem_cp_async_commit() { ::golem_emu::cp_async_commit(); }
template <int N>
GOLEM_FN void golem_cp_async_wait() {
	::golem_emu::cp_async_wait(N);
}
GOLEM_FN void golem_cp_async_wait_all() {
	::golem_emu::cp_async_commit();
	::golem_emu::cp_async_wait(0);
}

// Plain arithmetic: the emulator is compiled without FMA contraction.
GOLEM_FN float golem_fmul_rn(float a, float b) { return a * b; }
GOLEM_FN float golem_fadd_rn(float a, float b) { return a + b; }

// The approximate math instructions, computed exactly (see docs/cuda.md).
GOLEM_FN float golem_rsqrtf(float x) { return 1.0f / sqrtf(x); }
GOLEM_FN float golem_ex2f(float x) { return exp2f(x); }
GOLEM_FN float golem_lg2f(float x) { return log2f(x); }
GOLEM_FN float golem_fdividef(float a, float b) { return a / b; }

#endif  // halves

// ---------------------------------------------------------------------------
// Portable helpers built on the constructs above (identical on both halves).

GOLEM_FN float golem_uint_as_float(uint32_t u) { return __builtin_bit_cast(float, u); }
GOLEM_FN uint32_t golem_float_as_uint(float f) { return __builtin_bit_cast(uint32_t, f); }

// Exact math: compiler builtins that are one PTX instruction on the device
// (sqrt.rn, fma.rn, abs, max, min, cvt.rmi, cvt.rni) and the C library's
// correctly rounded functions on the host: both halves give the same bits.
GOLEM_FN float golem_sqrtf(float x) { return __builtin_sqrtf(x); }
GOLEM_FN float golem_fabsf(float x) { return __builtin_fabsf(x); }
GOLEM_FN float golem_fmaxf(float a, float b) { return __builtin_fmaxf(a, b); }
GOLEM_FN float golem_fminf(float a, float b) { return __builtin_fminf(a, b); }
GOLEM_FN float golem_fmaf(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
GOLEM_FN float golem_floorf(float x) { return __builtin_floorf(x); }
GOLEM_FN float golem_rintf(float x) { return __builtin_rintf(x); }
GOLEM_FN int golem_popc(uint32_t x) { return __builtin_popcount(x); }
GOLEM_FN int golem_clz(uint32_t x) { return x == 0 ? 32 : __builtin_clz(x); }

// golem_expf: e^x within 2 ulp, the same bits on both halves: x = n·ln2 + r
// (ln2 in two parts, |r| <= ln2/2), e^r by its Taylor series to r^7, then
// scaled by 2^n in two steps (so subnormal results round once). Overflow
// gives +Inf, underflow 0, NaN stays NaN.
GOLEM_FN float golem_expf(float x) {
	if (!(x == x)) return x;
	if (x > 88.72283935546875f) return golem_uint_as_float(0x7f800000u);
	if (x < -103.97208404541016f) return 0.0f;
	float n = golem_rintf(x * 1.44269502162933349609f);
	float r = golem_fmaf(n, -0.693145751953125f, x);
	r = golem_fmaf(n, -1.42860682030941723212e-6f, r);
	float q = 1.0f / 5040.0f;
	q = golem_fmaf(q, r, 1.0f / 720.0f);
	q = golem_fmaf(q, r, 1.0f / 120.0f);
	q = golem_fmaf(q, r, 1.0f / 24.0f);
	q = golem_fmaf(q, r, 1.0f / 6.0f);
	q = golem_fmaf(q, r, 0.5f);
	float p = 1.0f + golem_fmaf(q, r * r, r);
	int e = (int)n, e1 = e / 2, e2 = e - e1;
	return p * golem_uint_as_float((uint32_t)(127 + e1) << 23) * golem_uint_as_float((uint32_t)(127 + e2) << 23);
}

// golem_sincosf: sin and cos of x within a few ulp for |x| up to about
// 10^5 (rope angles): x is reduced by 2π (Cody-Waite, three parts) and then
// by π/2 to [−π/4, π/4], where Taylor series to x^11 and x^12 are exact to
// float precision. The same bits on both halves.
GOLEM_FN void golem_sincosf(float x, float* s, float* c) {
	float q = golem_rintf(x * 0.15915494f);
	float r = golem_fmaf(q, -6.28125f, x);
	r = golem_fmaf(q, -0.0019353071693331003f, r);
	r = golem_fmaf(q, -1.0253376273028358e-11f, r);
	float k = golem_rintf(r * 0.63661975f);
	r = golem_fmaf(k, -1.5703125f, r);
	r = golem_fmaf(k, -4.838267923332751e-4f, r);
	r = golem_fmaf(k, -2.5633440682570896e-12f, r);
	float r2 = r * r;
	float ps = golem_fmaf(r2, 2.7557319e-6f, -1.9841270e-4f);
	ps = golem_fmaf(r2, ps, 8.3333333e-3f);
	ps = golem_fmaf(r2, ps, -1.6666667e-1f);
	float sp = golem_fmaf(r * r2, ps, r);
	float pc = golem_fmaf(r2, -2.7557319e-7f, 2.4801587e-5f);
	pc = golem_fmaf(r2, pc, -1.3888889e-3f);
	pc = golem_fmaf(r2, pc, 4.1666668e-2f);
	pc = golem_fmaf(r2, pc, -0.5f);
	float cp = golem_fmaf(r2, pc, 1.0f);
	switch (((int)k) & 3) {
	case 0: *s = sp; *c = cp; break;
	case 1: *s = cp; *c = -sp; break;
	case 2: *s = -sp; *c = -cp; break;
	default: *s = -cp; *c = sp; break;
	}
}

#endif  // GOLEM_CUH
