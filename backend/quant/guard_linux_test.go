//go:build linux

package quant

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// guardedBytes returns an n-byte slice that ends exactly where an
// inaccessible page begins, so that any read or write past its end faults.
func guardedBytes(t *testing.T, n int) []byte {
	t.Helper()
	page := syscall.Getpagesize()
	size := (n+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	require.NoError(t, syscall.Mprotect(mem[size-page:], syscall.PROT_NONE))
	return mem[size-page-n : size-page : size-page]
}

// guardedFloats is guardedBytes for n float32 values.
func guardedFloats(t *testing.T, n int) []float32 {
	b := guardedBytes(t, 4*n)
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
}

// TestKernelsStayInBounds runs every kernel on data that ends at an
// unmapped page: an access past the end of a row, x or dst crashes the test.
func TestKernelsStayInBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, dt := range floatTypes {
		for _, blocks := range []int{1, 2, 3, 9} {
			n := blocks * dt.BlockSize()
			if dt.BlockSize() == 1 {
				n = 8*blocks + 5
			}
			t.Run(fmt.Sprintf("%s/n=%d", dt, n), func(t *testing.T) {
				src := randRow(t, rng, dt, n, true)
				row := guardedBytes(t, len(src))
				copy(row, src)
				x := guardedFloats(t, n)
				copy(x, randFloats(rng, n))
				dst := guardedFloats(t, n)
				for _, p := range implPaths() {
					withImpl(p.level, func() {
						_ = Dot(dt, row, x)
						require.NoError(t, Dequantize(dt, row, dst))
					})
				}
			})
		}
	}
	for _, n := range []int{1, 8, 13, 16, 40} {
		t.Run(fmt.Sprintf("vec/n=%d", n), func(t *testing.T) {
			x := guardedFloats(t, n)
			y := guardedFloats(t, n)
			h := unsafe.Slice((*uint16)(unsafe.Pointer(&guardedBytes(t, 2*n)[0])), n)
			for _, p := range implPaths() {
				withImpl(p.level, func() {
					_ = DotF32(x, y)
					_, _, _, _ = Dot4F32(x, y, x, y, x)
					_ = DotF16(h, x)
					DecodeF16(y, h)
					AXPY(2, x, y)
					Scale(y, 2, x)
				})
			}
		})
	}
}
