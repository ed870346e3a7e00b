// matmul_q8_0_gemv.comp: matmul GEMV with q8_0 weights (body in include/matmul_gemv.glsl).
#version 450
#include "common.glsl"
#define W_Q8_0 1
#include "matmul_gemv.glsl"
