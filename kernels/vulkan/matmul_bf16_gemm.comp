// matmul_bf16_gemm.comp: matmul GEMM with bf16 weights (body in include/matmul_gemm.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define W_BF16 1
#include "matmul_gemm.glsl"
