// Package convert turns a Hugging Face checkpoint folder into a GGUF file
// that llama.cpp and golem load: the tensor names, metadata keys, tokenizer
// keys and Q/K row permutation of llama.cpp's convert_hf_to_gguf.py, with
// the weights stored as F32, F16, BF16, Q8_0 or Q4_0.
//
// Tensor types follow llama.cpp: 1-D tensors (norms, biases, rope_freqs)
// stay F32; every 2-D weight, token_embd and output included, gets the
// requested type, falling back to F16 when its rows are not a whole number
// of blocks (as convert_hf_to_gguf.py does). For Q4_0 the output projection
// (token_embd when the output is tied to it) gets Q6_K, or Q8_0 when its rows
// are not a multiple of 256, as llama-quantize does for its Q4_0 preset.
//
// Every weight must be finite: a NaN or infinite value, or a value that an
// f16 or bf16 tensor would store as infinite (beyond its range), is an error
// naming the tensor and the index of the first such element (in the
// checkpoint's row-major order), whatever the output type, tensors copied
// unchanged included. Options.AllowNonFinite writes such values as they are
// (overflowing ones as infinities) to f32, f16 and bf16 tensors; the block
// types (q8_0, q4_0, and q6_k for q4_0's output projection) cannot hold
// them, so for those the conversion still fails, with a message saying so.
//
// Converted tensors are written to a scratch file next to the output
// (memory-mapped, removed afterwards) so that models larger than memory
// convert; tensors stored in the checkpoint in their final form are copied
// straight from the mapped checkpoint.
package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/resource"
	"github.com/golem-llm/golem/internal/safefile"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/safetensors"
	"github.com/golem-llm/golem/model/tokenizer"
)

// Options configure Convert.
type Options struct {
	// Name is general.name (default: the folder's base name).
	Name string
	// Threads is the number of goroutines that convert a tensor (0: GOMAXPROCS).
	Threads int
	// Progress, if set, is called after each tensor is converted with the
	// bytes of tensor data done and the total; the file is written after
	// the last tensor.
	Progress func(done, total int64)
	// Force allows replacing an existing regular file at the output path.
	Force bool
	// AllowNonFinite writes NaN and infinite weights (and values beyond
	// f16's range, as infinities) to f32, f16 and bf16 tensors instead of
	// refusing them. Block-quantized tensors cannot hold them either way.
	AllowNonFinite bool
}

// ErrNonFinite is wrapped by Convert's error for a weight that is NaN or
// infinite, or that f16 would store as infinite, when Options.AllowNonFinite
// is not set.
var ErrNonFinite = errors.New("non-finite weights are refused")

// QuantizationVersion is general.quantization_version (ggml's GGML_QNT_VERSION).
const QuantizationVersion = 2

// FileType returns general.file_type, llama.cpp's llama_ftype, of a file
// whose weights are mostly of type t.
func FileType(t graph.DType) (uint32, error) {
	switch t {
	case graph.F32:
		return 0, nil // LLAMA_FTYPE_ALL_F32
	case graph.F16:
		return 1, nil // LLAMA_FTYPE_MOSTLY_F16
	case graph.Q4_0:
		return 2, nil // LLAMA_FTYPE_MOSTLY_Q4_0
	case graph.Q8_0:
		return 7, nil // LLAMA_FTYPE_MOSTLY_Q8_0
	case graph.BF16:
		return 32, nil // LLAMA_FTYPE_MOSTLY_BF16
	}
	return 0, fmt.Errorf("convert: output type %s is not supported (supported: f32, f16, bf16, q8_0, q4_0)", t)
}

// tensorType chooses the stored type of a tensor of a file of type typ.
func tensorType(name string, shape []int, typ graph.DType, tied bool) graph.DType {
	if len(shape) < 2 || strings.HasSuffix(name, "_norm.weight") || !strings.HasSuffix(name, ".weight") {
		return graph.F32
	}
	inner := shape[len(shape)-1]
	t := typ
	if typ == graph.Q4_0 && (name == "output.weight" || (tied && name == "token_embd.weight")) {
		t = graph.Q6_K
		if inner%t.BlockSize() != 0 {
			t = graph.Q8_0
		}
	}
	if inner%t.BlockSize() != 0 {
		t = graph.F16
	}
	return t
}

// job is one tensor to write.
type job struct {
	info    safetensors.TensorInfo
	out     graph.DType
	heads   int // permute rows for this many heads (0: no permutation)
	size    int64
	dst     []byte // scratch space, or nil when the source bytes are used as they are
	passRaw bool
}

// Convert writes the model of the Hugging Face folder hfDir to outPath as a
// GGUF file whose weights are of type typ (F32, F16, BF16, Q8_0 or Q4_0).
// An existing outPath is refused unless opts.Force, before any work; the
// space the scratch file and the output need is compared with the free disk
// space before anything is written. Cancelling ctx stops the conversion and
// removes every temporary file.
func Convert(ctx context.Context, hfDir, outPath string, typ graph.DType, opts Options) (err error) {
	ftype, err := FileType(typ)
	if err != nil {
		return err
	}
	if err := safefile.CheckTarget(outPath, opts.Force); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	m, err := safetensors.OpenModel(hfDir)
	if err != nil {
		return err
	}
	defer m.Close()
	cfg := m.Config()
	arch, err := m.HF.GGUFArch()
	if err != nil {
		return err
	}
	vocab, err := m.Vocab()
	if err != nil {
		return err
	}
	if vocab, err = ggufVocab(vocab, cfg.VocabSize); err != nil {
		return fmt.Errorf("convert: %s: %w", hfDir, err)
	}
	if _, err := tokenizer.New(vocab); err != nil {
		return fmt.Errorf("convert: %s: %w", hfDir, err)
	}

	// Plan the tensors.
	_, hasOutput := m.Info("output.weight")
	var jobs []*job
	var scratchSize, total int64
	for _, name := range m.Names() {
		info, _ := m.Info(name)
		j := &job{info: info, out: tensorType(name, info.Shape, typ, !hasOutput)}
		if m.HF.Permuted() {
			switch {
			case strings.HasSuffix(name, ".attn_q.weight"), strings.HasSuffix(name, ".attn_q.bias"):
				j.heads = cfg.Heads
			case strings.HasSuffix(name, ".attn_k.weight"), strings.HasSuffix(name, ".attn_k.bias"):
				j.heads = cfg.KVHeads
			}
		}
		dims := make([]int64, len(info.Shape))
		for i, d := range info.Shape {
			dims[i] = int64(d)
		}
		n, err := resource.Mul(dims...)
		if err != nil {
			return fmt.Errorf("convert: tensor %q: %w", name, err)
		}
		if j.size, err = j.out.RowBytes(n); err != nil {
			return fmt.Errorf("convert: tensor %q: %w", name, err)
		}
		j.passRaw = j.out == info.DType && j.heads == 0
		if !j.passRaw {
			if scratchSize, err = resource.Add(scratchSize, j.size); err != nil {
				return fmt.Errorf("convert: %w", err)
			}
		}
		if total, err = resource.Add(total, j.size); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		jobs = append(jobs, j)
	}
	need, err := resource.Add(scratchSize, total)
	if err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	if err := resource.CheckDisk("convert: writing "+outPath, scratchDir(outPath), need); err != nil {
		return err
	}

	sc, err := newScratch(outPath, scratchSize)
	if err != nil {
		return fmt.Errorf("convert: scratch space for %s: %w", outPath, err)
	}
	defer func() {
		if cerr := sc.close(); cerr != nil && err == nil {
			err = fmt.Errorf("convert: scratch space: %w", cerr)
		}
	}()

	w := gguf.NewWriter()
	name := opts.Name
	if name == "" {
		name = m.Name()
	}
	if err := writeHeader(w, m, arch, name, ftype); err != nil {
		return fmt.Errorf("convert: %s: %w", hfDir, err)
	}
	writeVocab(w, vocab, m.ChatTemplate())

	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	var done, off int64
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := m.TensorData(j.info.Name)
		if err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		data := src
		var dst []byte
		if !j.passRaw {
			dst = sc.data[off : off+j.size : off+j.size]
			off += j.size
			data = dst
		}
		if dst != nil || !opts.AllowNonFinite {
			if err := convertTensor(j, src, dst, threads, opts.AllowNonFinite); err != nil {
				return fmt.Errorf("convert: tensor %q (%s): %w", j.info.Name, j.info.HFName, err)
			}
		}
		if err := w.AddTensor(j.info.Name, j.info.Shape, j.out, data); err != nil {
			return fmt.Errorf("convert: %w", err)
		}
		done += j.size
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	if err := w.Save(ctx, outPath, opts.Force); err != nil {
		return fmt.Errorf("convert: %w", err)
	}
	return nil
}

// writeHeader adds the general and architecture keys of llama.cpp's converter.
func writeHeader(w *gguf.Writer, m *safetensors.Model, arch, name string, ftype uint32) error {
	cfg, hf := m.Config(), m.HF
	k := func(s string) string { return arch + "." + s }
	// u32 is the one conversion of a hyper-parameter to GGUF's uint32.
	// llama.Config.Validate keeps every value in range; a value outside
	// would be a defect, reported instead of truncated.
	var err error
	u32 := func(key string, v int) {
		if err == nil && (v < 0 || int64(v) > math.MaxUint32) {
			err = fmt.Errorf("%s = %d does not fit GGUF's uint32", key, v)
		}
		w.AddUint32(key, uint32(v))
	}
	w.AddString("general.architecture", arch)
	w.AddString("general.type", "model")
	w.AddString("general.name", name)
	u32(k("block_count"), cfg.Layers)
	u32(k("context_length"), cfg.ContextLen)
	u32(k("embedding_length"), cfg.Dim)
	u32(k("feed_forward_length"), cfg.FFN)
	u32(k("attention.head_count"), cfg.Heads)
	u32(k("attention.head_count_kv"), cfg.KVHeads)
	w.AddFloat32(k("rope.freq_base"), cfg.RopeTheta)
	w.AddFloat32(k("attention.layer_norm_rms_epsilon"), cfg.NormEps)
	if hf.HeadDim != nil || cfg.HeadDim != cfg.Dim/cfg.Heads {
		u32(k("attention.key_length"), cfg.HeadDim)
		u32(k("attention.value_length"), cfg.HeadDim)
	}
	w.AddUint32("general.file_type", ftype)
	u32(k("vocab_size"), cfg.VocabSize)
	dims := cfg.RopeDims
	if dims == 0 {
		dims = cfg.HeadDim
	}
	u32(k("rope.dimension_count"), dims)
	if f := hf.LinearScale(); f > 0 {
		w.AddString(k("rope.scaling.type"), "linear")
		w.AddFloat32(k("rope.scaling.factor"), float32(f))
	}
	w.AddUint32("general.quantization_version", QuantizationVersion)
	return err
}

// ggufVocab pads the vocabulary to the model's n tokens and, for a
// SentencePiece-style vocabulary given by merges (tokenizer.json), derives
// the scores llama.cpp's tokenizer merges by.
func ggufVocab(v *tokenizer.Vocab, n int) (*tokenizer.Vocab, error) {
	if len(v.Tokens) > n {
		return nil, fmt.Errorf("the tokenizer has %d tokens, the model's embeddings only %d", len(v.Tokens), n)
	}
	out := *v
	out.Tokens = append([]string(nil), v.Tokens...)
	out.Types = append([]int32(nil), v.Types...)
	if len(out.Types) == 0 {
		out.Types = make([]int32, len(out.Tokens))
		for i := range out.Types {
			out.Types[i] = tokenizer.TypeNormal
		}
	}
	out.Scores = append([]float32(nil), v.Scores...)
	if v.Model == "llama" && len(out.Scores) == 0 {
		out.Scores = mergeScores(out.Tokens, v.Merges)
		out.Merges = nil
	}
	for i := len(out.Tokens); i < n; i++ {
		out.Tokens = append(out.Tokens, fmt.Sprintf("[PAD%d]", i))
		out.Types = append(out.Types, tokenizer.TypeUnused)
		if len(out.Scores) > 0 {
			out.Scores = append(out.Scores, -1000)
		}
	}
	return &out, nil
}

// mergeScores gives each token made by a merge the score -rank of the first
// merge that makes it, so that merging the highest-scoring pair first (as
// SentencePiece and llama.cpp do) applies the merges in their order. Other
// tokens score 0.
func mergeScores(tokens, merges []string) []float32 {
	id := make(map[string]int, len(tokens))
	for i, t := range tokens {
		if _, dup := id[t]; !dup {
			id[t] = i
		}
	}
	scores := make([]float32, len(tokens))
	set := make([]bool, len(tokens))
	for r, mg := range merges {
		a, b, ok := strings.Cut(mg, " ")
		if !ok {
			continue
		}
		if i, ok := id[a+b]; ok && !set[i] {
			scores[i], set[i] = -float32(r+1), true
		}
	}
	return scores
}

// writeVocab adds the tokenizer keys.
func writeVocab(w *gguf.Writer, v *tokenizer.Vocab, chatTemplate string) {
	w.AddString("tokenizer.ggml.model", v.Model)
	pre := v.Pre
	if pre == "" {
		pre = "default"
	}
	w.AddString("tokenizer.ggml.pre", pre)
	w.AddStrings("tokenizer.ggml.tokens", v.Tokens)
	if len(v.Scores) > 0 {
		w.AddFloat32s("tokenizer.ggml.scores", v.Scores)
	}
	w.AddInt32s("tokenizer.ggml.token_type", v.Types)
	if v.Model == "gpt2" {
		w.AddStrings("tokenizer.ggml.merges", v.Merges)
	}
	for _, s := range []struct {
		key string
		id  int32
	}{
		{"tokenizer.ggml.bos_token_id", v.BOS},
		{"tokenizer.ggml.eos_token_id", v.EOS},
		{"tokenizer.ggml.eot_token_id", v.EOT},
		{"tokenizer.ggml.eom_token_id", v.EOM},
		{"tokenizer.ggml.unknown_token_id", v.UNK},
		{"tokenizer.ggml.seperator_token_id", v.SEP}, // llama.cpp's spelling
		{"tokenizer.ggml.padding_token_id", v.PAD},
		{"tokenizer.ggml.mask_token_id", v.Mask},
	} {
		if s.id >= 0 {
			w.AddUint32(s.key, uint32(s.id))
		}
	}
	w.AddBool("tokenizer.ggml.add_bos_token", v.AddBOS)
	w.AddBool("tokenizer.ggml.add_eos_token", v.AddEOS)
	if v.Model == "llama" {
		w.AddBool("tokenizer.ggml.add_space_prefix", v.AddSpacePrefix)
	}
	if chatTemplate != "" {
		w.AddString("tokenizer.chat_template", chatTemplate)
	}
}

// convertTensor decodes the rows of src (permuting them when j.heads > 0)
// and encodes them as j.out into dst, with up to threads goroutines; with a
// nil dst (a tensor copied as it is) it only checks the values. Non-finite
// values are refused unless allow is set and j.out can hold them.
func convertTensor(j *job, src, dst []byte, threads int, allow bool) error {
	shape := j.info.Shape
	rows := shape[0]
	cols := 1
	for _, d := range shape[1:] {
		cols *= d
	}
	inRow, err := j.info.DType.RowBytes(int64(cols))
	if err != nil {
		return err
	}
	outRow, err := j.out.RowBytes(int64(cols))
	if err != nil {
		return err
	}
	if int64(len(src)) != inRow*int64(rows) || (dst != nil && int64(len(dst)) != outRow*int64(rows)) {
		return fmt.Errorf("%d source bytes or %d destination bytes do not fit %d rows", len(src), len(dst), rows)
	}
	perm := func(r int) int { return r }
	if j.heads > 0 {
		if rows%(2*j.heads) != 0 {
			return fmt.Errorf("%d rows cannot be permuted for %d heads", rows, j.heads)
		}
		half := rows / j.heads / 2
		// GGUF row h*hd + 2i + s holds HF row h*hd + s*hd/2 + i (llama.cpp's LlamaModel.permute).
		perm = func(r int) int {
			h, rem := r/(2*half), r%(2*half)
			return h*2*half + (rem%2)*half + rem/2
		}
	}
	block := j.out.BlockSize() > 1
	check := !allow || block
	limit := overflowAt[j.out] // 0: the output type holds every finite float32
	if allow {
		limit = 0
	}
	// Split the rows in chunks of at least ~64K elements.
	per := max(1, 65536/max(cols, 1))
	chunks := (rows + per - 1) / per
	workers := min(threads, chunks)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	bad := make([]badValue, workers) // first refused value each worker saw, in source order
	next := make(chan int, chunks)
	for c := range chunks {
		next <- c
	}
	close(next)
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float32, cols)
			first := badValue{index: -1}
			for c := range next {
				if errs[wk] != nil {
					continue
				}
				for r := c * per; r < min(rows, (c+1)*per); r++ {
					s := int64(perm(r))
					if err := quant.Dequantize(j.info.DType, src[s*inRow:(s+1)*inRow], buf); err != nil {
						errs[wk] = err
						break
					}
					for i, v := range buf {
						if !check {
							break
						}
						f := float64(v)
						if math.IsNaN(f) || math.IsInf(f, 0) {
							first.keep(s*int64(cols)+int64(i), v, false)
							break
						}
						if limit > 0 && math.Abs(f) >= limit {
							first.keep(s*int64(cols)+int64(i), v, true)
							break
						}
					}
					if dst == nil || first.index >= 0 {
						continue // checking only, or failing: the rest is only searched
					}
					out := dst[int64(r)*outRow : int64(r+1)*outRow]
					if err := quant.Quantize(j.out, buf, out); err != nil {
						errs[wk] = fmt.Errorf("row %d: %w", r, err)
						break
					}
				}
			}
			bad[wk] = first
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	first := badValue{index: -1}
	for _, b := range bad {
		if b.index >= 0 {
			first.keep(b.index, b.value, b.overflow)
		}
	}
	switch {
	case first.index < 0:
		return nil
	case first.overflow:
		return fmt.Errorf("element %d = %v lies beyond %s's range and would be stored as infinite: %w", first.index, first.value, j.out, ErrNonFinite)
	case allow:
		return fmt.Errorf("element %d is %v: %s cannot hold non-finite values (convert to f32, f16 or bf16 to keep them)", first.index, first.value, j.out)
	}
	return fmt.Errorf("element %d is %v: %w", first.index, first.value, ErrNonFinite)
}

// badValue is a refused element of a tensor: non-finite, or beyond f16's range.
type badValue struct {
	index    int64 // element index in the source tensor, -1 when none
	value    float32
	overflow bool
}

// keep records the element at index when it comes before the one held.
func (b *badValue) keep(index int64, v float32, overflow bool) {
	if b.index < 0 || index < b.index {
		*b = badValue{index: index, value: v, overflow: overflow}
	}
}

// overflowAt is, for the float types narrower than float32, the magnitude
// from which a float32 rounds to infinity: halfway between the largest
// finite value and the next power of two (ties go to the even infinity).
var overflowAt = map[graph.DType]float64{
	graph.F16:  65520,
	graph.BF16: float64(math.Float32frombits(0x7f7f8000)),
}

// scratchDir returns the folder for the scratch file: the output's.
func scratchDir(outPath string) string { return filepath.Dir(outPath) }
