#version 450
// matmul GEMM on cooperative matrices with bf16 weights (body in include/matmul_gemm_coopmat.glsl).
#include "common.glsl"
#define W_BF16 1
#include "matmul_gemm_coopmat.glsl"
