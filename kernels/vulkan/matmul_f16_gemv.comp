// matmul_f16_gemv.comp: matmul GEMV with f16 weights (body in include/matmul_gemv.glsl).
#version 450
#include "common.glsl"
#define W_F16 1
#include "matmul_gemv.glsl"
