#version 450
// matmul_fused with f16 weights (body in include/matmul_fused.glsl).
#include "common.glsl"
#define W_F16 1
#include "matmul_fused.glsl"
