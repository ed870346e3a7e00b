// Quantize a (possibly strided) float tensor to Q8_0 or Q4_0 exactly as
// ggml's reference quantizers (backend/quant): one invocation per block of
// 32. The wrapper defines LOADF(e) (element e as float) and Q8_0 or Q4_0.
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer Src { uint src[]; };
layout(set = 0, binding = 1, std430) buffer Dst { uint dst[]; };

layout(push_constant) uniform PC {
	uint s_off;      // source units: words (f32), halves (f16, bf16)
	uint d_off;      // destination bytes (even)
	uint nblocks;
	uint s1, s2, s3; // shape dims 1..3 (padded to 4-D)
	int st0, st1, st2, st3; // source element strides
} pc;

uint sidx(uint e) {
	uint c3 = e % pc.s3;
	uint t = e / pc.s3;
	uint c2 = t % pc.s2;
	t /= pc.s2;
	uint c1 = t % pc.s1;
	uint c0 = t / pc.s1;
	return uint(int(c0) * pc.st0 + int(c1) * pc.st1 + int(c2) * pc.st2 + int(c3) * pc.st3);
}

#define S32(e) src[pc.s_off + sidx(e)]
#define S16(e) half_of(src, pc.s_off + sidx(e))

// round_away rounds half away from zero, exactly (C's roundf).
float round_away(float t) {
	float r = trunc(t);
	if (abs(t - r) >= 0.5) {
		r += sign(t);
	}
	return r;
}

#ifdef Q8_0
#define BLOCK_BYTES 34u
#define HALVES 17
#else
#define BLOCK_BYTES 18u
#define HALVES 9
#endif

void main() {
	uint b = GLOBAL_ID();
	if (b >= pc.nblocks) {
		return;
	}
	float v[32];
	for (uint j = 0u; j < 32u; j++) {
		v[j] = LOADF(b * 32u + j);
	}
	uint hw[HALVES];
#ifdef Q8_0
	float amax = 0.0;
	for (uint j = 0u; j < 32u; j++) {
		amax = max(amax, abs(v[j]));
	}
	float d = amax / 127.0;
	float id = d != 0.0 ? 1.0 / d : 0.0;
	hw[0] = f32_to_f16(d);
	for (uint k = 0u; k < 16u; k++) {
		precise float t0 = v[2u * k] * id;
		precise float t1 = v[2u * k + 1u] * id;
		int q0 = int(clamp(round_away(t0), -128.0, 127.0));
		int q1 = int(clamp(round_away(t1), -128.0, 127.0));
		hw[1u + k] = (uint(q0) & 0xffu) | ((uint(q1) & 0xffu) << 8);
	}
#else
	float amax = 0.0;
	float mx = 0.0;
	for (uint j = 0u; j < 32u; j++) {
		if (amax < abs(v[j])) {
			amax = abs(v[j]);
			mx = v[j];
		}
	}
	float d = mx / -8.0;
	float id = d != 0.0 ? 1.0 / d : 0.0;
	hw[0] = f32_to_f16(d);
	uint by[16];
	for (uint j = 0u; j < 16u; j++) {
		precise float lo = v[j] * id + 8.5;
		precise float hi = v[j + 16u] * id + 8.5;
		uint l = uint(clamp(int(lo), 0, 15));
		uint h = uint(clamp(int(hi), 0, 15));
		by[j] = l | (h << 4);
	}
	for (uint k = 0u; k < 8u; k++) {
		hw[1u + k] = by[2u * k] | (by[2u * k + 1u] << 8);
	}
#endif
	uint hb = (pc.d_off + b * BLOCK_BYTES) >> 1;
	for (uint k = 0u; k < uint(HALVES); k++) {
		uint gh = hb + k;
		if ((gh & 1u) == 0u && k + 1u < uint(HALVES)) {
			dst[gh >> 1] = hw[k] | (hw[k + 1u] << 16);
			k++;
		} else {
			store_u16_atomic(dst, gh, hw[k]);
		}
	}
}
