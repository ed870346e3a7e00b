// attention_naive_scores.comp: the naive attention's scores pass (baseline; body in include/attention_naive_scores.glsl).
#version 450
#include "common.glsl"
#include "attention_naive_scores.glsl"
