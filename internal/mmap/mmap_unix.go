//go:build unix

package mmap

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of fd read-only.
func mapFile(fd *os.File, size int) (data []byte, mapped bool, err error) {
	data, err = unix.Mmap(int(fd.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// unmap releases a mapping made by mapFile.
func unmap(data []byte) error { return unix.Munmap(data) }
