// matmul_bf16_gemv.comp: matmul GEMV with bf16 weights (body in include/matmul_gemv.glsl).
#version 450
#include "common.glsl"
#define W_BF16 1
#include "matmul_gemv.glsl"
