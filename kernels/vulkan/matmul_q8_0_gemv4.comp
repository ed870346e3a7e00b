// matmul_q8_0_gemv4.comp: matmul GEMV with q8_0 weights and 16-byte loads (body in include/matmul_gemv4.glsl).
#version 450
#include "common.glsl"
#define W_Q8_0 1
#include "matmul_gemv4.glsl"
