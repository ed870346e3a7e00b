// Package runtime is golem's engine: it loads a model's weights onto a
// backend, keeps a KV cache per session, runs batched prefill and one-token
// decode with graphs built once per shape class, samples tokens and stops on
// end-of-generation tokens or stop strings.
package runtime

import (
	"context"
	"fmt"
	"io"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/tokenizer"
)

// Source is where a model comes from: a GGUF file or a Hugging Face folder.
// Its errors name the source (the file or folder) and, for TensorData, the
// tensor, so callers add only their own context.
type Source interface {
	// Name identifies the source in messages (a path).
	Name() string
	// Config returns the model's hyper-parameters.
	Config() *llama.Config
	// Weights describes the tensors (dtype, outermost-first shape).
	Weights() llama.WeightInfo
	// TensorData returns the bytes of a tensor in its dtype's layout; its
	// errors name the source and the tensor.
	TensorData(name string) ([]byte, error)
	// Tokenizer returns the model's tokenizer; its errors name the source.
	Tokenizer() (*tokenizer.Tokenizer, error)
	// ChatTemplate returns the Jinja chat template, or "" when the model has none.
	ChatTemplate() string
	// Close releases the source (unmaps files).
	io.Closer
}

// LoadOptions configure Load.
type LoadOptions struct {
	// Progress, if set, is called after each tensor with bytes done and total.
	Progress func(done, total int64)
}

// Model is a model whose weights live on a backend.
type Model struct {
	Src       Source
	Config    *llama.Config
	Tokenizer *tokenizer.Tokenizer
	Backend   backend.Backend
	weights   map[string]backend.Buffer
	bytes     int64
}

// Load uploads every weight the model's graph reads onto be. Backends that
// compute on host memory use the source's bytes in place (no copy).
func Load(ctx context.Context, src Source, be backend.Backend, o LoadOptions) (*Model, error) {
	cfg := src.Config()
	tok, err := src.Tokenizer()
	if err != nil {
		return nil, fmt.Errorf("runtime: load: %w", err) // err names the source
	}
	// A one-token graph names every weight any graph of this model reads.
	built, err := llama.Build(cfg, src.Weights(), llama.BuildOptions{Tokens: 1, Context: 1, KVType: graph.F32})
	if err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", src.Name(), err)
	}
	leaves := built.Graph.Leaves(graph.OpWeight)
	var total int64
	for _, n := range leaves {
		total += n.Bytes()
	}
	m := &Model{Src: src, Config: cfg, Tokenizer: tok, Backend: be, weights: map[string]backend.Buffer{}, bytes: total}
	hw, zeroCopy := be.(backend.HostWrapper)
	var done int64
	for _, n := range leaves {
		if err := ctx.Err(); err != nil {
			m.Close()
			return nil, err
		}
		data, err := src.TensorData(n.Name)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("runtime: load: %w", err) // err names the source and the tensor
		}
		if int64(len(data)) != n.Bytes() {
			m.Close()
			return nil, fmt.Errorf("runtime: %s: tensor %q has %d bytes, want %d", src.Name(), n.Name, len(data), n.Bytes())
		}
		var buf backend.Buffer
		if zeroCopy {
			buf, err = hw.WrapHost(data)
		} else {
			buf, err = be.Alloc(int64(len(data)))
			if err == nil {
				err = buf.Write(0, data)
			}
		}
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("runtime: upload tensor %q to %s: %w", n.Name, be.Name(), err)
		}
		m.weights[n.Name] = buf
		done += int64(len(data))
		if o.Progress != nil {
			o.Progress(done, total)
		}
	}
	return m, nil
}

// WeightBytes returns the bytes of weights on the backend.
func (m *Model) WeightBytes() int64 { return m.bytes }

// Close frees the weight buffers (not the source or the backend).
func (m *Model) Close() error {
	var first error
	for name, b := range m.weights {
		if err := b.Free(); err != nil && first == nil {
			first = fmt.Errorf("runtime: free %q: %w", name, err)
		}
	}
	m.weights = nil
	return first
}
