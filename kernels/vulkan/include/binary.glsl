// Element-wise binary op with y broadcast to x's shape: d = OP(x, y).
// Shapes are padded to 4 dims; ys* are y's element strides per x dim (0
// where y repeats).
#include "common.glsl"

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer Y { float y[]; };
layout(set = 0, binding = 2, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform PC {
	uint x_off, y_off, d_off;
	uint n;
	uint s1, s2, s3; // x dims 1..3
	uint ys0, ys1, ys2, ys3;
	uint same;       // 1: y has x's shape (no index arithmetic)
} pc;

void main() {
	uint e = GLOBAL_ID();
	if (e >= pc.n) {
		return;
	}
	uint yi = e;
	if (pc.same == 0u) {
		uint t = e;
		uint c3 = t % pc.s3;
		t /= pc.s3;
		uint c2 = t % pc.s2;
		t /= pc.s2;
		uint c1 = t % pc.s1;
		uint c0 = t / pc.s1;
		yi = c0 * pc.ys0 + c1 * pc.ys1 + c2 * pc.ys2 + c3 * pc.ys3;
	}
	d[pc.d_off + e] = OP(x[pc.x_off + e], y[pc.y_off + yi]);
}
