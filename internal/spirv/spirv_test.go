package spirv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// nvModule is a hand-assembled fragment of what glslc emits for a
// GL_NV_cooperative_matrix kernel: capability, extension, uint and bool
// types and constants, the A (f16 16×16), B (f16 16×8) and C (f32 16×8)
// types, two loads, a multiply-add and a store.
func nvModule() *Module {
	m := &Module{Header: [5]uint32{Magic, 0x10500, 0, 100, 0}}
	add := func(op uint32, args ...uint32) { m.Insts = append(m.Insts, Inst{Op: op, Args: args}) }
	add(OpCapability, 1)
	add(OpCapability, CapCoopMatNV)
	add(OpExtension, stringWords("SPV_NV_cooperative_matrix")...)
	add(OpTypeInt, 2, 32, 0)
	add(22, 3, 16)                       // OpTypeFloat %3 16
	add(22, 4, 32)                       // OpTypeFloat %4 32
	add(20, 5)                           // OpTypeBool %5
	add(OpConstant, 2, 6, 3)             // subgroup scope
	add(OpConstant, 2, 7, 16)            // 16
	add(OpConstant, 2, 8, 8)             // 8
	add(OpConstantTrue, 5, 9)            // column-major
	add(OpConstantFalse, 5, 10)          // row-major
	add(OpTypeCoopMatNV, 11, 3, 6, 7, 7) // A
	add(OpTypeCoopMatNV, 12, 3, 6, 7, 8) // B
	add(OpTypeCoopMatNV, 13, 4, 6, 7, 8) // C
	add(OpCoopMatLoadNV, 11, 20, 30, 7, 10, 2, 6)
	add(OpCoopMatLoadNV, 12, 21, 31, 7, 9)
	add(OpCoopMatLoadNV, 13, 22, 32, 8, 10)
	add(OpCoopMatMulAddNV, 13, 23, 20, 21, 22)
	add(OpCoopMatStoreNV, 33, 23, 8, 9, 2, 6)
	return m
}

func TestNVToKHR(t *testing.T) {
	m, err := Parse(nvModule().Bytes())
	require.NoError(t, err)
	k, err := NVToKHR(m)
	require.NoError(t, err)
	again, err := Parse(k.Bytes())
	require.NoError(t, err)
	require.Equal(t, k, again)
	require.Equal(t, uint32(103), k.Header[3], "three constants added")
	byOp := map[uint32][]Inst{}
	for _, i := range k.Insts {
		byOp[i.Op] = append(byOp[i.Op], i)
		require.NotContains(t, []uint32{OpTypeCoopMatNV, OpCoopMatLoadNV, OpCoopMatStoreNV, OpCoopMatMulAddNV, OpCoopMatLengthNV}, i.Op)
	}
	require.Equal(t, []uint32{CapCoopMatKHR}, byOp[OpCapability][1].Args)
	require.Equal(t, "SPV_KHR_cooperative_matrix", String(byOp[OpExtension][0].Args))
	// Constants 0, 1, 2 right after the uint type, as %100, %101, %102.
	for v := uint32(0); v < 3; v++ {
		require.Contains(t, byOp[OpConstant], Inst{Op: OpConstant, Args: []uint32{2, 100 + v, v}})
	}
	types := byOp[OpTypeCoopMatKHR]
	require.Equal(t, []Inst{
		{OpTypeCoopMatKHR, []uint32{11, 3, 6, 7, 7, 100}}, // A
		{OpTypeCoopMatKHR, []uint32{12, 3, 6, 7, 8, 101}}, // B
		{OpTypeCoopMatKHR, []uint32{13, 4, 6, 7, 8, 102}}, // accumulator
	}, types)
	// Loads: layout (row 100, column 101) before the stride; memory operands kept.
	require.Equal(t, []Inst{
		{OpCoopMatLoadKHR, []uint32{11, 20, 30, 100, 7, 2, 6}},
		{OpCoopMatLoadKHR, []uint32{12, 21, 31, 101, 7}},
		{OpCoopMatLoadKHR, []uint32{13, 22, 32, 100, 8}},
	}, byOp[OpCoopMatLoadKHR])
	require.Equal(t, []Inst{{OpCoopMatStoreKHR, []uint32{33, 23, 101, 8, 2, 6}}}, byOp[OpCoopMatStoreKHR])
	require.Equal(t, []Inst{{OpCoopMatMulAddKHR, []uint32{13, 23, 20, 21, 22}}}, byOp[OpCoopMatMulAddKHR])
}

func TestNVToKHRErrors(t *testing.T) {
	plain := &Module{Header: [5]uint32{Magic, 0x10500, 0, 10, 0}, Insts: []Inst{{OpCapability, []uint32{1}}}}
	_, err := NVToKHR(plain)
	require.ErrorIs(t, err, ErrNotNV)
	// One type used as A and as B: the KHR use cannot be chosen.
	m := nvModule()
	for k, i := range m.Insts {
		if i.Op == OpCoopMatLoadNV && i.Args[1] == 21 {
			m.Insts[k].Args[0] = 11
		}
	}
	_, err = NVToKHR(m)
	require.ErrorContains(t, err, "give each role its own shape")
	_, err = Parse([]byte{1, 2, 3})
	require.Error(t, err)
}

// TestCommittedCoopmatKernels: every committed *_coopmat kernel is KHR
// (nothing NV left) and declares the bindings and push constants of a
// matmul kernel.
func TestCommittedCoopmatKernels(t *testing.T) {
	files, err := filepath.Glob("../../kernels/vulkan/*_coopmat.spv")
	require.NoError(t, err)
	for _, f := range files {
		code, err := os.ReadFile(f)
		require.NoError(t, err)
		m, err := Parse(code)
		require.NoError(t, err, f)
		khr := false
		for _, i := range m.Insts {
			require.NotEqual(t, uint32(OpTypeCoopMatNV), i.Op, f)
			khr = khr || i.Op == OpTypeCoopMatKHR
		}
		require.True(t, khr, "%s has no KHR cooperative matrix", f)
	}
}

// TestReflectWritable reads which bindings committed kernels may write:
// add writes only its output; get_rows its output and the status buffer.
func TestReflectWritable(t *testing.T) {
	for _, tt := range []struct {
		file     string
		bindings int
		writable []uint32
	}{
		{"add.spv", 3, []uint32{2}},
		{"get_rows_f32.spv", 4, []uint32{2, 3}},
	} {
		code, err := os.ReadFile(filepath.Join("../../kernels/vulkan", tt.file))
		require.NoError(t, err)
		m, err := Parse(code)
		require.NoError(t, err)
		in, err := m.Reflect()
		require.NoError(t, err)
		require.Len(t, in.Bindings, tt.bindings, tt.file)
		require.Equal(t, tt.writable, in.Writable, tt.file)
	}
}
