package spirv

import "fmt"

// KHR cooperative-matrix uses and layouts (SPV_KHR_cooperative_matrix).
const (
	useA           = 0
	useB           = 1
	useAccumulator = 2
	layoutRowMajor = 0
	layoutColMajor = 1
)

// NVToKHR rewrites a module that uses SPV_NV_cooperative_matrix into the
// equivalent SPV_KHR_cooperative_matrix module: the capability and
// extension, each matrix type with the use it has in the module's
// multiply-adds (A, B or accumulator; a type used in two roles is an
// error, so a kernel gives A, B and C distinct shapes), loads and stores
// with a layout operand (row- or column-major, from NV's column-major
// boolean) before the stride, and the multiply-add and length
// instructions' KHR opcodes. Three uint constants (0, 1, 2) are added
// after the module's 32-bit unsigned integer type.
func NVToKHR(m *Module) (*Module, error) {
	types := map[uint32]bool{}
	typeOf := map[uint32]uint32{}
	boolConst := map[uint32]bool{}
	uintType := uint32(0)
	uintAt := -1
	hasNV := false
	for k, i := range m.Insts {
		switch {
		case i.Op == OpTypeInt && len(i.Args) == 3 && i.Args[1] == 32 && i.Args[2] == 0:
			uintType, uintAt = i.Args[0], k
		case i.Op == OpTypeCoopMatNV:
			hasNV = true
			types[i.Args[0]] = true
		case i.Op == OpConstantTrue:
			boolConst[i.Args[1]] = true
		case i.Op == OpConstantFalse:
			boolConst[i.Args[1]] = false
		}
		if i.Op >= OpTypeInt && i.Op <= OpTypePointer || i.Op == OpTypeCoopMatNV {
			types[i.Args[0]] = true
		}
		if len(i.Args) >= 2 && types[i.Args[0]] && !types[i.Args[1]] && i.Op != OpTypeCoopMatNV && !(i.Op >= 19 && i.Op <= 39) {
			typeOf[i.Args[1]] = i.Args[0]
		}
	}
	if !hasNV {
		return nil, ErrNotNV
	}
	if uintAt < 0 {
		return nil, fmt.Errorf("spirv: no 32-bit unsigned integer type to make constants of")
	}
	use := map[uint32]uint32{}
	setUse := func(t, u uint32) error {
		if old, ok := use[t]; ok && old != u {
			return fmt.Errorf("spirv: cooperative matrix type %%%d is used as %d and %d; give each role its own shape", t, old, u)
		}
		use[t] = u
		return nil
	}
	for _, i := range m.Insts {
		if i.Op != OpCoopMatMulAddNV {
			continue
		}
		for k, u := range []uint32{useA, useB, useAccumulator} {
			t, ok := typeOf[i.Args[2+k]]
			if !ok {
				return nil, fmt.Errorf("spirv: operand %%%d of a multiply-add has no known type", i.Args[2+k])
			}
			if err := setUse(t, u); err != nil {
				return nil, err
			}
		}
		if err := setUse(i.Args[0], useAccumulator); err != nil {
			return nil, err
		}
	}
	bound := m.Header[3]
	consts := [3]uint32{bound, bound + 1, bound + 2}
	out := &Module{Header: m.Header}
	out.Header[3] = bound + 3
	layout := func(colMajor uint32) (uint32, error) {
		v, ok := boolConst[colMajor]
		if !ok {
			return 0, fmt.Errorf("spirv: column-major operand %%%d is not a boolean constant", colMajor)
		}
		if v {
			return consts[layoutColMajor], nil
		}
		return consts[layoutRowMajor], nil
	}
	for k, i := range m.Insts {
		a := append([]uint32(nil), i.Args...)
		switch i.Op {
		case OpCapability:
			if a[0] == CapCoopMatNV {
				a[0] = CapCoopMatKHR
			}
		case OpExtension:
			if String(a) == "SPV_NV_cooperative_matrix" {
				a = stringWords("SPV_KHR_cooperative_matrix")
			}
		case OpTypeCoopMatNV:
			u, ok := use[a[0]]
			if !ok {
				return nil, fmt.Errorf("spirv: cooperative matrix type %%%d is in no multiply-add", a[0])
			}
			out.Insts = append(out.Insts, Inst{Op: OpTypeCoopMatKHR, Args: append(a, consts[u])})
			continue
		case OpCoopMatLoadNV:
			// type, result, pointer, stride, column-major, [memory access...]
			l, err := layout(a[4])
			if err != nil {
				return nil, err
			}
			na := append([]uint32{a[0], a[1], a[2], l, a[3]}, a[5:]...)
			out.Insts = append(out.Insts, Inst{Op: OpCoopMatLoadKHR, Args: na})
			continue
		case OpCoopMatStoreNV:
			// pointer, object, stride, column-major, [memory access...]
			l, err := layout(a[3])
			if err != nil {
				return nil, err
			}
			na := append([]uint32{a[0], a[1], l, a[2]}, a[4:]...)
			out.Insts = append(out.Insts, Inst{Op: OpCoopMatStoreKHR, Args: na})
			continue
		case OpCoopMatMulAddNV:
			out.Insts = append(out.Insts, Inst{Op: OpCoopMatMulAddKHR, Args: a})
			continue
		case OpCoopMatLengthNV:
			out.Insts = append(out.Insts, Inst{Op: OpCoopMatLengthKHR, Args: a})
			continue
		}
		out.Insts = append(out.Insts, Inst{Op: i.Op, Args: a})
		if k == uintAt {
			for v, id := range consts {
				out.Insts = append(out.Insts, Inst{Op: OpConstant, Args: []uint32{uintType, id, uint32(v)}})
			}
		}
	}
	return out, nil
}
