// Package gguf reads and writes GGUF model files (versions 1, 2 and 3 are
// read, version 3 is written).
//
// The reader is strict: every count, length, offset and size is checked
// against the file before it is used, so a malformed or truncated file gives
// an error naming the file and the key or tensor at fault, never a panic or
// an allocation larger than the file. Tensor dimensions, which GGUF stores
// innermost-first, are converted once to golem's outermost-first shapes.
// Open maps the file read-only; tensor data are slices of that mapping.
package gguf

import (
	"fmt"
	"math"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/mmap"
)

// DefaultAlignment is the alignment of tensor data when a file has no
// general.alignment key.
const DefaultAlignment = 32

// MaxDims is the largest number of dimensions a GGUF tensor may have (ggml's
// GGML_MAX_DIMS).
const MaxDims = 4

// KeyAlignment is the metadata key that sets the tensor data alignment.
const KeyAlignment = "general.alignment"

// File is a parsed GGUF file.
type File struct {
	Path       string        // as given to Open/Parse
	Version    uint32        // GGUF version: 1, 2 or 3
	Alignment  int64         // alignment of tensor data, from general.alignment or DefaultAlignment
	KV         []KV          // metadata in file order
	Tensors    []*TensorInfo // tensor table in file order
	DataOffset int64         // absolute offset of the tensor data section

	data    []byte
	mapping *mmap.File // nil for a File from Parse
	closed  bool
	kvIndex map[string]int
	tensors map[string]*TensorInfo
}

// KV is one metadata key/value pair.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of a GGUF file.
type TensorInfo struct {
	Name     string
	Shape    []int  // outermost-first (the file's dims reversed)
	GGMLType uint32 // ggml type id
	Offset   int64  // relative to File.DataOffset
	Size     int64  // bytes
}

// NumElements returns the number of elements of t.
func (t *TensorInfo) NumElements() int64 {
	return graph.Shape(t.Shape).NumElements()
}

// DType returns golem's element type for t, or an error naming the tensor
// and its ggml type when golem cannot compute with that type.
func (t *TensorInfo) DType() (graph.DType, error) {
	d, ok := DTypeOf(t.GGMLType)
	if !ok {
		return 0, fmt.Errorf("gguf: tensor %q: ggml type %s (%d) is not supported by golem",
			t.Name, GGMLTypeName(t.GGMLType), t.GGMLType)
	}
	return d, nil
}

// Close releases the file mapping. Tensor data slices obtained from the file
// must not be used afterwards; metadata values stay valid. Close is
// idempotent.
func (f *File) Close() error {
	f.data, f.closed = nil, true
	if err := f.mapping.Close(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// Get returns the value of a metadata key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// lookup returns the value of key or an error naming the file and key.
func (f *File) lookup(key string) (Value, error) {
	v, ok := f.Get(key)
	if !ok {
		return Value{}, fmt.Errorf("gguf: %s: key %q: missing", f.Path, key)
	}
	return v, nil
}

func (f *File) typeErr(key string, v Value, want string) error {
	got := v.Type.String()
	if et, _, ok := v.Array(); ok {
		got = "array of " + et.String()
	}
	return fmt.Errorf("gguf: %s: key %q: has type %s, want %s", f.Path, key, got, want)
}

// GetString returns a string value.
func (f *File) GetString(key string) (string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return "", err
	}
	s, ok := v.Str()
	if !ok {
		return "", f.typeErr(key, v, "string")
	}
	return s, nil
}

// GetUint returns a non-negative integer value of any width.
func (f *File) GetUint(key string) (uint64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	x, ok := v.Uint()
	if !ok {
		if _, isInt := v.Int(); isInt {
			return 0, fmt.Errorf("gguf: %s: key %q: value %v is negative", f.Path, key, v.Any())
		}
		return 0, f.typeErr(key, v, "an unsigned integer")
	}
	return x, nil
}

// GetInt returns an integer value of any width that fits in int64.
func (f *File) GetInt(key string) (int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	x, ok := v.Int()
	if !ok {
		if v.Type == Uint64 {
			return 0, fmt.Errorf("gguf: %s: key %q: value %d overflows int64", f.Path, key, v.num)
		}
		return 0, f.typeErr(key, v, "an integer")
	}
	return x, nil
}

// GetIntIn returns an integer value of any width and signedness as an int,
// or an error naming the file, the key, the value and the accepted range
// when the value lies outside [lo, hi]. It is the one checked conversion of
// a GGUF integer to int: no value is truncated or wraps around.
func (f *File) GetIntIn(key string, lo, hi int) (int, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	var in bool
	switch {
	case v.Type.isSigned():
		x := int64(v.num)
		in = x >= int64(lo) && x <= int64(hi)
	case v.Type.isUnsigned():
		in = (lo <= 0 || v.num >= uint64(lo)) && hi >= 0 && v.num <= uint64(hi)
	default:
		return 0, f.typeErr(key, v, "an integer")
	}
	if !in {
		return 0, fmt.Errorf("gguf: %s: %s = %v: want %d..%d", f.Path, key, v.Any(), lo, hi)
	}
	return int(int64(v.num)), nil
}

// GetFloat returns a float or integer value as float64.
func (f *File) GetFloat(key string) (float64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	x, ok := v.Float()
	if !ok {
		return 0, f.typeErr(key, v, "a number")
	}
	return x, nil
}

// GetBool returns a bool value.
func (f *File) GetBool(key string) (bool, error) {
	v, err := f.lookup(key)
	if err != nil {
		return false, err
	}
	x, ok := v.Bool()
	if !ok {
		return false, f.typeErr(key, v, "bool")
	}
	return x, nil
}

// GetStrings returns an array of strings.
func (f *File) GetStrings(key string) ([]string, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	x, ok := v.Strings()
	if !ok {
		return nil, f.typeErr(key, v, "array of string")
	}
	return x, nil
}

// Architecture returns general.architecture, or "" when it is missing or not
// a string.
func (f *File) Architecture() string {
	v, ok := f.Get("general.architecture")
	if !ok {
		return ""
	}
	s, _ := v.Str()
	return s
}

// Tensor returns the tensor of the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	t, ok := f.tensors[name]
	return t, ok
}

// TensorData returns the bytes of t, a slice of the file's mapping (no copy).
// The slice is read-only and valid until Close.
func (f *File) TensorData(t *TensorInfo) ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("gguf: %s: nil tensor", f.Path)
	}
	if f.closed {
		return nil, fmt.Errorf("gguf: %s: tensor %q: file is closed", f.Path, t.Name)
	}
	if t.Offset < 0 || t.Size < 0 || f.DataOffset > math.MaxInt64-t.Offset {
		return nil, fmt.Errorf("gguf: %s: tensor %q: bad offset %d or size %d", f.Path, t.Name, t.Offset, t.Size)
	}
	start := f.DataOffset + t.Offset
	if start > int64(len(f.data)) || t.Size > int64(len(f.data))-start {
		return nil, fmt.Errorf("gguf: %s: tensor %q: data [%d, %d) lies past the end of the file (%d bytes)",
			f.Path, t.Name, start, start+t.Size, len(f.data))
	}
	end := start + t.Size
	return f.data[start:end:end], nil
}
