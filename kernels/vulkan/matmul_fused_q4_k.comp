#version 450
// matmul_fused with q4_k weights (body in include/matmul_fused.glsl).
#include "common.glsl"
#define W_Q4_K 1
#include "matmul_fused.glsl"
