// common.cuh: helpers shared by golem's CUDA kernels, written only with the
// constructs of golem.cuh (so they run on the device and in the emulator).
#ifndef GOLEM_COMMON_CUH
#define GOLEM_COMMON_CUH

#include "golem.cuh"

// golem_global_x is the flat index of this thread in a 1-D launch.
#define golem_global_x() ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x)

#define GOLEM_NEG_INF (golem_uint_as_float(0xff800000u))

// golem_bf16 is one bfloat16 element (its bits, the upper half of an f32):
// a type of its own, so that kernels templated over a K/V element type
// tell a BF16 cache from an F16 one (uint16_t bits).
struct golem_bf16 {
	uint16_t bits;
};

// golem_kv_f32 converts one K/V element to f32 (exact): float, f16 bits
// (uint16_t) or golem_bf16.
static __device__ __forceinline__ float golem_kv_f32(float v) { return v; }
static __device__ __forceinline__ float golem_kv_f32(uint16_t h) { return golem_f16_to_f32(h); }
static __device__ __forceinline__ float golem_kv_f32(golem_bf16 h) { return golem_bf16_to_f32(h.bits); }

// golem_silu is x · sigmoid(x).
static __device__ __forceinline__ float golem_silu(float v) { return v / (1.0f + golem_expf(-v)); }

// golem_tanhf is tanh without overflow: by its series for |v| < 0.25 (the
// next term is below 2^-24 relative), else 1 − 2/(e^{2|v|} + 1) through e^{−2|v|}.
static __device__ __forceinline__ float golem_tanhf(float v) {
	float a = golem_fabsf(v);
	float t;
	if (a < 0.25f) {
		float v2 = v * v;
		t = a * (1.0f + v2 * (-1.0f / 3.0f + v2 * (2.0f / 15.0f + v2 * (-17.0f / 315.0f + v2 * (62.0f / 2835.0f)))));
	} else {
		float e = golem_expf(-2.0f * a);
		t = (1.0f - e) / (1.0f + e);
	}
	return v < 0.0f ? -t : t;
}

// golem_block_sum returns the sum of v over the block (blockDim.x threads,
// a multiple of 32 up to 1024) to every thread. red is 32 floats of shared
// memory; the call has barriers, so every thread of the block must make it.
static __device__ __forceinline__ float golem_block_sum(float v, float* red) {
	for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
	unsigned w = threadIdx.x / 32, nw = blockDim.x / 32;
	__syncthreads();  // red may still be read by an earlier call
	if (golem_lane() == 0) red[w] = v;
	__syncthreads();
	v = golem_lane() < nw ? red[golem_lane()] : 0.0f;
	for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

// golem_block_max is golem_block_sum with max.
static __device__ __forceinline__ float golem_block_max(float v, float* red) {
	for (int o = 16; o > 0; o /= 2) v = golem_fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	unsigned w = threadIdx.x / 32, nw = blockDim.x / 32;
	__syncthreads();
	if (golem_lane() == 0) red[w] = v;
	__syncthreads();
	v = golem_lane() < nw ? red[golem_lane()] : GOLEM_NEG_INF;
	for (int o = 16; o > 0; o /= 2) v = golem_fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

// golem_ld_u16x2 reads 4 bytes at a 2-byte aligned address as two 16-bit
// loads (quantized blocks are only 2-byte aligned).
static __device__ __forceinline__ uint32_t golem_ld_u16x2(const uint8_t* p) {
	const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
	return (uint32_t)h[0] | ((uint32_t)h[1] << 16);
}

// golem_report_error flags a bad value in the program's status region
// (backend/internal/gpu/status.go): slot is 4 words, count, value, index.
static __device__ __forceinline__ void golem_report_error(uint32_t* status, uint32_t slot, int32_t value, uint32_t index) {
	uint32_t* s = status + 4 * slot;
	if (atomicAdd(&s[0], 1u) == 0u) {
		s[1] = (uint32_t)value;
		s[2] = index;
	}
}

#endif
