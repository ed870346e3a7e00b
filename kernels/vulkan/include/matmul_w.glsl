// matmul_w.glsl: reading matmul weights of every dtype (baseline: 32-bit
// words only; W_S16 below is the one feature path).
//
// The includer includes common.glsl, defines exactly one of W_F32, W_F16,
// W_BF16, W_Q8_0, W_Q4_0, W_Q4_K, W_Q6_K and then declares the weight
// binding as `float wt[]` (W_F32) or `uint wt[]` (every other dtype) before
// including this file. Bytes are read with quant.glsl's qb_* helpers and
// f16/bf16 bits decoded exactly with common.glsl's f16_to_f32/bf16_to_f32.
//
// W_S16 (feature kernels, with GL_EXT_shader_16bit_storage) reads F16
// weights through the binding's 16-bit alias `float16_t wh[]` instead:
// converted by the hardware rather than decoded bit by bit.
//
// Float weights (W_FLOAT defined here) are read one element at a time with
// w_at(i), i counted in elements (halves for F16/BF16) from the binding's
// start. Quantized weights (W_QUANT) are read eight elements at a time with
// w_dequant8(rb, k0, lo, hi): rb is the byte offset of the row from the
// binding's start, k0 a multiple of 8 inside the row. Every block of the
// four formats starts at an even byte, so every 16-bit read below does too.

#if defined(W_F32) || defined(W_F16) || defined(W_BF16)
#define W_FLOAT 1
#else
#define W_QUANT 1
#endif

// W_F32_AT(i) and W_HALF(i) read float element i and 16-bit element i;
// by default from wt (matmul_fused.glsl picks among several weights).
#ifndef W_F32_AT
#define W_F32_AT(i) wt[i]
#endif
#ifndef W_HALF
#define W_HALF(i) half_of(wt, i)
#endif

#if defined(W_F32)
float w_at(uint i) { return W_F32_AT(i); }
#elif defined(W_F16) && defined(W_S16)
float w_at(uint i) { return float(wh[i]); }
#elif defined(W_F16)
float w_at(uint i) { return f16_to_f32(W_HALF(i)); }
#elif defined(W_BF16)
float w_at(uint i) { return bf16_to_f32(W_HALF(i)); }
#endif

#ifdef W_QUANT

#if !defined(W_Q8_0) && !defined(W_Q4_0) && !defined(W_Q4_K) && !defined(W_Q6_K)
#error "matmul_w.glsl: no weight dtype defined"
#endif

#ifndef QREAD
#define QBUF wt
#endif
#include "quant.glsl"

// nib4 returns the four nibbles at bit shift sh (0 or 4) of the bytes of u.
vec4 nib4(uint u, uint sh) {
	return vec4(float((u >> sh) & 15u), float((u >> (sh + 8u)) & 15u), float((u >> (sh + 16u)) & 15u),
	            float((u >> (sh + 24u)) & 15u));
}

// sbyte4 returns the four bytes of u as signed values.
vec4 sbyte4(uint u) {
	int s = int(u);
	return vec4(float(bitfieldExtract(s, 0, 8)), float(bitfieldExtract(s, 8, 8)), float(bitfieldExtract(s, 16, 8)),
	            float(bitfieldExtract(s, 24, 8)));
}

// w_dequant8 decodes elements k0..k0+7 of the row starting at byte rb.
void w_dequant8(uint rb, uint k0, out vec4 lo, out vec4 hi) {
#if defined(W_Q8_0)
	// f16 d, 32 signed bytes: d*q.
	uint bo = rb + (k0 >> 5) * 34u;
	uint e = k0 & 31u;
	float d = qb_f16(bo);
	lo = d * sbyte4(qb_u32(bo + 2u + e));
	hi = d * sbyte4(qb_u32(bo + 6u + e));
#elif defined(W_Q4_0)
	// f16 d, 16 bytes: element j<16 the low nibble of byte j, j+16 the high
	// nibble; d*(q-8).
	uint bo = rb + (k0 >> 5) * 18u;
	uint e = k0 & 31u;
	float d = qb_f16(bo);
	uint sh = e >= 16u ? 4u : 0u;
	uint j = e & 15u;
	lo = d * (nib4(qb_u32(bo + 2u + j), sh) - 8.0);
	hi = d * (nib4(qb_u32(bo + 6u + j), sh) - 8.0);
#elif defined(W_Q4_K)
	// f16 d, f16 dmin, 12 bytes of 6-bit scales and mins (get_scale_min_k4),
	// 128 bytes: chunk c of 64 elements is bytes 32c..32c+31, low nibbles
	// first; (d*sc)*q - dmin*m per sub-block of 32.
	uint bo = rb + (k0 >> 8) * 144u;
	uint e = k0 & 255u;
	uint sub = e >> 5;
	float d = qb_f16(bo);
	float dmin = qb_f16(bo + 2u);
	uint sb = bo + 4u;
	uint sc, mn;
	if (sub < 4u) {
		sc = qb_u8(sb + sub) & 63u;
		mn = qb_u8(sb + sub + 4u) & 63u;
	} else {
		uint b4 = qb_u8(sb + sub + 4u);
		sc = (b4 & 15u) | ((qb_u8(sb + sub - 4u) >> 6) << 4);
		mn = (b4 >> 4) | ((qb_u8(sb + sub) >> 6) << 4);
	}
	float d1 = d * float(sc);
	float m1 = dmin * float(mn);
	uint l = e & 63u;
	uint sh = l >= 32u ? 4u : 0u;
	uint qo = bo + 16u + ((e >> 6) << 5) + (l & 31u);
	lo = d1 * nib4(qb_u32(qo), sh) - m1;
	hi = d1 * nib4(qb_u32(qo + 4u), sh) - m1;
#elif defined(W_Q6_K)
	// 128 bytes ql, 64 bytes qh, 16 int8 scales, f16 d. In half h, quarter
	// qq, element l: low 4 bits from ql[64h + 32(qq&1) + l] (nibble qq>>1),
	// high 2 bits from qh[32h + l] bits 2qq; d*sc[e/16]*(q-32).
	uint bo = rb + (k0 >> 8) * 210u;
	uint e = k0 & 255u;
	uint h = e >> 7;
	uint qq = (e >> 5) & 3u;
	uint l = e & 31u;
	float d = qb_f16(bo + 208u);
	float sc = float(bitfieldExtract(int(qb_u8(bo + 192u + (e >> 4))), 0, 8));
	float ds = d * sc;
	uint qlo = bo + 64u * h + 32u * (qq & 1u) + l;
	uint qho = bo + 128u + 32u * h + l;
	uint nsh = (qq >> 1) << 2;
	uint hsh = qq << 1;
	uint ql0 = qb_u32(qlo), ql1 = qb_u32(qlo + 4u);
	uint qh0 = qb_u32(qho), qh1 = qb_u32(qho + 4u);
	vec4 q0 = nib4(ql0, nsh) + 16.0 * vec4(float((qh0 >> hsh) & 3u), float((qh0 >> (hsh + 8u)) & 3u),
	                                       float((qh0 >> (hsh + 16u)) & 3u), float((qh0 >> (hsh + 24u)) & 3u));
	vec4 q1 = nib4(ql1, nsh) + 16.0 * vec4(float((qh1 >> hsh) & 3u), float((qh1 >> (hsh + 8u)) & 3u),
	                                       float((qh1 >> (hsh + 16u)) & 3u), float((qh1 >> (hsh + 24u)) & 3u));
	lo = ds * (q0 - 32.0);
	hi = ds * (q1 - 32.0);
#endif
}

#endif // W_QUANT
