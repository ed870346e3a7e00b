package gguf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/golem-llm/golem/graph"
)

// maxFuzzInput bounds the inputs FuzzParse looks at. The fuzzer minimises
// every new input that widens coverage with O(n²) runs, reporting 0 execs/s
// meanwhile: seconds for a kilobyte. The parser's paths do not need large
// files, so the seeds stay under this size and larger inputs are skipped.
const maxFuzzInput = 512

// FuzzParse checks that Parse never panics, that its errors name the file,
// and that whatever it accepts survives a write/parse round trip unchanged.
func FuzzParse(f *testing.F) {
	// Small seeds, together covering every value type, v1, v3, the default
	// and another alignment, quantized and removed-from-golem tensor types.
	small := NewWriter()
	small.AddString("general.architecture", "llama")
	small.AddUint32("llama.block_count", 2)
	if err := small.AddTensor("norm", []int{3}, graph.F32, f32Bytes(1, 2, 3)); err != nil {
		f.Fatal(err)
	}
	if err := small.AddTensor("q", []int{1, 32}, graph.Q8_0, seqBytes(34)); err != nil {
		f.Fatal(err)
	}
	scalars, arrays, arrays2 := NewWriter(), NewWriter(), NewWriter()
	for i, kv := range allTypesValues(f) {
		switch {
		case kv.Value.Type != Array:
			scalars.AddKV(kv.Key, kv.Value)
		case i%2 == 0:
			arrays.AddKV(kv.Key, kv.Value)
		default:
			arrays2.AddKV(kv.Key, kv.Value)
		}
	}
	q5k := NewWriter()
	q5k.SetAlignment(64)
	if err := q5k.AddRawTensor("q5k", []int{1, 256}, GGMLTypeQ5_K, seqBytes(176)); err != nil {
		f.Fatal(err)
	}
	smallBytes := writeBytes(f, small)
	seeds := [][]byte{
		smallBytes,
		writeBytes(f, scalars),
		writeBytes(f, arrays),
		writeBytes(f, arrays2),
		writeBytes(f, q5k),
		v1File(),
		writeBytes(f, NewWriter()),
		twoTensors("a", "b", 0, 32, 96),
		smallBytes[:len(smallBytes)/2],
		smallBytes[:len(smallBytes)-1],
		v1File()[:60],
	}
	for _, s := range seeds {
		if len(s) > maxFuzzInput {
			f.Fatalf("seed of %d bytes: keep seeds under %d", len(s), maxFuzzInput)
		}
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
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
