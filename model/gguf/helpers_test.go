package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// raw builds GGUF bytes field by field, for files the Writer refuses to make.
type raw struct {
	b  []byte
	v1 bool
}

func (r *raw) u8(x uint8) *raw   { r.b = append(r.b, x); return r }
func (r *raw) u32(x uint32) *raw { r.b = binary.LittleEndian.AppendUint32(r.b, x); return r }
func (r *raw) u64(x uint64) *raw { r.b = binary.LittleEndian.AppendUint64(r.b, x); return r }

// n writes a count or length: uint32 in v1, uint64 otherwise.
func (r *raw) n(x uint64) *raw {
	if r.v1 {
		return r.u32(uint32(x))
	}
	return r.u64(x)
}

func (r *raw) str(s string) *raw { r.n(uint64(len(s))); r.b = append(r.b, s...); return r }

// header writes magic, version and the two counts.
func (r *raw) header(version uint32, nTensors, nKV uint64) *raw {
	r.v1 = version == 1
	r.b = append(r.b, "GGUF"...)
	return r.u32(version).n(nTensors).n(nKV)
}

// kvU32 writes a uint32 metadata entry.
func (r *raw) kvU32(key string, x uint32) *raw {
	return r.str(key).u32(uint32(Uint32)).u32(x)
}

// tensor writes a tensor info with file-order (innermost-first) dims.
func (r *raw) tensor(name string, dims []uint64, typ uint32, off uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.n(d)
	}
	return r.u32(typ).u64(off)
}

// pad pads to a multiple of align.
func (r *raw) pad(align int) *raw {
	for len(r.b)%align != 0 {
		r.b = append(r.b, 0)
	}
	return r
}

func (r *raw) zeros(n int) *raw { r.b = append(r.b, make([]byte, n)...); return r }

// f32Bytes encodes float32s little-endian.
func f32Bytes(xs ...float32) []byte {
	out := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
	}
	return out
}

// seqBytes returns n bytes 1, 2, 3, … (mod 251).
func seqBytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(i%251 + 1)
	}
	return out
}

// allTypesValues returns one metadata entry of every value type, arrays of
// every element type and a nested array.
func allTypesValues(t testing.TB) []KV {
	t.Helper()
	mk := func(elem ValueType, vs ...Value) Value {
		v, err := ArrayValue(elem, vs)
		require.NoError(t, err)
		return v
	}
	nested := mk(Array, mk(Int16, Int16Value(-1), Int16Value(7)), mk(Int16))
	return []KV{
		{"t.u8", Uint8Value(200)},
		{"t.i8", Int8Value(-100)},
		{"t.u16", Uint16Value(60000)},
		{"t.i16", Int16Value(-30000)},
		{"t.u32", Uint32Value(4000000000)},
		{"t.i32", Int32Value(-2000000000)},
		{"t.f32", Float32Value(1.5)},
		{"t.bool", BoolValue(true)},
		{"t.str", StringValue("héllo\x00world")},
		{"t.u64", Uint64Value(math.MaxUint64)},
		{"t.i64", Int64Value(math.MinInt64)},
		{"t.f64", Float64Value(-2.25)},
		{"t.a.u8", mk(Uint8, Uint8Value(1), Uint8Value(255))},
		{"t.a.i8", mk(Int8, Int8Value(-128), Int8Value(127))},
		{"t.a.u16", mk(Uint16, Uint16Value(65535))},
		{"t.a.i16", mk(Int16, Int16Value(-32768))},
		{"t.a.u32", Uint32sValue([]uint32{0, 1, math.MaxUint32})},
		{"t.a.i32", Int32sValue([]int32{-1, 0, 1})},
		{"t.a.f32", Float32sValue([]float32{0.5, -0.25, float32(math.Inf(1))})},
		{"t.a.bool", mk(Bool, BoolValue(false), BoolValue(true))},
		{"t.a.str", StringsValue([]string{"a", "", "ccc"})},
		{"t.a.u64", mk(Uint64, Uint64Value(1<<63))},
		{"t.a.i64", mk(Int64, Int64Value(-1<<62))},
		{"t.a.f64", mk(Float64, Float64Value(3.5))},
		{"t.a.empty", mk(Uint32)},
		{"t.a.nested", nested},
	}
}

// sampleWriter returns a writer with a few entries and tensors of several
// dtypes. The last tensor's size is a multiple of 32 so the file has no
// trailing padding: every proper prefix is then malformed.
func sampleWriter(t testing.TB) *Writer {
	t.Helper()
	return sampleWriterWith(t, func(w *Writer, _ int, name string, shape []int, dt graph.DType, data []byte) error {
		return w.AddTensor(name, shape, dt, data)
	})
}

// addFunc adds the i-th tensor of a sample writer.
type addFunc func(w *Writer, i int, name string, shape []int, dt graph.DType, data []byte) error

// sampleWriterWith is sampleWriter with its tensors added by add.
func sampleWriterWith(t testing.TB, add addFunc) *Writer {
	t.Helper()
	w := NewWriter()
	w.AddString("general.architecture", "llama")
	w.AddUint32("llama.block_count", 2)
	w.AddFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5)
	w.AddBool("tokenizer.ggml.add_bos_token", true)
	w.AddStrings("tokenizer.ggml.tokens", []string{"<unk>", "<s>", "</s>", "a"})
	w.AddFloat32s("tokenizer.ggml.scores", []float32{0, 0, 0, -1})
	w.AddInt32s("tokenizer.ggml.token_type", []int32{2, 3, 3, 1})
	w.AddUint64("general.big", 1<<40)
	w.AddInt32("general.neg", -5)
	require.NoError(t, add(w, 0, "norm", []int{3}, graph.F32, f32Bytes(1, 2, 3)))
	require.NoError(t, add(w, 1, "q", []int{2, 32}, graph.Q8_0, seqBytes(2*34)))
	require.NoError(t, add(w, 2, "emb", []int{2, 4}, graph.F32, f32Bytes(1, 2, 3, 4, 5, 6, 7, 8)))
	return w
}

// writeBytes runs WriteTo into memory.
func writeBytes(t testing.TB, w *Writer) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := w.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n)
	return buf.Bytes()
}
