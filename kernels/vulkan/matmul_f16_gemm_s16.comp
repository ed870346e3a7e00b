// matmul_f16_gemm_s16.comp: matmul GEMM with f16 weights read through 16-bit
// storage (feature kernel: storageBuffer16BitAccess; body in
// include/matmul_gemm.glsl).
#version 450
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_control_flow_attributes : enable
#include "common.glsl"
#define W_F16 1
#define W_S16 1
#include "matmul_gemm.glsl"
