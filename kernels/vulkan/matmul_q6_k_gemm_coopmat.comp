#version 450
// matmul GEMM on cooperative matrices with q6_k weights (body in include/matmul_gemm_coopmat.glsl).
#include "common.glsl"
#define W_Q6_K 1
#include "matmul_gemm_coopmat.glsl"
