// gemm: matmul d = x·wᵀ on tensor cores, for x [M, K] F32 with many rows
// (prefill) and a 2-D w [N, K] of F16, BF16 or a block-quantized type.
//
// gemm_x_<h> first converts x to f16 (bf16 for BF16 weights) into the
// node's scratch, xh [M, Kp] with Kp = K rounded up to GEMM_BK and zeros
// past K. gemm_<w> (64 × 64 tiles, 4 warps as 2 × 2, each 32 × 32: 2 × 4
// mma.m16n8k16 tiles, 3 stages) and gemm_<w>_t128 (128 × 128 tiles, 8
// warps as 2 × 4, each 64 × 32: 4 × 4 mma tiles, 4 stages) then compute
// one tile of d per block over GEMM_BK-wide slices of K through a
// multi-stage pipeline in dynamic shared memory: xh tiles (and F16/BF16
// weight tiles whose rows are 16-byte aligned) arrive by cp.async, 16
// bytes per copy, zero-filled past M, N and K; other weights are read and
// stored by the threads, quantized ones dequantized to f16 eight elements
// at a time (one scale lookup per eight). Shared tiles are rows of GEMM_BK
// halves (4 chunks of 16 bytes) with chunk c of row r stored at
// c ^ ((r/2) mod 4), so that the 8 rows one ldmatrix phase reads fall in 8
// different bank groups. Fragments come from ldmatrix.x4 (A: 16×16, B:
// two 8-wide n tiles) and accumulate in f32.
//
// Split-K (gridDim.z > 1): split z takes K tiles [z·tiles, (z+1)·tiles) and
// writes its partial tile to out + z·M·N; gemm_reduce then adds the splits
// in order into d.
#include "golem.cuh"
#include "common.cuh"
#include "quant.cuh"

#define GEMM_BK 32

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

// dq8 dequantizes elements kc..kc+7 (kc a multiple of 8) of a quantized
// row into f16, with the arithmetic of quant.cuh's dq_* (the same values).
template <int WT>
static __device__ __forceinline__ void dq8(const uint8_t* row, uint32_t kc, uint32_t* h) {
	float v[8];
	if (WT == kWQ8_0) {
		const uint8_t* b = row + (kc >> 5) * 34u;
		float d = qb_f16(b);
		const uint8_t* q = b + 2 + (kc & 31u);
		#pragma unroll
		for (int e = 0; e < 8; e++) v[e] = (float)(int8_t)q[e] * d;
	} else if (WT == kWQ4_0) {
		const uint8_t* b = row + (kc >> 5) * 18u;
		float d = qb_f16(b);
		uint32_t off = kc & 31u, sh = off < 16u ? 0u : 4u;
		const uint8_t* q = b + 2 + (off & 15u);
		#pragma unroll
		for (int e = 0; e < 8; e++) v[e] = (float)((int)((q[e] >> sh) & 15u) - 8) * d;
	} else if (WT == kWQ4_K) {
		const uint8_t* b = row + (kc >> 8) * 144u;
		uint32_t e0 = kc & 255u, c = e0 >> 6, t = e0 & 63u, sh = t < 32u ? 0u : 4u;
		float sc, mn;
		q4k_scale_min(b, 2u * c + (t >> 5), &sc, &mn);
		float d = golem_fmul_rn(qb_f16(b), sc), m = golem_fmul_rn(qb_f16(b + 2), mn);
		const uint8_t* q = b + 16 + 32 * c + (t & 31u);
		#pragma unroll
		for (int e = 0; e < 8; e++) v[e] = golem_fadd_rn(golem_fmul_rn(d, (float)((q[e] >> sh) & 15u)), -m);
	} else {  // Q6_K
		const uint8_t* b = row + (kc >> 8) * 210u;
		uint32_t e0 = kc & 255u, hh = e0 >> 7, t = e0 & 127u, quarter = t >> 5, l = t & 31u;
		const uint8_t* ql = b + 64 * hh + l + 32 * (quarter & 1u);
		const uint8_t* qh = b + 128 + 32 * hh + l;
		uint32_t lsh = quarter >= 2u ? 4u : 0u, hsh = 2u * quarter;
		float d = golem_fmul_rn(qb_f16(b + 208), (float)(int8_t)b[192 + 8 * hh + (l >> 4) + 2 * quarter]);
		#pragma unroll
		for (int e = 0; e < 8; e++) {
			int q = (int)(((ql[e] >> lsh) & 15u) | (((qh[e] >> hsh) & 3u) << 4)) - 32;
			v[e] = golem_fmul_rn(d, (float)q);
		}
	}
	#pragma unroll
	for (int e = 0; e < 8; e++) h[e] = golem_f32_to_f16(v[e]);
}

// GemmCfg is a tile configuration: BM × BN tiles of WM × WN warps, STAGES
// deep; each warp computes MT × NT mma tiles (16 × 8 each).
template <int BM_, int BN_, int WM_, int WN_, int STAGES_>
struct GemmCfg {
	static constexpr int BM = BM_, BN = BN_, WM = WM_, WN = WN_, STAGES = STAGES_;
	static constexpr int THREADS = 32 * WM * WN;
	static constexpr int MT = BM / (16 * WM), NT = BN / (8 * WN);
	static_assert(NT % 2 == 0, "B fragments load two n tiles at a time");
};
using Gemm64 = GemmCfg<64, 64, 2, 2, 3>;
using Gemm128 = GemmCfg<128, 128, 2, 4, 4>;

// load_a issues the cp.async copies of xh tile (m0, k0) into s.
template <class C>
static __device__ __forceinline__ void load_a(uint16_t* s, const uint16_t* xh, uint32_t m, uint32_t kp, uint32_t m0, uint32_t k0) {
	for (uint32_t c = threadIdx.x; c < C::BM * GEMM_BK / 8; c += C::THREADS) {
		uint32_t r = c / (GEMM_BK / 8), ch = c % (GEMM_BK / 8);
		bool in = m0 + r < m;
		const uint16_t* src = in ? xh + (uint64_t)(m0 + r) * kp + k0 + ch * 8 : xh;
		golem_cp_async16_cg(s + swz(r, ch), src, in ? 16u : 0u);
	}
}

// load_b fills weight tile (n0, k0) of s: by cp.async for aligned F16/BF16
// rows (async true), else by loads (and dequantization) and stores.
template <int WT, class C>
static __device__ __forceinline__ void load_b(uint16_t* s, const uint8_t* w, uint32_t n, uint32_t k, uint32_t w_row, uint32_t n0, uint32_t k0,
                                              bool async) {
	for (uint32_t c = threadIdx.x; c < C::BN * GEMM_BK / 8; c += C::THREADS) {
		uint32_t r = c / (GEMM_BK / 8), ch = c % (GEMM_BK / 8), kc = k0 + ch * 8;
		const uint8_t* row = w + (uint64_t)(n0 + r) * w_row;
		uint32_t valid = n0 + r < n && kc < k ? (k - kc < 8u ? k - kc : 8u) : 0u;
		if ((WT == kWF16 || WT == kWBF16) && async) {
			golem_cp_async16_cg(s + swz(r, ch), valid ? row + 2 * kc : w, 2 * valid);
			continue;
		}
		uint32_t h[8] = {0, 0, 0, 0, 0, 0, 0, 0};
		if (WT == kWF16 || WT == kWBF16) {
#pragma unroll
			for (uint32_t e = 0; e < 8; e++) {
				if (e < valid) h[e] = reinterpret_cast<const uint16_t*>(row)[kc + e];
			}
		} else if (valid) {
			dq8<WT>(row, kc, h);  // quantized rows hold whole blocks: valid is 8
		}
		golem_v4 v{h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16)};
		*reinterpret_cast<golem_v4*>(s + swz(r, ch)) = v;
	}
}

template <int WT, class C>
static __device__ __forceinline__ void gemm(const uint16_t* __restrict__ xh, const uint8_t* __restrict__ w, float* __restrict__ out, uint32_t m,
                                            uint32_t n, uint32_t k, uint32_t kp, uint32_t w_row, uint32_t tiles, uint32_t out_off) {
	GOLEM_DYNAMIC_SHARED(uint16_t, smem);  // STAGES A tiles, then STAGES B tiles
	uint16_t* sa = smem;
	uint16_t* sb = smem + C::STAGES * C::BM * GEMM_BK;
	uint32_t n0 = blockIdx.x * C::BN, m0 = blockIdx.y * C::BM, z = blockIdx.z;
	uint32_t warp = threadIdx.x / 32, lane = golem_lane(), wm = warp / C::WN, wn = warp % C::WN, g = lane / 4, t = lane % 4;
	uint32_t ktiles = kp / GEMM_BK, kt0 = z * tiles;
	uint32_t nt = kt0 >= ktiles ? 0 : (ktiles - kt0 < tiles ? ktiles - kt0 : tiles);
	bool async = (((uintptr_t)w | w_row) & 15u) == 0;
	float acc[C::MT][C::NT][4];
	#pragma unroll
	for (int i = 0; i < C::MT; i++)
		#pragma unroll
		for (int j = 0; j < C::NT; j++)
			#pragma unroll
			for (int e = 0; e < 4; e++) acc[i][j][e] = 0.0f;
	for (uint32_t s = 0; s + 1 < (uint32_t)C::STAGES; s++) {
		if (s < nt) {
			load_a<C>(sa + s * C::BM * GEMM_BK, xh, m, kp, m0, (kt0 + s) * GEMM_BK);
			load_b<WT, C>(sb + s * C::BN * GEMM_BK, w, n, k, w_row, n0, (kt0 + s) * GEMM_BK, async);
		}
		golem_cp_async_commit();
	}
	for (uint32_t i = 0; i < nt; i++) {
		golem_cp_async_wait<C::STAGES - 2>();  // tile i's copies (this thread's) are done
		__syncthreads();                       // everyone's are, and tile i−1 is no longer read
		uint32_t next = i + C::STAGES - 1;
		if (next < nt) {
			uint32_t st = next % C::STAGES;
			load_a<C>(sa + st * C::BM * GEMM_BK, xh, m, kp, m0, (kt0 + next) * GEMM_BK);
			load_b<WT, C>(sb + st * C::BN * GEMM_BK, w, n, k, w_row, n0, (kt0 + next) * GEMM_BK, async);
		}
		golem_cp_async_commit();
		const uint16_t* A = sa + (i % C::STAGES) * C::BM * GEMM_BK;
		const uint16_t* B = sb + (i % C::STAGES) * C::BN * GEMM_BK;
		#pragma unroll
		for (uint32_t kk = 0; kk < GEMM_BK / 8; kk += 2) {
			uint32_t a[C::MT][4], b[C::NT][2];
			#pragma unroll
			for (uint32_t mt = 0; mt < (uint32_t)C::MT; mt++) {
				golem_ldmatrix_x4(a[mt], A + swz(wm * (C::MT * 16) + mt * 16 + lane % 16, kk + lane / 16));
			}
			#pragma unroll
			for (uint32_t np = 0; np < (uint32_t)C::NT / 2; np++) {
				uint32_t r[4];
				golem_ldmatrix_x4(r, B + swz(wn * (C::NT * 8) + np * 16 + (lane / 16) * 8 + lane % 8, kk + (lane / 8) % 2));
				b[2 * np][0] = r[0], b[2 * np][1] = r[1], b[2 * np + 1][0] = r[2], b[2 * np + 1][1] = r[3];
			}
			#pragma unroll
			for (uint32_t mt = 0; mt < (uint32_t)C::MT; mt++) {
				#pragma unroll
				for (uint32_t j = 0; j < (uint32_t)C::NT; j++) {
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
	#pragma unroll
	for (uint32_t mt = 0; mt < (uint32_t)C::MT; mt++) {
		#pragma unroll
		for (uint32_t j = 0; j < (uint32_t)C::NT; j++) {
			#pragma unroll
			for (uint32_t e = 0; e < 4; e++) {
				uint32_t row = m0 + wm * (C::MT * 16) + mt * 16 + g + 8 * (e >> 1), col = n0 + wn * (C::NT * 8) + j * 8 + 2 * t + (e & 1);
				if (row < m && col < n) o[(uint64_t)row * n + col] = acc[mt][j][e];
			}
		}
	}
}

#define GEMM(name, WT, CFG)                                                                                                    \
	extern "C" __global__ void __launch_bounds__(CFG::THREADS)                                                                  \
	    name(const uint16_t* xh, const uint8_t* w, float* out, uint32_t m, uint32_t n, uint32_t k, uint32_t kp, uint32_t w_row, \
	         uint32_t tiles, uint32_t out_off) {                                                                               \
		gemm<WT, CFG>(xh, w, out, m, n, k, kp, w_row, tiles, out_off);                                                         \
	}                                                                                                                          \
	GOLEM_KERNEL(name)

GEMM(gemm_f16, kWF16, Gemm64);
GEMM(gemm_bf16, kWBF16, Gemm64);
GEMM(gemm_q8_0, kWQ8_0, Gemm64);
GEMM(gemm_q4_0, kWQ4_0, Gemm64);
GEMM(gemm_q4_k, kWQ4_K, Gemm64);
GEMM(gemm_q6_k, kWQ6_K, Gemm64);
GEMM(gemm_f16_t128, kWF16, Gemm128);
GEMM(gemm_bf16_t128, kWBF16, Gemm128);
GEMM(gemm_q8_0_t128, kWQ8_0, Gemm128);
GEMM(gemm_q4_0_t128, kWQ4_0, Gemm128);
GEMM(gemm_q4_k_t128, kWQ4_K, Gemm128);
GEMM(gemm_q6_k_t128, kWQ6_K, Gemm128);

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
