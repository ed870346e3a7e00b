#version 450
// swiglu: d = silu(gate) * up.
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer G { float gate[]; };
layout(set = 0, binding = 1, std430) readonly buffer U { float up[]; };
layout(set = 0, binding = 2, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform PC {
	uint g_off, u_off, d_off;
	uint n;
} pc;

void main() {
	uint e = GLOBAL_ID();
	if (e >= pc.n) {
		return;
	}
	float g = gate[pc.g_off + e];
	d[pc.d_off + e] = g / (1.0 + exp(-g)) * up[pc.u_off + e];
}
