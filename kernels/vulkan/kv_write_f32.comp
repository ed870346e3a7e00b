#version 450
// kv_write into an F32 cache.
#include "kv_write.glsl"
