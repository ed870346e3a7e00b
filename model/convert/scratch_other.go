//go:build !unix

package convert

// scratch holds converted tensors in memory where mapping files is not
// available.
type scratch struct {
	data []byte
}

func newScratch(_ string, size int64) (*scratch, error) {
	return &scratch{data: make([]byte, size)}, nil
}

func (s *scratch) close() error {
	s.data = nil
	return nil
}
