package gguf

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors name the file,
// and that whatever it accepts survives a write/parse round trip unchanged.
func FuzzParse(f *testing.F) {
	sample := writeBytes(f, sampleWriter(f))
	all := NewWriter()
	for _, kv := range allTypesValues(f) {
		all.AddKV(kv.Key, kv.Value)
	}
	all.SetAlignment(64)
	if err := all.AddRawTensor("q5k", []int{1, 256}, GGMLTypeQ5_K, seqBytes(176)); err != nil {
		f.Fatal(err)
	}
	allBytes := writeBytes(f, all)
	seeds := [][]byte{
		sample,
		allBytes,
		v1File(),
		writeBytes(f, NewWriter()),
		twoTensors("a", "b", 0, 32, 96),
		sample[:len(sample)/2],
		sample[:100],
		allBytes[:len(allBytes)-1],
		v1File()[:60],
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.gguf", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "gguf: fuzz.gguf: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkParsed(t, file)
		once := rewrite(t, file)
		if once == nil {
			return
		}
		again, err := Parse("again.gguf", once)
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		checkParsed(t, again)
		if len(again.KV) != len(file.KV) || len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("round trip changed counts: %d/%d entries, %d/%d tensors",
				len(file.KV), len(again.KV), len(file.Tensors), len(again.Tensors))
		}
		for i, ti := range file.Tensors {
			tj := again.Tensors[i]
			if ti.Name != tj.Name || ti.GGMLType != tj.GGMLType || ti.Size != tj.Size || !equalInts(ti.Shape, tj.Shape) {
				t.Fatalf("round trip changed tensor %q: %+v vs %+v", ti.Name, ti, tj)
			}
			a, _ := file.TensorData(ti)
			b, _ := again.TensorData(tj)
			if !bytes.Equal(a, b) {
				t.Fatalf("round trip changed the data of tensor %q", ti.Name)
			}
		}
		if twice := rewrite(t, again); !bytes.Equal(once, twice) {
			t.Fatalf("writing is not idempotent")
		}
	})
}

// checkParsed checks the invariants of a successfully parsed file.
func checkParsed(t *testing.T, f *File) {
	t.Helper()
	if f.Alignment <= 0 || f.Alignment&(f.Alignment-1) != 0 || f.DataOffset%f.Alignment != 0 {
		t.Fatalf("bad alignment %d or data offset %d", f.Alignment, f.DataOffset)
	}
	for _, kv := range f.KV {
		v, ok := f.Get(kv.Key)
		if !ok || v.Type != kv.Value.Type {
			t.Fatalf("Get(%q) disagrees with KV", kv.Key)
		}
		_ = v.Any()
	}
	for _, ti := range f.Tensors {
		if got, ok := f.Tensor(ti.Name); !ok || got != ti {
			t.Fatalf("Tensor(%q) disagrees with Tensors", ti.Name)
		}
		if len(ti.Shape) < 1 || len(ti.Shape) > MaxDims || ti.NumElements() <= 0 {
			t.Fatalf("tensor %q: bad shape %v", ti.Name, ti.Shape)
		}
		data, err := f.TensorData(ti)
		if err != nil || int64(len(data)) != ti.Size {
			t.Fatalf("tensor %q: data: %v (%d bytes, want %d)", ti.Name, err, len(data), ti.Size)
		}
		_, _ = ti.DType()
	}
}

// rewrite writes f back with the Writer; nil when f has a tensor name the
// writer refuses (longer than ggml allows), which the reader accepts.
func rewrite(t *testing.T, f *File) []byte {
	t.Helper()
	w := NewWriter()
	w.SetAlignment(f.Alignment)
	for _, kv := range f.KV {
		w.AddKV(kv.Key, kv.Value)
	}
	for _, ti := range f.Tensors {
		if len(ti.Name) > maxNameBytes {
			return nil
		}
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddRawTensor(ti.Name, ti.Shape, ti.GGMLType, data); err != nil {
			t.Fatalf("writer rejects a parsed tensor: %v", err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatalf("writer rejects a parsed file: %v", err)
	}
	return buf.Bytes()
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
