package llama

import (
	"errors"
	"fmt"

	"github.com/golem-llm/golem/graph"
)

// WeightInfo reports the dtype and shape (outermost-first) of a named
// weight. It returns an error wrapping ErrNotFound when the model has no such
// tensor, and another error when the tensor cannot be used (an unsupported
// dtype). Its errors name neither the tensor (Build adds it) nor the file
// (Build's caller adds it).
type WeightInfo func(name string) (graph.DType, graph.Shape, error)

// ErrNotFound is wrapped by WeightInfo errors for absent tensors.
var ErrNotFound = errors.New("tensor not found")

// BuildOptions choose the shape class of a graph.
type BuildOptions struct {
	Tokens int // tokens per run: the prompt chunk for prefill, 1 for decode
	// Seqs > 1 builds the batched decode step of Seqs independent sequences,
	// one token each (Tokens must equal Seqs): every matmul runs on the Seqs
	// rows at once (the weights are read once per step), while each row
	// writes and attends to its own KV cache (Built.SeqCaches). 0 or 1: one
	// sequence of Tokens tokens.
	Seqs        int
	Context     int         // KV cache rows (of each sequence)
	KVType      graph.DType // F32 (default), F16 or BF16 (graph.KVTypes)
	AllLogits   bool        // logits for every token, not just the last
	LayerOutput bool        // also output each block's residual stream (for parity --layers)
}

// Built is a model graph and the handles a runtime needs to bind and read it.
type Built struct {
	Graph  *graph.Graph
	Tokens *graph.Node   // input I32 [Tokens]
	Pos    *graph.Node   // input I32 [Tokens]: absolute positions
	Logits *graph.Node   // output F32 [Tokens or 1, VocabSize]
	Layers []*graph.Node // outputs F32 [Tokens, Dim] per block, when LayerOutput
	// Caches are the KV-cache states [Context, KVHeads, HeadDim]: for one
	// sequence cache_k.0, cache_v.0, cache_k.1, ...; for Seqs > 1, layer by
	// layer, the K and V of each sequence in turn (SeqCaches picks one's).
	Caches []*graph.Node
	Seqs   int // sequences of the batched decode step (1 otherwise)
}

// SeqCaches returns the KV-cache states that sequence (row) r of a batched
// decode graph reads and writes, in the order of Caches for one sequence:
// K and V of layer 0, then of layer 1, ...
func (b *Built) SeqCaches(r int) []*graph.Node {
	if b.Seqs <= 1 {
		return b.Caches
	}
	out := make([]*graph.Node, 0, len(b.Caches)/b.Seqs)
	for i := 2 * r; i < len(b.Caches); i += 2 * b.Seqs {
		out = append(out, b.Caches[i], b.Caches[i+1])
	}
	return out
}

// CacheNames returns the names of the KV-cache state tensors of layer l.
func CacheNames(l int) (k, v string) {
	return fmt.Sprintf("cache_k.%d", l), fmt.Sprintf("cache_v.%d", l)
}

// seqCacheNames returns the names of the KV-cache states of layer l for
// sequence r of a batched decode graph.
func seqCacheNames(l, r int) (k, v string) {
	return fmt.Sprintf("cache_k.%d.%d", l, r), fmt.Sprintf("cache_v.%d.%d", l, r)
}

type builder struct {
	b   *graph.Builder
	cfg *Config
	w   WeightInfo
	err error
}

// weight declares a weight leaf, checking it exists with the expected shape.
func (m *builder) weight(name string, shape ...int) *graph.Node {
	if m.err != nil {
		return nil
	}
	dt, got, err := m.w(name)
	if err != nil {
		m.err = fmt.Errorf("llama: tensor %q: %w", name, err)
		return nil
	}
	if !got.Equal(graph.Shape(shape)) {
		m.err = fmt.Errorf("llama: tensor %q has shape %v, want %v", name, got, graph.Shape(shape))
		return nil
	}
	return m.b.Weight(name, dt, shape...)
}

// vec declares a 1-D weight used elementwise, converted to F32 when stored otherwise.
func (m *builder) vec(name string, n int) *graph.Node {
	w := m.weight(name, n)
	if w == nil || w.DType == graph.F32 {
		return w
	}
	return m.b.Copy(w, graph.F32)
}

func (m *builder) has(name string) bool {
	_, _, err := m.w(name)
	return !errors.Is(err, ErrNotFound)
}

// Build makes the graph of one run over o.Tokens tokens: embeddings, every
// block (attention with the KV cache, SwiGLU feed-forward) and the logits.
func Build(cfg *Config, weights WeightInfo, o BuildOptions) (*Built, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Tokens <= 0 || o.Context <= 0 || o.Tokens > o.Context {
		return nil, fmt.Errorf("llama: build: %d tokens with a context of %d", o.Tokens, o.Context)
	}
	if !o.KVType.IsKVType() {
		return nil, fmt.Errorf("llama: build: KV cache type %s (want %s)", o.KVType, graph.KVTypeNames())
	}
	seqs := max(o.Seqs, 1)
	if seqs > 1 && o.Tokens != seqs {
		return nil, fmt.Errorf("llama: build: a batched decode step of %d sequences takes one token each, not %d tokens", seqs, o.Tokens)
	}
	m := &builder{b: graph.NewBuilder(), cfg: cfg, w: weights}
	b := m.b
	s, d, hd := o.Tokens, cfg.Dim, cfg.HeadDim
	nq, nkv := cfg.Heads*hd, cfg.KVHeads*hd
	out := &Built{Seqs: seqs}
	out.Tokens = b.Input("tokens", graph.I32, s)
	out.Pos = b.Input("pos", graph.I32, s)

	embd := m.weight("token_embd.weight", cfg.VocabSize, d)
	if m.err != nil {
		return nil, m.err
	}
	x := b.GetRows(embd, out.Tokens)
	if m.err != nil {
		return nil, m.err
	}
	b.SetName(x, "inp_embd")
	rope := graph.RoPEParams{Mode: cfg.RopeMode, Dims: cfg.RopeDims, Theta: cfg.RopeTheta, FreqScale: cfg.RopeFreqScale}
	var freq *graph.Node
	if rope.Dims == 0 {
		rope.Dims = hd
	}
	if m.has("rope_freqs.weight") {
		freq = m.vec("rope_freqs.weight", rope.Dims/2)
	}
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		b.SetScope(fmt.Sprintf("blk.%d", l))
		h := b.SetName(b.Mul(b.RMSNorm(x, cfg.NormEps), m.vec(p+"attn_norm.weight", d)), p+"attn_norm")
		q := b.MatMul(h, m.weight(p+"attn_q.weight", nq, d))
		k := b.MatMul(h, m.weight(p+"attn_k.weight", nkv, d))
		v := b.MatMul(h, m.weight(p+"attn_v.weight", nkv, d))
		if cfg.QKVBias {
			q = b.Add(q, m.vec(p+"attn_q.bias", nq))
			k = b.Add(k, m.vec(p+"attn_k.bias", nkv))
			v = b.Add(v, m.vec(p+"attn_v.bias", nkv))
		}
		if m.err != nil {
			return nil, m.err
		}
		b.SetName(q, p+"attn_q")
		b.SetName(k, p+"attn_k")
		b.SetName(v, p+"attn_v")
		q = b.Reshape(q, s, cfg.Heads, hd)
		k = b.Reshape(k, s, cfg.KVHeads, hd)
		v = b.Reshape(v, s, cfg.KVHeads, hd)
		if cfg.QKNorm {
			q = b.Mul(b.RMSNorm(q, cfg.NormEps), m.vec(p+"attn_q_norm.weight", hd))
			k = b.Mul(b.RMSNorm(k, cfg.NormEps), m.vec(p+"attn_k_norm.weight", hd))
		}
		q = b.SetName(b.RoPE(q, out.Pos, freq, rope), p+"q_rope")
		k = b.SetName(b.RoPE(k, out.Pos, freq, rope), p+"k_rope")
		var a *graph.Node
		if seqs == 1 {
			kn, vn := CacheNames(l)
			a = m.attend(out, q, k, v, out.Pos, kn, vn, o)
		} else {
			a = m.attendEach(out, q, k, v, l, o)
		}
		b.SetName(a, p+"kqv")
		a = b.Reshape(a, s, nq)
		x = b.Add(x, b.SetName(b.MatMul(a, m.weight(p+"attn_output.weight", d, nq)), p+"attn_out"))
		b.SetName(x, p+"ffn_inp")
		h = b.SetName(b.Mul(b.RMSNorm(x, cfg.NormEps), m.vec(p+"ffn_norm.weight", d)), p+"ffn_norm")
		g := b.SetName(b.MatMul(h, m.weight(p+"ffn_gate.weight", cfg.FFN, d)), p+"ffn_gate")
		u := b.SetName(b.MatMul(h, m.weight(p+"ffn_up.weight", cfg.FFN, d)), p+"ffn_up")
		f := b.SetName(b.SwiGLU(g, u), p+"ffn_swiglu")
		x = b.Add(x, b.SetName(b.MatMul(f, m.weight(p+"ffn_down.weight", d, cfg.FFN)), p+"ffn_out"))
		b.SetName(x, p+"l_out")
		if m.err != nil {
			return nil, m.err
		}
		if o.LayerOutput {
			out.Layers = append(out.Layers, x)
		}
	}
	b.SetScope("")
	if !o.AllLogits && s > 1 && seqs == 1 {
		x = b.View(x, graph.Shape{1, d}, []int64{int64(d), 1}, int64((s-1)*d))
	}
	x = b.SetName(b.Mul(b.RMSNorm(x, cfg.NormEps), m.vec("output_norm.weight", d)), "result_norm")
	outW := embd
	if !cfg.Tied && m.has("output.weight") {
		outW = m.weight("output.weight", cfg.VocabSize, d)
	}
	if m.err != nil {
		return nil, m.err
	}
	out.Logits = b.SetName(b.MatMul(x, outW), "logits")
	outs := append([]*graph.Node{out.Logits}, out.Layers...)
	g, err := b.Build(outs...)
	if err != nil {
		return nil, fmt.Errorf("llama: build: %w", err)
	}
	out.Graph = g
	out.Logits = g.Outputs[0]
	out.Layers = g.Outputs[1:]
	return out, nil
}

// attend writes k and v into the KV-cache states named kn and vn at the
// positions pos and returns causal attention of q over the whole caches
// (declaring the states in out.Caches).
func (m *builder) attend(out *Built, q, k, v, pos *graph.Node, kn, vn string, o BuildOptions) *graph.Node {
	b, cfg := m.b, m.cfg
	kc := b.State(kn, o.KVType, o.Context, cfg.KVHeads, cfg.HeadDim)
	vc := b.State(vn, o.KVType, o.Context, cfg.KVHeads, cfg.HeadDim)
	out.Caches = append(out.Caches, kc, vc)
	kw := b.KVWrite(kc, k, pos)
	vw := b.KVWrite(vc, v, pos)
	return b.Attention(q, kw, vw, graph.AttentionOpts{Causal: true, Pos: pos})
}

// attendEach is attend for a batched decode step of layer l: row r of q,
// k and v (one token of sequence r) goes to sequence r's own caches at its
// own position, and the rows' results are joined again. Views and concat
// keep it within the op set every backend runs.
func (m *builder) attendEach(out *Built, q, k, v *graph.Node, l int, o BuildOptions) *graph.Node {
	b, cfg := m.b, m.cfg
	hd := cfg.HeadDim
	nq, nkv := int64(cfg.Heads*hd), int64(cfg.KVHeads*hd)
	row := func(x *graph.Node, heads int, width, r int64) *graph.Node {
		return b.View(x, graph.Shape{1, heads, hd}, []int64{width, int64(hd), 1}, r*width)
	}
	parts := make([]*graph.Node, o.Tokens)
	for r := range parts {
		kn, vn := seqCacheNames(l, r)
		pos := b.View(out.Pos, graph.Shape{1}, []int64{1}, int64(r))
		parts[r] = m.attend(out, row(q, cfg.Heads, nq, int64(r)), row(k, cfg.KVHeads, nkv, int64(r)), row(v, cfg.KVHeads, nkv, int64(r)), pos, kn, vn, o)
	}
	return concatRows(b, parts)
}

// concatRows joins xs along their first axis, pairwise in a balanced tree
// (each row is copied about log2(len(xs)) times, not len(xs) times).
func concatRows(b *graph.Builder, xs []*graph.Node) *graph.Node {
	for len(xs) > 1 {
		next := xs[:0:0]
		for i := 0; i+1 < len(xs); i += 2 {
			next = append(next, b.Concat(xs[i], xs[i+1], 0))
		}
		if len(xs)%2 == 1 {
			next = append(next, xs[len(xs)-1])
		}
		xs = next
	}
	return xs[0]
}
