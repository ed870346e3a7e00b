// matmul_f16_gemv_s16.comp: matmul GEMV with f16 weights read through 16-bit
// storage (feature kernel: storageBuffer16BitAccess; body in
// include/matmul_gemv.glsl).
#version 450
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"
#define W_F16 1
#define W_S16 1
#include "matmul_gemv.glsl"
