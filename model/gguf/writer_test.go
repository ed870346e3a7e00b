package gguf

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// tensorCase is one tensor given to the writer.
type tensorCase struct {
	name  string
	shape []int
	dt    graph.DType
}

func TestWriterRoundTrip(t *testing.T) {
	tensors := []tensorCase{
		{"f32", []int{3, 5}, graph.F32},
		{"f16", []int{7}, graph.F16},
		{"bf16", []int{2, 1, 3}, graph.BF16},
		{"q8_0", []int{2, 64}, graph.Q8_0},
		{"q4_0", []int{1, 1, 1, 32}, graph.Q4_0},
		{"q4_k", []int{3, 256}, graph.Q4_K},
		{"q6_k", []int{1, 512}, graph.Q6_K},
		{"i32", []int{5}, graph.I32},
	}
	tests := []struct {
		name      string
		alignment int64 // 0: not set
		explicit  bool  // add general.alignment as a KV
		wantAlign int64
	}{
		{"default", 0, false, 32},
		{"set 32", 32, false, 32},
		{"set 64", 64, false, 64},
		{"set 1", 1, false, 1},
		{"set 4096", 4096, false, 4096},
		{"explicit key 16", 0, true, 16},
		{"explicit key and set 128", 128, true, 128},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			kvs := allTypesValues(t)
			if tc.explicit {
				kvs = append([]KV{{KeyAlignment, Uint32Value(uint32(tc.wantAlign))}}, kvs...)
			}
			for _, kv := range kvs {
				w.AddKV(kv.Key, kv.Value)
			}
			if tc.alignment != 0 {
				w.SetAlignment(tc.alignment)
			}
			datas := map[string][]byte{}
			for i, tt := range tensors {
				n := int64(1)
				for _, d := range tt.shape {
					n *= int64(d)
				}
				size, err := tt.dt.RowBytes(n)
				require.NoError(t, err)
				data := seqBytes(int(size))
				data[0] = byte(i)
				datas[tt.name] = data
				require.NoError(t, w.AddTensor(tt.name, tt.shape, tt.dt, data))
			}
			out := writeBytes(t, w)

			f, err := Parse("rt.gguf", out)
			require.NoError(t, err)
			require.Equal(t, uint32(3), f.Version)
			require.Equal(t, tc.wantAlign, f.Alignment)
			require.Zero(t, f.DataOffset%tc.wantAlign)

			wantKV := kvs
			if !tc.explicit && tc.wantAlign != DefaultAlignment {
				wantKV = append(wantKV, KV{KeyAlignment, Uint32Value(uint32(tc.wantAlign))})
			}
			require.Len(t, f.KV, len(wantKV))
			for i, kv := range wantKV {
				require.Equal(t, kv.Key, f.KV[i].Key)
				require.Equal(t, kv.Value.Type, f.KV[i].Value.Type, kv.Key)
				require.Equal(t, kv.Value.Any(), f.KV[i].Value.Any(), kv.Key)
			}

			require.Len(t, f.Tensors, len(tensors))
			for i, tt := range tensors {
				ti := f.Tensors[i]
				require.Equal(t, tt.name, ti.Name)
				require.Equal(t, tt.shape, ti.Shape)
				dt, err := ti.DType()
				require.NoError(t, err)
				require.Equal(t, tt.dt, dt)
				require.Zero(t, ti.Offset%tc.wantAlign, tt.name)
				require.Zero(t, (f.DataOffset+ti.Offset)%tc.wantAlign, tt.name)
				data, err := f.TensorData(ti)
				require.NoError(t, err)
				require.True(t, bytes.Equal(datas[tt.name], data), tt.name)
			}
			// Every tensor is padded to the alignment, the last one included.
			last := f.Tensors[len(f.Tensors)-1]
			require.Equal(t, alignUp(f.DataOffset+last.Offset+last.Size, tc.wantAlign), int64(len(out)))
			// Padding is zeros.
			first := f.Tensors[0]
			for _, b := range out[f.DataOffset+first.Size : f.DataOffset+f.Tensors[1].Offset] {
				require.Zero(t, b)
			}

			// Writing what was read gives the same bytes.
			w2 := NewWriter()
			for _, kv := range f.KV {
				w2.AddKV(kv.Key, kv.Value)
			}
			for _, ti := range f.Tensors {
				data, err := f.TensorData(ti)
				require.NoError(t, err)
				require.NoError(t, w2.AddRawTensor(ti.Name, ti.Shape, ti.GGMLType, data))
			}
			require.True(t, bytes.Equal(out, writeBytes(t, w2)))
		})
	}
}

func TestWriterEmptyAndVocabOnly(t *testing.T) {
	out := writeBytes(t, NewWriter())
	require.Len(t, out, 24) // magic, version, two counts
	f, err := Parse("empty.gguf", out)
	require.NoError(t, err)
	require.Empty(t, f.KV)
	require.Empty(t, f.Tensors)

	w := NewWriter()
	w.AddStrings("tokenizer.ggml.tokens", []string{"a", "b"})
	out = writeBytes(t, w)
	// Without tensors there is no padding after the header.
	require.Equal(t, 24+8+len("tokenizer.ggml.tokens")+4+4+8+2*9, len(out))
	_, err = Parse("vocab.gguf", out)
	require.NoError(t, err)
}

// Raw ggml types golem cannot compute with can still be written and read.
func TestWriterRawTypes(t *testing.T) {
	w := NewWriter()
	require.NoError(t, w.AddRawTensor("q5k", []int{2, 256}, GGMLTypeQ5_K, seqBytes(2*176)))
	require.NoError(t, w.AddRawTensor("i8", []int{3}, GGMLTypeI8, seqBytes(3)))
	f, err := Parse("raw.gguf", writeBytes(t, w))
	require.NoError(t, err)
	ti, ok := f.Tensor("q5k")
	require.True(t, ok)
	require.Equal(t, int64(352), ti.Size)
	_, err = ti.DType()
	require.ErrorContains(t, err, `tensor "q5k": ggml type q5_k (13) is not supported by golem`)
}

func TestWriterAddTensorErrors(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 64))
	tests := []struct {
		name  string
		tname string
		shape []int
		dt    graph.DType
		size  int
		want  string
	}{
		{"empty name", "", []int{1}, graph.F32, 4, "empty name"},
		{"long name", long, []int{1}, graph.F32, 4, "name is 64 bytes, the limit is 63"},
		{"duplicate", "dup", []int{1}, graph.F32, 4, `tensor "dup": duplicate tensor name`},
		{"no dims", "s", []int{}, graph.F32, 4, "must have 1..4 dimensions"},
		{"five dims", "s", []int{1, 1, 1, 1, 1}, graph.F32, 4, "must have 1..4 dimensions"},
		{"zero dim", "z", []int{2, 0}, graph.F32, 0, "dimensions must be positive"},
		{"negative dim", "n", []int{-2, 4}, graph.F32, 0, "dimensions must be positive"},
		{"size mismatch", "m", []int{2, 3}, graph.F32, 20, "needs 24 bytes, got 20"},
		{"partial block", "b", []int{2, 48}, graph.Q8_0, 102, "innermost dimension 48 is not a multiple of the q8_0 block size 32"},
		{"outer not block", "o", []int{48, 32}, graph.Q8_0, 48 * 34, ""},
		{"bad dtype", "d", []int{1}, graph.DType(99), 4, "has no ggml type"},
		{"overflow", "big", []int{math.MaxInt, math.MaxInt, math.MaxInt}, graph.F32, 0, "element count overflows int64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			require.NoError(t, w.AddTensor("dup", []int{1}, graph.F32, make([]byte, 4)))
			err := w.AddTensor(tc.tname, tc.shape, tc.dt, make([]byte, tc.size))
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "gguf: writer: tensor")
		})
	}
	w := NewWriter()
	require.ErrorContains(t, w.AddRawTensor("r", []int{1}, 31, make([]byte, 18)), "q4_0_4_4 (31) has been removed")
	require.ErrorContains(t, w.AddRawTensor("r", []int{1}, 77, make([]byte, 18)), "unknown ggml type id 77")
}

func TestWriterHeaderErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *Writer)
		want  string
	}{
		{"empty key", func(w *Writer) { w.AddUint32("a", 1); w.AddString("", "x") }, `metadata entry #1: empty key`},
		{"duplicate key", func(w *Writer) { w.AddUint32("a", 1); w.AddString("a", "x") }, `key "a": duplicate key`},
		{"alignment 3", func(w *Writer) { w.SetAlignment(3) }, "alignment 3 is not a power of two"},
		{"alignment -8", func(w *Writer) { w.SetAlignment(-8) }, "alignment -8 is not a power of two"},
		{"alignment too big", func(w *Writer) { w.SetAlignment(1 << 33) }, "fits in uint32"},
		{"alignment key 0", func(w *Writer) { w.AddUint32(KeyAlignment, 0) }, "alignment 0"},
		{"alignment key type", func(w *Writer) { w.AddUint64(KeyAlignment, 32) }, `key "general.alignment": has type uint64, want uint32`},
		{"alignment disagrees", func(w *Writer) { w.AddUint32(KeyAlignment, 64); w.SetAlignment(32) }, "SetAlignment(32) disagrees"},
		{"bad value type", func(w *Writer) { w.AddKV("v", Value{Type: 42}) }, `key "v": unknown value type 42`},
		{"array without storage", func(w *Writer) { w.AddKV("v", Value{Type: Array}) }, `key "v": array value without elements`},
		{"too deep", func(w *Writer) {
			v := Int32sValue(nil)
			for range maxArrayDepth {
				var err error
				v, err = ArrayValue(Array, []Value{v})
				require.NoError(t, err)
			}
			w.AddKV("deep", v)
		}, `key "deep": element 0: element 0: element 0: element 0: element 0: element 0: element 0: element 0: arrays nested deeper than 8`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			tc.setup(w)
			n, err := w.WriteTo(&bytes.Buffer{})
			require.ErrorContains(t, err, tc.want)
			require.Zero(t, n)
		})
	}
}

func TestArrayValueErrors(t *testing.T) {
	_, err := ArrayValue(ValueType(40), nil)
	require.ErrorContains(t, err, "unknown value type 40")
	_, err = ArrayValue(Uint8, []Value{Uint8Value(1), Uint16Value(2)})
	require.ErrorContains(t, err, "element 1 has type uint16")
	_, err = ArrayValue(Array, []Value{{Type: Array}})
	require.ErrorContains(t, err, "element 0: array value without elements")
}

// failWriter fails after accepting limit bytes.
type failWriter struct{ limit int }

func (f *failWriter) Write(b []byte) (int, error) {
	if len(b) > f.limit {
		n := f.limit
		f.limit = 0
		return n, errors.New("disk full")
	}
	f.limit -= len(b)
	return len(b), nil
}

func TestWriterIOErrors(t *testing.T) {
	w := sampleWriter(t)
	full := writeBytes(t, w)
	for _, limit := range []int{0, 10, len(full) / 2, len(full) - 1} {
		n, err := w.WriteTo(&failWriter{limit: limit})
		require.ErrorContains(t, err, "disk full")
		require.Equal(t, int64(limit), n)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.gguf")
	w := sampleWriter(t)
	require.NoError(t, w.WriteFile(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, writeBytes(t, w), got)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary file left behind")

	bad := NewWriter()
	bad.SetAlignment(3)
	require.ErrorContains(t, bad.WriteFile(filepath.Join(dir, "bad.gguf")), "not a power of two")
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "temporary file left behind after an error")
	require.Error(t, w.WriteFile(filepath.Join(dir, "missing", "x.gguf")))
}

func TestValueAccessors(t *testing.T) {
	nested, err := ArrayValue(Array, []Value{Int32sValue([]int32{1}), Int32sValue(nil)})
	require.NoError(t, err)
	i64s, err := ArrayValue(Int64, []Value{Int64Value(-3), Int64Value(1 << 40)})
	require.NoError(t, err)
	u8s, err := ArrayValue(Uint8, []Value{Uint8Value(7), Uint8Value(255)})
	require.NoError(t, err)
	f64s, err := ArrayValue(Float64, []Value{Float64Value(0.5)})
	require.NoError(t, err)
	type res struct {
		u       uint64
		uOK     bool
		i       int64
		iOK     bool
		f       float64
		fOK     bool
		b, bOK  bool
		s       string
		sOK     bool
		elem    ValueType
		n       int
		arrOK   bool
		strs    []string
		f32s    []float32
		i32s    []int32
		u32s    []uint32
		display any
	}
	tests := []struct {
		name string
		v    Value
		want res
	}{
		{"zero", Value{}, res{uOK: true, iOK: true, fOK: true, display: uint8(0)}},
		{"uint8", Uint8Value(200), res{u: 200, uOK: true, i: 200, iOK: true, f: 200, fOK: true, display: uint8(200)}},
		{"int8 neg", Int8Value(-3), res{i: -3, iOK: true, f: -3, fOK: true, display: int8(-3)}},
		{"uint16", Uint16Value(9), res{u: 9, uOK: true, i: 9, iOK: true, f: 9, fOK: true, display: uint16(9)}},
		{"int16", Int16Value(12), res{u: 12, uOK: true, i: 12, iOK: true, f: 12, fOK: true, display: int16(12)}},
		{"int32 neg", Int32Value(-7), res{i: -7, iOK: true, f: -7, fOK: true, display: int32(-7)}},
		{"uint64 max", Uint64Value(math.MaxUint64), res{u: math.MaxUint64, uOK: true, f: math.MaxUint64, fOK: true, display: uint64(math.MaxUint64)}},
		{"int64 min", Int64Value(math.MinInt64), res{i: math.MinInt64, iOK: true, f: math.MinInt64, fOK: true, display: int64(math.MinInt64)}},
		{"float32", Float32Value(0.25), res{f: 0.25, fOK: true, display: float32(0.25)}},
		{"float64", Float64Value(-1.5), res{f: -1.5, fOK: true, display: -1.5}},
		{"bool", BoolValue(true), res{b: true, bOK: true, display: true}},
		{"string", StringValue("x"), res{s: "x", sOK: true, display: "x"}},
		{"strings", StringsValue([]string{"a", "b"}), res{elem: String, n: 2, arrOK: true, strs: []string{"a", "b"}, display: []string{"a", "b"}}},
		{"float32s", Float32sValue([]float32{1, 2}), res{elem: Float32, n: 2, arrOK: true, f32s: []float32{1, 2}, display: []float32{1, 2}}},
		{"float64s", f64s, res{elem: Float64, n: 1, arrOK: true, f32s: []float32{0.5}, display: []float64{0.5}}},
		{"int32s", Int32sValue([]int32{-1, 5}), res{elem: Int32, n: 2, arrOK: true, f32s: []float32{-1, 5}, i32s: []int32{-1, 5}, display: []int32{-1, 5}}},
		{"uint32s", Uint32sValue([]uint32{1, math.MaxUint32}), res{elem: Uint32, n: 2, arrOK: true, f32s: []float32{1, math.MaxUint32}, u32s: []uint32{1, math.MaxUint32}, display: []uint32{1, math.MaxUint32}}},
		{"int64s out of int32", i64s, res{elem: Int64, n: 2, arrOK: true, f32s: []float32{-3, 1 << 40}, display: []int64{-3, 1 << 40}}},
		{"uint8s", u8s, res{elem: Uint8, n: 2, arrOK: true, f32s: []float32{7, 255}, i32s: []int32{7, 255}, u32s: []uint32{7, 255}, display: []uint8{7, 255}}},
		{"nested", nested, res{elem: Array, n: 2, arrOK: true, display: []any{[]int32{1}, []int32{}}}},
		{"bad array", Value{Type: Array}, res{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, w := tc.v, tc.want
			u, ok := v.Uint()
			require.Equal(t, w.uOK, ok, "Uint ok")
			require.Equal(t, w.u, u)
			i, ok := v.Int()
			require.Equal(t, w.iOK, ok, "Int ok")
			require.Equal(t, w.i, i)
			f, ok := v.Float()
			require.Equal(t, w.fOK, ok, "Float ok")
			require.Equal(t, w.f, f)
			b, ok := v.Bool()
			require.Equal(t, w.bOK, ok)
			require.Equal(t, w.b, b)
			s, ok := v.Str()
			require.Equal(t, w.sOK, ok)
			require.Equal(t, w.s, s)
			elem, n, ok := v.Array()
			require.Equal(t, w.arrOK, ok)
			require.Equal(t, w.elem, elem)
			require.Equal(t, w.n, n)
			strs, ok := v.Strings()
			require.Equal(t, w.strs != nil, ok)
			require.Equal(t, w.strs, strs)
			f32s, ok := v.Float32s()
			require.Equal(t, w.f32s != nil, ok)
			require.Equal(t, w.f32s, f32s)
			i32s, ok := v.Int32s()
			require.Equal(t, w.i32s != nil, ok)
			require.Equal(t, w.i32s, i32s)
			u32s, ok := v.Uint32s()
			require.Equal(t, w.u32s != nil, ok)
			require.Equal(t, w.u32s, u32s)
			require.Equal(t, w.display, v.Any())
		})
	}
	// Accessors return copies.
	v := StringsValue([]string{"a"})
	s, _ := v.Strings()
	s[0] = "changed"
	s2, _ := v.Strings()
	require.Equal(t, "a", s2[0])
	// Negative ints do not convert to uint32.
	_, ok := Int32sValue([]int32{-1}).Uint32s()
	require.False(t, ok)
	require.Equal(t, "uint32", Uint32.String())
	require.Equal(t, "type(77)", ValueType(77).String())
}
