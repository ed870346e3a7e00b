// matmul_q8_0_gemm.comp: matmul GEMM with q8_0 weights (body in include/matmul_gemm.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define W_Q8_0 1
#include "matmul_gemm.glsl"
