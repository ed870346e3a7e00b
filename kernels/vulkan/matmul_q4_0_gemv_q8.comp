// matmul_q4_0_gemv_q8.comp: matmul GEMV with q4_0 weights against int8 activations
// (quantize_x_q8), integer dot products in plain arithmetic (body in
// include/matmul_gemv4.glsl).
#version 450
#include "common.glsl"
#define W_Q4_0 1
#define XQ 1
#include "matmul_gemv4.glsl"
