#version 450
// matmul_fused with q6_k weights (body in include/matmul_fused.glsl).
#include "common.glsl"
#define W_Q6_K 1
#include "matmul_fused.glsl"
