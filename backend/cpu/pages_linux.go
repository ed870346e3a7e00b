//go:build linux

package cpu

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releasePages unmaps the whole pages of b from the process, which will
// not read them again soon, so that they stop counting in its resident
// size. In a shared mapping of a file (a model mapped by the runtime)
// that is MADV_DONTNEED: the pages stay in the page cache (the next load
// of the file finds them there) and read back from it if touched. Any
// other memory gets MADV_PAGEOUT, which keeps the contents (swapping
// anonymous pages out where there is swap): DONTNEED would zero a private
// mapping. Errors (an older kernel) are ignored: the pages then stay.
func releasePages(b []byte) { releaseWith(b, releaseAdvice(b)) }

// pageRange is the whole pages of b: its offsets [lo, hi) and their
// addresses, ok false when it holds none.
func pageRange(b []byte) (lo, hi int, addr uintptr, ok bool) {
	ps := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	a := (start + ps - 1) &^ (ps - 1)
	e := (start + uintptr(len(b))) &^ (ps - 1)
	if e <= a {
		return 0, 0, 0, false
	}
	return int(a - start), int(e - start), a, true
}

// releaseAdvice is the advice releasePages gives for b's pages (see
// there), found once for a range that is then released in pieces.
func releaseAdvice(b []byte) int {
	lo, hi, addr, ok := pageRange(b)
	if ok && sharedFileMapping(addr, addr+uintptr(hi-lo)) {
		return unix.MADV_DONTNEED
	}
	return unix.MADV_PAGEOUT
}

// releaseWith gives advice (from releaseAdvice for a range holding b) for
// the whole pages of b.
func releaseWith(b []byte, advice int) {
	if lo, hi, _, ok := pageRange(b); ok {
		_ = unix.Madvise(b[lo:hi], advice)
	}
}

// sharedFileMapping reports whether [lo, hi) lies in one shared mapping of
// a file, from /proc/self/maps ("start-end perms offset dev inode path").
func sharedFileMapping(lo, hi uintptr) bool {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return false
	}
	for len(maps) > 0 {
		line := maps
		if i := bytes.IndexByte(maps, '\n'); i >= 0 {
			line, maps = maps[:i], maps[i+1:]
		} else {
			maps = nil
		}
		f := bytes.Fields(line)
		if len(f) < 6 {
			continue
		}
		r := bytes.SplitN(f[0], []byte("-"), 2)
		if len(r) != 2 {
			continue
		}
		s, err1 := strconv.ParseUint(string(r[0]), 16, 64)
		e, err2 := strconv.ParseUint(string(r[1]), 16, 64)
		if err1 != nil || err2 != nil || uint64(lo) < s || uint64(hi) > e {
			continue
		}
		return len(f[1]) == 4 && f[1][3] == 's' && string(f[4]) != "0"
	}
	return false
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
