package gguf

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/safefile"
)

// maxNameBytes bounds tensor names: ggml keeps names in a 64-byte buffer
// with a terminating NUL (GGML_MAX_NAME).
const maxNameBytes = 63

// Writer builds a GGUF version 3 file: metadata in the order added, tensor
// infos and data in the order added, each tensor's data padded with zeros
// to the alignment, the layout llama.cpp writes and reads.
//
// A tensor's data is either given when it is added (AddTensor,
// AddRawTensor) or produced while the file is written (AddTensorFunc,
// AddTensorStream), one tensor after another, so that a file larger than
// memory can be built. The two kinds may be mixed; how a tensor's data is
// supplied does not change the bytes written.
type Writer struct {
	alignment int64 // 0: not set
	kvs       []KV
	tensors   []writerTensor
	names     map[string]bool
}

type writerTensor struct {
	name     string
	dims     []uint64 // innermost-first, as in the file
	ggmlType uint32
	size     int64                   // bytes of data
	data     []byte                  // the data, when write is nil
	write    func(w io.Writer) error // produces the data while the file is written
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{names: make(map[string]bool)}
}

// SetAlignment sets the tensor data alignment (a power of two; the default
// is 32). A non-default alignment is recorded as general.alignment unless
// that key was added explicitly, in which case the two must agree.
func (w *Writer) SetAlignment(n int64) { w.alignment = n }

// AddKV appends a metadata entry. Duplicate keys and invalid values are
// reported by WriteTo.
func (w *Writer) AddKV(key string, v Value) { w.kvs = append(w.kvs, KV{Key: key, Value: v}) }

// AddString appends a string entry.
func (w *Writer) AddString(key, s string) { w.AddKV(key, StringValue(s)) }

// AddUint32 appends a uint32 entry.
func (w *Writer) AddUint32(key string, x uint32) { w.AddKV(key, Uint32Value(x)) }

// AddInt32 appends an int32 entry.
func (w *Writer) AddInt32(key string, x int32) { w.AddKV(key, Int32Value(x)) }

// AddFloat32 appends a float32 entry.
func (w *Writer) AddFloat32(key string, x float32) { w.AddKV(key, Float32Value(x)) }

// AddBool appends a bool entry.
func (w *Writer) AddBool(key string, x bool) { w.AddKV(key, BoolValue(x)) }

// AddUint64 appends a uint64 entry.
func (w *Writer) AddUint64(key string, x uint64) { w.AddKV(key, Uint64Value(x)) }

// AddStrings appends an array of strings.
func (w *Writer) AddStrings(key string, s []string) { w.AddKV(key, StringsValue(s)) }

// AddFloat32s appends an array of float32.
func (w *Writer) AddFloat32s(key string, s []float32) { w.AddKV(key, Float32sValue(s)) }

// AddInt32s appends an array of int32.
func (w *Writer) AddInt32s(key string, s []int32) { w.AddKV(key, Int32sValue(s)) }

// AddTensor appends a tensor of golem's element type dtype with an
// outermost-first shape. data must hold exactly the tensor's bytes; it is
// not copied and must not change until WriteTo returns.
func (w *Writer) AddTensor(name string, shape []int, dtype graph.DType, data []byte) error {
	id, err := GGMLTypeOf(dtype)
	if err != nil {
		return fmt.Errorf("gguf: writer: tensor %q: %w", name, err)
	}
	return w.AddRawTensor(name, shape, id, data)
}

// AddRawTensor is AddTensor for any ggml type id known to this package,
// including types golem cannot compute with (for copying tensors through).
func (w *Writer) AddRawTensor(name string, shape []int, ggmlType uint32, data []byte) error {
	return w.add(writerTensor{name: name, ggmlType: ggmlType, data: data}, shape)
}

// AddTensorStream appends a tensor of golem's element type dtype with an
// outermost-first shape whose bytes are produced, when the file is written,
// by write: it must write exactly the tensor's bytes to the io.Writer it is
// given (in as many calls as it likes), or return an error, which stops the
// file. write is called once each time the file is written.
func (w *Writer) AddTensorStream(name string, shape []int, dtype graph.DType, write func(w io.Writer) error) error {
	id, err := GGMLTypeOf(dtype)
	if err != nil {
		return fmt.Errorf("gguf: writer: tensor %q: %w", name, err)
	}
	if write == nil {
		return fmt.Errorf("gguf: writer: tensor %q: nil write function", name)
	}
	return w.add(writerTensor{name: name, ggmlType: id, write: write}, shape)
}

// AddTensorFunc appends a tensor whose bytes are produced, when the file is
// written, by fill, which is given a zeroed buffer of exactly the tensor's
// size. Only one such buffer exists at a time.
func (w *Writer) AddTensorFunc(name string, shape []int, dtype graph.DType, fill func(dst []byte) error) error {
	if fill == nil {
		return fmt.Errorf("gguf: writer: tensor %q: nil fill function", name)
	}
	var size int64
	err := w.AddTensorStream(name, shape, dtype, func(out io.Writer) error {
		buf := make([]byte, size)
		if err := fill(buf); err != nil {
			return err
		}
		_, err := out.Write(buf)
		return err
	})
	if err == nil {
		size = w.tensors[len(w.tensors)-1].size
	}
	return err
}

// add checks t against shape (and its data, when t has no write function),
// fills in its dims and size and appends it.
func (w *Writer) add(t writerTensor, shape []int) error {
	size, err := w.checkTensor(t.name, shape, t.ggmlType)
	if err == nil && t.write == nil && int64(len(t.data)) != size {
		err = fmt.Errorf("shape %v of %s needs %d bytes, got %d", shape, ggmlTypes[t.ggmlType].name, size, len(t.data))
	}
	if err != nil {
		return fmt.Errorf("gguf: writer: tensor %q: %w", t.name, err)
	}
	if w.names == nil {
		w.names = make(map[string]bool)
	}
	w.names[t.name] = true
	t.size = size
	t.dims = make([]uint64, len(shape))
	for i, d := range shape {
		t.dims[len(shape)-1-i] = uint64(d)
	}
	w.tensors = append(w.tensors, t)
	return nil
}

// checkTensor validates a tensor's name, shape and type and returns its
// byte size.
func (w *Writer) checkTensor(name string, shape []int, ggmlType uint32) (int64, error) {
	switch {
	case name == "":
		return 0, errors.New("empty name")
	case len(name) > maxNameBytes:
		return 0, fmt.Errorf("name is %d bytes, the limit is %d", len(name), maxNameBytes)
	case w.names[name]:
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

// header returns the entries to write, general.alignment included when
// needed, and the alignment, after checking keys and values.
func (w *Writer) header() ([]KV, int64, error) {
	kvs := w.kvs
	seen := make(map[string]bool, len(kvs))
	align := int64(DefaultAlignment)
	explicit := false
	for i, kv := range kvs {
		if kv.Key == "" {
			return nil, 0, fmt.Errorf("gguf: writer: metadata entry #%d: empty key", i)
		}
		if seen[kv.Key] {
			return nil, 0, fmt.Errorf("gguf: writer: key %q: duplicate key", kv.Key)
		}
		seen[kv.Key] = true
		if err := kv.Value.validate(0); err != nil {
			return nil, 0, fmt.Errorf("gguf: writer: key %q: %w", kv.Key, err)
		}
		if kv.Key == KeyAlignment {
			if kv.Value.Type != Uint32 {
				return nil, 0, fmt.Errorf("gguf: writer: key %q: has type %s, want uint32", kv.Key, kv.Value.Type)
			}
			align = int64(kv.Value.num)
			explicit = true
		}
	}
	if w.alignment != 0 {
		if explicit && w.alignment != align {
			return nil, 0, fmt.Errorf("gguf: writer: SetAlignment(%d) disagrees with key %q = %d", w.alignment, KeyAlignment, align)
		}
		align = w.alignment
	}
	if align <= 0 || align&(align-1) != 0 || align > math.MaxUint32 {
		return nil, 0, fmt.Errorf("gguf: writer: alignment %d is not a power of two that fits in uint32", align)
	}
	if !explicit && align != DefaultAlignment {
		kvs = append(kvs[:len(kvs):len(kvs)], KV{Key: KeyAlignment, Value: Uint32Value(uint32(align))})
	}
	return kvs, align, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// limitWriter passes at most limit bytes on and counts what it is given.
type limitWriter struct {
	w     io.Writer
	n     int64
	limit int64
}

func (c *limitWriter) Write(b []byte) (int, error) {
	if c.n+int64(len(b)) > c.limit {
		return 0, fmt.Errorf("more than the tensor's %d bytes written", c.limit)
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// encoder writes little-endian GGUF fields, keeping the first error.
type encoder struct {
	bw  *bufio.Writer
	err error
	buf [8]byte
}

func (e *encoder) write(b []byte) {
	if e.err == nil {
		_, e.err = e.bw.Write(b)
	}
}

func (e *encoder) u8(x uint8) { e.buf[0] = x; e.write(e.buf[:1]) }

func (e *encoder) u16(x uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], x)
	e.write(e.buf[:2])
}

func (e *encoder) u32(x uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], x)
	e.write(e.buf[:4])
}

func (e *encoder) u64(x uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], x)
	e.write(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		_, e.err = e.bw.WriteString(s)
	}
}

func (e *encoder) zeros(n int64) {
	var z [64]byte
	for n > 0 && e.err == nil {
		k := min(n, int64(len(z)))
		e.write(z[:k])
		n -= k
	}
}

// value writes v's payload (not its type tag).
func (e *encoder) value(v Value) {
	switch v.Type {
	case Uint8, Int8, Bool:
		e.u8(uint8(v.num))
	case Uint16, Int16:
		e.u16(uint16(v.num))
	case Uint32, Int32, Float32:
		e.u32(uint32(v.num))
	case Uint64, Int64, Float64:
		e.u64(v.num)
	case String:
		e.str(v.str)
	case Array:
		e.u32(uint32(v.arr.elem))
		e.u64(uint64(v.arr.len()))
		switch s := v.arr.data.(type) {
		case []uint8:
			e.write(s)
		case []int8:
			for _, x := range s {
				e.u8(uint8(x))
			}
		case []bool:
			for _, x := range s {
				if x {
					e.u8(1)
				} else {
					e.u8(0)
				}
			}
		case []uint16:
			for _, x := range s {
				e.u16(x)
			}
		case []int16:
			for _, x := range s {
				e.u16(uint16(x))
			}
		case []uint32:
			for _, x := range s {
				e.u32(x)
			}
		case []int32:
			for _, x := range s {
				e.u32(uint32(x))
			}
		case []float32:
			for _, x := range s {
				e.u32(math.Float32bits(x))
			}
		case []uint64:
			for _, x := range s {
				e.u64(x)
			}
		case []int64:
			for _, x := range s {
				e.u64(uint64(x))
			}
		case []float64:
			for _, x := range s {
				e.u64(math.Float64bits(x))
			}
		case []string:
			for _, x := range s {
				e.str(x)
			}
		case []Value:
			for _, x := range s {
				e.value(x)
			}
		}
	}
}

// WriteTo writes the file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	kvs, align, err := w.header()
	if err != nil {
		return 0, err
	}
	cw := &countingWriter{w: out}
	e := &encoder{bw: bufio.NewWriterSize(cw, 1<<16)}
	e.u32(magic)
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Value.Type))
		e.value(kv.Value)
	}
	offset := int64(0)
	for _, t := range w.tensors {
		e.str(t.name)
		e.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			e.u64(d)
		}
		e.u32(t.ggmlType)
		e.u64(uint64(offset))
		offset = alignUp(offset+t.size, align)
	}
	if e.err == nil {
		e.err = e.bw.Flush()
	}
	if len(w.tensors) > 0 {
		e.zeros(alignUp(cw.n, align) - cw.n)
	}
	for _, t := range w.tensors {
		e.tensorData(t)
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

// tensorData writes t's data, produced by t.write when t has it.
func (e *encoder) tensorData(t writerTensor) {
	if e.err != nil {
		return
	}
	if t.write == nil {
		e.write(t.data)
		return
	}
	lw := &limitWriter{w: e.bw, limit: t.size}
	if err := t.write(lw); err != nil {
		e.err = fmt.Errorf("tensor %q: %w", t.name, err)
	} else if lw.n != t.size {
		e.err = fmt.Errorf("tensor %q: %d bytes written, want %d", t.name, lw.n, t.size)
	}
}

// WriteFile writes the file to path, through a temporary file in the same
// directory that is renamed into place once complete. An existing path is
// refused (see internal/safefile; commands that replace files on --force
// write through safefile.Create and WriteTo).
func (w *Writer) WriteFile(path string) error {
	return w.Save(context.Background(), path, false)
}

// Save writes the file to path like WriteFile, replacing an existing
// regular file when force is set; cancelling ctx stops the write and
// removes the temporary file.
func (w *Writer) Save(ctx context.Context, path string, force bool) error {
	err := safefile.Write(ctx, path, safefile.Options{Force: force}, func(f io.Writer) error {
		_, err := w.WriteTo(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("gguf: writer: %w", err)
	}
	return nil
}
