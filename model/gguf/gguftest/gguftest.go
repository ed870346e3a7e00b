// Package gguftest writes altered copies of GGUF files for tests: a real
// model with one metadata value or one weight changed (a NaN epsilon, an
// Inf in output.weight) exercises the paths that must refuse or report it.
package gguftest

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/golem-llm/golem/model/gguf"
)

// Edit says what a copy changes. Keys and tensors it does not name are
// copied unchanged.
type Edit struct {
	// KV replaces the values of metadata keys (a key the file lacks is
	// added).
	KV map[string]gguf.Value
	// Tensors changes the bytes of tensors: each function gets a copy of
	// the named tensor's data, in the file's layout, to modify in place.
	Tensors map[string]func(data []byte)
}

// Copy writes the GGUF file at src, altered by e, into t.TempDir() and
// returns the copy's path. It fails the test when a tensor e names is not
// in the file.
func Copy(t testing.TB, src string, e Edit) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatalf("gguftest: %v", err)
	}
	defer f.Close()
	w := gguf.NewWriter()
	w.SetAlignment(f.Alignment)
	done := map[string]bool{}
	for _, kv := range f.KV {
		if kv.Key == gguf.KeyAlignment {
			continue
		}
		v := kv.Value
		if nv, ok := e.KV[kv.Key]; ok {
			v, done[kv.Key] = nv, true
		}
		w.AddKV(kv.Key, v)
	}
	for k, v := range e.KV {
		if !done[k] {
			w.AddKV(k, v)
		}
	}
	for _, ti := range f.Tensors {
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatalf("gguftest: %v", err)
		}
		if edit, ok := e.Tensors[ti.Name]; ok {
			data = append([]byte(nil), data...)
			edit(data)
			done[ti.Name] = true
		}
		if err := w.AddRawTensor(ti.Name, ti.Shape, ti.GGMLType, data); err != nil {
			t.Fatalf("gguftest: %v", err)
		}
	}
	for name := range e.Tensors {
		if !done[name] {
			t.Fatalf("gguftest: %s has no tensor %q", src, name)
		}
	}
	out := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := w.WriteFile(out); err != nil {
		t.Fatalf("gguftest: %v", err)
	}
	return out
}

// SetF32 returns a tensor edit that stores v at element i of an F32 tensor.
func SetF32(i int, v float32) func(data []byte) {
	return func(data []byte) {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
}
