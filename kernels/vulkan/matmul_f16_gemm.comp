// matmul_f16_gemm.comp: matmul GEMM with f16 weights (body in include/matmul_gemm.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define W_F16 1
#include "matmul_gemm.glsl"
