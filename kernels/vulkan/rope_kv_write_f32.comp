#version 450
// rope_kv_write into an F32 cache.
#include "rope_kv_write.glsl"
