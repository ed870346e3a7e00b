//go:build cgo

package cuda

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend/quant"
)

// The tests of golem.cuh's tensor-core, ldmatrix, cp.async and dp4a
// constructs: each selftest kernel's output against a plain loop in Go,
// on the system's device (a GPU, or the emulator).

func u16Bytes(v []uint16) []byte {
	out := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(out[2*i:], x)
	}
	return out
}

func TestSelftestDP4A(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 300
	a, b, c := make([]int32, n), make([]int32, n), make([]int32, n)
	for i := range a {
		a[i], b[i], c[i] = int32(rng.Uint32()), int32(rng.Uint32()), int32(rng.Uint32()>>4)-1<<27
	}
	a[0], b[0] = -1, -1 // 0xff bytes: -1 signed, 255 unsigned
	out := devBuf(t, d, make([]byte, 16*n))
	var p params
	p.Ptr(devBuf(t, d, bytesOf(a)))
	p.Ptr(devBuf(t, d, bytesOf(b)))
	p.Ptr(devBuf(t, d, bytesOf(c)))
	p.U32(n)
	p.Ptr(out)
	require.NoError(t, run(t, d, m, "selftest_dp4a", [3]uint32{(n + 127) / 128, 1, 1}, [3]uint32{128, 1, 1}, 0, p))
	got := u32s(readBack(t, d, out, 16*n))
	for i := range a {
		byteOf := func(v int32, k int, signed bool) int64 {
			x := uint8(uint32(v) >> (8 * k))
			if signed {
				return int64(int8(x))
			}
			return int64(x)
		}
		for mode, sg := range [][2]bool{{true, true}, {false, false}, {true, false}, {false, true}} {
			want := int64(c[i])
			for k := 0; k < 4; k++ {
				want += byteOf(a[i], k, sg[0]) * byteOf(b[i], k, sg[1])
			}
			require.Equal(t, uint32(want), got[4*i+mode], "dp4a mode %d (signed a, b: %v) element %d", mode, sg, i)
		}
	}
}

func TestSelftestMMA(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	for _, bf16 := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(9, 10))
		const blocks = 3
		conv, back := quant.F32ToF16, quant.F16ToF32
		if bf16 {
			conv, back = quant.F32ToBF16, quant.BF16ToF32
		}
		A, B := make([]uint16, blocks*256), make([]uint16, blocks*128)
		C := make([]float32, blocks*128)
		for i := range A {
			A[i] = conv(float32(rng.NormFloat64()))
		}
		for i := range B {
			B[i] = conv(float32(rng.NormFloat64()))
		}
		for i := range C {
			C[i] = float32(rng.NormFloat64() * 4)
		}
		// Structured blocks: the identity (D = B + C exposes any
		// misplaced row or column of B), and A with one distinct value
		// per element times a one-hot B.
		for r := 0; r < 16; r++ {
			for k := 0; k < 16; k++ {
				A[256+r*16+k] = conv(float32(r*16 + k))
				if r == k {
					A[r*16+k] = conv(1)
				} else {
					A[r*16+k] = 0
				}
			}
		}
		for k := 0; k < 16; k++ {
			for n := 0; n < 8; n++ {
				B[128+k*8+n] = 0
				if k == 2*n+1 {
					B[128+k*8+n] = conv(1)
				}
			}
		}
		out := devBuf(t, d, make([]byte, 4*len(C)))
		var p params
		p.Ptr(devBuf(t, d, u16Bytes(A)))
		p.Ptr(devBuf(t, d, u16Bytes(B)))
		p.Ptr(devBuf(t, d, bytesOf(C)))
		p.Ptr(out)
		flag := uint32(0)
		if bf16 {
			flag = 1
		}
		p.U32(flag)
		require.NoError(t, run(t, d, m, "selftest_mma", [3]uint32{blocks, 1, 1}, [3]uint32{32, 1, 1}, 0, p))
		got := u32s(readBack(t, d, out, 4*len(C)))
		for blk := 0; blk < blocks; blk++ {
			for r := 0; r < 16; r++ {
				for n := 0; n < 8; n++ {
					ref, mag := float64(C[blk*128+r*8+n]), math.Abs(float64(C[blk*128+r*8+n]))
					for k := 0; k < 16; k++ {
						prod := float64(back(A[blk*256+r*16+k])) * float64(back(B[blk*128+k*8+n]))
						ref += prod
						mag += math.Abs(prod)
					}
					g := math.Float32frombits(got[blk*128+r*8+n])
					require.InDelta(t, ref, float64(g), 1e-6*mag+1e-30, "bf16 %v block %d D[%d][%d]", bf16, blk, r, n)
				}
			}
		}
	}
}

func TestSelftestLdmatrix(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	in := make([]uint16, 32*8)
	for i := range in {
		in[i] = uint16(i*7 + 3)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	perm := make([]uint32, 32)
	for i, v := range rng.Perm(32) {
		perm[i] = uint32(v)
	}
	out := devBuf(t, d, make([]byte, 4*14*32))
	var p params
	p.Ptr(devBuf(t, d, u16Bytes(in)))
	p.Ptr(devBuf(t, d, bytesOf(perm)))
	p.Ptr(out)
	require.NoError(t, run(t, d, m, "selftest_ldmatrix", [3]uint32{1, 1, 1}, [3]uint32{32, 1, 1}, 0, p))
	got := u32s(readBack(t, d, out, 4*14*32))
	// elem(i, r, c): row r of matrix i is the row lane 8i+r points at.
	elem := func(i, r, c int) uint32 { return uint32(in[int(perm[8*i+r])*8+c]) }
	for l := 0; l < 32; l++ {
		frag := func(i int, trans bool) uint32 {
			if trans {
				return elem(i, 2*(l%4), l/4) | elem(i, 2*(l%4)+1, l/4)<<16
			}
			return elem(i, l/4, 2*(l%4)) | elem(i, l/4, 2*(l%4)+1)<<16
		}
		var want []uint32
		for _, trans := range []bool{false, true} {
			for _, count := range []int{1, 2, 4} {
				for i := 0; i < count; i++ {
					want = append(want, frag(i, trans))
				}
			}
		}
		require.Equal(t, want, got[14*l:14*l+14], "lane %d", l)
	}
}

func TestSelftestCPAsync(t *testing.T) {
	d := openTestDevice(t)
	m := loadPTX(t, d, "selftest")
	const n = 64
	in := make([]byte, 32*n)
	for i := range in {
		in[i] = byte(i*13 + 1)
	}
	own, next := devBuf(t, d, make([]byte, 16*n)), devBuf(t, d, make([]byte, 48*n))
	var p params
	p.Ptr(devBuf(t, d, in))
	p.Ptr(own)
	p.Ptr(next)
	require.NoError(t, run(t, d, m, "selftest_cp_async", [3]uint32{1, 1, 1}, [3]uint32{n, 1, 1}, 48*n, p))
	gotOwn, gotNext := readBack(t, d, own, 16*n), readBack(t, d, next, 48*n)
	slot := func(t int) []byte {
		s := make([]byte, 48)
		copy(s, in[16*t:16*t+t%17]) // the rest of the first 16 bytes is zero-filled
		copy(s[16:], in[16*n+16*t:16*n+16*t+12])
		copy(s[32:], in[16*t:16*t+16]) // bytes 28..31: zeros
		return s
	}
	for tt := 0; tt < n; tt++ {
		require.Equal(t, slot(tt)[:16], gotOwn[16*tt:16*tt+16], "thread %d after wait_group 2", tt)
		require.Equal(t, slot((tt+1)%n), gotNext[48*tt:48*tt+48], "thread %d reading thread %d's slot", tt, (tt+1)%n)
	}
}
