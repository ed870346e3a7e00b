#version 450
// matmul_fused_sg with f32 weights (body in include/matmul_fused.glsl).
#include "common.glsl"
#define W_F32 1
#define SG_REDUCE 1
#include "matmul_fused.glsl"
