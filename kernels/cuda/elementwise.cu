// Element-wise kernels on contiguous F32 tensors: add and mul (y broadcast
// to x's shape), scale, silu, gelu (tanh approximation), swiglu. One thread
// per output element; the grid is rounded up, so every kernel checks n.
#include "golem.cuh"
#include "common.cuh"

// broadcast_index returns the index into y of x's element e: x's dims 1..3
// are s1..s3 (rank padded to 4), ys0..ys3 y's element strides per x dim (0
// where y repeats).
static __device__ __forceinline__ uint64_t broadcast_index(uint64_t e, uint32_t s1, uint32_t s2, uint32_t s3, uint32_t ys0, uint32_t ys1,
                                                           uint32_t ys2, uint32_t ys3) {
	uint64_t t = e;
	uint64_t c3 = t % s3;
	t /= s3;
	uint64_t c2 = t % s2;
	t /= s2;
	uint64_t c1 = t % s1;
	uint64_t c0 = t / s1;
	return c0 * ys0 + c1 * ys1 + c2 * ys2 + c3 * ys3;
}

#define BINARY(name, OP)                                                                                                          \
	extern "C" __global__ void name(const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ d, uint32_t n,    \
	                                uint32_t s1, uint32_t s2, uint32_t s3, uint32_t ys0, uint32_t ys1, uint32_t ys2, uint32_t ys3, \
	                                uint32_t same) {                                                                              \
		uint64_t e = golem_global_x();                                                                                            \
		if (e >= n) return;                                                                                                       \
		uint64_t yi = same ? e : broadcast_index(e, s1, s2, s3, ys0, ys1, ys2, ys3);                                              \
		float a = x[e], b = y[yi];                                                                                                \
		d[e] = OP;                                                                                                                \
	}                                                                                                                             \
	GOLEM_KERNEL(name)

// add: d = x + y.
BINARY(add_f32, a + b);
// mul: d = x · y.
BINARY(mul_f32, a * b);

// scale: d = s · x.
extern "C" __global__ void scale_f32(const float* __restrict__ x, float* __restrict__ d, uint32_t n, float s) {
	uint64_t e = golem_global_x();
	if (e < n) d[e] = s * x[e];
}
GOLEM_KERNEL(scale_f32);

// silu: d = x · sigmoid(x).
extern "C" __global__ void silu_f32(const float* __restrict__ x, float* __restrict__ d, uint32_t n) {
	uint64_t e = golem_global_x();
	if (e < n) d[e] = golem_silu(x[e]);
}
GOLEM_KERNEL(silu_f32);

// gelu: the tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
extern "C" __global__ void gelu_f32(const float* __restrict__ x, float* __restrict__ d, uint32_t n) {
	uint64_t e = golem_global_x();
	if (e < n) {
		float v = x[e];
		const float c = 0.7978845608028654f;  // sqrt(2/pi)
		d[e] = 0.5f * v * (1.0f + golem_tanhf(c * (v + 0.044715f * v * v * v)));
	}
}
GOLEM_KERNEL(gelu_f32);

// swiglu: d = silu(gate) · up.
extern "C" __global__ void swiglu_f32(const float* __restrict__ gate, const float* __restrict__ up, float* __restrict__ d, uint32_t n) {
	uint64_t e = golem_global_x();
	if (e < n) d[e] = golem_silu(gate[e]) * up[e];
}
GOLEM_KERNEL(swiglu_f32);
