// concat along an axis: the output is outer blocks of [x chunk | y chunk],
// each chunk contiguous (xa = x's axis length × inner elements, ya alike).
// CONCAT_16: 16-bit elements (one invocation per output word).
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { uint x[]; };
layout(set = 0, binding = 1, std430) readonly buffer Y { uint y[]; };
layout(set = 0, binding = 2, std430) buffer D { uint dst[]; };

layout(push_constant) uniform PC {
	uint x_off, y_off, d_off; // elements (halves for 16-bit)
	uint n;
	uint xa, ya;
} pc;

uint load(uint e) {
	uint o = e / (pc.xa + pc.ya);
	uint t = e - o * (pc.xa + pc.ya);
#ifdef CONCAT_16
	if (t < pc.xa) {
		return half_of(x, pc.x_off + o * pc.xa + t);
	}
	return half_of(y, pc.y_off + o * pc.ya + (t - pc.xa));
#else
	if (t < pc.xa) {
		return x[pc.x_off + o * pc.xa + t];
	}
	return y[pc.y_off + o * pc.ya + (t - pc.xa)];
#endif
}

void main() {
	uint g = GLOBAL_ID();
#ifdef CONCAT_16
	uint end = pc.d_off + pc.n;
	uint w = (pc.d_off >> 1) + g;
	if (2u * w >= end) {
		return;
	}
	uint h0 = 2u * w;
	uint h1 = h0 + 1u;
	bool in0 = h0 >= pc.d_off;
	bool in1 = h1 < end;
	uint v0 = in0 ? load(h0 - pc.d_off) : 0u;
	uint v1 = in1 ? load(h1 - pc.d_off) : 0u;
	if (in0 && in1) {
		dst[w] = v0 | (v1 << 16);
	} else if (in0) {
		store_u16_atomic(dst, h0, v0);
	} else {
		store_u16_atomic(dst, h1, v1);
	}
#else
	if (g >= pc.n) {
		return;
	}
	dst[pc.d_off + g] = load(g);
#endif
}
