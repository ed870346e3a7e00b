package synth_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/gguf"
)

// The streaming writer synth uses must lay files out exactly as gguf.Writer does.
func TestStreamWriterMatchesWriter(t *testing.T) {
	a := make([]byte, 3*4)
	for i := range a {
		a[i] = byte(i + 1)
	}
	b := make([]byte, 2*34) // q8_0 [2, 32]
	for i := range b {
		b[i] = byte(7 * i)
	}
	w := gguf.NewWriter()
	s := gguf.NewStreamWriter()
	for _, x := range []interface {
		AddString(string, string)
		AddUint32(string, uint32)
	}{w, s} {
		x.AddString("general.architecture", "llama")
		x.AddUint32("llama.block_count", 2)
	}
	require.NoError(t, w.AddTensor("a", []int{3}, graph.F32, a))
	require.NoError(t, w.AddTensor("b", []int{2, 32}, graph.Q8_0, b))
	require.NoError(t, s.AddTensorFunc("a", []int{3}, graph.F32, func(dst []byte) error {
		copy(dst, a)
		return nil
	}))
	require.NoError(t, s.AddTensorStream("b", []int{2, 32}, graph.Q8_0, func(out io.Writer) error {
		for i := 0; i < len(b); i += 5 {
			if _, err := out.Write(b[i:min(i+5, len(b))]); err != nil {
				return err
			}
		}
		return nil
	}))
	var wb, sb bytes.Buffer
	n1, err := w.WriteTo(&wb)
	require.NoError(t, err)
	n2, err := s.WriteTo(&sb)
	require.NoError(t, err)
	require.Equal(t, n1, n2)
	require.Equal(t, wb.Bytes(), sb.Bytes())

	f, err := gguf.Parse("stream", sb.Bytes())
	require.NoError(t, err)
	tb, ok := f.Tensor("b")
	require.True(t, ok)
	got, err := f.TensorData(tb)
	require.NoError(t, err)
	require.Equal(t, b, got)
}

func TestStreamWriterErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		add     func(s *gguf.StreamWriter) error
		wantErr string
	}{
		{"short", func(s *gguf.StreamWriter) error {
			return s.AddTensorStream("t", []int{4}, graph.F32, func(w io.Writer) error {
				_, err := w.Write(make([]byte, 15))
				return err
			})
		}, "15 bytes written, want 16"},
		{"long", func(s *gguf.StreamWriter) error {
			return s.AddTensorStream("t", []int{4}, graph.F32, func(w io.Writer) error {
				_, err := w.Write(make([]byte, 17))
				return err
			})
		}, "more than the tensor's 16 bytes"},
		{"fill error", func(s *gguf.StreamWriter) error {
			return s.AddTensorFunc("t", []int{4}, graph.F32, func([]byte) error { return boom })
		}, "boom"},
		{"duplicate with in-memory tensor", func(s *gguf.StreamWriter) error {
			if err := s.AddTensorStream("t", []int{1}, graph.F32, func(w io.Writer) error {
				_, err := w.Write(make([]byte, 4))
				return err
			}); err != nil {
				return err
			}
			return s.AddTensor("t", []int{1}, graph.F32, make([]byte, 4))
		}, "duplicate tensor name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := gguf.NewStreamWriter()
			require.NoError(t, tc.add(s))
			_, err := s.WriteTo(io.Discard)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}

	s := gguf.NewStreamWriter()
	require.NoError(t, s.AddTensorStream("x", []int{32}, graph.Q4_0, func(io.Writer) error { return nil }))
	for _, tc := range []struct {
		name    string
		shape   []int
		dtype   graph.DType
		wantErr string
	}{
		{"x", []int{32}, graph.F32, "duplicate tensor name"},
		{"", []int{32}, graph.F32, "empty name"},
		{"y", []int{0}, graph.F32, "dimensions must be positive"},
		{"y", []int{31}, graph.Q4_0, "not a multiple"},
		{"y", []int{1, 1, 1, 1, 1}, graph.F32, "1..4 dimensions"},
	} {
		err := s.AddTensorStream(tc.name, tc.shape, tc.dtype, func(io.Writer) error { return nil })
		require.ErrorContains(t, err, tc.wantErr, tc.name)
	}
	require.ErrorContains(t, s.AddTensorStream("z", []int{1}, graph.F32, nil), "nil write function")
	require.ErrorContains(t, s.AddTensorFunc("z", []int{1}, graph.F32, nil), "nil fill function")
}
