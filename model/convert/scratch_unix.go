//go:build unix

package convert

import (
	"errors"
	"fmt"
	"os"

	"github.com/golem-llm/golem/internal/safefile"
	"golang.org/x/sys/unix"
)

// scratch is a file-backed, writable mapping that holds converted tensors
// until the GGUF file is written; the kernel can page it out, so models
// larger than memory convert.
type scratch struct {
	data []byte
	f    *os.File
}

func newScratch(outPath string, size int64) (*scratch, error) {
	if size == 0 {
		return &scratch{}, nil
	}
	f, err := safefile.CreateTemp(scratchDir(outPath), ".golem-convert-*.tmp")
	if err != nil {
		return nil, err
	}
	s := &scratch{f: f}
	if err := f.Truncate(size); err != nil {
		s.close()
		return nil, err
	}
	if int64(int(size)) != size {
		s.close()
		return nil, fmt.Errorf("%d bytes do not fit in memory", size)
	}
	s.data, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		s.data = nil
		s.close()
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return s, nil
}

func (s *scratch) close() error {
	var errs []error
	if s.data != nil {
		errs = append(errs, unix.Munmap(s.data))
		s.data = nil
	}
	if s.f != nil {
		errs = append(errs, s.f.Close(), safefile.RemoveTemp(s.f.Name()))
		s.f = nil
	}
	return errors.Join(errs...)
}
