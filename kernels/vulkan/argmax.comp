#version 450
// argmax of each row (the first index of the largest value), one
// workgroup (power-of-two size) per row.
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) writeonly buffer D { int d[]; };

layout(push_constant) uniform PC {
	uint x_off, d_off;
	uint cols;
	uint rows;
} pc;

shared float bv[gl_WorkGroupSize.x];
shared uint bi[gl_WorkGroupSize.x];

void main() {
	uint row = GROUP_ID();
	if (row >= pc.rows) {
		return;
	}
	uint t = gl_LocalInvocationID.x;
	uint base = pc.x_off + row * pc.cols;
	float best = NEG_INF;
	uint at = 0xffffffffu;
	for (uint j = t; j < pc.cols; j += gl_WorkGroupSize.x) {
		float v = x[base + j];
		if (at == 0xffffffffu || v > best) {
			best = v;
			at = j;
		}
	}
	bv[t] = best;
	bi[t] = at;
	barrier();
	for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1) {
		if (t < s) {
			float ov = bv[t + s];
			uint oi = bi[t + s];
			if (oi != 0xffffffffu && (bi[t] == 0xffffffffu || ov > bv[t] || (ov == bv[t] && oi < bi[t]))) {
				bv[t] = ov;
				bi[t] = oi;
			}
		}
		barrier();
	}
	if (t == 0u) {
		d[pc.d_off + row] = int(bi[0]);
	}
}
