// attention_flash_s16.comp: fused attention reading F16 keys and values through 16-bit
// storage (feature kernel: storageBuffer16BitAccess; body in
// include/attention_flash.glsl).
#version 450
#extension GL_EXT_shader_16bit_storage : require
#include "common.glsl"
#define ATTN_S16 1
#include "attention_flash.glsl"
