//go:build linux

package cpu

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releasePages asks the kernel to reclaim the whole pages of b, which the
// caller will not read again soon: MADV_PAGEOUT keeps the contents (a
// mapped file's pages are read back from the file, anonymous pages go to
// swap or stay), so it is safe on any memory; it only lowers the
// resident size. Errors (an older kernel) are ignored: the pages then stay.
func releasePages(b []byte) {
	ps := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + ps - 1) &^ (ps - 1)
	hi := (start + uintptr(len(b))) &^ (ps - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_PAGEOUT)
}

// hugePage is the size of a transparent huge page on x86-64 and arm64
// with 4 KiB base pages.
const hugePage = 2 << 20

// packedMem is a chunk of memory for packed weights (see packedArena):
// anonymous pages of its own, 2 MiB aligned and huge where the kernel
// grants them (MADV_HUGEPAGE). Packing writes every byte once, and in a
// virtual machine a first touch of a 4 KiB page costs microseconds:
// TinyLlama's 620 MB took seconds in page faults in 4 KiB pages, and
// streaming weights is faster from huge pages too (fewer TLB misses). The
// pages go back to the kernel when the arena frees the chunk, or when the
// chunk is garbage.
type packedMem struct {
	b       []byte
	live    int // allocations not released (packedArena.mu)
	cleanup runtime.Cleanup
}

// newPackedMem maps size bytes (a multiple of hugePage) of zeroed memory.
func newPackedMem(size int) (*packedMem, error) {
	raw, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("%d bytes for packed weights: %w", size, err)
	}
	// Keep the 2 MiB-aligned part: huge pages need aligned addresses.
	start := uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
	skip := int((start+hugePage-1)&^(hugePage-1) - start)
	if skip > 0 {
		_ = unix.Munmap(raw[:skip])
	}
	if tail := raw[skip+size:]; len(tail) > 0 {
		_ = unix.Munmap(tail)
	}
	b := raw[skip : skip+size : skip+size]
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE) // advice: small pages still work
	m := &packedMem{b: b}
	m.cleanup = runtime.AddCleanup(m, func(b []byte) { _ = unix.Munmap(b) }, b)
	return m, nil
}

// free unmaps the chunk now; it must not be used after.
func (m *packedMem) free() {
	if m.b == nil {
		return
	}
	m.cleanup.Stop()
	_ = unix.Munmap(m.b)
	m.b = nil
}
