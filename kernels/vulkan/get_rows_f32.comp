#version 450
// get_rows from a f32 table.
#define DQ dq_f32
#include "get_rows.glsl"
