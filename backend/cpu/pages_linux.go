//go:build linux

package cpu

import (
	"os"
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
