#version 450
// matmul_fused_sg with q4_0 weights (body in include/matmul_fused.glsl).
#include "common.glsl"
#define W_Q4_0 1
#define SG_REDUCE 1
#include "matmul_fused.glsl"
