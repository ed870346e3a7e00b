package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/safetensors"
	"github.com/golem-llm/golem/model/safetensors/hftest"
)

// rawFile builds a file from a header text and a data section.
func rawFile(header string, data []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

func f32s(vals ...float32) []byte {
	out, _ := hftest.Encode("F32", vals)
	return out
}

func TestRoundTrip(t *testing.T) {
	vals := []float32{1, -2, 0.5, 3.25, -0.125, 7}
	tensors := []safetensors.WriteTensor{
		{Name: "a.f32", DType: "F32", Shape: []int{2, 3}, Data: f32s(vals...)},
		{Name: "b.i64", DType: "I64", Shape: []int{2}, Data: make([]byte, 16)},
		{Name: "c.f16", DType: "F16", Shape: []int{3, 2}, Data: must(hftest.Encode("F16", vals))},
		{Name: "d.bf16", DType: "BF16", Shape: []int{6}, Data: must(hftest.Encode("BF16", vals))},
		{Name: "e.empty", DType: "F32", Shape: []int{0, 4}, Data: nil},
		{Name: "f.scalar", DType: "F32", Shape: []int{}, Data: f32s(42)},
	}
	path := filepath.Join(t.TempDir(), "x.safetensors")
	require.NoError(t, safetensors.WriteFile(path, tensors, map[string]string{"format": "pt"}))
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, map[string]string{"format": "pt"}, f.Metadata)
	require.Zero(t, f.DataOffset%8, "header padded to 8 bytes")
	require.Len(t, f.Tensors, len(tensors))

	cases := []struct {
		name  string
		dtype graph.DType
		shape []int
	}{
		{"a.f32", graph.F32, []int{2, 3}},
		{"c.f16", graph.F16, []int{3, 2}},
		{"d.bf16", graph.BF16, []int{6}},
		{"e.empty", graph.F32, []int{0, 4}},
		{"f.scalar", graph.F32, []int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tt, ok := f.Tensor(c.name)
			require.True(t, ok)
			dt, err := tt.DType()
			require.NoError(t, err)
			require.Equal(t, c.dtype, dt)
			require.Equal(t, c.shape, tt.Shape)
			data, err := f.TensorData(tt)
			require.NoError(t, err)
			for _, w := range tensors {
				if w.Name == c.name {
					require.Equal(t, len(w.Data), len(data))
					if len(data) > 0 {
						require.Equal(t, w.Data, data)
					}
				}
			}
		})
	}
	i64, ok := f.Tensor("b.i64")
	require.True(t, ok)
	_, err = i64.DType()
	require.ErrorContains(t, err, `tensor "b.i64": dtype I64 is not supported`)

	require.NoError(t, f.Close())
	require.NoError(t, f.Close())
	tt, _ := f.Tensor("a.f32")
	_, err = f.TensorData(tt)
	require.ErrorContains(t, err, "closed")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestCorrupt(t *testing.T) {
	eight := f32s(1, 2)
	good := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	require.NotNil(t, mustParse(t, rawFile(good, eight)))
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, math.MaxUint64)

	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "shorter than the 8-byte header length"},
		{"short", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"header past EOF", rawFile(good, eight)[:20], "runs past the end of the file"},
		{"huge header length", huge, "exceeds the limit"},
		{"bad JSON", rawFile(`{"w":`, eight), "header"},
		{"not an object", rawFile(`[1,2]`, eight), "not a JSON object"},
		{"trailing data", rawFile(good+`{}`, eight), "data after the JSON object"},
		{"duplicate tensor", rawFile(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `duplicate entry "w"`},
		{"unknown dtype", rawFile(`{"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "w": unknown dtype "F33"`},
		{"missing dtype", rawFile(`{"w":{"shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "w": entry needs dtype`},
		{"unknown field", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, eight), `tensor "w": bad entry`},
		{"negative dim", rawFile(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), `tensor "w": shape`},
		{"fractional dim", rawFile(`{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, eight), `tensor "w": shape`},
		{"overflowing shape", rawFile(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, eight), `tensor "w": shape`},
		{"one offset", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}`, eight), `tensor "w": data_offsets has 1 values`},
		{"reversed offsets", rawFile(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, eight), `tensor "w": data_offsets [8, 0] are reversed`},
		{"offsets out of range", rawFile(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), `tensor "w": data_offsets [0, 16] run past the 8-byte data section`},
		{"size mismatch", rawFile(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), `tensor "w": data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12`},
		{"negative offset", rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}}`, eight), `tensor "w": data_offsets`},
		{"overlap", rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `data [4, 8) overlaps tensor "a"`},
		{"gap", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `tensor "a": data starts at 4, leaving a gap`},
		{"uncovered tail", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), `tensors cover 4 bytes of the 8-byte data section`},
		{"metadata not strings", rawFile(`{"__metadata__":{"a":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), "__metadata__: want an object of strings"},
		{"empty name", rawFile(`{"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, eight), "empty name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := safetensors.Parse("bad.safetensors", c.file)
			require.Error(t, err)
			require.ErrorContains(t, err, "safetensors: bad.safetensors: ")
			require.ErrorContains(t, err, c.want)
		})
	}
}

func mustParse(t *testing.T, data []byte) *safetensors.File {
	t.Helper()
	f, err := safetensors.Parse("good", data)
	require.NoError(t, err)
	return f
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := safetensors.Open(filepath.Join(dir, "missing.safetensors"))
	require.ErrorContains(t, err, "missing.safetensors")
	_, err = safetensors.Open(dir)
	require.ErrorContains(t, err, "not a regular file")
	p := filepath.Join(dir, "trunc.safetensors")
	require.NoError(t, os.WriteFile(p, []byte{200, 0, 0, 0, 0, 0, 0, 0, '{', '}'}, 0o644))
	_, err = safetensors.Open(p)
	require.ErrorContains(t, err, "trunc.safetensors: header length 200 runs past the end of the file (10 bytes)")
}

func TestWriteErrors(t *testing.T) {
	cases := []struct {
		name string
		t    safetensors.WriteTensor
		want string
	}{
		{"dtype", safetensors.WriteTensor{Name: "a", DType: "X", Shape: []int{1}, Data: make([]byte, 4)}, "unknown dtype"},
		{"size", safetensors.WriteTensor{Name: "a", DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}, "needs 8 bytes, got 4"},
		{"name", safetensors.WriteTensor{DType: "F32", Shape: []int{1}, Data: make([]byte, 4)}, "empty or duplicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.ErrorContains(t, safetensors.Encode(&bytes.Buffer{}, []safetensors.WriteTensor{c.t}, nil), c.want)
		})
	}
}
