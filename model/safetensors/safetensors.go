// Package safetensors reads Hugging Face checkpoints: .safetensors files
// (memory-mapped, strictly validated) and model folders with config.json,
// tokenizer.json and one or more safetensors shards. A folder's tensors are
// presented under llama.cpp's GGUF names with a llama.Config, so golem can
// run a Hugging Face checkpoint directly or convert it to GGUF.
//
// A .safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON mapping each tensor name to its dtype, shape and [begin, end) byte
// offsets in the data section that follows (plus an optional
// "__metadata__" map of strings), and the data section itself.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/mmap"
)

// MaxHeaderBytes is the largest JSON header accepted, as in the reference
// implementation (100 MB).
const MaxHeaderBytes = 100_000_000

// metadataKey is the header entry holding free-form string metadata.
const metadataKey = "__metadata__"

// dtypeSizes gives the element size in bytes of every dtype the
// safetensors format defines. golem computes with F32, F16 and BF16; the
// others are parsed (so their offsets are checked) but cannot be read.
var dtypeSizes = map[string]int64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// golemDTypes maps the dtypes golem can use to its element types.
var golemDTypes = map[string]graph.DType{"F32": graph.F32, "F16": graph.F16, "BF16": graph.BF16}

// Tensor describes one tensor of a safetensors file.
type Tensor struct {
	Name      string
	DTypeName string // as in the file: "BF16", "F32", "I64", ...
	Shape     []int  // outermost-first, as in the file
	Offset    int64  // start, relative to the data section
	Size      int64  // bytes
}

// NumElements returns the number of elements of t.
func (t *Tensor) NumElements() int64 {
	return graph.Shape(t.Shape).NumElements()
}

// DType returns golem's element type for t, or an error naming the tensor
// when its dtype is not F32, F16 or BF16.
func (t *Tensor) DType() (graph.DType, error) {
	d, ok := golemDTypes[t.DTypeName]
	if !ok {
		return 0, fmt.Errorf("safetensors: tensor %q: dtype %s is not supported (supported: BF16, F16, F32)", t.Name, t.DTypeName)
	}
	return d, nil
}

// File is a parsed safetensors file.
type File struct {
	Path       string            // as given to Open or Parse
	Metadata   map[string]string // the header's __metadata__ (nil when absent)
	Tensors    []*Tensor         // sorted by offset
	DataOffset int64             // absolute offset of the data section

	data    []byte
	mapping *mmap.File // nil for a File from Parse
	closed  bool
	index   map[string]*Tensor
}

// Open maps the file at path read-only and parses its header.
func Open(path string) (*File, error) {
	f, m, err := mmap.OpenWith("safetensors", path, Parse)
	if err != nil {
		return nil, err
	}
	f.mapping = m
	return f, nil
}

// Parse parses a safetensors file held in data; name is used in messages.
// The tensors' data are slices of data, which must not change while f is
// used.
func Parse(name string, data []byte) (*File, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: %s: "+format, append([]any{name}, args...)...)
	}
	if len(data) < 8 {
		return nil, errf("file of %d bytes is shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > MaxHeaderBytes {
		return nil, errf("header length %d exceeds the limit of %d bytes", n, MaxHeaderBytes)
	}
	if n > uint64(len(data)-8) {
		return nil, errf("header length %d runs past the end of the file (%d bytes)", n, len(data))
	}
	header := data[8 : 8+n]
	f := &File{Path: name, DataOffset: int64(8 + n), data: data, index: map[string]*Tensor{}}
	entries, err := splitHeader(header)
	if err != nil {
		return nil, errf("header: %w", err)
	}
	dataLen := int64(len(data)) - f.DataOffset
	for _, e := range entries {
		if e.key == metadataKey {
			if err := json.Unmarshal(e.raw, &f.Metadata); err != nil {
				return nil, errf("header: %s: want an object of strings: %w", metadataKey, err)
			}
			continue
		}
		t, err := parseTensor(e.key, e.raw, dataLen)
		if err != nil {
			return nil, errf("tensor %q: %w", e.key, err)
		}
		f.Tensors = append(f.Tensors, t)
		f.index[t.Name] = t
	}
	// The tensors must tile the data section: no overlap, no gap.
	sort.SliceStable(f.Tensors, func(i, j int) bool {
		a, b := f.Tensors[i], f.Tensors[j]
		if a.Offset != b.Offset {
			return a.Offset < b.Offset
		}
		return a.Size < b.Size
	})
	end := int64(0)
	for i, t := range f.Tensors {
		if t.Offset < end {
			return nil, errf("tensor %q: data [%d, %d) overlaps tensor %q", t.Name, t.Offset, t.Offset+t.Size, f.Tensors[i-1].Name)
		}
		if t.Offset > end {
			return nil, errf("tensor %q: data starts at %d, leaving a gap after byte %d", t.Name, t.Offset, end)
		}
		end = t.Offset + t.Size
	}
	if end != dataLen {
		return nil, errf("tensors cover %d bytes of the %d-byte data section", end, dataLen)
	}
	return f, nil
}

type headerEntry struct {
	key string
	raw json.RawMessage
}

// splitHeader reads the header's top-level object, rejecting anything but
// one JSON object with unique keys.
func splitHeader(header []byte) ([]headerEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	var out []headerEntry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("unexpected %v", tok)
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate entry %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("entry %q: %w", key, err)
		}
		out = append(out, headerEntry{key, raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	// Only padding may follow the object (writers pad with spaces).
	if rest := header[dec.InputOffset():]; len(bytes.Trim(rest, " \t\r\n")) != 0 {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

type rawTensor struct {
	DType       *string       `json:"dtype"`
	Shape       []json.Number `json:"shape"`
	DataOffsets []json.Number `json:"data_offsets"`
}

func parseTensor(name string, raw json.RawMessage, dataLen int64) (*Tensor, error) {
	if name == "" {
		return nil, errors.New("empty name")
	}
	var r rawTensor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("bad entry: %w", err)
	}
	if r.DType == nil || r.Shape == nil || r.DataOffsets == nil {
		return nil, errors.New("entry needs dtype, shape and data_offsets")
	}
	size, ok := dtypeSizes[*r.DType]
	if !ok {
		return nil, fmt.Errorf("unknown dtype %q", *r.DType)
	}
	t := &Tensor{Name: name, DTypeName: *r.DType, Shape: make([]int, len(r.Shape))}
	count := uint64(1)
	for i, d := range r.Shape {
		v, err := strconv.ParseUint(d.String(), 10, 63)
		if err != nil {
			return nil, fmt.Errorf("shape %v: dimension %d is not a valid size", r.Shape, i)
		}
		t.Shape[i] = int(v)
		if v != 0 && count > (1<<62)/v {
			return nil, fmt.Errorf("shape %v overflows", r.Shape)
		}
		count *= v
	}
	if count > (1<<62)/uint64(size) {
		return nil, fmt.Errorf("shape %v overflows", r.Shape)
	}
	if len(r.DataOffsets) != 2 {
		return nil, fmt.Errorf("data_offsets has %d values, want 2", len(r.DataOffsets))
	}
	var off [2]int64
	for i, o := range r.DataOffsets {
		v, err := strconv.ParseInt(o.String(), 10, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("data_offsets %v: %q is not a valid offset", r.DataOffsets, o)
		}
		off[i] = v
	}
	if off[0] > off[1] {
		return nil, fmt.Errorf("data_offsets [%d, %d] are reversed", off[0], off[1])
	}
	if off[1] > dataLen {
		return nil, fmt.Errorf("data_offsets [%d, %d] run past the %d-byte data section", off[0], off[1], dataLen)
	}
	want := int64(count) * size
	if off[1]-off[0] != want {
		return nil, fmt.Errorf("data_offsets [%d, %d] hold %d bytes, but %s %v needs %d", off[0], off[1], off[1]-off[0], t.DTypeName, t.Shape, want)
	}
	t.Offset, t.Size = off[0], want
	return t, nil
}

// Tensor returns the tensor of the given name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.index[name]
	return t, ok
}

// TensorData returns the bytes of t, a read-only slice of the file's
// mapping (no copy), valid until Close.
func (f *File) TensorData(t *Tensor) ([]byte, error) {
	if t == nil {
		return nil, fmt.Errorf("safetensors: %s: nil tensor", f.Path)
	}
	if f.closed {
		return nil, fmt.Errorf("safetensors: %s: tensor %q: file is closed", f.Path, t.Name)
	}
	if got, ok := f.index[t.Name]; !ok || got != t {
		return nil, fmt.Errorf("safetensors: %s: tensor %q is not from this file", f.Path, t.Name)
	}
	start := f.DataOffset + t.Offset
	end := start + t.Size
	return f.data[start:end:end], nil
}

// Close releases the file mapping. Tensor data slices must not be used
// afterwards. Close is idempotent.
func (f *File) Close() error {
	f.data, f.closed = nil, true
	if err := f.mapping.Close(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
