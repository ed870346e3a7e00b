// Package spirv reads SPIR-V modules: the instruction stream, and what the
// Vulkan backend checks a kernel against (descriptor bindings, push-
// constant size). It also rewrites cooperative-matrix kernels from
// SPV_NV_cooperative_matrix to SPV_KHR_cooperative_matrix (KHR), because
// Debian 12's glslc compiles only the NV GLSL extension.
package spirv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Magic is the first word of every SPIR-V module.
const Magic = 0x07230203

// Opcodes and operands this package uses (SPIR-V 1.6 specification).
const (
	OpExtension           = 10
	OpMemoryModel         = 14
	OpCapability          = 17
	OpTypeInt             = 21
	OpTypeStruct          = 30
	OpTypePointer         = 32
	OpConstantTrue        = 41
	OpConstantFalse       = 42
	OpConstant            = 43
	OpVariable            = 59
	OpDecorate            = 71
	OpMemberDecorate      = 72
	OpTypeArray           = 28
	OpSpecConstant        = 50
	DecorationBinding     = 33
	DecorationSet         = 34
	DecorationOffset      = 35
	DecorationNonWritable = 24
	DecorationSpecID      = 1
	StoragePush           = 9
	StorageBuffer         = 12
	StorageUniform        = 2

	OpTypeCoopMatNV   = 5358
	OpCoopMatLoadNV   = 5359
	OpCoopMatStoreNV  = 5360
	OpCoopMatMulAddNV = 5361
	OpCoopMatLengthNV = 5362
	CapCoopMatNV      = 5357

	OpTypeCoopMatKHR   = 4456
	OpCoopMatLoadKHR   = 4457
	OpCoopMatStoreKHR  = 4458
	OpCoopMatMulAddKHR = 4459
	OpCoopMatLengthKHR = 4460
	CapCoopMatKHR      = 6022
)

// Inst is one instruction: its opcode and operand words.
type Inst struct {
	Op   uint32
	Args []uint32
}

// Module is a parsed module: the five header words and the instructions.
type Module struct {
	Header [5]uint32 // magic, version, generator, bound, schema
	Insts  []Inst
}

// Parse reads a little-endian SPIR-V module.
func Parse(code []byte) (*Module, error) {
	if len(code)%4 != 0 || len(code) < 20 {
		return nil, fmt.Errorf("spirv: %d bytes is not a module", len(code))
	}
	w := make([]uint32, len(code)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(code[4*i:])
	}
	if w[0] != Magic {
		return nil, fmt.Errorf("spirv: magic %#x", w[0])
	}
	m := &Module{}
	copy(m.Header[:], w[:5])
	for i := 5; i < len(w); {
		n, op := int(w[i]>>16), w[i]&0xffff
		if n == 0 || i+n > len(w) {
			return nil, fmt.Errorf("spirv: instruction at word %d has length %d", i, n)
		}
		m.Insts = append(m.Insts, Inst{Op: op, Args: append([]uint32(nil), w[i+1:i+n]...)})
		i += n
	}
	return m, nil
}

// Bytes encodes the module.
func (m *Module) Bytes() []byte {
	var w []uint32
	w = append(w, m.Header[:]...)
	for _, in := range m.Insts {
		w = append(w, uint32(len(in.Args)+1)<<16|in.Op)
		w = append(w, in.Args...)
	}
	out := make([]byte, 4*len(w))
	for i, v := range w {
		binary.LittleEndian.PutUint32(out[4*i:], v)
	}
	return out
}

// String decodes a literal string operand.
func String(words []uint32) string {
	var b []byte
	for _, w := range words {
		for k := 0; k < 4; k++ {
			c := byte(w >> (8 * k))
			if c == 0 {
				return string(b)
			}
			b = append(b, c)
		}
	}
	return string(b)
}

// stringWords encodes s as a literal string operand.
func stringWords(s string) []uint32 {
	b := append([]byte(s), 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

// Interface is what a compute kernel declares to its launcher.
type Interface struct {
	// Bindings are the binding numbers of the storage buffers of set 0.
	Bindings []uint32
	// PushBytes is the size of the push-constant block (0: none): the
	// offset of its last member plus 4 (members are 32-bit scalars).
	PushBytes int
	// Writable are the bindings of Bindings that the kernel may write: a
	// storage buffer whose variable or some block member is not decorated
	// NonWritable (GLSL readonly).
	Writable []uint32
}

// Reflect returns the kernel's storage-buffer bindings and push-constant
// size.
func (m *Module) Reflect() (Interface, error) {
	var in Interface
	binding := map[uint32]uint32{}
	set := map[uint32]uint32{}
	ptrStorage := map[uint32]uint32{} // pointer type → storage class
	ptrPointee := map[uint32]uint32{}
	offsets := map[uint32]uint32{} // struct → largest member offset
	members := map[uint32]int{}    // struct → member count
	readonlyMembers := map[uint32]map[uint32]bool{}
	readonlyVars := map[uint32]bool{}
	for _, i := range m.Insts {
		switch i.Op {
		case OpTypeStruct:
			if len(i.Args) >= 1 {
				members[i.Args[0]] = len(i.Args) - 1
			}
		case OpDecorate:
			if len(i.Args) >= 2 && i.Args[1] == DecorationNonWritable {
				readonlyVars[i.Args[0]] = true
			}
			if len(i.Args) >= 3 && i.Args[1] == DecorationBinding {
				binding[i.Args[0]] = i.Args[2]
			}
			if len(i.Args) >= 3 && i.Args[1] == DecorationSet {
				set[i.Args[0]] = i.Args[2]
			}
		case OpMemberDecorate:
			if len(i.Args) >= 4 && i.Args[2] == DecorationOffset {
				offsets[i.Args[0]] = max(offsets[i.Args[0]], i.Args[3])
			}
			if len(i.Args) >= 3 && i.Args[2] == DecorationNonWritable {
				if readonlyMembers[i.Args[0]] == nil {
					readonlyMembers[i.Args[0]] = map[uint32]bool{}
				}
				readonlyMembers[i.Args[0]][i.Args[1]] = true
			}
		case OpTypePointer:
			ptrStorage[i.Args[0]] = i.Args[1]
			ptrPointee[i.Args[0]] = i.Args[2]
		}
	}
	for _, i := range m.Insts {
		if i.Op != OpVariable {
			continue
		}
		ptr, id, sc := i.Args[0], i.Args[1], i.Args[2]
		switch sc {
		case StorageBuffer, StorageUniform:
			b, ok := binding[id]
			if !ok {
				return in, fmt.Errorf("spirv: variable %%%d has no binding", id)
			}
			if set[id] != 0 {
				return in, fmt.Errorf("spirv: binding %d is in set %d, not 0", b, set[id])
			}
			in.Bindings = append(in.Bindings, b)
			st := ptrPointee[ptr]
			if !readonlyVars[id] && len(readonlyMembers[st]) < members[st] && !slices.Contains(in.Writable, b) {
				in.Writable = append(in.Writable, b)
			}
		case StoragePush:
			in.PushBytes = int(offsets[ptrPointee[ptr]]) + 4
		}
		_ = ptrStorage
	}
	return in, nil
}

// ErrNotNV is returned by NVToKHR for a module without NV cooperative
// matrices.
var ErrNotNV = errors.New("spirv: the module uses no SPV_NV_cooperative_matrix")
