#version 450
// matmul GEMM on cooperative matrices with q4_k weights (body in include/matmul_gemm_coopmat.glsl).
#include "common.glsl"
#define W_Q4_K 1
#include "matmul_gemm_coopmat.glsl"
