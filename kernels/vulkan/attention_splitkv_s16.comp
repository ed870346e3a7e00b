// attention_splitkv_s16.comp: split-KV attention, pass 1 reading F16 keys and values through 16-bit
// storage (feature kernel: storageBuffer16BitAccess; body in
// include/attention_splitkv.glsl).
#version 450
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"
#define ATTN_S16 1
#define ATTN_SCRATCH 1
#include "attention_splitkv.glsl"
