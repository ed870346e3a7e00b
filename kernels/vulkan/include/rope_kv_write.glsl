// rope_kv_write: cache[pos[r], h, :] = rope(x[r, h, :]) for each source
// row r, one workgroup per row: the rotation of rope.comp (host frequency
// table, angle reduced to [-pi, pi]) and the store of kv_write.glsl
// (positions outside [0, ctx) reported and skipped, the last of repeated
// positions wins). KV_F16 / KV_BF16: the cache is F16 / BF16 (edge halves
// written atomically; rounded to nearest even by bit operations).
#include "common.glsl"

#if defined(KV_F16)
#define KV_16 1
#define KV_ENC(v) f32_to_f16(v)
#elif defined(KV_BF16)
#define KV_16 1
#define KV_ENC(v) f32_to_bf16(v)
#endif

layout(set = 0, binding = 0, std430) buffer C { uint cache[]; };
layout(set = 0, binding = 1, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 2, std430) readonly buffer P { int pos[]; };
layout(set = 0, binding = 3, std430) readonly buffer F { float ff[]; };   // frequency factors (or a dummy)
layout(set = 0, binding = 4, std430) readonly buffer Q { float freq[]; }; // constant table [dims/2]
layout(set = 0, binding = 5, std430) buffer S { uint status[]; };

layout(push_constant) uniform PC {
	uint c_off;   // elements of the cache (halves for F16 and BF16)
	uint x_off, p_off, f_off;
	uint head_dim;
	uint heads;
	uint rows;    // source rows
	uint ctx;     // cache rows
	uint dims;
	uint neox;
	uint has_ff;
	uint slot;
} pc;

shared uint skip;

// rotated returns element k of head row hb (x index of its first element)
// after rotation at position p.
float rotated(uint hb, uint k, int p) {
	if (k >= pc.dims) {
		return x[hb + k];
	}
	uint hd = pc.dims / 2u;
	uint i, k0, k1;
	if (pc.neox != 0u) {
		i = k < hd ? k : k - hd;
		k0 = i;
		k1 = i + hd;
	} else {
		i = k >> 1;
		k0 = 2u * i;
		k1 = k0 + 1u;
	}
	float f = freq[i];
	if (pc.has_ff != 0u) {
		f = f / ff[pc.f_off + i];
	}
	precise float a = float(p) * f;
	const float C1 = 6.28125;
	const float C2 = 1.9353071795864769e-3;
	precise float q = round(a * 0.15915494309189535);
	precise float r = (a - q * C1) - q * C2;
	float c = cos(r);
	float sn = sin(r);
	float x0 = x[hb + k0];
	float x1 = x[hb + k1];
	return k == k0 ? x0 * c - x1 * sn : x0 * sn + x1 * c;
}

// value returns element j of source row r after rotation.
float value(uint r, uint j, int p) {
	uint h = j / pc.head_dim;
	return rotated(pc.x_off + (r * pc.heads + h) * pc.head_dim, j - h * pc.head_dim, p);
}

void main() {
	uint r = GROUP_ID();
	if (r >= pc.rows) {
		return;
	}
	uint t = gl_LocalInvocationID.x;
	int p = pos[pc.p_off + r];
	if (t == 0u) {
		skip = 0u;
	}
	barrier();
	if (p < 0 || uint(p) >= pc.ctx) {
		if (t == 0u) {
			report_error(pc.slot, p, r);
		}
		return;
	}
	for (uint r2 = r + 1u + t; r2 < pc.rows; r2 += gl_WorkGroupSize.x) {
		if (pos[pc.p_off + r2] == p) {
			skip = 1u;
		}
	}
	barrier();
	if (skip != 0u) {
		return;
	}
	uint row_len = pc.heads * pc.head_dim;
	uint cb = pc.c_off + uint(p) * row_len;
#ifdef KV_16
	uint end = cb + row_len; // halves [cb, end)
	for (uint w = (cb >> 1) + t; w <= ((end - 1u) >> 1); w += gl_WorkGroupSize.x) {
		uint h0 = 2u * w;
		uint h1 = h0 + 1u;
		bool in0 = h0 >= cb;
		bool in1 = h1 < end;
		uint v0 = in0 ? KV_ENC(value(r, h0 - cb, p)) : 0u;
		uint v1 = in1 ? KV_ENC(value(r, h1 - cb, p)) : 0u;
		if (in0 && in1) {
			cache[w] = v0 | (v1 << 16);
		} else if (in0) {
			store_u16_atomic(cache, h0, v0);
		} else {
			store_u16_atomic(cache, h1, v1);
		}
	}
#else
	for (uint j = t; j < row_len; j += gl_WorkGroupSize.x) {
		cache[cb + j] = floatBitsToUint(value(r, j, p));
	}
#endif
}
