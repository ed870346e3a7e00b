//go:build cgo

package cuda

import (
	_ "embed"
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
	cudakernels "github.com/golem-llm/golem/kernels/cuda"
)

// selftestPTX is backend/cuda/testdata/selftest.cu compiled by make kernels:
// kernels for every construct of golem.cuh, and deliberately wrong ones.
//
//go:embed testdata/selftest.ptx
var selftestPTX string

// skipOrFail skips the test, or fails it under CI=true.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// emulatorFile is the emulator's file name.
const emulatorFile = "libgolem-cuda-emu.so"

// emulatorPath returns the emulated driver for the tests that need it: the
// library GOLEM_CUDA_LIBRARY names when it is the emulator, else
// bin/libgolem-cuda-emu.so of this checkout, else one beside the test
// binary (a GPU bundle). Without one the test skips (fails under CI=true):
// make cuda-emu builds it.
func emulatorPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(LibraryEnv); filepath.Base(p) == emulatorFile {
		return p
	}
	var cands []string
	if p := repoEmulator(); p != "" {
		cands = append(cands, p)
	}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), emulatorFile))
	}
	for _, p := range cands {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	skipOrFail(t, "CUDA emulator not built (make cuda-emu): none of %v", cands)
	return ""
}

// openEmulator opens device 0 of the emulator.
func openEmulator(t *testing.T) *device {
	t.Helper()
	lib, msg := openLibrary(emulatorPath(t))
	require.NotNil(t, lib, msg)
	return openLibDevice(t, lib)
}

// openTestDevice opens device 0 of the system's driver: a GPU, or the
// emulator when there is none (TestMain).
func openTestDevice(t *testing.T) *device {
	t.Helper()
	lib, reason := loadSystem()
	if lib == nil {
		skipOrFail(t, "no CUDA driver: %s", reason)
	}
	return openLibDevice(t, lib)
}

func openLibDevice(t *testing.T, lib *library) *device {
	t.Helper()
	n, err := lib.init()
	require.NoError(t, err)
	require.Positive(t, n)
	info, err := lib.device(0)
	require.NoError(t, err)
	d, err := openDevice(lib, 0, info)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.close()) })
	return d
}

// The TestSelftest* tests run the selftest kernels on the system's device
// (a GPU, or the emulator) and compare every output with Go.

// loadPTX loads an embedded kernel file (name.ptx), or the selftest
// kernels for "selftest".
func loadPTX(t *testing.T, d *device, name string) *module {
	t.Helper()
	ptx := selftestPTX
	if name != "selftest" {
		data, err := cudakernels.FS.ReadFile(name + ".ptx")
		require.NoError(t, err)
		ptx = string(data)
	}
	m, err := d.loadModule(name, ptx)
	require.NoError(t, err)
	return m
}

// devBuf is device memory for a test, freed at cleanup.
func devBuf(t *testing.T, d *device, data []byte) devicePtr {
	t.Helper()
	p, err := d.alloc(int64(len(data)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.free(p) })
	require.NoError(t, d.write(p, data))
	return p
}

func readBack(t *testing.T, d *device, p devicePtr, n int) []byte {
	t.Helper()
	out := make([]byte, n)
	require.NoError(t, d.read(out, p))
	return out
}

// run launches one kernel of m and waits.
func run(t *testing.T, d *device, m *module, kernel string, grid, block [3]uint32, shared uint32, p params) error {
	t.Helper()
	fn, err := d.function(m, kernel)
	require.NoError(t, err)
	s, err := d.newStream()
	require.NoError(t, err)
	defer d.destroyStream(s)
	ll := pack([]kernelLaunch{{fn: fn, grid: grid, block: block, shared: shared, params: p}})
	defer ll.free()
	return d.launchAll(s, ll, []string{kernel})
}

func u32s(b []byte) []uint32 {
	out := make([]uint32, len(b)/4)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return out
}

func bytesOf[T uint32 | int32 | float32](v []T) []byte {
	out := make([]byte, 0, 4*len(v))
	for _, x := range v {
		var u uint32
		switch x := any(x).(type) {
		case uint32:
			u = x
		case int32:
			u = uint32(x)
		case float32:
			u = math.Float32bits(x)
		}
		out = binary.LittleEndian.AppendUint32(out, u)
	}
	return out
}

func TestEmulatorDevice(t *testing.T) {
	d := openEmulator(t)
	require.True(t, d.info.Emulated)
	require.Equal(t, "golem CUDA emulator (CPU)", d.info.Name)
	st := d.info.status(0)
	require.Contains(t, st.Info.Caps, "sm_80")
	require.Contains(t, st.Info.Caps, "emulated on the CPU")
}

func TestSelftestIndices(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	grid, block := [3]uint32{3, 2, 2}, [3]uint32{8, 4, 2}
	nthreads := 12 * 64
	out := devBuf(t, d, make([]byte, 4*13*nthreads))
	var p params
	p.Ptr(out)
	require.NoError(t, run(t, d, m, "selftest_indices", grid, block, 0, p))
	got := u32s(readBack(t, d, out, 4*13*nthreads))
	i := 0
	for bz := uint32(0); bz < grid[2]; bz++ {
		for by := uint32(0); by < grid[1]; by++ {
			for bx := uint32(0); bx < grid[0]; bx++ {
				for tz := uint32(0); tz < block[2]; tz++ {
					for ty := uint32(0); ty < block[1]; ty++ {
						for tx := uint32(0); tx < block[0]; tx++ {
							lin := tx + block[0]*(ty+block[1]*tz)
							want := []uint32{tx, ty, tz, bx, by, bz, block[0], block[1], block[2], grid[0], grid[1], grid[2], lin % 32}
							require.Equal(t, want, got[13*i:13*i+13], "thread %d", i)
							i++
						}
					}
				}
			}
		}
	}
}

// shfl is PTX shfl.sync for one lane (the ISA's pseudo-code).
func shfl(mode string, lane, b, c int, vals []uint32) uint32 {
	b &= 31
	segmask, cval := (c>>8)&31, c&31
	maxLane, minLane := (lane&segmask)|(cval&^segmask), lane&segmask
	var j int
	var ok bool
	switch mode {
	case "up":
		j = lane - b
		ok = j >= maxLane
	case "down":
		j = lane + b
		ok = j <= maxLane
	case "bfly":
		j = lane ^ b
		ok = j <= maxLane
	case "idx":
		j = minLane | (b &^ segmask)
		ok = j <= maxLane
	}
	if !ok {
		j = lane
	}
	return vals[j]
}

func TestSelftestWarp(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	const n = 128 // 2 blocks of 2 warps
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([]uint32, n)
	for i := range in {
		in[i] = rng.Uint32() % 1000
	}
	in[3], in[40], in[64+5] = 7, 0, 0
	for i := 96; i < 128; i++ {
		in[i] = uint32(2*i + 1) // a warp of odd, non-zero values
	}
	for _, tc := range []struct{ b, width int }{{1, 32}, {5, 16}, {3, 8}, {17, 32}, {0, 4}, {2, 2}} {
		dIn := devBuf(t, d, bytesOf(in))
		dOut := devBuf(t, d, make([]byte, 4*10*n))
		var p params
		p.Ptr(dIn)
		p.Ptr(dOut)
		p.U32(uint32(tc.b))
		p.U32(uint32(tc.width))
		require.NoError(t, run(t, d, m, "selftest_warp", [3]uint32{2, 1, 1}, [3]uint32{64, 1, 1}, 0, p))
		got := u32s(readBack(t, d, dOut, 4*10*n))
		for w := 0; w < n/32; w++ {
			vals := in[32*w : 32*w+32]
			var ballot uint32
			all, any := uint32(1), uint32(0)
			for l, v := range vals {
				if v&1 != 0 {
					ballot |= 1 << l
				}
				if v == 0 {
					all = 0
				}
				if v == 7 {
					any = 1
				}
			}
			cw := (32-tc.width)<<8 | 0x1f
			c32 := 0x1f
			for l := 0; l < 32; l++ {
				o := got[10*(32*w+l) : 10*(32*w+l)+10]
				f := math.Float32bits(float32(shfl("down", l, tc.b, c32, vals)))
				want := []uint32{
					shfl("idx", l, tc.b, cw, vals), shfl("bfly", l, tc.b, cw, vals),
					shfl("up", l, tc.b, (32-tc.width)<<8, vals), shfl("down", l, tc.b, cw, vals),
					shfl("bfly", l, tc.b, c32, vals), f, ballot, all, any, vals[l^1],
				}
				require.Equal(t, want, o, "b=%d width=%d warp %d lane %d", tc.b, tc.width, w, l)
			}
		}
	}
}

func TestSelftestBlock(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	const threads, blocks = 256, 3
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]float32, threads*blocks)
	for i := range in {
		in[i] = float32(rng.NormFloat64())
	}
	in[threads+9] = 2000    // block 1: or = 1
	in[2*threads+4] = -2000 // block 2: and = 0
	dIn := devBuf(t, d, bytesOf(in))
	dSums := devBuf(t, d, make([]byte, 4*blocks))
	dRev := devBuf(t, d, make([]byte, 4*len(in)))
	dCounts := devBuf(t, d, make([]byte, 4*3*blocks))
	var p params
	p.Ptr(dIn)
	p.Ptr(dSums)
	p.Ptr(dRev)
	p.Ptr(dCounts)
	require.NoError(t, run(t, d, m, "selftest_block", [3]uint32{blocks, 1, 1}, [3]uint32{threads, 1, 1}, 4*threads, p))
	sums := u32s(readBack(t, d, dSums, 4*blocks))
	rev := u32s(readBack(t, d, dRev, 4*len(in)))
	counts := u32s(readBack(t, d, dCounts, 4*3*blocks))
	for b := 0; b < blocks; b++ {
		part := append([]float32(nil), in[b*threads:(b+1)*threads]...)
		for s := threads / 2; s > 0; s /= 2 {
			for i := 0; i < s; i++ {
				part[i] += part[i+s]
			}
		}
		require.Equal(t, math.Float32bits(part[0]), sums[b], "block %d sum", b)
		pos, and, or := 0, uint32(1), uint32(0)
		for i := 0; i < threads; i++ {
			v := in[b*threads+i]
			require.Equal(t, math.Float32bits(in[b*threads+threads-1-i]), rev[b*threads+i])
			if v > 0 {
				pos++
			}
			if !(v > -1000) {
				and = 0
			}
			if v > 1000 {
				or = 1
			}
		}
		require.Equal(t, []uint32{uint32(pos), and, or}, counts[3*b:3*b+3], "block %d barrier reductions", b)
	}
}

func TestSelftestAtomics(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	const n = 192
	dI := devBuf(t, d, bytesOf([]int32{0, -1, 1 << 30}))
	dU := devBuf(t, d, bytesOf([]uint32{0, 0, 0xffffffff, 0, 0, 0xffffffff, 0, 0, 0}))
	dF := devBuf(t, d, bytesOf([]float32{0}))
	var p params
	p.Ptr(dI)
	p.Ptr(dU)
	p.Ptr(dF)
	require.NoError(t, run(t, d, m, "selftest_atomics", [3]uint32{3, 1, 1}, [3]uint32{64, 1, 1}, 0, p))
	iv := u32s(readBack(t, d, dI, 12))
	uv := u32s(readBack(t, d, dU, 36))
	fv := u32s(readBack(t, d, dF, 4))
	require.Equal(t, []uint32{n, n - 1, 0}, iv)
	require.Equal(t, []uint32{n, 0xffffffff, 0, 0, n - 1, 0}, uv[:6])
	require.True(t, uv[6] >= 1 && uv[6] <= n, "compare-and-swap winner %d", uv[6])
	require.Equal(t, uint32(7), uv[7])
	require.Equal(t, uint32(1), uv[8], "exactly one compare-and-swap succeeds")
	require.Equal(t, math.Float32bits(n), fv[0])
}

// fma32 is the correctly rounded float32 a·b+c.
func fma32(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	return f
}

func TestSelftestMath(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	nan := float32(math.NaN())
	x := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.5, 1.5, 2.5, -2.5, 3.14159, 65504, 65520, 1e-8, 6e-5, -6.1e-5,
		88.7, 88.8, -87, -103, -104, 100, -200, 1e-3, 7.25e4, float32(math.Inf(1)), float32(math.Inf(-1)), nan}
	rng := rand.New(rand.NewPCG(5, 6))
	for len(x) < 300 {
		x = append(x, float32(rng.NormFloat64()*20))
	}
	n := len(x)
	ia, ib := make([]int32, n), make([]int32, n)
	for i := range ia {
		ia[i], ib[i] = int32(rng.Uint32()), int32(rng.Uint32())
	}
	dx := devBuf(t, d, bytesOf(x))
	dia, dib := devBuf(t, d, bytesOf(ia)), devBuf(t, d, bytesOf(ib))
	dh, db := devBuf(t, d, make([]byte, 2*n)), devBuf(t, d, make([]byte, 2*n))
	dhb, dbb := devBuf(t, d, make([]byte, 4*n)), devBuf(t, d, make([]byte, 4*n))
	ddp, dex, dmisc := devBuf(t, d, make([]byte, 4*n)), devBuf(t, d, make([]byte, 4*n)), devBuf(t, d, make([]byte, 32*n))
	var p params
	for _, q := range []devicePtr{dx, dia, dib} {
		p.Ptr(q)
	}
	p.U32(uint32(n))
	for _, q := range []devicePtr{dh, db, dhb, dbb, ddp, dex, dmisc} {
		p.Ptr(q)
	}
	require.NoError(t, run(t, d, m, "selftest_math", [3]uint32{uint32(n+127) / 128, 1, 1}, [3]uint32{128, 1, 1}, 0, p))
	h, b := readBack(t, d, dh, 2*n), readBack(t, d, db, 2*n)
	hb, bb := u32s(readBack(t, d, dhb, 4*n)), u32s(readBack(t, d, dbb, 4*n))
	dp, ex, misc := u32s(readBack(t, d, ddp, 4*n)), u32s(readBack(t, d, dex, 4*n)), u32s(readBack(t, d, dmisc, 32*n))
	for i, v := range x {
		gh, gb := binary.LittleEndian.Uint16(h[2*i:]), binary.LittleEndian.Uint16(b[2*i:])
		if v != v {
			// A NaN becomes the canonical NaN, as PTX cvt does.
			require.Equal(t, uint16(0x7fff), gh)
			require.Equal(t, uint16(0x7fff), gb)
			require.True(t, math.IsNaN(float64(math.Float32frombits(ex[i]))))
			continue
		}
		require.Equal(t, quant.F32ToF16(v), gh, "f16 of %g", v)
		require.Equal(t, quant.F32ToBF16(v), gb, "bf16 of %g", v)
		require.Equal(t, math.Float32bits(quant.F16ToF32(gh)), hb[i], "f16 %#x back", gh)
		require.Equal(t, math.Float32bits(quant.BF16ToF32(gb)), bb[i], "bf16 %#x back", gb)
		want := int32(i)
		for k := 0; k < 4; k++ {
			want += int32(int8(ia[i]>>(8*k))) * int32(int8(ib[i]>>(8*k)))
		}
		require.Equal(t, uint32(want), dp[i], "dp4a %d", i)
		e, ref := math.Float32frombits(ex[i]), math.Exp(float64(v))
		switch {
		case ref > math.MaxFloat32:
			require.True(t, math.IsInf(float64(e), 1), "expf(%g) = %g", v, e)
		case ref < 1e-45:
			require.Less(t, float64(e), 1.5e-45, "expf(%g)", v)
		default:
			ulp := float64(math.Nextafter32(float32(ref), float32(math.Inf(1)))) - float64(float32(ref))
			require.LessOrEqual(t, math.Abs(float64(e)-ref), 2*ulp, "expf(%g) = %g, want %g", v, e, ref)
		}
		mm := misc[8*i : 8*i+8]
		u := math.Float32bits(v)
		shift := uint(i % 33)
		if shift == 32 {
			shift = 31
		}
		wantMisc := []float32{
			float32(math.Sqrt(math.Abs(float64(v)))), fma32(v, v, 1), float32(math.Floor(float64(v))),
			float32(math.RoundToEven(float64(v))), max32(v, 0.5), min32(v, 0.5),
			float32(bits.OnesCount32(u)), float32(bits.LeadingZeros32(u >> shift)),
		}
		for k, w := range wantMisc {
			require.Equal(t, math.Float32bits(w), mm[k], "misc %d of %g", k, v)
		}
	}
}

func max32(a, b float32) float32 { return float32(math.Max(float64(a), float64(b))) }
func min32(a, b float32) float32 { return float32(math.Min(float64(a), float64(b))) }
