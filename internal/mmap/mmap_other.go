//go:build !unix

package mmap

import (
	"errors"
	"io"
	"os"
)

// mapFile reads size bytes of fd: platforms without mmap support in
// golang.org/x/sys/unix get a plain read.
func mapFile(fd *os.File, size int) (data []byte, mapped bool, err error) {
	data = make([]byte, size)
	if _, err := io.ReadFull(fd, data); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = errors.New("file shrank while being read")
		}
		return nil, false, err
	}
	return data, false, nil
}

// unmap is never called: mapFile makes no mappings here.
func unmap([]byte) error { return nil }
