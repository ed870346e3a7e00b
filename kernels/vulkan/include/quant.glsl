// quant.glsl: reading F32 / F16 / BF16 / Q8_0 / Q4_0 / Q4_K / Q6_K data
// (bit-exact with backend/quant and GGUF) from a uint array addressed in
// bytes. Before including it, declare the buffer and name its array:
//
//   layout(set = 0, binding = 0, std430) readonly buffer W { uint w[]; };
//   #define QBUF w
//   #include "quant.glsl"
//
// dq_<type>(row, i) returns element i of the row that starts at byte row
// (F32 rows must start at a multiple of 4, F16/BF16 and blocks at a
// multiple of 2). Blocks: Q8_0 34 bytes / 32 elements, Q4_0 18 / 32,
// Q4_K 144 / 256, Q6_K 210 / 256.
#ifndef GOLEM_QUANT_GLSL
#define GOLEM_QUANT_GLSL

// QREAD(i) reads word i; by default QBUF[i]. A kernel reading several
// buffers through one set of helpers defines QREAD as a function that
// picks the buffer (matmul_fused.glsl).
#ifndef QREAD
#ifndef QBUF
#error "define QBUF to the uint array holding the data before including quant.glsl"
#endif
#define QREAD(i) QBUF[i]
#endif

// qb_u8 returns byte b.
uint qb_u8(uint b) { return (QREAD(b >> 2) >> ((b & 3u) * 8u)) & 0xffu; }

// qb_i8 returns byte b as a signed value.
int qb_i8(uint b) { return int(qb_u8(b) << 24) >> 24; }

// qb_u16 returns the 16-bit little-endian value at even byte b.
uint qb_u16(uint b) { return (QREAD(b >> 2) >> ((b & 2u) * 8u)) & 0xffffu; }

// qb_u32 returns the 32-bit little-endian value at byte b (any alignment).
uint qb_u32(uint b) {
	uint w = b >> 2;
	uint s = (b & 3u) * 8u;
	uint lo = QREAD(w) >> s;
	if (s == 0u) {
		return lo;
	}
	return lo | (QREAD(w + 1u) << (32u - s));
}

// qb_f16 returns the f16 at even byte b as f32.
float qb_f16(uint b) { return f16_to_f32(qb_u16(b)); }

float dq_f32(uint row, uint i) { return uintBitsToFloat(QREAD((row >> 2) + i)); }

float dq_f16(uint row, uint i) { return f16_to_f32(qb_u16(row + 2u * i)); }

float dq_bf16(uint row, uint i) { return bf16_to_f32(qb_u16(row + 2u * i)); }

float dq_q8_0(uint row, uint i) {
	uint blk = row + (i >> 5) * 34u;
	return float(qb_i8(blk + 2u + (i & 31u))) * qb_f16(blk);
}

float dq_q4_0(uint row, uint i) {
	uint blk = row + (i >> 5) * 18u;
	uint j = i & 31u;
	uint q = qb_u8(blk + 2u + (j & 15u));
	uint nib = j < 16u ? (q & 15u) : (q >> 4);
	return float(int(nib) - 8) * qb_f16(blk);
}

// q4k_scale_min unpacks the 6-bit scale and min of sub-block j (0..7) of
// the Q4_K block at byte blk (ggml's get_scale_min_k4).
void q4k_scale_min(uint blk, uint j, out float sc, out float m) {
	uint s = blk + 4u;
	if (j < 4u) {
		sc = float(qb_u8(s + j) & 63u);
		m = float(qb_u8(s + j + 4u) & 63u);
	} else {
		sc = float((qb_u8(s + j + 4u) & 15u) | ((qb_u8(s + j - 4u) >> 6) << 4));
		m = float((qb_u8(s + j + 4u) >> 4) | ((qb_u8(s + j) >> 6) << 4));
	}
}

float dq_q4_k(uint row, uint i) {
	uint blk = row + (i >> 8) * 144u;
	uint e = i & 255u;
	uint c = e >> 6;
	uint t = e & 63u;
	float sc, m;
	q4k_scale_min(blk, 2u * c + (t >> 5), sc, m);
	uint q = qb_u8(blk + 16u + 32u * c + (t & 31u));
	uint nib = t < 32u ? (q & 15u) : (q >> 4);
	float d = qb_f16(blk);
	float dmin = qb_f16(blk + 2u);
	return (d * sc) * float(nib) - dmin * m;
}

float dq_q6_k(uint row, uint i) {
	uint blk = row + (i >> 8) * 210u;
	uint e = i & 255u;
	uint h = e >> 7;
	uint t = e & 127u;
	uint quarter = t >> 5;
	uint l = t & 31u;
	uint ql = qb_u8(blk + 64u * h + l + 32u * (quarter & 1u));
	uint lo = quarter >= 2u ? (ql >> 4) : (ql & 15u);
	uint hb = (qb_u8(blk + 128u + 32u * h + l) >> (2u * quarter)) & 3u;
	int q = int(lo | (hb << 4)) - 32;
	int sc = qb_i8(blk + 192u + 8u * h + (l >> 4) + 2u * quarter);
	return qb_f16(blk + 208u) * float(sc) * float(q);
}

#endif
