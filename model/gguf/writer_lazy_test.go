package gguf

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/graph"
)

// addBytes adds a tensor with its data in memory.
func addBytes(w *Writer, _ int, name string, shape []int, dt graph.DType, data []byte) error {
	return w.AddTensor(name, shape, dt, data)
}

// addFill adds a tensor whose data a fill function copies in.
func addFill(w *Writer, _ int, name string, shape []int, dt graph.DType, data []byte) error {
	return w.AddTensorFunc(name, shape, dt, func(dst []byte) error {
		copy(dst, data)
		return nil
	})
}

// addStream adds a tensor whose data is written in chunks of 5 bytes.
func addStream(w *Writer, _ int, name string, shape []int, dt graph.DType, data []byte) error {
	return w.AddTensorStream(name, shape, dt, func(out io.Writer) error {
		for i := 0; i < len(data); i += 5 {
			if _, err := out.Write(data[i:min(i+5, len(data))]); err != nil {
				return err
			}
		}
		return nil
	})
}

// How a tensor's data is supplied does not change the file.
func TestWriterLazyTensorsMatchInMemory(t *testing.T) {
	want := writeBytes(t, sampleWriter(t))
	tests := []struct {
		name string
		add  addFunc
	}{
		{"func", addFill},
		{"stream", addStream},
		{"mixed", func(w *Writer, i int, name string, shape []int, dt graph.DType, data []byte) error {
			return []addFunc{addStream, addBytes, addFill}[i](w, i, name, shape, dt, data)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := sampleWriterWith(t, tc.add)
			require.Equal(t, want, writeBytes(t, w))
			require.Equal(t, want, writeBytes(t, w), "a second write produces the data again")

			f, err := Parse("lazy", want)
			require.NoError(t, err)
			q, ok := f.Tensor("q")
			require.True(t, ok)
			got, err := f.TensorData(q)
			require.NoError(t, err)
			require.Equal(t, seqBytes(2*34), got)
		})
	}
}

func TestWriterLazyWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name  string
		add   func(w *Writer) error
		want  string
		cause error
	}{
		{"short", func(w *Writer) error {
			return w.AddTensorStream("t", []int{4}, graph.F32, func(out io.Writer) error {
				_, err := out.Write(make([]byte, 15))
				return err
			})
		}, `tensor "t": 15 bytes written, want 16`, nil},
		{"long", func(w *Writer) error {
			return w.AddTensorStream("t", []int{4}, graph.F32, func(out io.Writer) error {
				_, err := out.Write(make([]byte, 17))
				return err
			})
		}, `tensor "t": more than the tensor's 16 bytes written`, nil},
		{"stream error", func(w *Writer) error {
			return w.AddTensorStream("t", []int{4}, graph.F32, func(io.Writer) error { return boom })
		}, `tensor "t": boom`, boom},
		{"fill error", func(w *Writer) error {
			return w.AddTensorFunc("t", []int{4}, graph.F32, func([]byte) error { return boom })
		}, `tensor "t": boom`, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWriter()
			require.NoError(t, tc.add(w))
			_, err := w.WriteTo(io.Discard)
			require.ErrorContains(t, err, "gguf: writer: "+tc.want)
			if tc.cause != nil {
				require.ErrorIs(t, err, tc.cause)
			}
		})
	}
}

func TestWriterLazyAddErrors(t *testing.T) {
	nop := func(io.Writer) error { return nil }
	w := NewWriter()
	require.NoError(t, addStream(w, 0, "x", []int{32}, graph.Q4_0, seqBytes(18)))
	require.NoError(t, w.AddTensor("m", []int{1}, graph.F32, make([]byte, 4)))
	tests := []struct {
		name string
		add  func() error
		want string
	}{
		{"stream after stream", func() error { return w.AddTensorStream("x", []int{32}, graph.F32, nop) }, "duplicate tensor name"},
		{"bytes after stream", func() error { return w.AddTensor("x", []int{1}, graph.F32, make([]byte, 4)) }, "duplicate tensor name"},
		{"stream after bytes", func() error { return w.AddTensorStream("m", []int{1}, graph.F32, nop) }, "duplicate tensor name"},
		{"empty name", func() error { return w.AddTensorStream("", []int{32}, graph.F32, nop) }, "empty name"},
		{"zero dim", func() error { return w.AddTensorStream("y", []int{0}, graph.F32, nop) }, "dimensions must be positive"},
		{"partial block", func() error { return w.AddTensorStream("y", []int{31}, graph.Q4_0, nop) }, "not a multiple"},
		{"five dims", func() error { return w.AddTensorStream("y", []int{1, 1, 1, 1, 1}, graph.F32, nop) }, "1..4 dimensions"},
		{"bad dtype", func() error { return w.AddTensorStream("y", []int{1}, graph.DType(99), nop) }, "has no ggml type"},
		{"nil write", func() error { return w.AddTensorStream("z", []int{1}, graph.F32, nil) }, "nil write function"},
		{"nil fill", func() error { return w.AddTensorFunc("z", []int{1}, graph.F32, nil) }, "nil fill function"},
		{"bad fill shape", func() error {
			return w.AddTensorFunc("z", []int{0}, graph.F32, func([]byte) error { return nil })
		}, "dimensions must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.add()
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "gguf: writer: tensor")
		})
	}
	n, err := w.WriteTo(io.Discard)
	require.NoError(t, err, "rejected tensors leave the writer usable")
	require.Positive(t, n)
}
