// selftest.cu: kernels that exercise every construct of golem.cuh, for
// backend/cuda's tests, which compare each output with values computed in
// Go; the same test runs on the emulator and on a GPU. The kernels named
// selftest_bad_* are deliberately wrong (the emulator must name what they
// do wrong); never launch them on a GPU.
#include "golem.cuh"

// selftest_indices: every thread of a 3-D launch writes its indices.
// out has 13 words per thread, at the thread's global linear index.
extern "C" __global__ void selftest_indices(uint32_t* out) {
	uint32_t bl = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
	uint32_t tl = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
	uint32_t* o = out + 13 * (bl * blockDim.x * blockDim.y * blockDim.z + tl);
	o[0] = threadIdx.x, o[1] = threadIdx.y, o[2] = threadIdx.z;
	o[3] = blockIdx.x, o[4] = blockIdx.y, o[5] = blockIdx.z;
	o[6] = blockDim.x, o[7] = blockDim.y, o[8] = blockDim.z;
	o[9] = gridDim.x, o[10] = gridDim.y, o[11] = gridDim.z;
	o[12] = golem_lane();
}
GOLEM_KERNEL(selftest_indices);

// selftest_warp: shuffles of every mode and width, and votes. in and out
// are indexed by the thread; out has 10 words per thread.
extern "C" __global__ void selftest_warp(const uint32_t* in, uint32_t* out, int b, int width) {
	uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
	uint32_t v = in[t];
	uint32_t* o = out + 10 * t;
	o[0] = __shfl_sync(0xffffffffu, v, b, width);
	o[1] = __shfl_xor_sync(0xffffffffu, v, b, width);
	o[2] = __shfl_up_sync(0xffffffffu, v, (unsigned)b, width);
	o[3] = __shfl_down_sync(0xffffffffu, v, (unsigned)b, width);
	o[4] = (uint32_t)__shfl_xor_sync(0xffffffffu, (int)v, b);
	o[5] = golem_float_as_uint(__shfl_down_sync(0xffffffffu, (float)v, (unsigned)b));
	o[6] = __ballot_sync(0xffffffffu, v & 1);
	o[7] = (uint32_t)__all_sync(0xffffffffu, v != 0);
	o[8] = (uint32_t)__any_sync(0xffffffffu, v == 7);
	__syncwarp();
	// Two half-warps shuffle on their own masks.
	uint32_t half = golem_lane() < 16 ? 0x0000ffffu : 0xffff0000u;
	o[9] = __shfl_xor_sync(half, v, 1);
}
GOLEM_KERNEL(selftest_warp);

// selftest_block: a shared-memory tree sum per block (static shared),
// a copy through dynamic shared memory (reversed within the block) and the
// barrier reductions. Blocks of a power of two threads, at most 1024.
extern "C" __global__ void selftest_block(const float* in, float* sums, float* reversed, int* counts) {
	GOLEM_SHARED(float[1024], part);
	GOLEM_DYNAMIC_SHARED(float, dyn);
	uint32_t t = threadIdx.x, n = blockDim.x, g = blockIdx.x * n + t;
	part[t] = in[g];
	dyn[t] = in[g];
	__syncthreads();
	reversed[g] = dyn[n - 1 - t];
	for (uint32_t s = n / 2; s > 0; s /= 2) {
		if (t < s) part[t] += part[t + s];
		__syncthreads();
	}
	if (t == 0) sums[blockIdx.x] = part[0];
	int c = __syncthreads_count(in[g] > 0.0f);
	int a = __syncthreads_and(in[g] > -1000.0f);
	int r = __syncthreads_or(in[g] > 1000.0f);
	if (t == 0) {
		counts[3 * blockIdx.x] = c;
		counts[3 * blockIdx.x + 1] = a;
		counts[3 * blockIdx.x + 2] = r;
	}
}
GOLEM_KERNEL(selftest_block);

// selftest_atomics: every thread adds 1 (int, unsigned, float), takes the
// max and min of its global index, sets, clears and flips its lane's bit,
// races for one compare-and-swap and exchanges a word.
extern "C" __global__ void selftest_atomics(int* iv, unsigned* uv, float* fv) {
	int g = (int)(blockIdx.x * blockDim.x + threadIdx.x);
	atomicAdd(&iv[0], 1);
	atomicMax(&iv[1], g);
	atomicMin(&iv[2], g);
	atomicAdd(&uv[0], 1u);
	atomicOr(&uv[1], 1u << golem_lane());
	atomicAnd(&uv[2], ~(1u << (g % 32)));
	atomicXor(&uv[3], 1u << (g % 32));
	atomicMax(&uv[4], (unsigned)g);
	atomicMin(&uv[5], (unsigned)g);
	// Exactly one thread finds 0 and swaps in its index + 1.
	if (atomicCAS(&uv[6], 0u, (unsigned)g + 1) == 0u) atomicAdd(&uv[8], 1u);
	atomicExch(&uv[7], 7u);
	atomicAdd(&fv[0], 1.0f);
	__threadfence();
	__threadfence_block();
}
GOLEM_KERNEL(selftest_atomics);

// selftest_math: conversions, dp4a and the math functions, per element.
extern "C" __global__ void selftest_math(const float* x, const int* ia, const int* ib, uint32_t n, uint16_t* f16, uint16_t* bf16,
                                         float* f16back, float* bf16back, int* dp, float* ex, float* misc) {
	uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n) return;
	float v = x[i];
	f16[i] = golem_f32_to_f16(v);
	bf16[i] = golem_f32_to_bf16(v);
	f16back[i] = golem_f16_to_f32(f16[i]);
	bf16back[i] = golem_bf16_to_f32(bf16[i]);
	dp[i] = golem_dp4a(ia[i], ib[i], (int)i);
	ex[i] = golem_expf(v);
	float* m = misc + 8 * i;
	m[0] = golem_sqrtf(golem_fabsf(v));
	m[1] = golem_fmaf(v, v, 1.0f);
	m[2] = golem_floorf(v);
	m[3] = golem_rintf(v);
	m[4] = golem_fmaxf(v, 0.5f);
	m[5] = golem_fminf(v, 0.5f);
	m[6] = (float)golem_popc(golem_float_as_uint(v));
	m[7] = (float)golem_clz(golem_float_as_uint(v) >> (i % 33 == 32 ? 31 : i % 33));
}
GOLEM_KERNEL(selftest_math);

// selftest_dp4a: the four signedness combinations of dp4a, per element;
// out has 4 words per element.
extern "C" __global__ void selftest_dp4a(const int* a, const int* b, const int* c, uint32_t n, int* out) {
	uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n) return;
	out[4 * i] = golem_dp4a(a[i], b[i], c[i]);
	out[4 * i + 1] = (int)golem_dp4a_uu((unsigned)a[i], (unsigned)b[i], (unsigned)c[i]);
	out[4 * i + 2] = golem_dp4a_su(a[i], (unsigned)b[i], c[i]);
	out[4 * i + 3] = golem_dp4a_us((unsigned)a[i], b[i], c[i]);
}
GOLEM_KERNEL(selftest_dp4a);

// selftest_mma: one warp per block computes D = A·B + C with one
// mma.m16n8k16 (bf16 != 0: BF16 inputs, else F16), each lane loading its
// fragments from A [16][16] and B [16][8] (row major, 16-bit patterns) and
// C [16][8] (f32) by the PTX ISA's layout, and storing its part of D
// [16][8]. Block b uses matrices b of each array.
extern "C" __global__ void selftest_mma(const uint16_t* A, const uint16_t* B, const float* C, float* D, uint32_t bf16) {
	uint32_t l = golem_lane(), g = l / 4, t = l % 4;
	const uint16_t* a = A + blockIdx.x * 256;
	const uint16_t* b = B + blockIdx.x * 128;
	uint32_t af[4], bfr[2];
	float cf[4], df[4];
	for (uint32_t r = 0; r < 4; r++) {
		uint32_t row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
		af[r] = (uint32_t)a[row * 16 + col] | ((uint32_t)a[row * 16 + col + 1] << 16);
	}
	for (uint32_t r = 0; r < 2; r++) {
		uint32_t k = 2 * t + 8 * r;
		bfr[r] = (uint32_t)b[k * 8 + g] | ((uint32_t)b[(k + 1) * 8 + g] << 16);
	}
	for (uint32_t i = 0; i < 4; i++) cf[i] = C[blockIdx.x * 128 + (g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)];
	if (bf16) {
		golem_mma_bf16(df, af, bfr, cf);
	} else {
		golem_mma_f16(df, af, bfr, cf);
	}
	for (uint32_t i = 0; i < 4; i++) D[blockIdx.x * 128 + (g + 8 * (i >> 1)) * 8 + 2 * t + (i & 1)] = df[i];
}
GOLEM_KERNEL(selftest_mma);

// selftest_ldmatrix: one warp stages 32 rows of 8 16-bit values (4
// matrices of 8 rows) in shared memory; lane l gives the address of row
// perm[l] (of rows 0..31) and every variant of ldmatrix runs: x1, x2, x4,
// then the same transposed. out has 14 words per lane in that order.
extern "C" __global__ void selftest_ldmatrix(const uint16_t* in, const uint32_t* perm, uint32_t* out) {
	GOLEM_SHARED(uint16_t[32 * 8], tile);
	uint32_t l = golem_lane();
	for (uint32_t i = 0; i < 8; i++) tile[l * 8 + i] = in[l * 8 + i];
	__syncthreads();
	const uint16_t* row = &tile[perm[l] * 8];
	uint32_t r[4], *o = out + 14 * l;
	golem_ldmatrix_x1(r, row);
	o[0] = r[0];
	golem_ldmatrix_x2(r, row);
	o[1] = r[0], o[2] = r[1];
	golem_ldmatrix_x4(r, row);
	o[3] = r[0], o[4] = r[1], o[5] = r[2], o[6] = r[3];
	golem_ldmatrix_x1_trans(r, row);
	o[7] = r[0];
	golem_ldmatrix_x2_trans(r, row);
	o[8] = r[0], o[9] = r[1];
	golem_ldmatrix_x4_trans(r, row);
	o[10] = r[0], o[11] = r[1], o[12] = r[2], o[13] = r[3];
}
GOLEM_KERNEL(selftest_ldmatrix);

// selftest_cp_async: thread t fills its 48-byte slot of shared memory:
// bytes 0..15 from 16 bytes of in at 16t of which only t%17 are read (the
// rest zero-filled), group 0 (.cg); bytes 16..23 and 24..27 from in at
// 16n+16t (8 and 4 bytes, .ca), groups 1 and 2; after wait<2> (group 0
// complete) it copies its bytes 0..15 to own[t]; then bytes 28..31 by a
// 4-byte copy that reads nothing (zeros) and bytes 32..47 by a 16-byte
// .ca copy of in at 16t, both left uncommitted; after wait_all and a
// barrier it copies the 48 bytes of slot (t+1)%n to next[t]. No two copies
// in flight write the same bytes (their order would be undefined on a GPU).
extern "C" __global__ void selftest_cp_async(const uint8_t* in, uint8_t* own, uint8_t* next) {
	GOLEM_DYNAMIC_SHARED(uint8_t, slots);
	uint32_t t = threadIdx.x, n = blockDim.x;
	uint8_t* mine = slots + 48 * t;
	golem_cp_async16_cg(mine, in + 16 * t, t % 17);
	golem_cp_async_commit();
	golem_cp_async8(mine + 16, in + 16 * n + 16 * t, 8);
	golem_cp_async_commit();
	golem_cp_async4(mine + 24, in + 16 * n + 16 * t + 8, 4);
	golem_cp_async_commit();
	golem_cp_async_wait<2>();
	for (uint32_t i = 0; i < 16; i++) own[16 * t + i] = mine[i];
	golem_cp_async4(mine + 28, in, 0);
	golem_cp_async16(mine + 32, in + 16 * t, 16);
	golem_cp_async_wait_all();
	__syncthreads();
	const uint8_t* other = slots + 48 * ((t + 1) % n);
	for (uint32_t i = 0; i < 48; i++) next[48 * t + i] = other[i];
}
GOLEM_KERNEL(selftest_cp_async);

// selftest_bad_oob writes p[i] for every thread, without a bounds check:
// launched with more threads than p holds, it writes past the end.
extern "C" __global__ void selftest_bad_oob(float* p) {
	uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
	p[i] = 1.0f;
}
GOLEM_KERNEL(selftest_bad_oob);

// selftest_bad_barrier: the lower half of the block returns before
// __syncthreads, which the upper half then waits at forever on a GPU.
extern "C" __global__ void selftest_bad_barrier(float* p) {
	if (threadIdx.x < blockDim.x / 2) return;
	__syncthreads();
	p[threadIdx.x] = 1.0f;
}
GOLEM_KERNEL(selftest_bad_barrier);

// selftest_bad_warp: the lower half-warp shuffles with the whole warp's
// mask while the upper half waits at __syncthreads.
extern "C" __global__ void selftest_bad_warp(float* p) {
	float v = p[threadIdx.x];
	if (golem_lane() < 16) {
		v = __shfl_xor_sync(0xffffffffu, v, 1);
	} else {
		__syncthreads();
	}
	p[threadIdx.x] = v;
}
GOLEM_KERNEL(selftest_bad_warp);

// selftest_bad_divergent: two halves of the block wait at two different
// __syncthreads (undefined in CUDA; a GPU may let it pass or hang).
extern "C" __global__ void selftest_bad_divergent(float* p) {
	if (threadIdx.x & 1) {
		__syncthreads();
	} else {
		__syncthreads();
	}
	p[threadIdx.x] = 1.0f;
}
GOLEM_KERNEL(selftest_bad_divergent);

// selftest_bad_stack: a thread with a 512 KiB local array (the emulator
// gives each thread 128 KiB of stack).
extern "C" __global__ void selftest_bad_stack(float* p, uint32_t n) {
	volatile float big[128 * 1024];
	for (uint32_t i = 0; i < n; i++) big[i] = p[i % 16];
	p[threadIdx.x] = big[n / 2];
}
GOLEM_KERNEL(selftest_bad_stack);

// selftest_bad_divide: integer division by zero (a GPU gives an undefined
// result; the emulator reports it).
extern "C" __global__ void selftest_bad_divide(int32_t* p) { p[threadIdx.x] = p[0] / p[1]; }
GOLEM_KERNEL(selftest_bad_divide);

// selftest_bad_cp_async_nowait reads its cp.async destination without
// waiting (a race on a GPU; the emulator shows the old bytes: NaN).
extern "C" __global__ void selftest_bad_cp_async_nowait(float* p) {
	GOLEM_SHARED(float[64], s);
	golem_cp_async4(&s[threadIdx.x], &p[threadIdx.x], 4);
	golem_cp_async_commit();
	float v = s[threadIdx.x];
	golem_cp_async_wait_all();
	p[threadIdx.x] = v;
}
GOLEM_KERNEL(selftest_bad_cp_async_nowait);

// selftest_bad_cp_async_align: a 16-byte cp.async to an address that is
// not 16-byte aligned.
extern "C" __global__ void selftest_bad_cp_async_align(float* p) {
	GOLEM_SHARED(float[64], s);
	golem_cp_async16(&s[1], p, 16);
	golem_cp_async_wait_all();
	p[threadIdx.x] = s[1];
}
GOLEM_KERNEL(selftest_bad_cp_async_align);

// selftest_bad_mma: lane 31 exits before an mma.sync, which needs the
// whole warp.
extern "C" __global__ void selftest_bad_mma(float* p) {
	if (golem_lane() == 31) return;
	uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
	float c[4] = {0, 0, 0, 0};
	golem_mma_f16(c, a, b, c);
	p[threadIdx.x] = c[0];
}
GOLEM_KERNEL(selftest_bad_mma);

// selftest_bad_ldmatrix: row addresses in global memory.
extern "C" __global__ void selftest_bad_ldmatrix(float* p) {
	uint32_t r[1];
	golem_ldmatrix_x1(r, p + 4 * golem_lane());
	p[threadIdx.x] = (float)r[0];
}
GOLEM_KERNEL(selftest_bad_ldmatrix);
