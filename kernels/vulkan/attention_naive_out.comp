// attention_naive_out.comp: the naive attention's out pass (baseline; body in include/attention_naive_out.glsl).
#version 450
#include "common.glsl"
#include "attention_naive_out.glsl"
