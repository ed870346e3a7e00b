#version 450
// rope: rotary position embedding of x [B, S, H, D], one invocation per
// element. The frequency of pair i, FreqScale·Theta^(−2i/Dims), comes from
// a constant table computed on the host in float64; the angle is reduced
// to [−π, π] before sin and cos so that large positions stay accurate.
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer P { int pos[]; };
layout(set = 0, binding = 2, std430) readonly buffer F { float ff[]; };   // frequency factors (or a dummy)
layout(set = 0, binding = 3, std430) writeonly buffer D { float d[]; };
layout(set = 0, binding = 4, std430) readonly buffer Q { float freq[]; }; // constant table [dims/2]

layout(push_constant) uniform PC {
	uint x_off, p_off, f_off, d_off;
	uint n;
	uint head_dim;
	uint heads;
	uint seq;
	uint dims;
	uint neox;
	uint has_ff;
} pc;

void main() {
	uint e = GLOBAL_ID();
	if (e >= pc.n) {
		return;
	}
	uint k = e % pc.head_dim;
	uint row = e / pc.head_dim;
	if (k >= pc.dims) {
		d[pc.d_off + e] = x[pc.x_off + e];
		return;
	}
	uint s = (row / pc.heads) % pc.seq;
	uint base = pc.x_off + row * pc.head_dim;
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
	precise float a = float(pos[pc.p_off + s]) * f;
	// Cody-Waite reduction by 2π ≈ C1 + C2 (C1 has 8 significant bits).
	const float C1 = 6.28125;
	const float C2 = 1.9353071795864769e-3;
	precise float q = round(a * 0.15915494309189535);
	precise float r = (a - q * C1) - q * C2;
	float c = cos(r);
	float sn = sin(r);
	float x0 = x[base + k0];
	float x1 = x[base + k1];
	d[pc.d_off + e] = k == k0 ? x0 * c - x1 * sn : x0 * sn + x1 * c;
}
