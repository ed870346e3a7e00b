// matmul: d = x·wᵀ for x [.., M, K] F32 and w [N, K] in any weight dtype
// (or batched w [B, N, K] in F32/F16/BF16), accumulated in F32. One warp
// per output element: its 32 lanes walk K, the weights dequantized one
// element at a time (quant.cuh), and the partial sums meet by shuffles.
// Blocks of 128 threads compute 4 columns of one row; the grid is
// (⌈N/4⌉, M, batches).
#include "golem.cuh"
#include "common.cuh"
#include "quant.cuh"

#define MATMUL(T)                                                                                                                   \
	extern "C" __global__ void matmul_##T(const float* __restrict__ x, const uint8_t* __restrict__ w, float* __restrict__ d,         \
	                                      uint32_t m, uint32_t n, uint32_t k, uint32_t w_row, uint32_t x_bs, uint32_t w_bs,         \
	                                      uint32_t d_bs) {                                                                          \
		uint32_t col = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;                                                           \
		uint32_t row = blockIdx.y, b = blockIdx.z;                                                                                  \
		if (col >= n || row >= m) return; /* whole warps return together */                                                        \
		const float* xr = x + (uint64_t)b * x_bs + (uint64_t)row * k;                                                               \
		const uint8_t* wr = w + (uint64_t)b * w_bs + (uint64_t)col * w_row;                                                         \
		float acc = 0.0f;                                                                                                           \
		for (uint32_t i = golem_lane(); i < k; i += 32) acc += xr[i] * dq_##T(wr, i);                                               \
		for (int o = 16; o > 0; o /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, o);                                                \
		if (golem_lane() == 0) d[(uint64_t)b * d_bs + (uint64_t)row * n + col] = acc;                                               \
	}                                                                                                                               \
	GOLEM_KERNEL(matmul_##T)

MATMUL(f32);
MATMUL(f16);
MATMUL(bf16);
MATMUL(q8_0);
MATMUL(q4_0);
MATMUL(q4_k);
MATMUL(q6_k);
