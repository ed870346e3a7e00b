// quant.cuh: reading F32 / F16 / BF16 / Q8_0 / Q4_0 / Q4_K / Q6_K data
// (bit-exact with backend/quant and GGUF). dq_<type>(row, i) returns
// element i of the row that starts at byte pointer row. Blocks: Q8_0 34
// bytes / 32 elements, Q4_0 18 / 32, Q4_K 144 / 256, Q6_K 210 / 256.
// Multi-byte fields are read a byte at a time (blocks are not 4-byte
// aligned).
#ifndef GOLEM_QUANT_CUH
#define GOLEM_QUANT_CUH

#include "golem.cuh"

static __device__ __forceinline__ uint32_t qb_u16(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static __device__ __forceinline__ float qb_f16(const uint8_t* p) { return golem_f16_to_f32((uint16_t)qb_u16(p)); }

static __device__ __forceinline__ float dq_f32(const uint8_t* row, uint32_t i) { return reinterpret_cast<const float*>(row)[i]; }
static __device__ __forceinline__ float dq_f16(const uint8_t* row, uint32_t i) { return golem_f16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]); }
static __device__ __forceinline__ float dq_bf16(const uint8_t* row, uint32_t i) { return golem_bf16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]); }

static __device__ __forceinline__ float dq_q8_0(const uint8_t* row, uint32_t i) {
	const uint8_t* blk = row + (i >> 5) * 34u;
	return (float)(int8_t)blk[2 + (i & 31u)] * qb_f16(blk);
}

static __device__ __forceinline__ float dq_q4_0(const uint8_t* row, uint32_t i) {
	const uint8_t* blk = row + (i >> 5) * 18u;
	uint32_t j = i & 31u;
	uint32_t q = blk[2 + (j & 15u)];
	uint32_t nib = j < 16u ? (q & 15u) : (q >> 4);
	return (float)((int)nib - 8) * qb_f16(blk);
}

// q4k_scale_min unpacks the 6-bit scale and min of sub-block j (0..7) of a
// Q4_K block (ggml's get_scale_min_k4).
static __device__ __forceinline__ void q4k_scale_min(const uint8_t* blk, uint32_t j, float* sc, float* m) {
	const uint8_t* s = blk + 4;
	if (j < 4u) {
		*sc = (float)(s[j] & 63u);
		*m = (float)(s[j + 4] & 63u);
	} else {
		*sc = (float)((s[j + 4] & 15u) | ((s[j - 4] >> 6) << 4));
		*m = (float)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
	}
}

static __device__ __forceinline__ float dq_q4_k(const uint8_t* row, uint32_t i) {
	const uint8_t* blk = row + (i >> 8) * 144u;
	uint32_t e = i & 255u, c = e >> 6, t = e & 63u;
	float sc, m;
	q4k_scale_min(blk, 2u * c + (t >> 5), &sc, &m);
	uint32_t q = blk[16 + 32 * c + (t & 31u)];
	uint32_t nib = t < 32u ? (q & 15u) : (q >> 4);
	float d = qb_f16(blk), dmin = qb_f16(blk + 2);
	return golem_fadd_rn(golem_fmul_rn(golem_fmul_rn(d, sc), (float)nib), -golem_fmul_rn(dmin, m));
}

static __device__ __forceinline__ float dq_q6_k(const uint8_t* row, uint32_t i) {
	const uint8_t* blk = row + (i >> 8) * 210u;
	uint32_t e = i & 255u, h = e >> 7, t = e & 127u, quarter = t >> 5, l = t & 31u;
	uint32_t ql = blk[64 * h + l + 32 * (quarter & 1u)];
	uint32_t lo = quarter >= 2u ? (ql >> 4) : (ql & 15u);
	uint32_t hb = (blk[128 + 32 * h + l] >> (2u * quarter)) & 3u;
	int q = (int)(lo | (hb << 4)) - 32;
	int sc = (int8_t)blk[192 + 8 * h + (l >> 4) + 2 * quarter];
	return golem_fmul_rn(golem_fmul_rn(qb_f16(blk + 208), (float)sc), (float)q);
}

#endif
