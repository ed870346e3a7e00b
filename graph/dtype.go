// Package graph is golem's intermediate representation: element types, shapes,
// tensor nodes, the op set, a checking builder, topological order and the
// liveness-based memory plan. It contains no backend code.
package graph

import (
	"fmt"
	"slices"
	"strings"
)

// DType is the element type of a tensor. Quantized types store elements in
// blocks; a row of a quantized tensor must hold a whole number of blocks.
type DType uint8

// The element types golem knows. The numeric values are golem's own; GGUF's
// type ids are mapped in model/gguf.
const (
	F32  DType = iota // IEEE 754 binary32
	F16               // IEEE 754 binary16
	BF16              // bfloat16 (upper half of binary32)
	Q8_0              // blocks of 32: f16 scale, 32 × int8
	Q4_0              // blocks of 32: f16 scale, 16 bytes of 4-bit values (offset 8)
	Q4_K              // super-blocks of 256: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 bytes of 4-bit values
	Q6_K              // super-blocks of 256: 128 bytes low 4 bits, 64 bytes high 2 bits, 16 × int8 scales, f16 d
	I32               // signed 32-bit integer (token ids, positions, argmax results)
	numDTypes
)

type dtypeInfo struct {
	name       string
	blockSize  int // elements per block
	blockBytes int // bytes per block
}

var dtypeInfos = [numDTypes]dtypeInfo{
	F32:  {"f32", 1, 4},
	F16:  {"f16", 1, 2},
	BF16: {"bf16", 1, 2},
	Q8_0: {"q8_0", 32, 34},
	Q4_0: {"q4_0", 32, 18},
	Q4_K: {"q4_k", 256, 144},
	Q6_K: {"q6_k", 256, 210},
	I32:  {"i32", 1, 4},
}

// AllDTypes lists every element type, in declaration order.
func AllDTypes() []DType {
	out := make([]DType, 0, numDTypes)
	for d := DType(0); d < numDTypes; d++ {
		out = append(out, d)
	}
	return out
}

// Valid reports whether d is one of the declared element types.
func (d DType) Valid() bool { return d < numDTypes }

// String returns the lower-case name of d ("f32", "q4_k").
func (d DType) String() string {
	if !d.Valid() {
		return fmt.Sprintf("dtype(%d)", uint8(d))
	}
	return dtypeInfos[d].name
}

// BlockSize returns the number of elements in one block of d (1 for plain types).
func (d DType) BlockSize() int {
	if !d.Valid() {
		return 0
	}
	return dtypeInfos[d].blockSize
}

// BlockBytes returns the number of bytes one block of d occupies.
func (d DType) BlockBytes() int {
	if !d.Valid() {
		return 0
	}
	return dtypeInfos[d].blockBytes
}

// kvTypes are the element types of a KV cache: what kv_write and
// rope_kv_write write into and attention reads k and v from. The slice is
// never modified.
var kvTypes = []DType{F32, F16, BF16}

// KVTypes lists the element types a KV cache may have (kv_write and
// rope_kv_write caches, attention's k and v): F32, F16 and BF16. F16 and
// BF16 values are written rounded to nearest, ties to even.
func KVTypes() []DType { return append([]DType(nil), kvTypes...) }

// DefaultKVType is the KV cache element type the command line and the
// golem package use when none is given: F16, as llama.cpp and ollama
// (half the memory of F32, and half the bytes decode attention reads).
// The runtime's option structs keep F32 as their zero value.
const DefaultKVType = F16

// IsKVType reports whether d is one of KVTypes.
func (d DType) IsKVType() bool { return slices.Contains(kvTypes, d) }

// KVTypeNames returns the names of KVTypes as a list for messages:
// "f32, f16 or bf16".
func KVTypeNames() string {
	names := make([]string, len(kvTypes))
	for i, d := range kvTypes {
		names[i] = d.String()
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// ParseKVType parses the name of a KV cache element type ("f32", "f16",
// "bf16"; case-insensitive); the error lists the accepted names.
func ParseKVType(s string) (DType, error) {
	d, err := ParseDType(s)
	if err != nil || !d.IsKVType() {
		return 0, fmt.Errorf("graph: KV cache type %q: want %s", s, KVTypeNames())
	}
	return d, nil
}

// IsQuantized reports whether d stores elements in multi-element blocks.
func (d DType) IsQuantized() bool { return d.BlockSize() > 1 }

// IsFloat reports whether d holds real numbers (everything but I32).
func (d DType) IsFloat() bool { return d.Valid() && d != I32 }

// RowBytes returns the bytes needed for n consecutive elements of d. n must be
// a multiple of d's block size.
func (d DType) RowBytes(n int64) (int64, error) {
	if !d.Valid() {
		return 0, fmt.Errorf("graph: unknown dtype %d", uint8(d))
	}
	if n < 0 {
		return 0, fmt.Errorf("graph: negative element count %d", n)
	}
	bs := int64(d.BlockSize())
	if n%bs != 0 {
		return 0, fmt.Errorf("graph: %d elements of %s is not a whole number of %d-element blocks", n, d, bs)
	}
	blocks := n / bs
	bb := int64(d.BlockBytes())
	if blocks > (1<<62)/bb {
		return 0, fmt.Errorf("graph: %d elements of %s overflow", n, d)
	}
	return blocks * bb, nil
}

// ParseDType parses a dtype name as printed by String (case-insensitive).
func ParseDType(s string) (DType, error) {
	ls := strings.ToLower(strings.TrimSpace(s))
	for d := DType(0); d < numDTypes; d++ {
		if dtypeInfos[d].name == ls {
			return d, nil
		}
	}
	names := make([]string, 0, numDTypes)
	for d := DType(0); d < numDTypes; d++ {
		names = append(names, dtypeInfos[d].name)
	}
	return 0, fmt.Errorf("graph: unknown dtype %q (known: %s)", s, strings.Join(names, ", "))
}
