package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/safefile"
	"github.com/golem-llm/golem/model/llama"
)

// File names in a Hugging Face model folder.
const (
	ConfigFile           = "config.json"
	GenerationConfigFile = "generation_config.json"
	SingleFile           = "model.safetensors"
	IndexFile            = "model.safetensors.index.json"
	TokenizerFile        = "tokenizer.json"
	TokenizerConfigFile  = "tokenizer_config.json"
	ChatTemplateFile     = "chat_template.jinja"
)

// maxJSONBytes bounds the JSON and template files of a folder that are read
// whole (tokenizer.json of a 256k vocabulary is about 20 MB).
const maxJSONBytes = 1 << 30

// RopeFreqsName is the synthetic tensor holding Llama 3 RoPE frequency
// factors, as llama.cpp's converter writes it.
const RopeFreqsName = "rope_freqs.weight"

// TensorInfo describes a tensor of a model folder under its GGUF name.
type TensorInfo struct {
	Name   string      // GGUF name ("blk.0.attn_q.weight")
	HFName string      // name in the checkpoint ("model.layers.0.self_attn.q_proj.weight"); "" for rope_freqs
	DType  graph.DType // F32, F16 or BF16
	Shape  []int       // outermost-first
}

type modelTensor struct {
	TensorInfo
	file *File
	t    *Tensor
	data []byte // synthetic tensors
}

// Model is a Hugging Face model folder: its config, its tensors under GGUF
// names and its tokenizer files. Tensors are memory-mapped.
type Model struct {
	Dir  string    // the folder
	HF   *HFConfig // config.json
	Arch string    // Hugging Face architecture ("LlamaForCausalLM")

	cfg     *llama.Config
	files   []*File
	tensors map[string]*modelTensor
	names   []string
}

// OpenModel opens a Hugging Face model folder: config.json and either
// model.safetensors, the shards listed by model.safetensors.index.json, or
// every *.safetensors file. Every checkpoint tensor must map to a GGUF name
// and the set must make a complete model of the configured shape.
func OpenModel(dir string) (*Model, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("safetensors: %s is not a directory", dir)
	}
	raw, err := safefile.ReadFile(filepath.Join(dir, ConfigFile), maxJSONBytes)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", dir, err)
	}
	hf, err := ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	arch, err := hf.Architecture()
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	cfg, err := hf.LlamaConfig()
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, dir)
	}
	m := &Model{Dir: dir, HF: hf, Arch: arch, cfg: cfg, tensors: map[string]*modelTensor{}}
	if err := m.openFiles(); err != nil {
		m.Close()
		return nil, err
	}
	if err := m.mapTensors(); err != nil {
		m.Close()
		return nil, err
	}
	if _, err := llama.Build(m.cfg, m.Weights(), llama.BuildOptions{Tokens: 1, Context: 1}); err != nil {
		m.Close()
		return nil, fmt.Errorf("safetensors: %s: %w", dir, err)
	}
	return m, nil
}

// shardFiles returns the safetensors files of the folder and, for a sharded
// checkpoint, the index's weight map.
func shardFiles(dir string) ([]string, map[string]string, error) {
	idx := filepath.Join(dir, IndexFile)
	raw, err := safefile.ReadFile(idx, maxJSONBytes)
	switch {
	case err == nil:
		var index struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(raw, &index); err != nil {
			return nil, nil, fmt.Errorf("safetensors: %s: %w", idx, err)
		}
		if len(index.WeightMap) == 0 {
			return nil, nil, fmt.Errorf("safetensors: %s: empty weight_map", idx)
		}
		seen := map[string]bool{}
		var files []string
		for name, file := range index.WeightMap {
			if file == "" || file != filepath.Base(file) || file == "." || file == ".." || strings.ContainsAny(file, `/\`) {
				return nil, nil, fmt.Errorf("safetensors: %s: tensor %q: bad shard name %q", idx, name, file)
			}
			if !seen[file] {
				seen[file] = true
				files = append(files, file)
			}
		}
		sort.Strings(files)
		return files, index.WeightMap, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SingleFile)); err == nil {
		return []string{SingleFile}, nil, nil
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(matches) == 0 {
		hint := ""
		if bins, _ := filepath.Glob(filepath.Join(dir, "*.bin")); len(bins) > 0 {
			hint = " (PyTorch .bin checkpoints are not supported; convert them to safetensors)"
		}
		return nil, nil, fmt.Errorf("safetensors: %s: no %s, %s or *.safetensors%s", dir, SingleFile, IndexFile, hint)
	}
	files := make([]string, len(matches))
	for i, p := range matches {
		files[i] = filepath.Base(p)
	}
	sort.Strings(files)
	return files, nil, nil
}

func (m *Model) openFiles() error {
	names, weightMap, err := shardFiles(m.Dir)
	if err != nil {
		return err
	}
	byName := map[string]*File{}
	for _, n := range names {
		f, err := Open(filepath.Join(m.Dir, n))
		if err != nil {
			return err
		}
		m.files = append(m.files, f)
		byName[n] = f
	}
	for tensor, file := range weightMap {
		if _, ok := byName[file].Tensor(tensor); !ok {
			return fmt.Errorf("safetensors: %s: %s lists tensor %q in %s, which lacks it", m.Dir, IndexFile, tensor, file)
		}
	}
	return nil
}

// mapTensors names every checkpoint tensor in GGUF terms.
func (m *Model) mapTensors() error {
	cfg := m.cfg
	hfNames := map[string]string{} // GGUF name -> HF name, for duplicates
	for _, f := range m.files {
		for _, t := range f.Tensors {
			name, skip, err := GGUFName(t.Name)
			if err != nil {
				return fmt.Errorf("safetensors: %s: %w", f.Path, err)
			}
			if skip {
				continue
			}
			if layer, ok := llama.BlockOf(name); ok && layer >= cfg.Layers {
				return fmt.Errorf("safetensors: %s: tensor %q: layer %d, but the model has %d", f.Path, t.Name, layer, cfg.Layers)
			}
			if prev, dup := hfNames[name]; dup {
				return fmt.Errorf("safetensors: %s: tensor %q appears twice (also as %q in another file)", f.Path, t.Name, prev)
			}
			hfNames[name] = t.Name
			dt, err := t.DType()
			if err != nil {
				return fmt.Errorf("%w (in %s)", err, f.Path)
			}
			if len(t.Shape) == 0 || len(t.Shape) > 4 {
				return fmt.Errorf("safetensors: %s: tensor %q has shape %v", f.Path, t.Name, t.Shape)
			}
			m.tensors[name] = &modelTensor{
				TensorInfo: TensorInfo{Name: name, HFName: t.Name, DType: dt, Shape: append([]int(nil), t.Shape...)},
				file:       f, t: t,
			}
		}
	}
	if _, ok := m.tensors["output.weight"]; ok && cfg.Tied {
		// A tied checkpoint may store lm_head as well; it duplicates the embeddings.
		delete(m.tensors, "output.weight")
	}
	if _, ok := m.tensors["output.weight"]; !ok {
		cfg.Tied = true
	}
	if s := cfg.RopeScaling; s != nil {
		dims := cfg.RopeDims
		if dims == 0 {
			dims = cfg.HeadDim
		}
		factors := s.FreqFactors(float64(cfg.RopeTheta), dims)
		data := make([]byte, 4*len(factors))
		for i, v := range factors {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
		}
		m.tensors[RopeFreqsName] = &modelTensor{
			TensorInfo: TensorInfo{Name: RopeFreqsName, DType: graph.F32, Shape: []int{len(factors)}},
			data:       data,
		}
	}
	for name := range m.tensors {
		m.names = append(m.names, name)
	}
	sort.Slice(m.names, func(i, j int) bool { return nameLess(m.names[i], m.names[j]) })
	return nil
}

// Config returns the hyper-parameters for running the checkpoint's weights
// as they are (RoPE in the NeoX layout).
func (m *Model) Config() *llama.Config { return m.cfg }

// Names returns the GGUF names of the model's tensors in llama.cpp's order:
// rope_freqs, token_embd, the blocks in order, output_norm, output.
func (m *Model) Names() []string { return append([]string(nil), m.names...) }

// Info describes the tensor of a GGUF name.
func (m *Model) Info(name string) (TensorInfo, bool) {
	t, ok := m.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	info := t.TensorInfo
	info.Shape = append([]int(nil), info.Shape...)
	return info, true
}

// Weights returns a llama.WeightInfo over the tensors, by GGUF name.
func (m *Model) Weights() llama.WeightInfo {
	return func(name string) (graph.DType, graph.Shape, error) {
		t, ok := m.tensors[name]
		if !ok {
			return 0, nil, llama.ErrNotFound
		}
		return t.DType, graph.Shape(append([]int(nil), t.Shape...)), nil
	}
}

// TensorData returns the bytes of the tensor of a GGUF name in its dtype's
// layout: a slice of the mapped file when it is aligned to the element
// size, otherwise an aligned copy.
func (m *Model) TensorData(name string) ([]byte, error) {
	t, ok := m.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: no tensor %q", m.Dir, name)
	}
	if t.data != nil {
		return t.data, nil
	}
	data, err := t.file.TensorData(t.t)
	if err != nil {
		return nil, err
	}
	es := uintptr(t.DType.BlockBytes())
	if len(data) > 0 && uintptr(unsafe.Pointer(unsafe.SliceData(data)))%es != 0 {
		buf := make([]uint64, (len(data)+7)/8) // 8-byte aligned
		out := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(buf))), len(data))
		copy(out, data)
		return out, nil
	}
	return data, nil
}

// Close unmaps the checkpoint files.
func (m *Model) Close() error {
	var first error
	for _, f := range m.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	m.files = nil
	return first
}

// Name returns a name for the model: the folder's base name.
func (m *Model) Name() string {
	abs, err := filepath.Abs(m.Dir)
	if err != nil {
		abs = m.Dir
	}
	return filepath.Base(abs)
}

// layerSuffixes maps the part of a block tensor's HF name after
// "model.layers.N." to the part of its GGUF name after "blk.N.", in
// llama.cpp's order.
var layerSuffixes = []struct{ hf, gguf string }{
	{"input_layernorm.weight", "attn_norm.weight"},
	{"self_attn.q_proj.weight", "attn_q.weight"},
	{"self_attn.q_proj.bias", "attn_q.bias"},
	{"self_attn.k_proj.weight", "attn_k.weight"},
	{"self_attn.k_proj.bias", "attn_k.bias"},
	{"self_attn.v_proj.weight", "attn_v.weight"},
	{"self_attn.v_proj.bias", "attn_v.bias"},
	{"self_attn.q_norm.weight", "attn_q_norm.weight"},
	{"self_attn.k_norm.weight", "attn_k_norm.weight"},
	{"self_attn.o_proj.weight", "attn_output.weight"},
	{"post_attention_layernorm.weight", "ffn_norm.weight"},
	{"mlp.gate_proj.weight", "ffn_gate.weight"},
	{"mlp.up_proj.weight", "ffn_up.weight"},
	{"mlp.down_proj.weight", "ffn_down.weight"},
}

var globalNames = []struct{ hf, gguf string }{
	{"", RopeFreqsName},
	{"model.embed_tokens.weight", "token_embd.weight"},
	{"model.norm.weight", "output_norm.weight"},
	{"lm_head.weight", "output.weight"},
}

// GGUFName maps a Hugging Face tensor name to llama.cpp's GGUF name. skip
// is true for tensors a converter drops (rotary_emb.inv_freq); an unknown
// name is an error.
func GGUFName(hf string) (name string, skip bool, err error) {
	if strings.HasSuffix(hf, ".rotary_emb.inv_freq") {
		return "", true, nil
	}
	for _, g := range globalNames {
		if g.hf != "" && hf == g.hf {
			return g.gguf, false, nil
		}
	}
	if rest, ok := strings.CutPrefix(hf, "model.layers."); ok {
		num, suffix, ok := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(num); ok && err == nil && n >= 0 && strconv.Itoa(n) == num {
			for _, s := range layerSuffixes {
				if suffix == s.hf {
					return "blk." + num + "." + s.gguf, false, nil
				}
			}
		}
	}
	return "", false, fmt.Errorf("tensor %q has no GGUF name (not part of a supported Llama/Mistral/Qwen2/Qwen3 checkpoint)", hf)
}

// rank orders GGUF names: globals before and after the blocks, blocks by
// number, tensors of a block in llama.cpp's order.
func rank(name string) (group, layer, idx int) {
	if l, ok := llama.BlockOf(name); ok {
		_, suffix, _ := strings.Cut(strings.TrimPrefix(name, "blk."), ".")
		for i, s := range layerSuffixes {
			if s.gguf == suffix {
				return 1, l, i
			}
		}
		return 1, l, len(layerSuffixes)
	}
	for i, g := range globalNames {
		if g.gguf == name {
			if i < 2 {
				return 0, 0, i
			}
			return 2, 0, i
		}
	}
	return 3, 0, 0
}

func nameLess(a, b string) bool {
	ga, la, ia := rank(a)
	gb, lb, ib := rank(b)
	if ga != gb {
		return ga < gb
	}
	if la != lb {
		return la < lb
	}
	if ia != ib {
		return ia < ib
	}
	return a < b
}
