// gemv: matmul d = x·wᵀ for few rows of x (decode, small batches), reading
// each weight byte once. x [M, K] F32, w [N, K] (2-D), d [M, N] F32.
//
// gemv_<w>_r<MR> (F32, F16, BF16 weights): a block of GEMV_WARPS warps,
// each warp computing two weight rows for MR rows of x (one pass over the
// weights for up to MR rows); its lanes read the rows in 16-byte pieces
// (4 F32 or 8 F16/BF16 elements), x in 16-byte pieces too, and reduce by
// shuffles. Weights or x not 16-byte aligned (or K not a multiple of the
// piece) take a scalar loop instead. Grid (⌈N / 2·GEMV_WARPS⌉, ⌈M/MR⌉).
//
// Quantized weights: q8x first quantizes x to two int8 terms per element
// in blocks of 32 (see q8x) in the node's scratch; then gemv_<q>_r<MR> has
// each group of 4 lanes take one 32-element block of the weight row (8
// elements per lane, read as 16-bit halves: blocks are 2-byte aligned) and
// multiply its integer quants with dp4a, scaling per block.
#include "golem.cuh"
#include "common.cuh"
#include "quant.cuh"

#define GEMV_WARPS 4
#define GEMV_UNROLL 4

// gemv_reduce sums acc over the warp and stores the outputs of rows r0, r0+1.
template <int MR>
static __device__ __forceinline__ void gemv_store(float (&acc)[MR][2], float* d, uint32_t m0, uint32_t mr, uint32_t r0, uint32_t n) {
	#pragma unroll
	for (int mi = 0; mi < MR; mi++) {
		#pragma unroll
		for (int r = 0; r < 2; r++) {
			float v = acc[mi][r];
			for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
			acc[mi][r] = v;
		}
	}
	if (golem_lane() != 0) return;
	#pragma unroll
	for (int mi = 0; mi < MR; mi++) {
		if ((uint32_t)mi >= mr) continue;
		d[(uint64_t)(m0 + mi) * n + r0] = acc[mi][0];
		if (r0 + 1 < n) d[(uint64_t)(m0 + mi) * n + r0 + 1] = acc[mi][1];
	}
}

// unpack16 turns 16 bytes of weights into floats: 4 F32 or 8 F16/BF16.
template <int T>
static __device__ __forceinline__ void unpack16(const golem_v4& v, float* out);
enum { kF32, kF16, kBF16 };
template <>
__device__ __forceinline__ void unpack16<kF32>(const golem_v4& v, float* out) {
	out[0] = golem_uint_as_float(v.x), out[1] = golem_uint_as_float(v.y);
	out[2] = golem_uint_as_float(v.z), out[3] = golem_uint_as_float(v.w);
}
template <>
__device__ __forceinline__ void unpack16<kF16>(const golem_v4& v, float* out) {
	const uint32_t u[4] = {v.x, v.y, v.z, v.w};
	#pragma unroll
	for (int i = 0; i < 4; i++) out[2 * i] = golem_f16_to_f32((uint16_t)u[i]), out[2 * i + 1] = golem_f16_to_f32((uint16_t)(u[i] >> 16));
}
template <>
__device__ __forceinline__ void unpack16<kBF16>(const golem_v4& v, float* out) {
	const uint32_t u[4] = {v.x, v.y, v.z, v.w};
	#pragma unroll
	for (int i = 0; i < 4; i++) out[2 * i] = golem_bf16_to_f32((uint16_t)u[i]), out[2 * i + 1] = golem_bf16_to_f32((uint16_t)(u[i] >> 16));
}

template <int T>
static __device__ __forceinline__ float load1(const uint8_t* row, uint32_t i) {
	return T == kF32 ? dq_f32(row, i) : T == kF16 ? dq_f16(row, i) : dq_bf16(row, i);
}

// gemv_float_dot accumulates into acc the dots of weight rows w0 and w1
// with rows m0..m0+mr−1 of x; vec: the rows and x may be read in 16-byte
// pieces.
template <int T, int MR>
static __device__ __forceinline__ void gemv_float_dot(const float* __restrict__ x, const uint8_t* w0, const uint8_t* w1, uint32_t m0,
                                                      uint32_t mr, uint32_t k, bool vec, float (&acc)[MR][2]) {
	constexpr int E = T == kF32 ? 4 : 8;  // elements per 16-byte piece
	uint32_t lane = golem_lane(), done = 0;
	#pragma unroll
	for (int mi = 0; mi < MR; mi++) acc[mi][0] = acc[mi][1] = 0.0f;
	if (vec && k % E == 0) {
		uint32_t pieces = k / E;
		// GEMV_UNROLL pieces of each row are loaded before any is used, so
		// that enough bytes are in flight to cover the memory latency.
		for (uint32_t p0 = lane; p0 < pieces; p0 += 32 * GEMV_UNROLL) {
			golem_v4 ra[GEMV_UNROLL], rb[GEMV_UNROLL];
#pragma unroll
			for (int u = 0; u < GEMV_UNROLL; u++) {
				uint32_t p = p0 + 32 * u < pieces ? p0 + 32 * u : p0;  // past the end: reload p0 (unused)
				ra[u] = golem_ld_v4(reinterpret_cast<const golem_v4*>(w0) + p);
				rb[u] = golem_ld_v4(reinterpret_cast<const golem_v4*>(w1) + p);
			}
#pragma unroll
			for (int u = 0; u < GEMV_UNROLL; u++) {
				uint32_t p = p0 + 32 * u;
				if (p >= pieces) continue;
				float a[E], b[E];
				unpack16<T>(ra[u], a);
				unpack16<T>(rb[u], b);
				#pragma unroll
				for (int mi = 0; mi < MR; mi++) {
					if ((uint32_t)mi >= mr) continue;
					const golem_v4* xr = reinterpret_cast<const golem_v4*>(x + (uint64_t)(m0 + mi) * k + (uint64_t)p * E);
					#pragma unroll
					for (int h = 0; h < E / 4; h++) {
						golem_v4 xv = xr[h];
						float xs[4] = {golem_uint_as_float(xv.x), golem_uint_as_float(xv.y), golem_uint_as_float(xv.z),
						               golem_uint_as_float(xv.w)};
						#pragma unroll
						for (int e = 0; e < 4; e++) {
							acc[mi][0] += a[4 * h + e] * xs[e];
							acc[mi][1] += b[4 * h + e] * xs[e];
						}
					}
				}
			}
		}
		done = pieces * E;
	}
	for (uint32_t i = done + lane; i < k; i += 32) {
		float a = load1<T>(w0, i), b = load1<T>(w1, i);
		#pragma unroll
		for (int mi = 0; mi < MR; mi++) {
			if ((uint32_t)mi >= mr) continue;
			float xv = x[(uint64_t)(m0 + mi) * k + i];
			acc[mi][0] += a * xv;
			acc[mi][1] += b * xv;
		}
	}
}

template <int T, int MR>
static __device__ __forceinline__ void gemv_float(const float* __restrict__ x, const uint8_t* __restrict__ w, float* __restrict__ d,
                                                  uint32_t m, uint32_t n, uint32_t k, uint32_t w_row) {
	uint32_t r0 = (blockIdx.x * GEMV_WARPS + threadIdx.x / 32) * 2, m0 = blockIdx.y * MR;
	if (r0 >= n || m0 >= m) return;  // whole warps
	uint32_t mr = m - m0 < (uint32_t)MR ? m - m0 : (uint32_t)MR;
	const uint8_t* w0 = w + (uint64_t)r0 * w_row;
	const uint8_t* w1 = r0 + 1 < n ? w0 + w_row : w0;  // a lone last row reads row r0 twice
	float acc[MR][2];
	gemv_float_dot<T, MR>(x, w0, w1, m0, mr, k, (((uintptr_t)w | (uintptr_t)x | w_row) & 15) == 0, acc);
	gemv_store<MR>(acc, d, m0, mr, r0, n);
}

#define GEMV_FLOAT(name, T, MR)                                                                                             \
	extern "C" __global__ void name(const float* x, const uint8_t* w, float* d, uint32_t m, uint32_t n, uint32_t k,       \
	                                uint32_t w_row) {                                                                     \
		gemv_float<T, MR>(x, w, d, m, n, k, w_row);                                                                       \
	}                                                                                                                     \
	GOLEM_KERNEL(name)

GEMV_FLOAT(gemv_f32_r1, kF32, 1);
GEMV_FLOAT(gemv_f32_r8, kF32, 8);
GEMV_FLOAT(gemv_f16_r1, kF16, 1);
GEMV_FLOAT(gemv_f16_r8, kF16, 8);
GEMV_FLOAT(gemv_bf16_r1, kBF16, 1);
GEMV_FLOAT(gemv_bf16_r8, kBF16, 8);

// q8x: x [M, K] (K a multiple of 32) to two int8 terms per element and
// a scale per 32-element block: with d = max|x|/127, hi = round(x/d) and
// lo = round((x − d·hi)/(d/127)), x ≈ d·(hi + lo/127) within d/254 (the
// second term makes the dp4a GEMV accurate to ~1e-5 relative, where one
// int8 term alone gives ~1e-2 on a short dot product). The region xq
// holds hi [M·K] at byte hi_off, lo at lo_off and, at xd_off, 4 floats
// per block: d, and
// the sums of hi + lo/127 over the block's halves (elements 0..15 and
// 16..31), which the weights' offsets (Q4_0's 8, Q4_K's mins, Q6_K's 32)
// multiply. One warp per block, a lane per element; rounding to nearest
// even. blocks = M·K/32; the grid is 1-D, folded into x·y.
// q8x_block quantizes block blk of x, whose element golem_lane() is v, as
// q8x describes; the whole warp calls it.
static __device__ __forceinline__ void q8x_block(float v, uint64_t blk, int8_t* __restrict__ xq, uint32_t hi_off, uint32_t lo_off,
                                                 uint32_t xd_off) {
	float* xd = reinterpret_cast<float*>(xq + xd_off);
	uint32_t lane = golem_lane();
	float amax = golem_fabsf(v);
	for (int o = 16; o > 0; o /= 2) amax = golem_fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
	float d = amax / 127.0f;
	int hi = 0, lo = 0;
	if (amax > 0.0f) {
		hi = (int)golem_rintf(v / d);
		hi = hi < -127 ? -127 : (hi > 127 ? 127 : hi);
		float dl = d * (1.0f / 127.0f);
		lo = dl > 0.0f ? (int)golem_fmaxf(-127.0f, golem_fminf(127.0f, golem_rintf((v - d * (float)hi) / dl))) : 0;
	}
	xq[hi_off + blk * 32 + lane] = (int8_t)hi;
	xq[lo_off + blk * 32 + lane] = (int8_t)lo;
	float part = (float)hi + (float)lo * (1.0f / 127.0f);
	for (int o = 8; o > 0; o /= 2) part += __shfl_xor_sync(0xffffffffu, part, o);  // sums of each half-warp
	float upper = __shfl_sync(0xffffffffu, part, 16);
	if (lane == 0) xd[4 * blk] = d, xd[4 * blk + 1] = part, xd[4 * blk + 2] = upper, xd[4 * blk + 3] = 0.0f;
}

extern "C" __global__ void q8x(const float* __restrict__ x, int8_t* __restrict__ xq, uint32_t blocks, uint32_t hi_off, uint32_t lo_off,
                               uint32_t xd_off) {
	uint64_t blk = ((uint64_t)blockIdx.y * gridDim.x + blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
	if (blk >= blocks) return;  // whole warps
	q8x_block(x[blk * 32 + golem_lane()], blk, xq, hi_off, lo_off, xd_off);
}
GOLEM_KERNEL(q8x);

// rms_norm_q8x: q8x of rms_norm(x) ⊙ w (matmul_fused's norm before
// quantized weights, in one pass): one block per row of k elements (k a
// multiple of 32), the row's sum of squares first, then each warp
// quantizes its 32-element blocks.
extern "C" __global__ void rms_norm_q8x(const float* __restrict__ x, const float* __restrict__ w, int8_t* __restrict__ xq, uint32_t k,
                                        uint32_t rows, float eps, uint32_t hi_off, uint32_t lo_off, uint32_t xd_off) {
	GOLEM_SHARED(float[32], red);
	uint32_t row = blockIdx.x;
	if (row >= rows) return;
	const float* xr = x + (uint64_t)row * k;
	float ss = 0.0f;
	for (uint32_t j = threadIdx.x; j < k; j += blockDim.x) ss += xr[j] * xr[j];
	float inv = 1.0f / golem_sqrtf(golem_block_sum(ss, red) / (float)k + eps);
	uint32_t nb = k / 32, warps = blockDim.x / 32;
	for (uint32_t b = threadIdx.x / 32; b < nb; b += warps) {
		uint32_t j = b * 32 + golem_lane();
		q8x_block(xr[j] * inv * w[j], (uint64_t)row * nb + b, xq, hi_off, lo_off, xd_off);
	}
}
GOLEM_KERNEL(rms_norm_q8x);

// XBlock is what a lane of a quad knows of one 32-element block of x: its
// 8 elements' hi and lo terms (a: the first 4, b: the last 4) and the
// block's scale and half sums.
struct XBlock {
	int ha, hb, la, lb;
	float d, s0, s1;
};

// xdot is the dot of 8 weight quants (wa, wb: 4 signed or unsigned bytes
// each) with the lane's x terms: Σ q·(hi + lo/127).
template <bool SIGNED>
static __device__ __forceinline__ float xdot(uint32_t wa, uint32_t wb, const XBlock& x) {
	int h, l;
	if (SIGNED) {
		h = golem_dp4a((int)wa, x.ha, golem_dp4a((int)wb, x.hb, 0));
		l = golem_dp4a((int)wa, x.la, golem_dp4a((int)wb, x.lb, 0));
	} else {
		h = golem_dp4a_us(wa, x.ha, golem_dp4a_us(wb, x.hb, 0));
		l = golem_dp4a_us(wa, x.la, golem_dp4a_us(wb, x.lb, 0));
	}
	return (float)h + (float)l * (1.0f / 127.0f);
}

// Per quantized type: lane j (0..3) of a quad's share of the dot of block
// blk of a weight row (starting at wr) with x. Lane j takes elements
// 8j..8j+7, except Q4_0, where it takes 4j..4j+3 and 16+4j..16+4j+3 (the
// low and high nibbles of bytes 4j..4j+3). The offset terms (Q4_0's −8,
// Q4_K's min, Q6_K's −32) use the block's half sums, added by lane 0 (and
// lane 2 for Q6_K's second half, whose scale differs).
static __device__ __forceinline__ float dot_q8_0(const uint8_t* wr, uint32_t blk, uint32_t j, const XBlock& x) {
	const uint8_t* b = wr + blk * 34u;
	return qb_f16(b) * x.d * xdot<true>(golem_ld_u16x2(b + 2 + 8 * j), golem_ld_u16x2(b + 6 + 8 * j), x);
}
static __device__ __forceinline__ float dot_q4_0(const uint8_t* wr, uint32_t blk, uint32_t j, const XBlock& x) {
	const uint8_t* b = wr + blk * 18u;
	uint32_t q = golem_ld_u16x2(b + 2 + 4 * j);
	float v = xdot<false>(q & 0x0f0f0f0fu, (q >> 4) & 0x0f0f0f0fu, x);
	if (j == 0) v -= 8.0f * (x.s0 + x.s1);
	return qb_f16(b) * x.d * v;
}
static __device__ __forceinline__ float dot_q4_k(const uint8_t* wr, uint32_t blk, uint32_t j, const XBlock& x) {
	const uint8_t* b = wr + (blk >> 3) * 144u;
	uint32_t sub = blk & 7u, sh = 4 * (sub & 1u);
	const uint8_t* q = b + 16 + 32 * (sub >> 1) + 8 * j;
	float sc, mn;
	q4k_scale_min(b, sub, &sc, &mn);
	float v = qb_f16(b) * sc * xdot<false>((golem_ld_u16x2(q) >> sh) & 0x0f0f0f0fu, (golem_ld_u16x2(q + 4) >> sh) & 0x0f0f0f0fu, x);
	if (j == 0) v -= qb_f16(b + 2) * mn * (x.s0 + x.s1);
	return x.d * v;
}
static __device__ __forceinline__ float dot_q6_k(const uint8_t* wr, uint32_t blk, uint32_t j, const XBlock& x) {
	const uint8_t* b = wr + (blk >> 3) * 210u;
	uint32_t jj = blk & 7u, h = jj >> 2, quarter = jj & 3u, l = 8 * j;
	const uint8_t* ql = b + 64 * h + 32 * (quarter & 1u) + l;
	const uint8_t* qh = b + 128 + 32 * h + l;
	uint32_t lsh = quarter >= 2u ? 4 : 0, hsh = 2 * quarter;
	uint32_t qa = ((golem_ld_u16x2(ql) >> lsh) & 0x0f0f0f0fu) | (((golem_ld_u16x2(qh) >> hsh) & 0x03030303u) << 4);
	uint32_t qb = ((golem_ld_u16x2(ql + 4) >> lsh) & 0x0f0f0f0fu) | (((golem_ld_u16x2(qh + 4) >> hsh) & 0x03030303u) << 4);
	float sc = (float)(int8_t)b[192 + 8 * h + (l >> 4) + 2 * quarter];
	float v = xdot<false>(qa, qb, x);
	if (j == 0) v -= 32.0f * x.s0;
	if (j == 2) v -= 32.0f * x.s1;
	return qb_f16(b + 208) * sc * x.d * v;
}

// gemv_quant_dot accumulates into acc the dots of quantized weight rows
// w0 and w1 with rows m0..m0+mr−1 of x as q8x left it (hi at xq + hi_off,
// lo at xq + lo_off, the block data at xq + xd_off).
template <int MR, float (*DOT)(const uint8_t*, uint32_t, uint32_t, const XBlock&), bool Q40>
static __device__ __forceinline__ void gemv_quant_dot(const int8_t* __restrict__ xq, const uint8_t* w0, const uint8_t* w1, uint32_t m0,
                                                      uint32_t mr, uint32_t k, uint32_t hi_off, uint32_t lo_off, uint32_t xd_off,
                                                      float (&acc)[MR][2]) {
	const float* xd = reinterpret_cast<const float*>(xq + xd_off);
	uint32_t lane = golem_lane(), nblk = k / 32, j = lane & 3u;
	uint32_t oa = Q40 ? 4 * j : 8 * j, ob = Q40 ? 16 + 4 * j : 8 * j + 4;
	#pragma unroll
	for (int mi = 0; mi < MR; mi++) acc[mi][0] = acc[mi][1] = 0.0f;
#pragma unroll 4
	for (uint32_t blk = lane >> 2; blk < nblk; blk += 8) {
		#pragma unroll
		for (int mi = 0; mi < MR; mi++) {
			if ((uint32_t)mi >= mr) continue;
			uint64_t e = (uint64_t)(m0 + mi) * k + blk * 32;
			const float* s = xd + 4 * ((uint64_t)(m0 + mi) * nblk + blk);
			XBlock x{*reinterpret_cast<const int*>(xq + hi_off + e + oa), *reinterpret_cast<const int*>(xq + hi_off + e + ob),
			         *reinterpret_cast<const int*>(xq + lo_off + e + oa), *reinterpret_cast<const int*>(xq + lo_off + e + ob), s[0], s[1], s[2]};
			acc[mi][0] += DOT(w0, blk, j, x);
			acc[mi][1] += DOT(w1, blk, j, x);
		}
	}
}

template <int MR, float (*DOT)(const uint8_t*, uint32_t, uint32_t, const XBlock&), bool Q40>
static __device__ __forceinline__ void gemv_quant(const int8_t* __restrict__ xq, const uint8_t* __restrict__ w, float* __restrict__ d,
                                                  uint32_t m, uint32_t n, uint32_t k, uint32_t w_row, uint32_t hi_off,
                                                  uint32_t lo_off, uint32_t xd_off) {
	uint32_t r0 = (blockIdx.x * GEMV_WARPS + threadIdx.x / 32) * 2, m0 = blockIdx.y * MR;
	if (r0 >= n || m0 >= m) return;
	uint32_t mr = m - m0 < (uint32_t)MR ? m - m0 : (uint32_t)MR;
	const uint8_t* w0 = w + (uint64_t)r0 * w_row;
	const uint8_t* w1 = r0 + 1 < n ? w0 + w_row : w0;
	float acc[MR][2];
	gemv_quant_dot<MR, DOT, Q40>(xq, w0, w1, m0, mr, k, hi_off, lo_off, xd_off, acc);
	gemv_store<MR>(acc, d, m0, mr, r0, n);
}

#define GEMV_QUANT(name, MR, DOT, Q40)                                                                                    \
	extern "C" __global__ void name(const int8_t* xq, const uint8_t* w, float* d, uint32_t m, uint32_t n, uint32_t k,   \
	                                uint32_t w_row, uint32_t hi_off, uint32_t lo_off, uint32_t xd_off) {                \
		gemv_quant<MR, DOT, Q40>(xq, w, d, m, n, k, w_row, hi_off, lo_off, xd_off);                                     \
	}                                                                                                                   \
	GOLEM_KERNEL(name)

GEMV_QUANT(gemv_q8_0_r1, 1, dot_q8_0, false);
GEMV_QUANT(gemv_q8_0_r8, 8, dot_q8_0, false);
GEMV_QUANT(gemv_q4_0_r1, 1, dot_q4_0, true);
GEMV_QUANT(gemv_q4_0_r8, 8, dot_q4_0, true);
GEMV_QUANT(gemv_q4_k_r1, 1, dot_q4_k, false);
GEMV_QUANT(gemv_q4_k_r8, 8, dot_q4_k, false);
GEMV_QUANT(gemv_q6_k_r1, 1, dot_q6_k, false);
GEMV_QUANT(gemv_q6_k_r8, 8, dot_q6_k, false);

// ---------------------------------------------------------------------------
// matmul_fused for few rows of x (graph.MatMulFused): the GEMV kernels with
// up to three weights of one dtype and an epilogue. The norm (RMSNorm ⊙
// w) runs before, as rms_norm_mul into the node's scratch. Concatenated
// parts: each warp takes two of the rows of [w0; w1; w2] (n0 + n1 + n2 in
// all) and writes columns of the same index; SwiGLU: warp c takes gate row
// c of w0 and up row c of w1 and writes silu(gate)·up to column c. A
// residual (F32, the result's shape) is added last. flags: 2 SwiGLU, 4
// residual.

enum { kFusedSwiGLU = 2, kFusedResidual = 4 };

// fused_rows gives the warp's two weight rows and output columns (c1 is
// past cols when the warp has one row only).
struct FusedRows {
	const uint8_t *w0, *w1;
	uint32_t c0, c1;
	bool ok;
};

static __device__ __forceinline__ FusedRows fused_rows(const uint8_t* w0, const uint8_t* w1, const uint8_t* w2, uint32_t n0, uint32_t n1,
                                                        uint32_t cols, uint32_t w_row, uint32_t flags) {
	uint32_t wi = blockIdx.x * GEMV_WARPS + threadIdx.x / 32;
	if (flags & kFusedSwiGLU) {
		return FusedRows{w0 + (uint64_t)wi * w_row, w1 + (uint64_t)wi * w_row, wi, cols, wi < cols};
	}
	uint32_t r0 = 2 * wi, r1 = r0 + 1 < cols ? r0 + 1 : r0;
	auto row = [&](uint32_t r) {
		if (r < n0) return w0 + (uint64_t)r * w_row;
		if (r < n0 + n1) return w1 + (uint64_t)(r - n0) * w_row;
		return w2 + (uint64_t)(r - n0 - n1) * w_row;
	};
	return FusedRows{row(r0), row(r1), r0, r0 + 1, r0 < cols};
}

template <int MR>
static __device__ __forceinline__ void fused_store(float (&acc)[MR][2], float* d, const float* res, uint32_t m0, uint32_t mr, uint32_t cols,
                                                   const FusedRows& fr, uint32_t flags) {
	#pragma unroll
	for (int mi = 0; mi < MR; mi++) {
		#pragma unroll
		for (int r = 0; r < 2; r++) {
			float v = acc[mi][r];
			for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
			acc[mi][r] = v;
		}
	}
	if (golem_lane() != 0) return;
	#pragma unroll
	for (int mi = 0; mi < MR; mi++) {
		if ((uint32_t)mi >= mr) continue;
		uint64_t row = (uint64_t)(m0 + mi) * cols;
		float v0 = acc[mi][0], v1 = acc[mi][1];
		if (flags & kFusedSwiGLU) v0 = golem_silu(v0) * v1;
		if (flags & kFusedResidual) v0 += res[row + fr.c0];
		d[row + fr.c0] = v0;
		if (!(flags & kFusedSwiGLU) && fr.c1 < cols) d[row + fr.c1] = (flags & kFusedResidual) ? v1 + res[row + fr.c1] : v1;
	}
}

#define FUSED_FLOAT(name, T, MR)                                                                                                   \
	extern "C" __global__ void name(const float* x, const uint8_t* w0, const uint8_t* w1, const uint8_t* w2, const float* res,   \
	                                float* d, uint32_t m, uint32_t k, uint32_t w_row, uint32_t n0, uint32_t n1, uint32_t cols,     \
	                                uint32_t flags) {                                                                            \
		FusedRows fr = fused_rows(w0, w1, w2, n0, n1, cols, w_row, flags);                                                       \
		uint32_t m0 = blockIdx.y * MR;                                                                                           \
		if (!fr.ok || m0 >= m) return;                                                                                           \
		uint32_t mr = m - m0 < (uint32_t)MR ? m - m0 : (uint32_t)MR;                                                             \
		bool vec = (((uintptr_t)w0 | (uintptr_t)w1 | (uintptr_t)w2 | (uintptr_t)x | w_row) & 15) == 0;                          \
		float acc[MR][2];                                                                                                        \
		gemv_float_dot<T, MR>(x, fr.w0, fr.w1, m0, mr, k, vec, acc);                                                             \
		fused_store<MR>(acc, d, res, m0, mr, cols, fr, flags);                                                                   \
	}                                                                                                                            \
	GOLEM_KERNEL(name)

FUSED_FLOAT(fused_f32_r1, kF32, 1);
FUSED_FLOAT(fused_f32_r8, kF32, 8);
FUSED_FLOAT(fused_f16_r1, kF16, 1);
FUSED_FLOAT(fused_f16_r8, kF16, 8);
FUSED_FLOAT(fused_bf16_r1, kBF16, 1);
FUSED_FLOAT(fused_bf16_r8, kBF16, 8);

#define FUSED_QUANT(name, MR, DOT, Q40)                                                                                            \
	extern "C" __global__ void name(const int8_t* xq, const uint8_t* w0, const uint8_t* w1, const uint8_t* w2, const float* res, \
	                                float* d, uint32_t m, uint32_t k, uint32_t w_row, uint32_t n0, uint32_t n1, uint32_t cols,     \
	                                uint32_t flags, uint32_t hi_off, uint32_t lo_off, uint32_t xd_off) {                         \
		FusedRows fr = fused_rows(w0, w1, w2, n0, n1, cols, w_row, flags);                                                       \
		uint32_t m0 = blockIdx.y * MR;                                                                                           \
		if (!fr.ok || m0 >= m) return;                                                                                           \
		uint32_t mr = m - m0 < (uint32_t)MR ? m - m0 : (uint32_t)MR;                                                             \
		float acc[MR][2];                                                                                                        \
		gemv_quant_dot<MR, DOT, Q40>(xq, fr.w0, fr.w1, m0, mr, k, hi_off, lo_off, xd_off, acc);                                  \
		fused_store<MR>(acc, d, res, m0, mr, cols, fr, flags);                                                                   \
	}                                                                                                                            \
	GOLEM_KERNEL(name)

FUSED_QUANT(fused_q8_0_r1, 1, dot_q8_0, false);
FUSED_QUANT(fused_q8_0_r8, 8, dot_q8_0, false);
FUSED_QUANT(fused_q4_0_r1, 1, dot_q4_0, true);
FUSED_QUANT(fused_q4_0_r8, 8, dot_q4_0, true);
FUSED_QUANT(fused_q4_k_r1, 1, dot_q4_k, false);
FUSED_QUANT(fused_q4_k_r8, 8, dot_q4_k, false);
FUSED_QUANT(fused_q6_k_r1, 1, dot_q6_k, false);
FUSED_QUANT(fused_q6_k_r8, 8, dot_q6_k, false);
