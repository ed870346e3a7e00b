package runtime

import (
	"fmt"

	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/tokenizer"
)

// ggufSource is a model read from one GGUF file (memory-mapped).
type ggufSource struct {
	f   *gguf.File
	cfg *llama.Config
}

// OpenGGUF opens a GGUF model file.
func OpenGGUF(path string) (Source, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	cfg, err := llama.ConfigFromGGUF(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &ggufSource{f: f, cfg: cfg}, nil
}

func (s *ggufSource) Name() string              { return s.f.Path }
func (s *ggufSource) Config() *llama.Config     { return s.cfg }
func (s *ggufSource) Weights() llama.WeightInfo { return llama.GGUFWeights(s.f) }
func (s *ggufSource) Close() error              { return s.f.Close() }

func (s *ggufSource) TensorData(name string) ([]byte, error) {
	t, ok := s.f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: %s: no tensor %q", s.f.Path, name)
	}
	return s.f.TensorData(t)
}

func (s *ggufSource) Tokenizer() (*tokenizer.Tokenizer, error) {
	return tokenizer.FromGGUF(s.f)
}

func (s *ggufSource) ChatTemplate() string {
	t, err := s.f.GetString("tokenizer.chat_template")
	if err != nil {
		return ""
	}
	return t
}
