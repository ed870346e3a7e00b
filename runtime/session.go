package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/model/llama"
)

// DefaultContext is the KV cache length of a session that asks for none.
const DefaultContext = 4096

// ErrContextFull is returned when tokens would not fit in a session's context.
var ErrContextFull = errors.New("context full")

// SessionOptions configure a session.
type SessionOptions struct {
	Context   int         // KV cache rows (0: 4096, as llama.cpp's default)
	KVType    graph.DType // F32 (default) or F16
	Chunk     int         // prefill tokens per run (0: 512)
	AllLogits bool        // keep logits of every position of the last Feed (parity)
}

// Session is one conversation: a KV cache and the position reached in it.
// Graphs are built and compiled once per shape class (the decode step, each
// prefill chunk length) and reused; a decode step only writes two small
// inputs, runs, and reads the logits. Not safe for concurrent use.
type Session struct {
	m       *Model
	opts    SessionOptions
	caches  map[string]backend.Buffer
	progs   map[int]*program
	tokens  []int32 // everything fed so far
	logits  []float32
	scratch []byte
}

type program struct {
	built          *llama.Built
	prog           backend.Program
	tokBuf, posBuf backend.Buffer
	outBuf         backend.Buffer
	rows           int // logits rows produced
}

// NewSession allocates a KV cache on the model's backend.
func (m *Model) NewSession(o SessionOptions) (*Session, error) {
	if o.Context <= 0 {
		o.Context = DefaultContext
	}
	if o.Chunk <= 0 {
		o.Chunk = 512
	}
	o.Chunk = min(o.Chunk, o.Context)
	s := &Session{m: m, opts: o, caches: map[string]backend.Buffer{}, progs: map[int]*program{}}
	kvRow, err := o.KVType.RowBytes(int64(m.Config.KVHeads * m.Config.HeadDim))
	if err != nil {
		return nil, fmt.Errorf("runtime: kv cache: %w", err)
	}
	for l := 0; l < m.Config.Layers; l++ {
		kn, vn := llama.CacheNames(l)
		for _, name := range []string{kn, vn} {
			buf, err := m.Backend.Alloc(kvRow * int64(o.Context))
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("runtime: allocate %s (%d tokens): %w", name, o.Context, err)
			}
			s.caches[name] = buf
		}
	}
	return s, nil
}

// Context returns the session's capacity in tokens.
func (s *Session) Context() int { return s.opts.Context }

// Len returns how many tokens are in the KV cache.
func (s *Session) Len() int { return len(s.tokens) }

// Tokens returns the tokens fed so far.
func (s *Session) Tokens() []int32 { return s.tokens }

// Logits returns the logits of the last position fed (every position of the
// last Feed when AllLogits is set: rows of VocabSize).
func (s *Session) Logits() []float32 { return s.logits }

// Rewind forgets everything after the first n tokens (a later Feed
// overwrites their cache rows).
func (s *Session) Rewind(n int) {
	if n < len(s.tokens) {
		s.tokens = s.tokens[:max(n, 0)]
	}
}

func (s *Session) program(n int) (*program, error) {
	if p, ok := s.progs[n]; ok {
		return p, nil
	}
	m := s.m
	built, err := llama.Build(m.Config, m.Src.Weights(), llama.BuildOptions{
		Tokens: n, Context: s.opts.Context, KVType: s.opts.KVType, AllLogits: s.opts.AllLogits,
	})
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	prog, err := m.Backend.Compile(built.Graph)
	if err != nil {
		return nil, fmt.Errorf("runtime: compile %d-token graph on %s: %w", n, m.Backend.Name(), err)
	}
	p := &program{built: built, prog: prog, rows: built.Logits.Shape[0]}
	fail := func(err error) (*program, error) {
		p.close()
		return nil, err
	}
	for _, w := range built.Graph.Leaves(graph.OpWeight) {
		buf, ok := m.weights[w.Name]
		if !ok {
			return fail(fmt.Errorf("runtime: weight %q not loaded", w.Name))
		}
		if err := prog.Bind(w, buf, 0); err != nil {
			return fail(err)
		}
	}
	for _, c := range built.Caches {
		if err := prog.Bind(c, s.caches[c.Name], 0); err != nil {
			return fail(err)
		}
	}
	if p.tokBuf, err = m.Backend.Alloc(int64(4 * n)); err != nil {
		return fail(err)
	}
	if p.posBuf, err = m.Backend.Alloc(int64(4 * n)); err != nil {
		return fail(err)
	}
	if p.outBuf, err = m.Backend.Alloc(built.Logits.Bytes()); err != nil {
		return fail(err)
	}
	for _, b := range []struct {
		n   *graph.Node
		buf backend.Buffer
	}{{built.Tokens, p.tokBuf}, {built.Pos, p.posBuf}, {built.Logits, p.outBuf}} {
		if err := prog.Bind(b.n, b.buf, 0); err != nil {
			return fail(err)
		}
	}
	s.progs[n] = p
	return p, nil
}

func (p *program) close() {
	if p.prog != nil {
		p.prog.Close()
	}
	for _, b := range []backend.Buffer{p.tokBuf, p.posBuf, p.outBuf} {
		if b != nil {
			b.Free()
		}
	}
}

// Feed runs tokens through the model after what the cache already holds
// and leaves the logits of the last one in Logits. Long inputs run in
// chunks of SessionOptions.Chunk tokens.
func (s *Session) Feed(ctx context.Context, tokens []int32) error {
	if len(tokens) == 0 {
		return errors.New("runtime: feed: no tokens")
	}
	if len(s.tokens)+len(tokens) > s.opts.Context {
		return fmt.Errorf("runtime: %w: %d tokens in the cache + %d new exceed the context of %d", ErrContextFull, len(s.tokens), len(tokens), s.opts.Context)
	}
	vocab := s.m.Config.VocabSize
	for _, t := range tokens {
		if t < 0 || int(t) >= vocab {
			return fmt.Errorf("runtime: feed: token %d outside the vocabulary of %d", t, vocab)
		}
	}
	if s.opts.AllLogits {
		s.logits = s.logits[:0]
	}
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
	n := len(chunk)
	if cap(s.scratch) < 4*n {
		s.scratch = make([]byte, 4*n)
	}
	buf := s.scratch[:4*n]
	for i, t := range chunk {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(t))
	}
	if err := p.tokBuf.Write(0, buf); err != nil {
		return fmt.Errorf("runtime: write tokens: %w", err)
	}
	base := len(s.tokens)
	for i := range chunk {
		binary.LittleEndian.PutUint32(buf[4*i:], uint32(base+i))
	}
	if err := p.posBuf.Write(0, buf); err != nil {
		return fmt.Errorf("runtime: write positions: %w", err)
	}
	if err := p.prog.Run(ctx); err != nil {
		return fmt.Errorf("runtime: run at position %d: %w", base, err)
	}
	s.tokens = append(s.tokens, chunk...)
	return s.readLogits(p)
}

func (s *Session) readLogits(p *program) error {
	size := p.built.Logits.Bytes()
	if int64(cap(s.scratch)) < size {
		s.scratch = make([]byte, size)
	}
	raw := s.scratch[:size]
	if err := p.outBuf.Read(0, raw); err != nil {
		return fmt.Errorf("runtime: read logits: %w", err)
	}
	count := int(size / 4)
	if !s.opts.AllLogits {
		s.logits = s.logits[:0]
	}
	for i := 0; i < count; i++ {
		s.logits = append(s.logits, math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
	}
	return nil
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
