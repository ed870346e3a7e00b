// kv_write: cache[pos[r], :] = src[r, :] for each source row r, one
// workgroup per row. Positions outside [0, ctx) are reported and skipped;
// when a position repeats, the last row wins (earlier ones are skipped).
// KV_F16 / KV_BF16: the cache is F16 / BF16 (uint words; edge halves
// written atomically), values rounded to nearest even (f32_to_f16,
// f32_to_bf16: bit operations, no 16-bit types).
#include "common.glsl"

#if defined(KV_F16)
#define KV_16 1
#define KV_ENC(v) f32_to_f16(v)
#elif defined(KV_BF16)
#define KV_16 1
#define KV_ENC(v) f32_to_bf16(v)
#endif

layout(set = 0, binding = 0, std430) buffer C { uint cache[]; };
layout(set = 0, binding = 1, std430) readonly buffer X { float src[]; };
layout(set = 0, binding = 2, std430) readonly buffer P { int pos[]; };
layout(set = 0, binding = 3, std430) buffer S { uint status[]; };

layout(push_constant) uniform PC {
	uint c_off;   // elements of the cache (halves for F16 and BF16)
	uint s_off, p_off;
	uint row_len;
	uint rows;    // source rows
	uint ctx;     // cache rows
	uint slot;
} pc;

shared uint skip;

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
	uint sb = pc.s_off + r * pc.row_len;
	uint cb = pc.c_off + uint(p) * pc.row_len;
#ifdef KV_16
	uint end = cb + pc.row_len; // halves [cb, end)
	for (uint w = (cb >> 1) + t; w <= ((end - 1u) >> 1); w += gl_WorkGroupSize.x) {
		uint h0 = 2u * w;
		uint h1 = h0 + 1u;
		bool in0 = h0 >= cb;
		bool in1 = h1 < end;
		uint v0 = in0 ? KV_ENC(src[sb + (h0 - cb)]) : 0u;
		uint v1 = in1 ? KV_ENC(src[sb + (h1 - cb)]) : 0u;
		if (in0 && in1) {
			cache[w] = v0 | (v1 << 16);
		} else if (in0) {
			store_u16_atomic(cache, h0, v0);
		} else {
			store_u16_atomic(cache, h1, v1);
		}
	}
#else
	for (uint j = t; j < pc.row_len; j += gl_WorkGroupSize.x) {
		cache[cb + j] = floatBitsToUint(src[sb + j]);
	}
#endif
}
