// Element-wise kernels on contiguous F32 tensors: add and mul (y broadcast
// to x's shape), scale, silu, gelu (tanh approximation), swiglu. One thread
// per output element; the grid is rounded up, so every kernel checks n.
#include "golem.cuh"

// golem_index is the flat index of this thread in a 1-D launch.
#define golem_index() ((uint64_t)blockIdx.x * blockDim.x + threadIdx.x)

// BroadcastY describes y broadcast to x's shape: x's dims 1..3 (rank padded
// to 4) and y's element stride per x dim (0 where y repeats).
struct BroadcastY {
	uint32_t s1, s2, s3;
	uint32_t ys0, ys1, ys2, ys3;
	uint32_t same;  // 1: y has x's shape
};

static __device__ __forceinline__ uint64_t broadcast_index(const BroadcastY& b, uint64_t e) {
	if (b.same) return e;
	uint64_t t = e;
	uint64_t c3 = t % b.s3;
	t /= b.s3;
	uint64_t c2 = t % b.s2;
	t /= b.s2;
	uint64_t c1 = t % b.s1;
	uint64_t c0 = t / b.s1;
	return c0 * b.ys0 + c1 * b.ys1 + c2 * b.ys2 + c3 * b.ys3;
}

extern "C" __global__ void add_f32(const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ d, uint64_t n,
                                   BroadcastY b) {
	uint64_t e = golem_index();
	if (e < n) d[e] = x[e] + y[broadcast_index(b, e)];
}
GOLEM_KERNEL(add_f32);

extern "C" __global__ void mul_f32(const float* __restrict__ x, const float* __restrict__ y, float* __restrict__ d, uint64_t n,
                                   BroadcastY b) {
	uint64_t e = golem_index();
	if (e < n) d[e] = x[e] * y[broadcast_index(b, e)];
}
GOLEM_KERNEL(mul_f32);

extern "C" __global__ void scale_f32(const float* __restrict__ x, float* __restrict__ d, uint64_t n, float s) {
	uint64_t e = golem_index();
	if (e < n) d[e] = s * x[e];
}
GOLEM_KERNEL(scale_f32);

static __device__ __forceinline__ float silu(float v) { return v / (1.0f + golem_expf(-v)); }

extern "C" __global__ void silu_f32(const float* __restrict__ x, float* __restrict__ d, uint64_t n) {
	uint64_t e = golem_index();
	if (e < n) d[e] = silu(x[e]);
}
GOLEM_KERNEL(silu_f32);

// tanh without overflow: 1 - 2/(e^2v + 1) through e^-2|v|.
static __device__ __forceinline__ float tanh_safe(float v) {
	float a = golem_fabsf(v);
	float t;
	if (a < 0.25f) {
		// tanh by its series (|v| < 0.25: the next term is below 2^-24).
		float v2 = v * v;
		t = a * (1.0f + v2 * (-1.0f / 3.0f + v2 * (2.0f / 15.0f + v2 * (-17.0f / 315.0f + v2 * (62.0f / 2835.0f)))));
	} else {
		float e = golem_expf(-2.0f * a);
		t = (1.0f - e) / (1.0f + e);
	}
	return v < 0.0f ? -t : t;
}

extern "C" __global__ void gelu_f32(const float* __restrict__ x, float* __restrict__ d, uint64_t n) {
	uint64_t e = golem_index();
	if (e < n) {
		float v = x[e];
		const float c = 0.7978845608028654f;  // sqrt(2/pi)
		d[e] = 0.5f * v * (1.0f + tanh_safe(c * (v + 0.044715f * v * v * v)));
	}
}
GOLEM_KERNEL(gelu_f32);

extern "C" __global__ void swiglu_f32(const float* __restrict__ gate, const float* __restrict__ up, float* __restrict__ d, uint64_t n) {
	uint64_t e = golem_index();
	if (e < n) d[e] = silu(gate[e]) * up[e];
}
GOLEM_KERNEL(swiglu_f32);
