// Element-wise unary op: d = OP(x) (OP may use pc.scale).
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform PC {
	uint x_off, d_off;
	uint n;
	float scale;
} pc;

// tanh_safe is tanh without overflow for large |v|.
float tanh_safe(float v) {
	if (abs(v) < 0.25) {
		return tanh(v);
	}
	float e = exp(-2.0 * abs(v));
	float t = (1.0 - e) / (1.0 + e);
	return v < 0.0 ? -t : t;
}

float silu(float v) { return v / (1.0 + exp(-v)); }

float gelu(float v) {
	const float c = 0.7978845608028654; // sqrt(2/pi)
	return 0.5 * v * (1.0 + tanh_safe(c * (v + 0.044715 * v * v * v)));
}

void main() {
	uint e = GLOBAL_ID();
	if (e >= pc.n) {
		return;
	}
	d[pc.d_off + e] = OP(x[pc.x_off + e]);
}
