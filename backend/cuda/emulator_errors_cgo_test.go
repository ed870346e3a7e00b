//go:build cgo

package cuda

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEmulatorKernelErrors launches the deliberately wrong selftest kernels
// and checks that the emulator names the kernel, the launch, the block and
// what went wrong, that the error is sticky (later calls fail with it, as
// on a GPU), and that a new context works again.
func TestEmulatorKernelErrors(t *testing.T) {
	tests := []struct {
		name   string
		kernel string
		floats int // the buffer the kernel gets
		grid   uint32
		block  uint32
		code   int
		want   string // a regular expression the error must match
	}{
		{"write past the end, into the guard page", "selftest_bad_oob", 1000, 8, 256, 700,
			`^cuLaunchKernel\(selftest_bad_oob\): CUDA_ERROR_ILLEGAL_ADDRESS \(an illegal memory access was encountered\): ` +
				`golem-cuda-emu: kernel selftest_bad_oob launch #\d+ block \(4,0,0\) thread \(0,0,0\): illegal write at 0x[0-9a-f]+: ` +
				`96 bytes past the end of allocation #\d+ \(4000 bytes at 0x[0-9a-f]+\)$`},
		{"write past the end, before the guard page", "selftest_bad_oob", 1000, 1, 1001, 700,
			`: golem-cuda-emu: kernel selftest_bad_oob launch #\d+ wrote past the end of allocation #\d+ \(4000 bytes at 0x[0-9a-f]+\): ` +
				`bytes 4000\.\.4003 changed$`},
		{"barrier after an early return", "selftest_bad_barrier", 32, 1, 32, 719,
			`^cuLaunchKernel\(selftest_bad_barrier\): CUDA_ERROR_LAUNCH_FAILED \(unspecified launch failure\): ` +
				`golem-cuda-emu: kernel selftest_bad_barrier launch #\d+ block \(0,0,0\): __syncthreads at selftest\.cu:\d+ ` +
				`reached by 16 of 32 threads \(16 exited\) \(deadlock on a GPU\)$`},
		{"shuffle waiting for lanes at a barrier", "selftest_bad_warp", 64, 1, 64, 719,
			`golem-cuda-emu: kernel selftest_bad_warp launch #\d+ block \(0,0,0\): __syncthreads at selftest\.cu:\d+ reached by 32 of 64 threads; ` +
				`warp 0: __shfl_xor_sync at selftest\.cu:\d+ \(mask 0xffffffff\) waits for lanes 0xffff0000 \(lanes 0xffff0000 wait at __syncthreads\); ` +
				`warp 1: .* \(deadlock on a GPU\)$`},
		{"two different barriers", "selftest_bad_divergent", 64, 1, 64, 719,
			`golem-cuda-emu: kernel selftest_bad_divergent launch #\d+ block \(0,0,0\): divergent __syncthreads: 32 threads wait at ` +
				`selftest\.cu:\d+ and 32 at selftest\.cu:\d+ \(undefined on a GPU: it may hang\)$`},
		{"stack overflow", "selftest_bad_stack", 64, 1, 32, 700,
			`golem-cuda-emu: kernel selftest_bad_stack launch #\d+ block \(0,0,0\) thread \(0,0,0\): stack overflow \(the emulator gives each thread 128 KiB\)$`},
		{"integer division by zero", "selftest_bad_divide", 64, 1, 32, 715,
			`^cuLaunchKernel\(selftest_bad_divide\): CUDA_ERROR_ILLEGAL_INSTRUCTION \(an illegal instruction was encountered\): golem-cuda-emu: ` +
				`kernel selftest_bad_divide launch #\d+ block \(0,0,0\) thread \(0,0,0\): integer division by zero \(a GPU gives an undefined result instead\)$`},
		{"cp.async to a misaligned address", "selftest_bad_cp_async_align", 64, 1, 32, 700,
			`golem-cuda-emu: kernel selftest_bad_cp_async_align launch #\d+ block \(0,0,0\) thread \(0,0,0\): cp\.async of 16 bytes ` +
				`\(16 read\) from 0x[0-9a-f]+ to 0x[0-9a-f]+ at selftest\.cu:\d+: an address is not aligned to the copy size$`},
		{"mma.sync without the whole warp", "selftest_bad_mma", 64, 1, 32, 719,
			`golem-cuda-emu: kernel selftest_bad_mma launch #\d+ block \(0,0,0\) warp 0: mma\.sync\.m16n8k16 at selftest\.cu:\d+ ` +
				`reached by lanes 0x7fffffff only \(it needs the whole warp; the others exited\)$`},
		{"ldmatrix from global memory", "selftest_bad_ldmatrix", 256, 1, 32, 700,
			`golem-cuda-emu: kernel selftest_bad_ldmatrix launch #\d+ block \(0,0,0\) warp 0 lane 0: ldmatrix at selftest\.cu:\d+: ` +
				`row address 0x[0-9a-f]+ is not in the block's shared memory$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openEmulator(t)
			m := loadPTX(t, d, "selftest")
			buf := devBuf(t, d, make([]byte, 4*tt.floats))
			var p params
			p.Ptr(buf)
			if tt.kernel == "selftest_bad_stack" {
				p.U32(128 * 1024)
			}
			err := run(t, d, m, tt.kernel, [3]uint32{tt.grid, 1, 1}, [3]uint32{tt.block, 1, 1}, 0, p)
			require.Error(t, err)
			require.Regexp(t, regexp.MustCompile(tt.want), err.Error())
			var ce *Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tt.code, ce.Code)
			// Sticky: the context is unusable afterwards.
			_, err = d.alloc(16)
			require.Error(t, err)
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tt.code, ce.Code)
			require.Contains(t, err.Error(), "kernel "+tt.kernel+" launch #")
		})
	}
	// Every context above was released: a new one works.
	d := openEmulator(t)
	_, err := d.alloc(16)
	require.NoError(t, err)
}

func TestEmulatorModuleErrors(t *testing.T) {
	const head = ".version 8.0\n.target sm_80\n.address_size 64\n"
	tests := []struct {
		name, ptx, want string
		code            int
	}{
		{"entry without an emulated kernel", head + ".visible .entry nosuch(\n\t.param .u64 nosuch_param_0\n)\n{\n\tret;\n}\n",
			"cuModuleLoadDataEx(bad): CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed): golem-cuda-emu: PTX entry nosuch has no " +
				"emulated kernel (is bin/libgolem-cuda-emu.so older than the PTX? make cuda-emu)", 218},
		{"parameters of other sizes", head + ".visible .entry selftest_bad_oob(\n\t.param .u64 a,\n\t.param .u32 b\n)\n{\n\tret;\n}\n",
			"golem-cuda-emu: PTX entry selftest_bad_oob takes parameters of (8,4) bytes but the emulated kernel takes (8) (make cuda-emu)", 218},
		{"PTX newer than the driver", ".version 9.9\n.target sm_80\n",
			"cuModuleLoadDataEx(bad): CUDA_ERROR_UNSUPPORTED_PTX_VERSION (the provided PTX was compiled with an unsupported toolchain.; " +
				"the kernels are PTX ISA 9.9, which needs a newer driver than this one (CUDA 13.0)): golem-cuda-emu: PTX ISA 9.9 is newer " +
				"than this driver supports (CUDA 13.0: PTX ISA 9.0)", 222},
		{"Hopper PTX on an sm_80 device", ".version 8.0\n.target sm_90a\n",
			"CUDA_ERROR_NO_BINARY_FOR_GPU (no kernel image is available for execution on the device): golem-cuda-emu: the PTX targets sm_90; " +
				"the emulated device is sm_80", 209},
		{"not PTX", "hello", "CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed): golem-cuda-emu: not a PTX module (no .version directive)", 218},
	}
	d := openEmulator(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.loadModule("bad", tt.ptx)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tt.code, ce.Code)
		})
	}
	// A module error is not sticky.
	loadPTX(t, d, "selftest")
}

// TestEmulatorOutOfMemory runs itself again with a 1 MiB device
// (GOLEM_CUDA_EMU_MEMORY is read once per process) and checks the error of
// an allocation that does not fit.
func TestEmulatorOutOfMemory(t *testing.T) {
	if os.Getenv("GOLEM_TEST_OOM_CHILD") == "1" {
		d := openEmulator(t)
		_, err := d.alloc(2 << 20)
		require.Error(t, err)
		require.Equal(t, "cuMemAlloc_v2(2097152): CUDA_ERROR_OUT_OF_MEMORY (out of memory; asked 2.0 MiB, 1.0 MiB free): "+
			"golem-cuda-emu: cuMemAlloc: 2.0 MiB asked, 1.0 MiB free of 1.0 MiB (GOLEM_CUDA_EMU_MEMORY sets the size)", err.Error())
		return
	}
	emulatorPath(t) // skips without the emulator
	cmd := exec.Command(os.Args[0], "-test.run=^TestEmulatorOutOfMemory$", "-test.v")
	cmd.Env = append(os.Environ(), "GOLEM_TEST_OOM_CHILD=1", "GOLEM_CUDA_EMU_MEMORY=1048576")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: TestEmulatorOutOfMemory")
}

// TestEmulatorCPAsyncWithoutWait: a thread that reads a cp.async
// destination before waiting for its group sees the bytes from before the
// copy (the NaN pattern of fresh shared memory): the emulator does each
// copy only when its group is waited for, so a missing wait shows.
func TestEmulatorCPAsyncWithoutWait(t *testing.T) {
	d := openEmulator(t)
	m := loadPTX(t, d, "selftest")
	buf := devBuf(t, d, bytesOf([]float32{1, 2, 3, 4, 5, 6, 7, 8}))
	var p params
	p.Ptr(buf)
	require.NoError(t, run(t, d, m, "selftest_bad_cp_async_nowait", [3]uint32{1, 1, 1}, [3]uint32{8, 1, 1}, 0, p))
	for i, w := range u32s(readBack(t, d, buf, 32)) {
		require.Equal(t, uint32(0x7ff77ff7), w, "element %d", i)
	}
}
