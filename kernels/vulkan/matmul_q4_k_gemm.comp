// matmul_q4_k_gemm.comp: matmul GEMM with q4_k weights (body in include/matmul_gemm.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define W_Q4_K 1
#include "matmul_gemm.glsl"
