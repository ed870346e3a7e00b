#version 450
// get_rows from a f16 table.
#define DQ dq_f16
#include "get_rows.glsl"
