// attention_splitkv.comp: split-KV attention, pass 1 (baseline; body in include/attention_splitkv.glsl).
#version 450
#include "common.glsl"
#define ATTN_SCRATCH 1
#include "attention_splitkv.glsl"
