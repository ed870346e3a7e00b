// matmul_q4_0_gemv.comp: matmul GEMV with q4_0 weights (body in include/matmul_gemv.glsl).
#version 450
#include "common.glsl"
#define W_Q4_0 1
#include "matmul_gemv.glsl"
