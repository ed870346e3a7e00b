// matmul_q6_k_gemm.comp: matmul GEMM with q6_k weights (body in include/matmul_gemm.glsl).
#version 450
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define W_Q6_K 1
#include "matmul_gemm.glsl"
