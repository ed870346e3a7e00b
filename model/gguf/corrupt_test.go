package gguf

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// oneTensor returns a v3 file with the given entries (already encoded) and
// one f32 tensor "w" of 8 elements at offset 0.
func oneTensor(kv func(r *raw), nKV uint64) []byte {
	r := (&raw{}).header(3, 1, nKV)
	if kv != nil {
		kv(r)
	}
	r.tensor("w", []uint64{8}, GGMLTypeF32, 0).pad(32)
	return r.zeros(32).b
}

// twoTensors returns a v3 file with f32 tensors a (8 elements, 32 bytes, at
// offA) and b (16 elements, 64 bytes, at offB) and dataLen bytes of data.
func twoTensors(nameA, nameB string, offA, offB uint64, dataLen int) []byte {
	r := (&raw{}).header(3, 2, 0).
		tensor(nameA, []uint64{8}, GGMLTypeF32, offA).
		tensor(nameB, []uint64{16}, GGMLTypeF32, offB).pad(32)
	return r.zeros(dataLen).b
}

// withTensor returns a v3 file whose only tensor info is written by info,
// followed by 64 bytes of data.
func withTensor(info func(r *raw)) []byte {
	r := (&raw{}).header(3, 1, 0)
	info(r)
	return r.pad(32).zeros(64).b
}

func TestParseCorrupt(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "magic: truncated"},
		{"short magic", []byte("GG"), "magic: truncated"},
		{"bad magic", []byte("GGML\x03\x00\x00\x00"), `bad magic "GGML"`},
		{"no version", []byte("GGUF"), "version: truncated"},
		{"version 0", (&raw{}).header(0, 0, 0).b, "unsupported GGUF version 0"},
		{"version 4", (&raw{}).header(4, 0, 0).b, "unsupported GGUF version 4 (supported: 1, 2, 3)"},
		{"big-endian", append([]byte("GGUF"), 0, 0, 0, 3), "big-endian GGUF (version 3) is not supported"},
		{"no tensor count", append([]byte("GGUF"), 3, 0, 0, 0, 1), "tensor count: truncated"},
		{"no kv count", (&raw{}).header(3, 0, 0).b[:20], "metadata count: truncated"},
		{"huge kv count", (&raw{}).header(3, 0, 1<<60).b, "metadata count 1152921504606846976 is impossible"},
		{"huge tensor count", (&raw{}).header(3, math.MaxUint64, 0).b, "tensor count 18446744073709551615 is impossible"},
		{"v1 huge kv count", (&raw{}).header(1, 0, math.MaxUint32).b, "metadata count 4294967295 is impossible"},
		{"kv count past data", (&raw{}).header(3, 0, 2).kvU32("a", 1).u64(100).zeros(20).b, `metadata entry #1: key: truncated: string of 100 bytes`},
		{"empty key", (&raw{}).header(3, 0, 1).kvU32("", 1).b, `metadata entry #0: empty key`},
		{"huge key length", (&raw{}).header(3, 0, 1).u64(1 << 62).zeros(16).b, "metadata entry #0: key: truncated: string of 4611686018427387904 bytes"},
		{"missing value type", (&raw{}).header(3, 0, 1).str("kkkkk").b, `key "kkkkk": value type: truncated`},
		{"unknown value type", (&raw{}).header(3, 0, 1).str("k").u32(13).zeros(8).b, `key "k": unknown value type 13`},
		{"truncated value", (&raw{}).header(3, 0, 1).str("k").u32(uint32(Uint64)).u32(1).b, `key "k": truncated: need 8 bytes`},
		{"bool 2", (&raw{}).header(3, 0, 1).str("k").u32(uint32(Bool)).u8(2).b, `key "k": bool value 2 at offset 37 is neither 0 nor 1`},
		{"huge string value", (&raw{}).header(3, 0, 1).str("name").u32(uint32(String)).u64(1 << 40).zeros(4).b, `key "name": truncated: string of 1099511627776 bytes`},
		{"array of unknown", (&raw{}).header(3, 0, 1).str("a").u32(uint32(Array)).u32(99).u64(0).b, `key "a": array of unknown value type 99`},
		{"huge array", (&raw{}).header(3, 0, 1).str("a").u32(uint32(Array)).u32(uint32(Uint32)).u64(1 << 61).zeros(16).b, `key "a": array of uint32 count 2305843009213693952 is impossible`},
		{"huge string array", (&raw{}).header(3, 0, 1).str("toks").u32(uint32(Array)).u32(uint32(String)).u64(3).str("a").b, `key "toks": array of string count 3 is impossible`},
		{"truncated string array", (&raw{}).header(3, 0, 1).str("toks").u32(uint32(Array)).u32(uint32(String)).u64(2).str("a").u64(100).zeros(4).b, `key "toks": array of string: element 1: truncated: string of 100 bytes`},
		{"bool array", (&raw{}).header(3, 0, 1).str("bs").u32(uint32(Array)).u32(uint32(Bool)).u64(2).u8(1).u8(7).b, `key "bs": array of bool: element 1: value 7`},
		{"nested too deep", func() []byte {
			r := (&raw{}).header(3, 0, 1).str("deep").u32(uint32(Array))
			for range maxArrayDepth {
				r.u32(uint32(Array)).u64(1)
			}
			return r.u32(uint32(Uint8)).u64(0).b
		}(), `key "deep": ` + strings.Repeat("array of array: element 0: ", maxArrayDepth) + "arrays nested deeper than 8"},
		{"nested truncated", (&raw{}).header(3, 0, 1).str("n").u32(uint32(Array)).u32(uint32(Array)).u64(1).u32(uint32(Int8)).u64(5).b, `key "n": array of array: element 0: array of int8 count 5 is impossible`},
		{"duplicate key", (&raw{}).header(3, 0, 2).kvU32("dup.key", 1).kvU32("dup.key", 2).b, `key "dup.key": duplicate key (metadata entries #0 and #1)`},
		{"alignment type", (&raw{}).header(3, 0, 1).str(KeyAlignment).u32(uint32(Int32)).u32(32).b, `key "general.alignment": has type int32, want uint32`},
		{"alignment 0", (&raw{}).header(3, 0, 1).kvU32(KeyAlignment, 0).b, `key "general.alignment": alignment 0 is not a power of two`},
		{"alignment 48", (&raw{}).header(3, 0, 1).kvU32(KeyAlignment, 48).b, `alignment 48 is not a power of two`},
		{"tensor name truncated", (&raw{}).header(3, 1, 0).u64(500).zeros(30).b, "tensor #0: name: truncated: string of 500 bytes"},
		{"tensor empty name", withTensor(func(r *raw) { r.tensor("", []uint64{8}, 0, 0) }), "tensor #0: empty name"},
		{"n_dims 5", withTensor(func(r *raw) { r.tensor("w5", []uint64{1, 1, 1, 1, 1}, 0, 0) }), `tensor "w5": n_dims 5 out of range 1..4`},
		{"n_dims 0", withTensor(func(r *raw) { r.tensor("w0", nil, 0, 0) }), `tensor "w0": n_dims 0 out of range`},
		{"n_dims huge", withTensor(func(r *raw) { r.str("wh").u32(math.MaxUint32) }), `tensor "wh": n_dims 4294967295 out of range`},
		{"dim 0", withTensor(func(r *raw) { r.tensor("z", []uint64{8, 0}, 0, 0) }), `tensor "z": dimension 1 is 0`},
		{"negative dim", withTensor(func(r *raw) { r.tensor("neg", []uint64{1 << 63}, 0, 0) }), `tensor "neg": dimension 0 is -9223372036854775808, negative as int64`},
		{"overflowing dims", withTensor(func(r *raw) { r.tensor("big", []uint64{1 << 30, 1 << 30, 1 << 30}, 0, 0) }), `tensor "big": shape [1073741824 1073741824 1073741824]: element count overflows int64`},
		{"overflowing bytes", withTensor(func(r *raw) { r.tensor("bytes", []uint64{2, 1 << 30, 1 << 30}, GGMLTypeF64, 0) }), `tensor "bytes": shape [1073741824 1073741824 2]: byte size of f64 data overflows int64`},
		{"unknown ggml type", withTensor(func(r *raw) { r.tensor("wt", []uint64{8}, 99, 0) }), `tensor "wt": unknown ggml type id 99`},
		{"removed ggml type", withTensor(func(r *raw) { r.tensor("old", []uint64{32}, 32, 0) }), `tensor "old": ggml type q4_0_4_8 (32) has been removed`},
		{"partial block", withTensor(func(r *raw) { r.tensor("q", []uint64{16, 2}, GGMLTypeQ4_0, 0) }), `tensor "q": shape [2 16]: innermost dimension 16 is not a multiple of the q4_0 block size 32`},
		{"missing type", (&raw{}).header(3, 1, 0).str("tttttttttttttttttttt").u32(1).u64(8).b, `tensor "tttttttttttttttttttt": type: truncated`},
		{"missing offset", (&raw{}).header(3, 1, 0).str("tttttttttttttttttttt").u32(1).u64(8).u32(0).u32(0).b, `tensor "tttttttttttttttttttt": offset: truncated`},
		{"misaligned offset", withTensor(func(r *raw) { r.tensor("mis", []uint64{1}, 0, 4) }), `tensor "mis": offset 4 is not a multiple of the alignment 32`},
		{"offset overflow", withTensor(func(r *raw) { r.tensor("ovf", []uint64{1}, 0, 1<<63) }), `tensor "ovf": offset 9223372036854775808 overflows int64`},
		{"offset near max", withTensor(func(r *raw) { r.tensor("max", []uint64{8}, 0, math.MaxInt64-31) }), `tensor "max": offset 9223372036854775776 + size 32 overflows int64`},
		{"data past end", withTensor(func(r *raw) { r.tensor("far", []uint64{8}, 0, 64) }), `tensor "far": data [128, 160) extends past the end of the file (128 bytes)`},
		{"data partly past end", withTensor(func(r *raw) { r.tensor("part", []uint64{20}, 0, 0) }), `tensor "part": data [64, 144) extends past the end of the file (128 bytes)`},
		{"no data section", (&raw{}).header(3, 1, 0).tensor("nodata", []uint64{1}, 0, 0).b, `tensor "nodata": data [64, 68) extends past the end of the file (62 bytes)`},
		{"overlapping tensors", twoTensors("a", "b", 32, 0, 128), `tensors "b" (data offset 0, 64 bytes) and "a" (data offset 32, 32 bytes) overlap`},
		{"same offset", twoTensors("a", "b", 0, 0, 128), `tensors "a" (data offset 0, 32 bytes) and "b" (data offset 0, 64 bytes) overlap`},
		{"duplicate tensor names", twoTensors("same", "same", 0, 64, 128), `tensor "same": duplicate tensor name (tensors #0 and #1)`},
		{"kv before bad tensor", oneTensor(func(r *raw) { r.kvU32(KeyAlignment, 64) }, 1), `tensor "w": data [128, 160) extends past the end of the file (128 bytes)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NotPanics(t, func() {
				f, err := Parse("bad.gguf", tc.data)
				require.Error(t, err)
				require.Nil(t, f)
				require.Contains(t, err.Error(), "gguf: bad.gguf: ")
				require.Contains(t, err.Error(), tc.want)
			})
		})
	}
}

// Sanity check for the helpers above: unchanged, they build valid files.
func TestCorruptHelpersValid(t *testing.T) {
	for i, data := range [][]byte{
		oneTensor(nil, 0),
		oneTensor(func(r *raw) { r.kvU32("x", 1) }, 1),
		twoTensors("a", "b", 0, 32, 96),
		twoTensors("a", "b", 64, 0, 96),
		func() []byte { // arrays nested exactly maxArrayDepth deep
			r := (&raw{}).header(3, 0, 1).str("deep").u32(uint32(Array))
			for range maxArrayDepth - 1 {
				r.u32(uint32(Array)).u64(1)
			}
			return r.u32(uint32(Uint8)).u64(0).b
		}(),
		withTensor(func(r *raw) { r.tensor("w", []uint64{8, 2}, GGMLTypeF32, 0) }),
		withTensor(func(r *raw) { r.tensor("q", []uint64{32, 1}, GGMLTypeQ4_0, 32) }),
	} {
		_, err := Parse(fmt.Sprintf("ok%d.gguf", i), data)
		require.NoError(t, err, i)
	}
}

// Every proper prefix of a valid file is an error, never a panic.
func TestParseEveryPrefix(t *testing.T) {
	files := map[string][]byte{
		"sample v3": writeBytes(t, sampleWriter(t)),
		"all types": func() []byte {
			w := NewWriter()
			for _, kv := range allTypesValues(t) {
				w.AddKV(kv.Key, kv.Value)
			}
			w.AddFloat32s("z", make([]float32, 3)) // last entry fixed-size, so no prefix is valid
			return writeBytes(t, w)
		}(),
		"v1": v1File(),
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("full.gguf", data)
			require.NoError(t, err)
			for n := 0; n < len(data); n++ {
				require.NotPanics(t, func() {
					f, err := Parse("prefix.gguf", data[:n])
					require.Error(t, err, "prefix of %d bytes parsed", n)
					require.Nil(t, f)
					require.Contains(t, err.Error(), "gguf: prefix.gguf: ")
				})
			}
		})
	}
}

// v1File is a small GGUF v1 file: 32-bit counts, lengths and dims.
func v1File() []byte {
	r := (&raw{}).header(1, 2, 3).
		str("general.architecture").u32(uint32(String)).str("llama").
		kvU32("llama.block_count", 1).
		str("tokenizer.ggml.tokens").u32(uint32(Array)).u32(uint32(String)).n(2).str("a").str("bc").
		tensor("x", []uint64{4, 2}, GGMLTypeF32, 0).
		tensor("y", []uint64{32}, GGMLTypeQ8_0, 32).
		pad(32)
	r.b = append(r.b, f32Bytes(1, 2, 3, 4, 5, 6, 7, 8)...)
	r.b = append(r.b, seqBytes(34)...)
	return r.b
}

func TestParseV1(t *testing.T) {
	f, err := Parse("v1.gguf", v1File())
	require.NoError(t, err)
	require.Equal(t, uint32(1), f.Version)
	require.Equal(t, "llama", f.Architecture())
	toks, err := f.GetStrings("tokenizer.ggml.tokens")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "bc"}, toks)
	x, ok := f.Tensor("x")
	require.True(t, ok)
	require.Equal(t, []int{2, 4}, x.Shape)
	data, err := f.TensorData(x)
	require.NoError(t, err)
	require.Equal(t, f32Bytes(1, 2, 3, 4, 5, 6, 7, 8), data)
	y, ok := f.Tensor("y")
	require.True(t, ok)
	require.Equal(t, int64(34), y.Size)
}
