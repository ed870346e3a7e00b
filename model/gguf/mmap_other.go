//go:build !unix

package gguf

import "os"

// mapFile reads the whole file at path; platforms without mmap support in
// golang.org/x/sys/unix get a plain read.
func mapFile(path string) (data []byte, unmap func() error, err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, nil, nil
}
