#version 450
// rope_kv_write into an F16 cache.
#define KV_F16 1
#include "rope_kv_write.glsl"
