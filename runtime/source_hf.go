package runtime

import (
	"fmt"
	"os"

	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/llama"
	"github.com/golem-llm/golem/model/safetensors"
	"github.com/golem-llm/golem/model/tokenizer"
)

// hfSource is a model read from a Hugging Face folder (safetensors,
// memory-mapped). Its weights are used as stored, so RoPE runs in the NeoX
// layout.
type hfSource struct {
	m *safetensors.Model
}

// OpenHF opens a Hugging Face model folder (config.json, tokenizer.json,
// model.safetensors or sharded safetensors with an index) of a supported
// architecture: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM or
// Qwen3ForCausalLM.
func OpenHF(dir string) (Source, error) {
	m, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	return &hfSource{m: m}, nil
}

// OpenSource opens a model by path: a directory as a Hugging Face folder
// (OpenHF), a file as GGUF (OpenGGUF).
func OpenSource(path string) (Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("runtime: open model: %w", err)
	}
	if st.IsDir() {
		return OpenHF(path)
	}
	return OpenGGUF(path)
}

func (s *hfSource) Name() string              { return s.m.Dir }
func (s *hfSource) Config() *llama.Config     { return s.m.Config() }
func (s *hfSource) Weights() llama.WeightInfo { return s.m.Weights() }
func (s *hfSource) Close() error              { return s.m.Close() }

func (s *hfSource) TensorData(name string) ([]byte, error) { return s.m.TensorData(name) }

func (s *hfSource) Tokenizer() (*tokenizer.Tokenizer, error) { return s.m.Tokenizer() }

func (s *hfSource) ChatTemplate() string { return s.m.ChatTemplate() }

// OpenTokenizer reads only the tokenizer of a model: a GGUF file (one
// without weights too, such as llama.cpp's vocab-only files) or a Hugging
// Face folder. Its errors name the file or folder.
func OpenTokenizer(path string) (*tokenizer.Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("runtime: open tokenizer: %w", err)
	}
	if st.IsDir() {
		src, err := OpenHF(path)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		return src.Tokenizer()
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tokenizer.FromGGUF(f)
}
