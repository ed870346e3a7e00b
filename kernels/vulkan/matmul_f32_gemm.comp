// matmul_f32_gemm.comp: matmul GEMM with f32 weights (body in include/matmul_gemm.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define W_F32 1
#include "matmul_gemm.glsl"
