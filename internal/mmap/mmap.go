// Package mmap maps files read-only into memory. On unix systems the file
// is memory-mapped, so its pages are read on demand and shared with the page
// cache; elsewhere the whole file is read into memory.
package mmap

import (
	"fmt"
	"math"
	"os"

	"github.com/golem-llm/golem/internal/safefile"
)

// File is a read-only view of a whole file.
type File struct {
	// Data holds the file's bytes. It must not be modified, and must not be
	// used after Close.
	Data []byte

	path   string
	mapped bool // Data is a mapping to release with munmap
}

// Open maps the regular file at path read-only. Anything else (a FIFO, a
// device, a directory) is refused without blocking. An empty file gives an
// empty Data and holds no mapping. Errors name the file.
func Open(path string) (*File, error) {
	fd, err := safefile.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return &File{Data: []byte{}, path: path}, nil
	}
	if size > math.MaxInt {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: fmt.Errorf("file of %d bytes is too large to map", size)}
	}
	data, mapped, err := mapFile(fd, int(size))
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: path, Err: err}
	}
	return &File{Data: data, path: path, mapped: mapped}, nil
}

// OpenWith maps the file at path and returns parse(path, data) with the
// mapping, which the caller must close once done with the result. When
// parse fails the mapping is released and parse's error returned as it is;
// a mapping error (which names the file) is returned as "prefix: error".
func OpenWith[T any](prefix, path string, parse func(path string, data []byte) (T, error)) (T, *File, error) {
	var zero T
	m, err := Open(path)
	if err != nil {
		return zero, nil, fmt.Errorf("%s: %w", prefix, err)
	}
	v, err := parse(path, m.Data)
	if err != nil {
		_ = m.Close()
		return zero, nil, err
	}
	return v, m, nil
}

// Close releases the mapping; Data is nil afterwards. Close is idempotent
// and may be called on a nil *File.
func (f *File) Close() error {
	if f == nil {
		return nil
	}
	data, mapped := f.Data, f.mapped
	f.Data, f.mapped = nil, false
	if !mapped {
		return nil
	}
	if err := unmap(data); err != nil {
		return &os.PathError{Op: "munmap", Path: f.path, Err: err}
	}
	return nil
}
