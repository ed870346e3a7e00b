#version 450
// matmul GEMM on cooperative matrices with q8_0 weights (body in include/matmul_gemm_coopmat.glsl).
#include "common.glsl"
#define W_Q8_0 1
#include "matmul_gemm_coopmat.glsl"
