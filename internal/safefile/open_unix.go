//go:build unix

package safefile

import (
	"os"

	"golang.org/x/sys/unix"
)

// openNonblock opens path read-only without blocking: opening a FIFO that
// has no writer returns at once instead of waiting for one.
func openNonblock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
}

// clearNonblock puts f back into blocking mode for ordinary reads.
func clearNonblock(f *os.File) error {
	return unix.SetNonblock(int(f.Fd()), false)
}
