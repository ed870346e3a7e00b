// attention_naive_scores_s16.comp: the naive attention's scores pass reading F16 keys or values
// through 16-bit storage (feature kernel: storageBuffer16BitAccess; body in
// include/attention_naive_scores.glsl).
#version 450
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"
#define ATTN_S16 1
#include "attention_naive_scores.glsl"
