#version 450
// get_rows from a q8_0 table.
#define DQ dq_q8_0
#include "get_rows.glsl"
