// attention_common.glsl: bindings, push constants and element access shared
// by every attention kernel (attention_naive_*, attention_flash,
// attention_splitkv*). Include it after common.glsl.
//
// Bindings (set 0): q, k, v, mask, pos, out, then the kernel's scratch
// buffer when it has one (ATTN_SCRATCH defined by the includer). A node
// without a mask or without positions binds q in that slot (never read:
// the flags say which are present). k and v are F32, F16 or BF16, each on
// its own (flags), and read as 32-bit words; a BF16 element is the upper
// half of an f32 (decoded by a shift: no device needs a bf16 type).
//
// Layouts (elements, outermost first): q [B, Sq, Hq, D], k [B, Sk, Hkv, D],
// v [B, Sk, Hkv, Dv], mask [Sq, Sk], pos [Sq], out [B, Sq, Hq, Dv]. Query
// head h reads kv head h / (Hq / Hkv).
//
// Causality: query i sees keys 0 .. nvis(i)-1 only, where nvis(i) is
// pos[i]+1 (or Sk−Sq+i+1 without positions) clamped to [0, Sk]; a key at
// or past nvis(i) is never read for query i, and a kernel reads no key at
// or past the largest nvis of the queries it serves (those rows may be NaN).

layout(set = 0, binding = 0, std430) readonly buffer Q { float q[]; };
layout(set = 0, binding = 1, std430) readonly buffer K { uint kw[]; };
layout(set = 0, binding = 2, std430) readonly buffer V { uint vw[]; };
#ifdef ATTN_S16
// Feature kernels (GL_EXT_shader_16bit_storage): the same bindings as
// 16-bit floats, read when k or v is F16 (BF16 is read as words).
layout(set = 0, binding = 1, std430) readonly buffer K16 { float16_t kh[]; };
layout(set = 0, binding = 2, std430) readonly buffer V16 { float16_t vh[]; };
#endif
layout(set = 0, binding = 3, std430) readonly buffer M { float mask[]; };
layout(set = 0, binding = 4, std430) readonly buffer P { int pos[]; };
layout(set = 0, binding = 5, std430) writeonly buffer O { float o[]; };
#ifdef ATTN_SCRATCH
layout(set = 0, binding = 6, std430) buffer S { float scr[]; };
#endif

// Flag bits of pc.flags.
const uint ATTN_CAUSAL = 1u;
const uint ATTN_MASK = 2u;
const uint ATTN_POS = 4u;
const uint ATTN_K_F16 = 8u;
const uint ATTN_V_F16 = 16u;
const uint ATTN_K_BF16 = 32u;
const uint ATTN_V_BF16 = 64u;

layout(push_constant) uniform PC {
	uint b;        // batches
	uint sq;       // queries
	uint sk;       // keys
	uint hq;       // query heads
	uint hkv;      // kv heads
	uint d;        // head dim of q and k
	uint dv;       // head dim of v and out
	float scale;   // logit scale
	uint flags;    // ATTN_* bits
	uint q_off;    // element offsets of each binding's tensor
	uint k_off;    // (halves when F16 or BF16)
	uint v_off;    // (halves when F16 or BF16)
	uint mask_off;
	uint pos_off;
	uint o_off;
	uint s_off;    // scratch element offset (kernels with scratch)
	uint nsplit;   // split-KV: splits per row
	uint chunk;    // split-KV: keys per split (a multiple of the workgroup size)
} pc;

// k_at and v_at return element i (counted from the tensor's first element).
float k_at(uint i) {
	i += pc.k_off;
	if ((pc.flags & ATTN_K_BF16) != 0u) {
		return bf16_to_f32(half_of(kw, i));
	}
	if ((pc.flags & ATTN_K_F16) != 0u) {
#ifdef ATTN_S16
		return float(kh[i]);
#else
		return f16_to_f32(half_of(kw, i));
#endif
	}
	return uintBitsToFloat(kw[i]);
}

float v_at(uint i) {
	i += pc.v_off;
	if ((pc.flags & ATTN_V_BF16) != 0u) {
		return bf16_to_f32(half_of(vw, i));
	}
	if ((pc.flags & ATTN_V_F16) != 0u) {
#ifdef ATTN_S16
		return float(vh[i]);
#else
		return f16_to_f32(half_of(vw, i));
#endif
	}
	return uintBitsToFloat(vw[i]);
}

// f16x4 decodes the four halves of words a and b (low half first).
vec4 f16x4(uint a, uint b) {
	return vec4(f16_to_f32(a & 0xffffu), f16_to_f32(a >> 16), f16_to_f32(b & 0xffffu), f16_to_f32(b >> 16));
}

// bf16x4 decodes the four bfloat16 halves of words a and b (low half first).
vec4 bf16x4(uint a, uint b) {
	return uintBitsToFloat(uvec4(a << 16, a & 0xffff0000u, b << 16, b & 0xffff0000u));
}

// k_vec4 returns elements 4·c .. 4·c+3 of the key row starting at element
// row (zeros past the head dim); v_vec4 likewise for value rows.
vec4 k_vec4(uint row, uint c) {
	uint e = 4u * c;
	uint i = pc.k_off + row + e;
	if (e + 4u <= pc.d) {
		if ((pc.flags & (ATTN_K_F16 | ATTN_K_BF16)) == 0u) {
			return uintBitsToFloat(uvec4(kw[i], kw[i + 1u], kw[i + 2u], kw[i + 3u]));
		}
		if ((pc.flags & ATTN_K_BF16) != 0u) {
			if ((i & 1u) == 0u) {
				return bf16x4(kw[i >> 1], kw[(i >> 1) + 1u]);
			}
		} else {
#ifdef ATTN_S16
			return vec4(float(kh[i]), float(kh[i + 1u]), float(kh[i + 2u]), float(kh[i + 3u]));
#else
			if ((i & 1u) == 0u) {
				return f16x4(kw[i >> 1], kw[(i >> 1) + 1u]);
			}
#endif
		}
	}
	vec4 r = vec4(0.0);
	for (uint t = 0u; t < 4u && e + t < pc.d; t++) {
		r[t] = k_at(row + e + t);
	}
	return r;
}

vec4 v_vec4(uint row, uint c) {
	uint e = 4u * c;
	uint i = pc.v_off + row + e;
	if (e + 4u <= pc.dv) {
		if ((pc.flags & (ATTN_V_F16 | ATTN_V_BF16)) == 0u) {
			return uintBitsToFloat(uvec4(vw[i], vw[i + 1u], vw[i + 2u], vw[i + 3u]));
		}
		if ((pc.flags & ATTN_V_BF16) != 0u) {
			if ((i & 1u) == 0u) {
				return bf16x4(vw[i >> 1], vw[(i >> 1) + 1u]);
			}
		} else {
#ifdef ATTN_S16
			return vec4(float(vh[i]), float(vh[i + 1u]), float(vh[i + 2u]), float(vh[i + 3u]));
#else
			if ((i & 1u) == 0u) {
				return f16x4(vw[i >> 1], vw[(i >> 1) + 1u]);
			}
#endif
		}
	}
	vec4 r = vec4(0.0);
	for (uint t = 0u; t < 4u && e + t < pc.dv; t++) {
		r[t] = v_at(row + e + t);
	}
	return r;
}

// nvis returns how many keys (a prefix) query i may see.
uint nvis(uint i) {
	if ((pc.flags & ATTN_CAUSAL) == 0u) {
		return pc.sk;
	}
	int last;
	if ((pc.flags & ATTN_POS) != 0u) {
		last = pos[pc.pos_off + i];
	} else {
		last = int(pc.sk) - int(pc.sq) + int(i);
	}
	if (last < 0) {
		return 0u;
	}
	return uint(last) >= pc.sk ? pc.sk : uint(last) + 1u;
}

// mask_at returns the additive mask of query i and key j (0 without a mask).
float mask_at(uint i, uint j) {
	return (pc.flags & ATTN_MASK) != 0u ? mask[pc.mask_off + i * pc.sk + j] : 0.0;
}

// Element offsets (without the binding offsets) of row starts.
uint q_row(uint bi, uint i, uint h) { return ((bi * pc.sq + i) * pc.hq + h) * pc.d; }
uint k_row(uint bi, uint j, uint g) { return ((bi * pc.sk + j) * pc.hkv + g) * pc.d; }
uint v_row(uint bi, uint j, uint g) { return ((bi * pc.sk + j) * pc.hkv + g) * pc.dv; }
uint o_row(uint bi, uint i, uint h) { return ((bi * pc.sq + i) * pc.hq + h) * pc.dv; }
