package safetensors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/golem-llm/golem/internal/safefile"
)

// WriteTensor is a tensor to write: its name, safetensors dtype ("F32",
// "BF16", ...), outermost-first shape and little-endian bytes.
type WriteTensor struct {
	Name  string
	DType string
	Shape []int
	Data  []byte
}

// Encode writes a safetensors file to out: the tensors' data in the order
// given (put the wider element types first to keep every tensor aligned),
// the header padded with spaces to a multiple of 8 bytes.
func Encode(out io.Writer, tensors []WriteTensor, metadata map[string]string) error {
	header := map[string]any{}
	if metadata != nil {
		header[metadataKey] = metadata
	}
	off := int64(0)
	for _, t := range tensors {
		size, ok := dtypeSizes[t.DType]
		if !ok {
			return fmt.Errorf("safetensors: write: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		if _, dup := header[t.Name]; dup || t.Name == "" {
			return fmt.Errorf("safetensors: write: tensor %q: empty or duplicate name", t.Name)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: write: tensor %q: negative dimension in %v", t.Name, t.Shape)
			}
			n *= int64(d)
		}
		if int64(len(t.Data)) != n*size {
			return fmt.Errorf("safetensors: write: tensor %q: %s %v needs %d bytes, got %d", t.Name, t.DType, t.Shape, n*size, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[t.Name] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": []int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, bytes.Repeat([]byte{' '}, pad)...)
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(js)))
	if _, err := out.Write(n[:]); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	if _, err := out.Write(js); err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for _, t := range tensors {
		if _, err := out.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: write: %w", err)
		}
	}
	return nil
}

// WriteFile writes a safetensors file to path (see Encode), through a
// temporary file renamed into place. An existing path is refused.
func WriteFile(path string, tensors []WriteTensor, metadata map[string]string) error {
	err := safefile.Write(context.Background(), path, safefile.Options{}, func(w io.Writer) error {
		return Encode(w, tensors, metadata)
	})
	if err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	return nil
}
