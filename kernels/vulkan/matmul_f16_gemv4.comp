// matmul_f16_gemv4.comp: matmul GEMV with f16 weights and 16-byte loads (body in include/matmul_gemv4.glsl).
#version 450
#include "common.glsl"
#define W_F16 1
#include "matmul_gemv4.glsl"
