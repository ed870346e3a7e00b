//go:build !linux

package cpu

// releasePages leaves the pages alone where there is no MADV_PAGEOUT.
func releasePages([]byte) {}
