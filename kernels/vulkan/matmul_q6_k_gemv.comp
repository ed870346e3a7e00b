// matmul_q6_k_gemv.comp: matmul GEMV with q6_k weights (body in include/matmul_gemv.glsl).
#version 450
#include "common.glsl"
#define W_Q6_K 1
#include "matmul_gemv.glsl"
