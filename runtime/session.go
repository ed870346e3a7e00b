package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/optcheck"
	"github.com/golem-llm/golem/model/llama"
)

// DefaultContext is the KV cache length of a session that asks for none
// (llama.cpp's default), unless the model was trained on a shorter context.
const DefaultContext = 4096

// DefaultChunk is how many prompt tokens one prefill run takes by default.
const DefaultChunk = 512

// MaxContext is the largest context a session accepts: positions are
// 32-bit integers.
const MaxContext = math.MaxInt32

// ErrContextFull is returned when tokens would not fit in a session's context.
var ErrContextFull = errors.New("context full")

// SessionOptions configure a session.
type SessionOptions struct {
	// Context is the KV cache rows (0: Model.DefaultContext, the smaller
	// of DefaultContext and the model's trained context).
	Context   int
	KVType    graph.DType // F32 (default), F16 or BF16 (graph.KVTypes)
	Chunk     int         // prefill tokens per run (0: DefaultChunk)
	AllLogits bool        // keep logits of every position of the last Feed (parity)
}

// Validate reports the first field out of its range as an
// *optcheck.FieldError.
func (o SessionOptions) Validate() error {
	s := optcheck.Struct{Pkg: "runtime", Name: "SessionOptions"}
	var kv error
	if !o.KVType.IsKVType() {
		kv = s.Fail("KVType", o.KVType, graph.KVTypeNames())
	}
	return optcheck.First(
		s.IntRange("Context", o.Context, 0, MaxContext),
		s.NonNegative("Chunk", o.Chunk),
		kv,
	)
}

// Session is one conversation: a KV cache and the position reached in it.
// Graphs are built and compiled once per shape class (the decode step, each
// prefill chunk length) and reused; a decode step only writes two small
// inputs, runs, and reads the logits. Not safe for concurrent use.
type Session struct {
	m       *Model
	opts    SessionOptions
	caches  map[string]backend.Buffer
	progs   map[int]*step
	tokens  []int32 // everything fed so far
	logits  []float32
	scratch []byte
}

// DefaultContext returns the context of a session that asks for none:
// DefaultContext, or the model's trained context when that is shorter
// (running past it gives text the model was never trained to produce).
func (m *Model) DefaultContext() int {
	if trained := m.Config.ContextLen; trained > 0 && trained < DefaultContext {
		return trained
	}
	return DefaultContext
}

// NewSession allocates a KV cache on the model's backend.
func (m *Model) NewSession(o SessionOptions) (*Session, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Context == 0 {
		o.Context = m.DefaultContext()
	}
	if o.Chunk == 0 {
		o.Chunk = DefaultChunk
	}
	o.Chunk = min(o.Chunk, o.Context)
	s := &Session{m: m, opts: o, caches: map[string]backend.Buffer{}, progs: map[int]*step{}}
	bufs, err := m.allocCache(o.Context, o.KVType)
	if err != nil {
		return nil, err
	}
	for l := 0; l < m.Config.Layers; l++ {
		kn, vn := llama.CacheNames(l)
		s.caches[kn], s.caches[vn] = bufs[2*l], bufs[2*l+1]
	}
	return s, nil
}

// allocCache allocates the KV cache of one sequence of ctx tokens: the K
// and V of layer 0, then of layer 1, ...
func (m *Model) allocCache(ctx int, kv graph.DType) ([]backend.Buffer, error) {
	kvRow, err := kv.RowBytes(int64(m.Config.KVHeads * m.Config.HeadDim))
	if err != nil {
		return nil, fmt.Errorf("runtime: kv cache: %w", err)
	}
	bufs := make([]backend.Buffer, 0, 2*m.Config.Layers)
	for l := 0; l < m.Config.Layers; l++ {
		kn, vn := llama.CacheNames(l)
		for _, name := range []string{kn, vn} {
			buf, err := m.Backend.Alloc(kvRow * int64(ctx))
			if err != nil {
				freeAll(bufs)
				return nil, fmt.Errorf("runtime: allocate %s (%d tokens): %w", name, ctx, err)
			}
			bufs = append(bufs, buf)
		}
	}
	return bufs, nil
}

// freeAll frees bufs and returns the first error.
func freeAll(bufs []backend.Buffer) error {
	var first error
	for _, b := range bufs {
		if err := b.Free(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Context returns the session's capacity in tokens.
func (s *Session) Context() int { return s.opts.Context }

// Len returns how many tokens are in the KV cache.
func (s *Session) Len() int { return len(s.tokens) }

// Tokens returns a copy of the tokens fed so far.
func (s *Session) Tokens() []int32 { return append([]int32(nil), s.tokens...) }

// Logits returns a copy of the logits of the last position fed (every
// position of the last Feed when AllLogits is set: rows of VocabSize), or
// nil when there are none (nothing fed since the session began or was
// rewound). It is a copy because the session reuses its buffer: a slice
// into it would change under the caller at the next Feed. Generate reads
// the buffer in place.
func (s *Session) Logits() []float32 {
	if len(s.logits) == 0 {
		return nil
	}
	return append([]float32(nil), s.logits...)
}

// Rewind forgets everything after the first n tokens (a later Feed
// overwrites their cache rows). When it forgets any, the logits go too:
// they belonged to a position no longer in the cache.
func (s *Session) Rewind(n int) {
	if n < len(s.tokens) {
		s.tokens = s.tokens[:max(n, 0)]
		s.logits = s.logits[:0]
	}
}

func (s *Session) program(n int) (*step, error) {
	if p, ok := s.progs[n]; ok {
		return p, nil
	}
	p, err := s.m.newStep(llama.BuildOptions{
		Tokens: n, Context: s.opts.Context, KVType: s.opts.KVType, AllLogits: s.opts.AllLogits,
	})
	if err != nil {
		return nil, err
	}
	for _, c := range p.built.Caches {
		if err := p.prog.Bind(c, s.caches[c.Name], 0); err != nil {
			p.close()
			return nil, err
		}
	}
	s.progs[n] = p
	return p, nil
}

// Feed runs tokens through the model after what the cache already holds
// and leaves the logits of the last one in Logits. Long inputs run in
// chunks of SessionOptions.Chunk tokens. Errors start with "runtime: "
// (ErrContextFull is matched by errors.Is).
func (s *Session) Feed(ctx context.Context, tokens []int32) error {
	if err := s.feed(ctx, tokens); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	return nil
}

// feed is Feed without the package prefix on its errors.
func (s *Session) feed(ctx context.Context, tokens []int32) error {
	if len(tokens) == 0 {
		return errors.New("feed: no tokens")
	}
	if len(s.tokens)+len(tokens) > s.opts.Context {
		return fmt.Errorf("%w: %d tokens in the cache + %d new exceed the context of %d", ErrContextFull, len(s.tokens), len(tokens), s.opts.Context)
	}
	vocab := s.m.Config.VocabSize
	for _, t := range tokens {
		if t < 0 || int(t) >= vocab {
			return fmt.Errorf("feed: token %d outside the vocabulary of %d", t, vocab)
		}
	}
	s.logits = s.logits[:0]
	for start := 0; start < len(tokens); start += s.opts.Chunk {
		chunk := tokens[start:min(start+s.opts.Chunk, len(tokens))]
		if err := s.run(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) run(ctx context.Context, chunk []int32) error {
	p, err := s.program(len(chunk))
	if err != nil {
		return err
	}
	base := len(s.tokens)
	if s.scratch, err = p.writeInputs(chunk, func(i int) int { return base + i }, s.scratch); err != nil {
		return err
	}
	if err := p.start(ctx); err != nil {
		return fmt.Errorf("run at position %d: %w", base, err)
	}
	// The read waits for the run and reports its errors (step.start).
	if err := s.readLogits(p); err != nil {
		return fmt.Errorf("run at position %d: %w", base, err)
	}
	s.tokens = append(s.tokens, chunk...)
	return nil
}

func (s *Session) readLogits(p *step) error {
	if !s.opts.AllLogits {
		s.logits = s.logits[:0]
	}
	var err error
	s.logits, s.scratch, err = p.appendLogits(s.logits, s.scratch)
	return err
}

// Timings returns, for each program of the session by tokens per run (1:
// the decode step), the per-node device times and kernel launches of its
// last run, for backends whose programs record them (backend.Profiler,
// with backend.Options.Profile). Programs without timings are left out.
func (s *Session) Timings() map[int][]backend.OpTiming {
	out := map[int][]backend.OpTiming{}
	for n, p := range s.progs {
		if pr, ok := p.prog.(backend.Profiler); ok {
			if t := pr.Timings(); t != nil {
				out[n] = t
			}
		}
	}
	return out
}

// Close frees the session's programs and KV cache. After the backend was
// closed it returns the backend's error (wrapping backend.ErrClosed).
func (s *Session) Close() error {
	for _, p := range s.progs {
		p.close()
	}
	s.progs = nil
	var first error
	for _, b := range s.caches {
		if err := b.Free(); err != nil && first == nil {
			first = fmt.Errorf("runtime: close session: %w", err)
		}
	}
	s.caches = nil
	return first
}

// lastLogits returns the logits row of the last position fed, in place (no
// copy; the next Feed overwrites it).
func (s *Session) lastLogits() []float32 {
	v := s.m.Config.VocabSize
	if len(s.logits) < v {
		return s.logits
	}
	return s.logits[len(s.logits)-v:]
}
