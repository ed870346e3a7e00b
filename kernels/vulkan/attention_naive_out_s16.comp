// attention_naive_out_s16.comp: the naive attention's out pass reading F16 keys or values
// through 16-bit storage (feature kernel: storageBuffer16BitAccess; body in
// include/attention_naive_out.glsl).
#version 450
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"
#define ATTN_S16 1
#include "attention_naive_out.glsl"
