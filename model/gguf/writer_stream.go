package gguf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/golem-llm/golem/graph"
)

// StreamWriter is a Writer whose tensor data may be produced while the file
// is written, one tensor after another, so that a file larger than memory
// can be built. Metadata is added through the embedded Writer (AddString,
// AddUint32, ...). Tensors added with the embedded Writer's AddTensor or
// AddRawTensor are written first, in the order added, then the tensors added
// with AddTensorFunc and AddTensorStream, in the order added. The layout is
// the one Writer produces: the same tensors give the same bytes.
type StreamWriter struct {
	*Writer
	streams []streamTensor
	snames  map[string]bool
}

type streamTensor struct {
	name     string
	dims     []uint64 // innermost-first, as in the file
	ggmlType uint32
	size     int64
	write    func(w io.Writer) error
}

// NewStreamWriter returns an empty StreamWriter.
func NewStreamWriter() *StreamWriter {
	return &StreamWriter{Writer: NewWriter(), snames: make(map[string]bool)}
}

// AddTensorStream appends a tensor of golem's element type dtype with an
// outermost-first shape whose bytes are produced, when the file is written,
// by write: it must write exactly the tensor's bytes to the io.Writer it is
// given (in as many calls as it likes), or return an error, which stops the
// file. write is called once each time the file is written.
func (s *StreamWriter) AddTensorStream(name string, shape []int, dtype graph.DType, write func(w io.Writer) error) error {
	id, err := GGMLTypeOf(dtype)
	if err != nil {
		return fmt.Errorf("gguf: writer: tensor %q: %w", name, err)
	}
	size, err := s.checkStream(name, shape, id)
	if err != nil {
		return fmt.Errorf("gguf: writer: tensor %q: %w", name, err)
	}
	if write == nil {
		return fmt.Errorf("gguf: writer: tensor %q: nil write function", name)
	}
	if s.snames == nil {
		s.snames = make(map[string]bool)
	}
	s.snames[name] = true
	dims := make([]uint64, len(shape))
	for i, d := range shape {
		dims[len(shape)-1-i] = uint64(d)
	}
	s.streams = append(s.streams, streamTensor{name: name, dims: dims, ggmlType: id, size: size, write: write})
	return nil
}

// AddTensorFunc appends a tensor whose bytes are produced, when the file is
// written, by fill, which is given a zeroed buffer of exactly the tensor's
// size. Only one such buffer exists at a time.
func (s *StreamWriter) AddTensorFunc(name string, shape []int, dtype graph.DType, fill func(dst []byte) error) error {
	if fill == nil {
		return fmt.Errorf("gguf: writer: tensor %q: nil fill function", name)
	}
	var size int64
	err := s.AddTensorStream(name, shape, dtype, func(w io.Writer) error {
		buf := make([]byte, size)
		if err := fill(buf); err != nil {
			return err
		}
		_, err := w.Write(buf)
		return err
	})
	if err == nil {
		size = s.streams[len(s.streams)-1].size
	}
	return err
}

// checkStream validates a streamed tensor's name, shape and type and
// returns its byte size.
func (s *StreamWriter) checkStream(name string, shape []int, ggmlType uint32) (int64, error) {
	switch {
	case name == "":
		return 0, errors.New("empty name")
	case len(name) > maxNameBytes:
		return 0, fmt.Errorf("name is %d bytes, the limit is %d", len(name), maxNameBytes)
	case s.snames[name] || (s.Writer != nil && s.Writer.names[name]):
		return 0, errors.New("duplicate tensor name")
	case len(shape) == 0 || len(shape) > MaxDims:
		return 0, fmt.Errorf("shape %v: must have 1..%d dimensions", shape, MaxDims)
	}
	for _, d := range shape {
		if d <= 0 {
			return 0, fmt.Errorf("shape %v: dimensions must be positive", shape)
		}
	}
	gt, err := checkGGMLType(ggmlType)
	if err != nil {
		return 0, err
	}
	return tensorBytes(shape, gt)
}

// countLimitWriter passes at most limit bytes on and counts what it is given.
type countLimitWriter struct {
	w     io.Writer
	n     int64
	limit int64
}

func (c *countLimitWriter) Write(b []byte) (int, error) {
	if c.n+int64(len(b)) > c.limit {
		return 0, fmt.Errorf("more than the tensor's %d bytes written", c.limit)
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// WriteTo writes the file to out and returns the number of bytes written.
func (s *StreamWriter) WriteTo(out io.Writer) (int64, error) {
	if s.Writer == nil {
		s.Writer = NewWriter()
	}
	w := s.Writer
	for _, t := range w.tensors {
		if s.snames[t.name] {
			return 0, fmt.Errorf("gguf: writer: tensor %q: duplicate tensor name", t.name)
		}
	}
	kvs, align, err := w.header()
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: out}
	e := &encoder{bw: bufio.NewWriterSize(cw, 1<<20)}
	e.u32(magic)
	e.u32(3)
	e.u64(uint64(len(w.tensors) + len(s.streams)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		e.value(kv.Value)
	}
	offset := int64(0)
	info := func(name string, dims []uint64, ggmlType uint32, size int64) {
		e.str(name)
		e.u32(uint32(len(dims)))
		for _, d := range dims {
			e.u64(d)
		}
		e.u32(ggmlType)
		e.u64(uint64(offset))
		offset = alignUp(offset+size, align)
	}
	for _, t := range w.tensors {
		info(t.name, t.dims, t.ggmlType, int64(len(t.data)))
	}
	for _, t := range s.streams {
		info(t.name, t.dims, t.ggmlType, t.size)
	}
	if e.err == nil {
		e.err = e.bw.Flush()
	}
	if len(w.tensors)+len(s.streams) > 0 {
		e.zeros(alignUp(cw.n, align) - cw.n)
	}
	for _, t := range w.tensors {
		e.write(t.data)
		e.zeros(alignUp(int64(len(t.data)), align) - int64(len(t.data)))
	}
	for _, t := range s.streams {
		if e.err != nil {
			break
		}
		lw := &countLimitWriter{w: e.bw, limit: t.size}
		if err := t.write(lw); err != nil {
			e.err = fmt.Errorf("tensor %q: %w", t.name, err)
			break
		}
		if lw.n != t.size {
			e.err = fmt.Errorf("tensor %q: %d bytes written, want %d", t.name, lw.n, t.size)
			break
		}
		e.zeros(alignUp(t.size, align) - t.size)
	}
	if e.err == nil {
		e.err = e.bw.Flush()
	}
	if e.err != nil {
		return cw.n, fmt.Errorf("gguf: writer: %w", e.err)
	}
	return cw.n, nil
}

// WriteFile writes the file to path, through a temporary file in the same
// directory that is renamed into place once complete.
func (s *StreamWriter) WriteFile(path string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gguf: writer: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("gguf: writer: %w", err)
	}
	if _, err = s.WriteTo(tmp); err != nil {
		return fmt.Errorf("%w (writing %s)", err, path)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("gguf: writer: %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("gguf: writer: %w", err)
	}
	return nil
}
