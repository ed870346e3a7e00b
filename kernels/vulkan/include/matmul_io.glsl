// matmul_io.glsl: the bindings and push constants shared by the GEMV and
// GEMM matmul bodies (x, the weight in its storage type, d), then the weight
// decoders of matmul_w.glsl.

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
#ifdef W_F32
layout(set = 0, binding = 1, std430) readonly buffer W { float wt[]; };
#else
layout(set = 0, binding = 1, std430) readonly buffer W { uint wt[]; };
#endif
#ifdef W_S16
// The same binding as 16-bit floats (feature kernels).
layout(set = 0, binding = 1, std430) readonly buffer W16 { float16_t wh[]; };
#endif
layout(set = 0, binding = 2, std430) writeonly buffer D { float d[]; };

layout(push_constant) uniform PC {
	uint m;       // rows of x per batch
	uint n;       // columns of d (rows of the whole w)
	uint k;       // inner dimension
	uint n0;      // first output column of this dispatch (w window's first row)
	uint nc;      // output columns of this dispatch
	uint x_off;   // element offset of x
	uint w_off;   // offset of w's window: elements (f32), halves (f16, bf16), bytes (quantized)
	uint d_off;   // element offset of d
	uint x_bs;    // batch stride of x (elements)
	uint w_bs;    // batch stride of w (same unit as w_off; 0: shared weight)
	uint d_bs;    // batch stride of d (elements)
	uint w_row;   // row stride of w: elements (float types) or bytes (quantized)
} pc;

#include "matmul_w.glsl"
