package synth

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/resource"
	"github.com/golem-llm/golem/internal/safefile"
	"github.com/golem-llm/golem/model/gguf"
	"github.com/golem-llm/golem/model/llama"
)

// Options configure Write.
type Options struct {
	// Type is the element type of the 2-D weight matrices: F32 (the zero
	// value), F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K. Norm weights and
	// rope_freqs.weight stay F32.
	Type graph.DType
	// Seed selects the weights; the same seed gives a byte-identical file.
	Seed uint64
	// Vocab is the path of a GGUF file whose tokenizer.* entries are copied
	// (e.g. ../shared/models/stories260K.gguf or a vocab-only file); its
	// token count becomes the vocabulary size. "" writes a synthetic
	// vocabulary of the shape's VocabSize tokens.
	Vocab string
	// Workers is the number of goroutines generating weights (0:
	// GOMAXPROCS). The file does not depend on it.
	Workers int
	// Progress, if set, is called after each chunk of tensor data with the
	// bytes written so far and the total.
	Progress func(done, total int64)
	// Force allows replacing an existing regular file at the output path.
	Force bool
}

// fileTypes maps matrix types to llama.cpp's general.file_type values.
var fileTypes = map[graph.DType]uint32{
	graph.F32:  0,  // ALL_F32
	graph.F16:  1,  // MOSTLY_F16
	graph.Q4_0: 2,  // MOSTLY_Q4_0
	graph.Q8_0: 7,  // MOSTLY_Q8_0
	graph.Q4_K: 14, // MOSTLY_Q4_K_S
	graph.Q6_K: 18, // MOSTLY_Q6_K
	graph.BF16: 32, // MOSTLY_BF16
}

// fill says how a tensor's values are made.
type fill int

const (
	fillNormal fill = iota // N(0, std) per element
	fillOnes               // norm weights
	fillFreqs              // Llama 3 rope frequency factors
)

// tensorSpec is one tensor to write.
type tensorSpec struct {
	name  string
	shape []int // outermost-first
	dtype graph.DType
	fill  fill
	std   float64
	key   uint64 // hash of the name, for the per-row random streams
	size  int64
}

// plan lists the tensors of cfg in the order they are written.
func plan(cfg *llama.Config, mat graph.DType) ([]*tensorSpec, error) {
	d, nq, nkv := cfg.Dim, cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	resid := math.Sqrt(2 * float64(cfg.Layers))
	var ts []*tensorSpec
	matrix := func(name string, rows, cols int, std float64) {
		ts = append(ts, &tensorSpec{name: name, shape: []int{rows, cols}, dtype: mat, fill: fillNormal, std: std})
	}
	vec := func(name string, n int, f fill) {
		ts = append(ts, &tensorSpec{name: name, shape: []int{n}, dtype: graph.F32, fill: f})
	}
	if cfg.RopeScaling != nil {
		dims := cfg.RopeDims
		if dims == 0 {
			dims = cfg.HeadDim
		}
		vec("rope_freqs.weight", dims/2, fillFreqs)
	}
	in := 1 / math.Sqrt(float64(d))
	matrix("token_embd.weight", cfg.VocabSize, d, in)
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		vec(p+"attn_norm.weight", d, fillOnes)
		matrix(p+"attn_q.weight", nq, d, in)
		matrix(p+"attn_k.weight", nkv, d, in)
		matrix(p+"attn_v.weight", nkv, d, in)
		matrix(p+"attn_output.weight", d, nq, 1/math.Sqrt(float64(nq))/resid)
		vec(p+"ffn_norm.weight", d, fillOnes)
		matrix(p+"ffn_gate.weight", cfg.FFN, d, in)
		matrix(p+"ffn_up.weight", cfg.FFN, d, in)
		matrix(p+"ffn_down.weight", d, cfg.FFN, 1/math.Sqrt(float64(cfg.FFN))/resid)
	}
	vec("output_norm.weight", d, fillOnes)
	if !cfg.Tied {
		matrix("output.weight", cfg.VocabSize, d, in)
	}
	for _, t := range ts {
		cols := t.shape[len(t.shape)-1]
		rb, err := t.dtype.RowBytes(int64(cols))
		if err != nil {
			return nil, fmt.Errorf("synth: tensor %q %v: %w", t.name, t.shape, err)
		}
		rows := make([]int64, 0, len(t.shape))
		for _, n := range t.shape[:len(t.shape)-1] {
			rows = append(rows, int64(n))
		}
		if t.size, err = resource.Mul(append(rows, rb)...); err != nil {
			return nil, fmt.Errorf("synth: tensor %q %v: %w", t.name, t.shape, err)
		}
		h := fnv.New64a()
		h.Write([]byte(t.name))
		t.key = h.Sum64()
	}
	return ts, nil
}

// Config returns the hyper-parameters of the file Write writes for s and
// o: s's, with the defaults filled in and, when o.Vocab names a donor, the
// donor's vocabulary size. Parameter counts of a written model come from it.
func Config(s Shape, o Options) (llama.Config, error) {
	cfg, _, _, err := prepare(s, o)
	return cfg, err
}

// prepare checks s and o and returns the configuration to write, the
// donor's tokenizer entries (nil without a donor: Write makes a synthetic
// vocabulary once the sizes are checked) and the name of the vocabulary's
// source.
func prepare(s Shape, o Options) (llama.Config, []gguf.KV, string, error) {
	cfg := s.Config
	if _, ok := fileTypes[o.Type]; !ok {
		return cfg, nil, "", fmt.Errorf("synth: weight type %s is not supported (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)", o.Type)
	}
	if cfg.Arch == "" {
		cfg.Arch = "llama"
	}
	if cfg.Arch != "llama" {
		return cfg, nil, "", fmt.Errorf("synth: shape %q: architecture %q (only llama is generated)", s.Name, cfg.Arch)
	}
	if cfg.QKVBias || cfg.QKNorm {
		return cfg, nil, "", fmt.Errorf("synth: shape %q: q/k/v biases and q/k norms are not generated", s.Name)
	}
	if cfg.RopeFreqScale == 0 {
		cfg.RopeFreqScale = 1
	}
	var vocab []gguf.KV
	vocabSource := "synthetic"
	if o.Vocab != "" {
		kvs, n, err := donorVocab(o.Vocab)
		if err != nil {
			return cfg, nil, "", err
		}
		vocab, cfg.VocabSize, vocabSource = kvs, n, filepath.Base(o.Vocab)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, nil, "", fmt.Errorf("synth: shape %q: %w", s.Name, err)
	}
	if o.Vocab == "" && cfg.VocabSize < minSyntheticVocab {
		return cfg, nil, "", fmt.Errorf("synth: a synthetic vocabulary needs at least %d tokens, the shape has %d", minSyntheticVocab, cfg.VocabSize)
	}
	return cfg, vocab, vocabSource, nil
}

// Write generates the model of shape s with random weights and writes it as
// a GGUF file at out (through a temporary file renamed into place, removed
// when ctx is cancelled or anything fails). The tensors are streamed one
// after another; only a few chunks of rows are in memory at a time. Its
// hyper-parameters are Config(s, o). An existing out is refused unless
// o.Force; before anything is generated the file's size is computed and
// compared with the free disk space, and the vocabulary's and tensor
// table's size with the free memory.
func Write(ctx context.Context, out string, s Shape, o Options) error {
	if err := safefile.CheckTarget(out, o.Force); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	cfg, vocab, vocabSource, err := prepare(s, o)
	if err != nil {
		return err
	}
	ftype := fileTypes[o.Type]
	size, err := FileBytes(&cfg, o.Type)
	if err != nil {
		return fmt.Errorf("synth: shape %q: %w", s.Name, err)
	}
	if err := resource.CheckDisk(fmt.Sprintf("synth: the %s model of shape %s", o.Type, s.Name), filepath.Dir(out), size); err != nil {
		return err
	}
	if err := resource.CheckMemory(fmt.Sprintf("synth: the tokenizer and tensor table of shape %s", s.Name), metadataMemory(&cfg)); err != nil {
		return err
	}
	if o.Vocab == "" {
		if vocab, err = syntheticVocab(cfg.VocabSize); err != nil {
			return err
		}
	}
	tensors, err := plan(&cfg, o.Type)
	if err != nil {
		return err
	}

	w := gguf.NewWriter()
	w.AddString("general.architecture", "llama")
	w.AddString("general.name", "golem synthetic "+s.Name)
	w.AddUint32("general.file_type", ftype)
	w.AddUint32("general.quantization_version", 2)
	w.AddUint32("llama.vocab_size", uint32(cfg.VocabSize))
	w.AddUint32("llama.context_length", uint32(cfg.ContextLen))
	w.AddUint32("llama.embedding_length", uint32(cfg.Dim))
	w.AddUint32("llama.block_count", uint32(cfg.Layers))
	w.AddUint32("llama.feed_forward_length", uint32(cfg.FFN))
	ropeDims := cfg.RopeDims
	if ropeDims == 0 {
		ropeDims = cfg.HeadDim
	}
	w.AddUint32("llama.rope.dimension_count", uint32(ropeDims))
	w.AddUint32("llama.attention.head_count", uint32(cfg.Heads))
	w.AddUint32("llama.attention.head_count_kv", uint32(cfg.KVHeads))
	w.AddUint32("llama.attention.key_length", uint32(cfg.HeadDim))
	w.AddUint32("llama.attention.value_length", uint32(cfg.HeadDim))
	w.AddFloat32("llama.attention.layer_norm_rms_epsilon", cfg.NormEps)
	w.AddFloat32("llama.rope.freq_base", cfg.RopeTheta)
	if cfg.RopeFreqScale != 1 {
		w.AddString("llama.rope.scaling.type", "linear")
		w.AddFloat32("llama.rope.scaling.factor", 1/cfg.RopeFreqScale)
	}
	w.AddString("golem.synth.shape", s.Name)
	w.AddUint64("golem.synth.seed", o.Seed)
	w.AddString("golem.synth.vocab", vocabSource)
	for _, kv := range vocab {
		w.AddKV(kv.Key, kv.Value)
	}

	g := &generator{cfg: &cfg, seed: o.Seed, workers: o.Workers, progress: o.Progress}
	if g.workers <= 0 {
		g.workers = runtime.GOMAXPROCS(0)
	}
	for _, t := range tensors {
		g.total += t.size
	}
	for _, t := range tensors {
		if err := w.AddTensorStream(t.name, t.shape, t.dtype, func(dst io.Writer) error { return g.write(dst, t) }); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	if err := w.Save(ctx, out, o.Force); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return nil
}

// Per-tensor overheads of a GGUF file and of the writer's tensor table:
// a tensor-info entry (name, dims, type, offset) plus alignment padding,
// and the in-memory bytes of one planned tensor and one vocabulary token.
const (
	tensorFileOverhead   = 128
	tensorMemoryOverhead = 512
	tokenMemoryOverhead  = 96
)

// FileBytes returns an upper bound of the size of the GGUF file Write
// makes for cfg with matrices of type mat, computed with overflow checks
// and without planning every layer (a layer count in the billions is
// refused by its size, not by running out of memory while planning it).
func FileBytes(cfg *llama.Config, mat graph.DType) (int64, error) {
	sizeOf := func(layers int) (int64, error) {
		c := *cfg
		c.Layers = layers
		ts, err := plan(&c, mat)
		if err != nil {
			return 0, err
		}
		var total int64
		for _, t := range ts {
			if total, err = resource.Add(total, t.size, tensorFileOverhead); err != nil {
				return 0, err
			}
		}
		return total, nil
	}
	base, err := sizeOf(0)
	if err != nil {
		return 0, err
	}
	one, err := sizeOf(1)
	if err != nil {
		return 0, err
	}
	layers, err := resource.Mul(one-base, int64(cfg.Layers))
	if err != nil {
		return 0, err
	}
	vocab, err := resource.Mul(int64(cfg.VocabSize), tokenMemoryOverhead)
	if err != nil {
		return 0, err
	}
	return resource.Add(base, layers, vocab)
}

// metadataMemory is an upper bound of the memory Write holds besides the
// rows it streams: the vocabulary and the planned tensor table.
func metadataMemory(cfg *llama.Config) int64 {
	n, err := resource.Mul(int64(cfg.Layers), 9*tensorMemoryOverhead)
	if err != nil {
		return math.MaxInt64
	}
	v, err := resource.Mul(int64(cfg.VocabSize), tokenMemoryOverhead)
	if err != nil {
		return math.MaxInt64
	}
	if s, err := resource.Add(n, v); err == nil {
		return s
	}
	return math.MaxInt64
}

// chunkElems is about how many elements one goroutine generates at a time.
const chunkElems = 1 << 18

// generator produces tensor bytes.
type generator struct {
	cfg         *llama.Config
	seed        uint64
	workers     int
	progress    func(done, total int64)
	done, total int64
	bufs        [][]byte // one chunk buffer per worker, reused
}

func (g *generator) advance(n int64) {
	g.done += n
	if g.progress != nil {
		g.progress(g.done, g.total)
	}
}

// write streams the bytes of t to dst.
func (g *generator) write(dst io.Writer, t *tensorSpec) error {
	if t.fill != fillNormal {
		vals := make([]float32, t.shape[0])
		switch t.fill {
		case fillOnes:
			for i := range vals {
				vals[i] = 1
			}
		case fillFreqs:
			copy(vals, g.cfg.RopeScaling.FreqFactors(float64(g.cfg.RopeTheta), 2*len(vals)))
		}
		buf := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := dst.Write(buf); err != nil {
			return err
		}
		g.advance(int64(len(buf)))
		return nil
	}
	rows, cols := t.shape[0], t.shape[1]
	rb := t.size / int64(rows)
	perChunk := max(1, chunkElems/cols)
	chunks := (rows + perChunk - 1) / perChunk
	if len(g.bufs) < g.workers {
		g.bufs = make([][]byte, g.workers)
	}
	errs := make([]error, g.workers)
	for c0 := 0; c0 < chunks; c0 += g.workers {
		n := min(g.workers, chunks-c0)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			lo := (c0 + i) * perChunk
			hi := min(rows, lo+perChunk)
			need := int64(hi-lo) * rb
			if int64(cap(g.bufs[i])) < need {
				g.bufs[i] = make([]byte, need)
			}
			g.bufs[i] = g.bufs[i][:need]
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = g.rows(t, lo, hi, cols, rb, g.bufs[i])
			}()
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			if errs[i] != nil {
				return errs[i]
			}
			if _, err := dst.Write(g.bufs[i]); err != nil {
				return err
			}
			g.advance(int64(len(g.bufs[i])))
		}
	}
	return nil
}

// rows generates rows [lo, hi) of the matrix t into out, each row from its
// own random stream.
func (g *generator) rows(t *tensorSpec, lo, hi, cols int, rb int64, out []byte) error {
	vals := make([]float32, cols)
	src := &rand.PCG{}
	rng := rand.New(src)
	for r := lo; r < hi; r++ {
		src.Seed(g.seed, mix(t.key^mix(uint64(r))))
		for j := range vals {
			vals[j] = float32(rng.NormFloat64() * t.std)
		}
		off := int64(r-lo) * rb
		if err := quant.Quantize(t.dtype, vals, out[off:off+rb]); err != nil {
			return fmt.Errorf("row %d: %w", r, err)
		}
	}
	return nil
}

// mix is splitmix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
