#version 450
// matmul_fused with q4_0 weights (body in include/matmul_fused.glsl).
#include "common.glsl"
#define W_Q4_0 1
#include "matmul_fused.glsl"
