// matmul_f32_gemv.comp: matmul GEMV with f32 weights (body in include/matmul_gemv.glsl).
#version 450
#include "common.glsl"
#define W_F32 1
#include "matmul_gemv.glsl"
