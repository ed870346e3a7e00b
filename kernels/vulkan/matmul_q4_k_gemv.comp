// matmul_q4_k_gemv.comp: matmul GEMV with q4_k weights (body in include/matmul_gemv.glsl).
#version 450
#include "common.glsl"
#define W_Q4_K 1
#include "matmul_gemv.glsl"
