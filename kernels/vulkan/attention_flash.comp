// attention_flash.comp: fused attention (baseline; body in include/attention_flash.glsl).
#version 450
#include "common.glsl"
#include "attention_flash.glsl"
