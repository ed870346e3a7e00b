#version 450
// kv_write into an F16 cache.
#define KV_F16 1
#include "kv_write.glsl"
