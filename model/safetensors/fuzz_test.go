package safetensors_test

import (
	"testing"

	"github.com/golem-llm/golem/model/safetensors"
)

// FuzzHeader checks that Parse never panics and that whatever it accepts
// is consistent: every tensor's data lies inside the file and has the size
// its dtype and shape imply.
func FuzzHeader(f *testing.F) {
	f.Add(rawFile(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,1],"data_offsets":[0,4]},"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(rawFile(`{}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := safetensors.Parse("fuzz", data)
		if err != nil {
			return
		}
		var total int64
		for _, tt := range file.Tensors {
			b, err := file.TensorData(tt)
			if err != nil {
				t.Fatalf("tensor %q: %v", tt.Name, err)
			}
			if int64(len(b)) != tt.Size {
				t.Fatalf("tensor %q: %d bytes, want %d", tt.Name, len(b), tt.Size)
			}
			total += tt.Size
			_, _ = tt.DType()
		}
		if file.DataOffset+total != int64(len(data)) {
			t.Fatalf("tensors cover %d bytes after offset %d of a %d-byte file", total, file.DataOffset, len(data))
		}
	})
}
