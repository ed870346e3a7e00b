// Package gguftest writes altered copies of GGUF files, for tests of how
// golem refuses malformed models: a metadata value of another type or out
// of range, a key or tensor removed.
package gguftest

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/model/gguf"
)

// Edit says how Rewrite changes a file.
type Edit struct {
	// Set replaces the values of these keys (in place) or adds them.
	Set map[string]gguf.Value
	// Drop removes these keys.
	Drop []string
	// DropTensor, if set, removes the tensors for which it returns true.
	DropTensor func(name string) bool
	// Tensor, if set, returns the data to write for a tensor in place of
	// its data in the file (same size).
	Tensor func(name string, data []byte) []byte
}

// Rewrite writes a copy of the GGUF file src changed by e to a new file in
// t.TempDir() and returns its path. The copy keeps src's alignment, key
// order and tensor order.
func Rewrite(t testing.TB, src string, e Edit) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatalf("gguftest: %v", err)
	}
	defer f.Close()
	drop := map[string]bool{}
	for _, k := range e.Drop {
		drop[k] = true
	}
	w := gguf.NewWriter()
	w.SetAlignment(f.Alignment)
	set := map[string]bool{}
	for _, kv := range f.KV {
		if drop[kv.Key] {
			continue
		}
		v := kv.Value
		if nv, ok := e.Set[kv.Key]; ok {
			v, set[kv.Key] = nv, true
		}
		w.AddKV(kv.Key, v)
	}
	for k, v := range e.Set {
		if !set[k] {
			w.AddKV(k, v)
		}
	}
	for _, ti := range f.Tensors {
		if e.DropTensor != nil && e.DropTensor(ti.Name) {
			continue
		}
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatalf("gguftest: %v", err)
		}
		if e.Tensor != nil {
			data = e.Tensor(ti.Name, data)
		}
		if err := w.AddRawTensor(ti.Name, ti.Shape, ti.GGMLType, data); err != nil {
			t.Fatalf("gguftest: %v", err)
		}
	}
	out := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := w.WriteFile(out); err != nil {
		t.Fatalf("gguftest: %v", err)
	}
	return out
}

// Tensors returns an Edit.Tensor function that applies edit functions by
// tensor name, each to a copy of that tensor's data; other tensors are
// unchanged.
func Tensors(edits map[string]func(data []byte)) func(name string, data []byte) []byte {
	return func(name string, data []byte) []byte {
		edit, ok := edits[name]
		if !ok {
			return data
		}
		data = append([]byte(nil), data...)
		edit(data)
		return data
	}
}

// SetF32 returns a tensor edit that stores v at element i of an F32 tensor.
func SetF32(i int, v float32) func(data []byte) {
	return func(data []byte) {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
}
