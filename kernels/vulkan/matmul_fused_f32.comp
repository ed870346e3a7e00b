#version 450
// matmul_fused with f32 weights (body in include/matmul_fused.glsl).
#include "common.glsl"
#define W_F32 1
#include "matmul_fused.glsl"
