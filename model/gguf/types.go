package gguf

import (
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// GGML tensor type ids as stored in GGUF tensor infos (ggml.h's enum ggml_type).
const (
	GGMLTypeF32     uint32 = 0
	GGMLTypeF16     uint32 = 1
	GGMLTypeQ4_0    uint32 = 2
	GGMLTypeQ4_1    uint32 = 3
	GGMLTypeQ5_0    uint32 = 6
	GGMLTypeQ5_1    uint32 = 7
	GGMLTypeQ8_0    uint32 = 8
	GGMLTypeQ8_1    uint32 = 9
	GGMLTypeQ2_K    uint32 = 10
	GGMLTypeQ3_K    uint32 = 11
	GGMLTypeQ4_K    uint32 = 12
	GGMLTypeQ5_K    uint32 = 13
	GGMLTypeQ6_K    uint32 = 14
	GGMLTypeQ8_K    uint32 = 15
	GGMLTypeIQ2_XXS uint32 = 16
	GGMLTypeIQ2_XS  uint32 = 17
	GGMLTypeIQ3_XXS uint32 = 18
	GGMLTypeIQ1_S   uint32 = 19
	GGMLTypeIQ4_NL  uint32 = 20
	GGMLTypeIQ3_S   uint32 = 21
	GGMLTypeIQ2_S   uint32 = 22
	GGMLTypeIQ4_XS  uint32 = 23
	GGMLTypeI8      uint32 = 24
	GGMLTypeI16     uint32 = 25
	GGMLTypeI32     uint32 = 26
	GGMLTypeI64     uint32 = 27
	GGMLTypeF64     uint32 = 28
	GGMLTypeIQ1_M   uint32 = 29
	GGMLTypeBF16    uint32 = 30
	GGMLTypeTQ1_0   uint32 = 34
	GGMLTypeTQ2_0   uint32 = 35
	GGMLTypeMXFP4   uint32 = 39
	GGMLTypeNVFP4   uint32 = 40
	GGMLTypeQ1_0    uint32 = 41
	GGMLTypeQ2_0    uint32 = 42
)

// ggmlType describes one ggml tensor type: its name and block geometry.
// blockSize == 0 marks an id that ggml once used but has removed; such
// tensors cannot be sized and are rejected.
type ggmlType struct {
	name       string
	blockSize  int64 // elements per block
	blockBytes int64 // bytes per block
}

// ggmlTypes lists every ggml type id known to this package.
var ggmlTypes = map[uint32]ggmlType{
	GGMLTypeF32:     {"f32", 1, 4},
	GGMLTypeF16:     {"f16", 1, 2},
	GGMLTypeQ4_0:    {"q4_0", 32, 18},
	GGMLTypeQ4_1:    {"q4_1", 32, 20},
	4:               {"q4_2", 0, 0}, // removed from ggml
	5:               {"q4_3", 0, 0}, // removed from ggml
	GGMLTypeQ5_0:    {"q5_0", 32, 22},
	GGMLTypeQ5_1:    {"q5_1", 32, 24},
	GGMLTypeQ8_0:    {"q8_0", 32, 34},
	GGMLTypeQ8_1:    {"q8_1", 32, 36},
	GGMLTypeQ2_K:    {"q2_k", 256, 84},
	GGMLTypeQ3_K:    {"q3_k", 256, 110},
	GGMLTypeQ4_K:    {"q4_k", 256, 144},
	GGMLTypeQ5_K:    {"q5_k", 256, 176},
	GGMLTypeQ6_K:    {"q6_k", 256, 210},
	GGMLTypeQ8_K:    {"q8_k", 256, 292},
	GGMLTypeIQ2_XXS: {"iq2_xxs", 256, 66},
	GGMLTypeIQ2_XS:  {"iq2_xs", 256, 74},
	GGMLTypeIQ3_XXS: {"iq3_xxs", 256, 98},
	GGMLTypeIQ1_S:   {"iq1_s", 256, 50},
	GGMLTypeIQ4_NL:  {"iq4_nl", 32, 18},
	GGMLTypeIQ3_S:   {"iq3_s", 256, 110},
	GGMLTypeIQ2_S:   {"iq2_s", 256, 82},
	GGMLTypeIQ4_XS:  {"iq4_xs", 256, 136},
	GGMLTypeI8:      {"i8", 1, 1},
	GGMLTypeI16:     {"i16", 1, 2},
	GGMLTypeI32:     {"i32", 1, 4},
	GGMLTypeI64:     {"i64", 1, 8},
	GGMLTypeF64:     {"f64", 1, 8},
	GGMLTypeIQ1_M:   {"iq1_m", 256, 56},
	GGMLTypeBF16:    {"bf16", 1, 2},
	31:              {"q4_0_4_4", 0, 0}, // removed from GGUF files
	32:              {"q4_0_4_8", 0, 0}, // removed from GGUF files
	33:              {"q4_0_8_8", 0, 0}, // removed from GGUF files
	GGMLTypeTQ1_0:   {"tq1_0", 256, 54},
	GGMLTypeTQ2_0:   {"tq2_0", 256, 66},
	36:              {"iq4_nl_4_4", 0, 0}, // removed from GGUF files
	37:              {"iq4_nl_4_8", 0, 0}, // removed from GGUF files
	38:              {"iq4_nl_8_8", 0, 0}, // removed from GGUF files
	GGMLTypeMXFP4:   {"mxfp4", 32, 17},
	GGMLTypeNVFP4:   {"nvfp4", 64, 36},
	GGMLTypeQ1_0:    {"q1_0", 128, 18},
	GGMLTypeQ2_0:    {"q2_0", 64, 18},
}

// ggmlOfDType maps golem's element types to ggml type ids.
var ggmlOfDType = map[graph.DType]uint32{
	graph.F32:  GGMLTypeF32,
	graph.F16:  GGMLTypeF16,
	graph.BF16: GGMLTypeBF16,
	graph.Q8_0: GGMLTypeQ8_0,
	graph.Q4_0: GGMLTypeQ4_0,
	graph.Q4_K: GGMLTypeQ4_K,
	graph.Q6_K: GGMLTypeQ6_K,
	graph.I32:  GGMLTypeI32,
}

// GGMLTypeName returns ggml's lower-case name of a tensor type id ("q4_k"),
// or "unknown(ID)" for an id this package does not know.
func GGMLTypeName(id uint32) string {
	if t, ok := ggmlTypes[id]; ok {
		return t.name
	}
	return fmt.Sprintf("unknown(%d)", id)
}

// GGMLTypeBlock returns the number of elements per block and bytes per block
// of a ggml tensor type id. ok is false for unknown ids and for ids ggml has
// removed, whose tensors cannot be sized.
func GGMLTypeBlock(id uint32) (blockSize, blockBytes int64, ok bool) {
	t, known := ggmlTypes[id]
	if !known || t.blockSize == 0 {
		return 0, 0, false
	}
	return t.blockSize, t.blockBytes, true
}

// GGMLTypeOf returns the ggml tensor type id that stores golem's element type d.
func GGMLTypeOf(d graph.DType) (uint32, error) {
	id, ok := ggmlOfDType[d]
	if !ok {
		return 0, fmt.Errorf("gguf: dtype %s has no ggml type", d)
	}
	return id, nil
}

// DTypeOf returns golem's element type for a ggml tensor type id; ok is
// false when golem cannot compute with that type. It is the inverse of
// GGMLTypeOf.
func DTypeOf(id uint32) (graph.DType, bool) {
	for d, g := range ggmlOfDType {
		if g == id {
			return d, true
		}
	}
	return 0, false
}

// checkGGMLType returns the block geometry of id or an error saying why a
// tensor of that type cannot be used.
func checkGGMLType(id uint32) (ggmlType, error) {
	t, ok := ggmlTypes[id]
	if !ok {
		return ggmlType{}, fmt.Errorf("unknown ggml type id %d", id)
	}
	if t.blockSize == 0 {
		return ggmlType{}, fmt.Errorf("ggml type %s (%d) has been removed from ggml and is not supported", t.name, id)
	}
	return t, nil
}
