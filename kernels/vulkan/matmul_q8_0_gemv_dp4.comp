// matmul_q8_0_gemv_dp4.comp: matmul GEMV with q8_0 weights against int8 activations
// (quantize_x_q8) with OpSDot (feature kernel: shaderIntegerDotProduct; body
// in include/matmul_gemv4.glsl).
#version 450
#include "common.glsl"
#define W_Q8_0 1
#define XQ 1
#define DP4 1
#include "matmul_gemv4.glsl"
