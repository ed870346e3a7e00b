#version 450
// matmul GEMM on cooperative matrices with f32 weights (body in include/matmul_gemm_coopmat.glsl).
#include "common.glsl"
#define W_F32 1
#include "matmul_gemm_coopmat.glsl"
