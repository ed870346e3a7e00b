// gemm: matmul d = x·wᵀ on tensor cores, for x [M, K] F32 with many rows
// (prefill) and a 2-D w [N, K] of F16, BF16 or a block-quantized type.
//
// gemm_x_<h> first converts x to f16 (bf16 for BF16 weights) into the
// node's scratch, xh [M, Kp] with Kp = K rounded up to GEMM_BK and zeros
// past K. gemm_<w> then computes one GEMM_BM × GEMM_BN tile of d per block
// of 4 warps (2 × 2, each warp 32 × 32: 2 × 4 mma.m16n8k16 tiles), over
// GEMM_BK-wide slices of K through a GEMM_STAGES-deep pipeline: xh tiles
// (and F16/BF16 weight tiles whose rows are 16-byte aligned) arrive by
// cp.async, 16 bytes per copy, zero-filled past M, N and K; other weights
// are read, dequantized to f16 (quantized types) and stored by the threads.
// Shared tiles are rows of GEMM_BK halves (4 chunks of 16 bytes) with chunk
// c of row r stored at c ^ ((r/2) mod 4), so that the 8 rows one ldmatrix
// phase reads fall in 8 different bank groups. Fragments come from
// ldmatrix.x4 (A: 16×16, B: two 8-wide n tiles) and accumulate in f32.
//
// Split-K (gridDim.z > 1): split z takes K tiles [z·tiles, (z+1)·tiles) and
// writes its partial tile to out + z·M·N; gemm_reduce then adds the splits
// in order into d.
#include "golem.cuh"
#include "common.cuh"
#include "quant.cuh"

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 32
#define GEMM_STAGES 3
#define GEMM_THREADS 128

// gemm_x_<h>: xh[r][c] = x[r][c] for c < K, 0 for K ≤ c < Kp; count = M·Kp,
// a 1-D grid folded into x·y.
#define GEMM_X(name, CONV)                                                                                                \
	extern "C" __global__ void name(const float* __restrict__ x, uint16_t* __restrict__ xh, uint32_t count, uint32_t k, \
	                                uint32_t kp) {                                                                     \
		uint64_t e = ((uint64_t)blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x + threadIdx.x;                       \
		if (e >= count) return;                                                                                        \
		uint64_t r = e / kp, c = e % kp;                                                                               \
		xh[e] = c < k ? CONV(x[r * k + c]) : (uint16_t)0;                                                              \
	}                                                                                                                  \
	GOLEM_KERNEL(name)

GEMM_X(gemm_x_f16, golem_f32_to_f16);
GEMM_X(gemm_x_bf16, golem_f32_to_bf16);

// swz is the element offset of chunk c (8 halves) of row r of a tile.
static __device__ __forceinline__ uint32_t swz(uint32_t r, uint32_t c) { return r * GEMM_BK + ((c ^ ((r >> 1) & 3u)) << 3); }

// Weight kinds.
enum { kWF16, kWBF16, kWQ8_0, kWQ4_0, kWQ4_K, kWQ6_K };

template <int WT>
static __device__ __forceinline__ float gemm_dq(const uint8_t* row, uint32_t i) {
	switch (WT) {
	case kWQ8_0: return dq_q8_0(row, i);
	case kWQ4_0: return dq_q4_0(row, i);
	case kWQ4_K: return dq_q4_k(row, i);
	case kWQ6_K: return dq_q6_k(row, i);
	case kWBF16: return dq_bf16(row, i);
	default: return dq_f16(row, i);
	}
}

// load_a issues the cp.async copies of xh tile (m0, k0) into s.
static __device__ __forceinline__ void load_a(uint16_t* s, const uint16_t* xh, uint32_t m, uint32_t kp, uint32_t m0, uint32_t k0) {
	for (uint32_t c = threadIdx.x; c < GEMM_BM * GEMM_BK / 8; c += GEMM_THREADS) {
		uint32_t r = c / (GEMM_BK / 8), ch = c % (GEMM_BK / 8);
		bool in = m0 + r < m;
		const uint16_t* src = in ? xh + (uint64_t)(m0 + r) * kp + k0 + ch * 8 : xh;
		golem_cp_async16_cg(s + swz(r, ch), src, in ? 16u : 0u);
	}
}

// load_b fills weight tile (n0, k0) of s: by cp.async for aligned F16/BF16
// rows (async true), else by loads, dequantization and stores.
template <int WT>
static __device__ __forceinline__ void load_b(uint16_t* s, const uint8_t* w, uint32_t n, uint32_t k, uint32_t w_row, uint32_t n0, uint32_t k0,
                                              bool async) {
	for (uint32_t c = threadIdx.x; c < GEMM_BN * GEMM_BK / 8; c += GEMM_THREADS) {
		uint32_t r = c / (GEMM_BK / 8), ch = c % (GEMM_BK / 8), kc = k0 + ch * 8;
		const uint8_t* row = w + (uint64_t)(n0 + r) * w_row;
		uint32_t valid = n0 + r < n && kc < k ? (k - kc < 8u ? k - kc : 8u) : 0u;
		if ((WT == kWF16 || WT == kWBF16) && async) {
			golem_cp_async16_cg(s + swz(r, ch), valid ? row + 2 * kc : w, 2 * valid);
			continue;
		}
		uint32_t h[8];
		for (uint32_t e = 0; e < 8; e++) {
			if (e >= valid) {
				h[e] = 0;
			} else if (WT == kWF16 || WT == kWBF16) {
				h[e] = reinterpret_cast<const uint16_t*>(row)[kc + e];
			} else {
				h[e] = golem_f32_to_f16(gemm_dq<WT>(row, kc + e));
			}
		}
		golem_v4 v{h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16)};
		*reinterpret_cast<golem_v4*>(s + swz(r, ch)) = v;
	}
}

template <int WT>
static __device__ __forceinline__ void gemm(const uint16_t* __restrict__ xh, const uint8_t* __restrict__ w, float* __restrict__ out, uint32_t m,
                                            uint32_t n, uint32_t k, uint32_t kp, uint32_t w_row, uint32_t tiles, uint32_t out_off) {
	GOLEM_SHARED(uint16_t[GEMM_STAGES][GEMM_BM * GEMM_BK], sa);
	GOLEM_SHARED(uint16_t[GEMM_STAGES][GEMM_BN * GEMM_BK], sb);
	uint32_t n0 = blockIdx.x * GEMM_BN, m0 = blockIdx.y * GEMM_BM, z = blockIdx.z;
	uint32_t warp = threadIdx.x / 32, lane = golem_lane(), wm = warp / 2, wn = warp % 2, g = lane / 4, t = lane % 4;
	uint32_t ktiles = kp / GEMM_BK, kt0 = z * tiles;
	uint32_t nt = kt0 >= ktiles ? 0 : (ktiles - kt0 < tiles ? ktiles - kt0 : tiles);
	bool async = (((uintptr_t)w | w_row) & 15u) == 0;
	float acc[2][4][4];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 4; j++)
			for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;
	for (uint32_t s = 0; s + 1 < GEMM_STAGES; s++) {
		if (s < nt) {
			load_a(sa[s], xh, m, kp, m0, (kt0 + s) * GEMM_BK);
			load_b<WT>(sb[s], w, n, k, w_row, n0, (kt0 + s) * GEMM_BK, async);
		}
		golem_cp_async_commit();
	}
	for (uint32_t i = 0; i < nt; i++) {
		golem_cp_async_wait<GEMM_STAGES - 2>();  // tile i's copies (this thread's) are done
		__syncthreads();                        // everyone's are, and tile i−1 is no longer read
		uint32_t next = i + GEMM_STAGES - 1;
		if (next < nt) {
			load_a(sa[next % GEMM_STAGES], xh, m, kp, m0, (kt0 + next) * GEMM_BK);
			load_b<WT>(sb[next % GEMM_STAGES], w, n, k, w_row, n0, (kt0 + next) * GEMM_BK, async);
		}
		golem_cp_async_commit();
		const uint16_t* A = sa[i % GEMM_STAGES];
		const uint16_t* B = sb[i % GEMM_STAGES];
		for (uint32_t kk = 0; kk < GEMM_BK / 8; kk += 2) {
			uint32_t a[2][4], b[4][2];
			for (uint32_t mt = 0; mt < 2; mt++) golem_ldmatrix_x4(a[mt], A + swz(wm * 32 + mt * 16 + lane % 16, kk + lane / 16));
			for (uint32_t np = 0; np < 2; np++) {
				uint32_t r[4];
				golem_ldmatrix_x4(r, B + swz(wn * 32 + np * 16 + (lane / 16) * 8 + lane % 8, kk + (lane / 8) % 2));
				b[2 * np][0] = r[0], b[2 * np][1] = r[1], b[2 * np + 1][0] = r[2], b[2 * np + 1][1] = r[3];
			}
			for (uint32_t mt = 0; mt < 2; mt++) {
				for (uint32_t j = 0; j < 4; j++) {
					if (WT == kWBF16) {
						golem_mma_bf16(acc[mt][j], a[mt], b[j], acc[mt][j]);
					} else {
						golem_mma_f16(acc[mt][j], a[mt], b[j], acc[mt][j]);
					}
				}
			}
		}
	}
	golem_cp_async_wait_all();
	float* o = out + out_off + (uint64_t)z * m * n;
	for (uint32_t mt = 0; mt < 2; mt++) {
		for (uint32_t j = 0; j < 4; j++) {
			for (uint32_t e = 0; e < 4; e++) {
				uint32_t row = m0 + wm * 32 + mt * 16 + g + 8 * (e >> 1), col = n0 + wn * 32 + j * 8 + 2 * t + (e & 1);
				if (row < m && col < n) o[(uint64_t)row * n + col] = acc[mt][j][e];
			}
		}
	}
}

#define GEMM(name, WT)                                                                                                         \
	extern "C" __global__ void __launch_bounds__(GEMM_THREADS)                                                                 \
	    name(const uint16_t* xh, const uint8_t* w, float* out, uint32_t m, uint32_t n, uint32_t k, uint32_t kp, uint32_t w_row, \
	         uint32_t tiles, uint32_t out_off) {                                                                               \
		gemm<WT>(xh, w, out, m, n, k, kp, w_row, tiles, out_off);                                                              \
	}                                                                                                                          \
	GOLEM_KERNEL(name)

GEMM(gemm_f16, kWF16);
GEMM(gemm_bf16, kWBF16);
GEMM(gemm_q8_0, kWQ8_0);
GEMM(gemm_q4_0, kWQ4_0);
GEMM(gemm_q4_k, kWQ4_K);
GEMM(gemm_q6_k, kWQ6_K);

// gemm_reduce: d[i] = Σ over splits s of part[s·count + i] (part at float
// offset part_off of its region), in split order; a 1-D grid folded into x·y.
extern "C" __global__ void gemm_reduce(const float* __restrict__ part, float* __restrict__ d, uint32_t count, uint32_t splits,
                                       uint32_t part_off) {
	uint64_t i = ((uint64_t)blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x + threadIdx.x;
	if (i >= count) return;
	const float* p = part + part_off;
	float s = 0.0f;
	for (uint32_t z = 0; z < splits; z++) s += p[(uint64_t)z * count + i];
	d[i] = s;
}
GOLEM_KERNEL(gemm_reduce);
