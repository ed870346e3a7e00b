package runtime

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/optcheck"
	"github.com/golem-llm/golem/model/llama"
)

// MaxParallel is the most sequences an engine decodes together.
const MaxParallel = 256

// DefaultQueue is how many requests may wait for a sequence slot when
// EngineOptions.Queue is 0.
const DefaultQueue = 64

// MaxTopLogProbs is the most alternatives Request.TopLogProbs may ask for.
const MaxTopLogProbs = 20

// ErrQueueFull is returned by Engine.Submit when every sequence slot is
// taken and the queue of waiting requests is full.
var ErrQueueFull = errors.New("queue full")

// ErrCacheInUse is returned by Engine.Submit for a request whose Cache
// another request is using.
var ErrCacheInUse = errors.New("cache in use by another request")

// Stop reasons of Stats.StopReason.
const (
	StopEOS       = "eos"       // an end-of-generation token
	StopString    = "stop"      // a stop string
	StopLength    = "length"    // the token limit
	StopContext   = "context"   // the KV cache is full
	StopCancelled = "cancelled" // the request's context was cancelled or its stream closed
	StopError     = "error"     // an error (the stream returns it)
)

// EngineOptions configure NewEngine.
type EngineOptions struct {
	// Parallel is how many sequences decode together, 1..MaxParallel (0:
	// 1): the rows of the batched decode step and the KV caches the engine
	// keeps for requests without their own.
	Parallel int
	// Context is the KV cache rows of each sequence (0:
	// Model.DefaultContext).
	Context int
	// KVType is the KV cache element type: F32 (the zero value), F16 or
	// BF16 (graph.KVTypes).
	KVType graph.DType
	// Chunk is the most prompt tokens the engine runs between two decode
	// steps (0: DefaultChunk): a long prompt is fed in several steps, so
	// that the sequences already decoding keep a steady pace.
	Chunk int
	// Queue is how many requests may wait for a free sequence beyond those
	// running (0: DefaultQueue). Submit refuses more with ErrQueueFull.
	Queue int
	// Now is the clock of the timings (nil: time.Now).
	Now func() time.Time
}

// Validate reports the first field out of its range as an
// *optcheck.FieldError.
func (o EngineOptions) Validate() error {
	s := optcheck.Struct{Pkg: "runtime", Name: "EngineOptions"}
	var kv error
	if !o.KVType.IsKVType() {
		kv = s.Fail("KVType", o.KVType, graph.KVTypeNames())
	}
	return optcheck.First(
		s.IntRange("Parallel", o.Parallel, 0, MaxParallel),
		s.IntRange("Context", o.Context, 0, MaxContext),
		kv,
		s.NonNegative("Chunk", o.Chunk),
		s.NonNegative("Queue", o.Queue),
	)
}

// Request is one generation: a prompt to feed and how to continue it.
type Request struct {
	// Prompt is the token ids to feed, at least one. When the request's
	// own Cache already holds a prefix of them, only the rest runs.
	Prompt []int32
	// MaxTokens stops after this many generated tokens, ≥ 0 (0: until the
	// context is full).
	MaxTokens int
	// Sampler picks the tokens; each request has its own sampler and seed,
	// so what it generates does not depend on the other requests.
	Sampler SamplerConfig
	// Stop ends generation when the text generated so far contains one of
	// these (the stop string and what follows are not returned).
	Stop []string
	// LogProbs fills Token.LogProb (one pass over the vocabulary per token).
	LogProbs bool
	// TopLogProbs fills Token.TopLogProbs with this many of the most likely
	// tokens of each step, 0..MaxTopLogProbs (0: none; one more pass over
	// the vocabulary per token).
	TopLogProbs int
	// IgnoreEOS treats end-of-generation tokens as any other token
	// (benchmarks: every request runs to MaxTokens).
	IgnoreEOS bool
	// Cache is the KV cache to run in (a conversation's, from
	// Engine.NewCache), whose prefix in common with Prompt is reused; nil
	// takes one of the engine's, emptied first.
	Cache *Cache
}

// Validate reports the first field out of its range (the sampler's
// included) as an *optcheck.FieldError.
func (r Request) Validate() error {
	s := optcheck.Struct{Pkg: "runtime", Name: "Request"}
	return optcheck.First(s.NonNegative("MaxTokens", r.MaxTokens), s.IntRange("TopLogProbs", r.TopLogProbs, 0, MaxTopLogProbs), r.Sampler.Validate())
}

// Cache is the KV cache of one sequence: a region of Context rows per
// layer for K and for V, and the tokens whose keys and values it holds.
// The engine keeps Parallel of them for requests without a cache;
// Engine.NewCache makes one a caller keeps across requests (a
// conversation), so that each request runs only the tokens after the
// prefix the cache already holds.
type Cache struct {
	e      *Engine
	bufs   []backend.Buffer // K and V of layer 0, then of layer 1, ...
	tokens []int32          // engine goroutine (or the owner while idle)
	pooled bool
	// Guarded by e.mu.
	inUse, closing, closed bool
	st                     *Stream // the request using the cache
}

// Close frees the cache's buffers, once the request using it (if any) has
// ended; that request is cancelled.
func (c *Cache) Close() error {
	e := c.e
	e.mu.Lock()
	if c.closed || c.closing {
		e.mu.Unlock()
		return nil
	}
	if c.inUse {
		c.closing = true
		st := c.st
		e.mu.Unlock()
		st.cancel(errCacheClosed) // the engine frees c when the request has ended
		return nil
	}
	c.closed = true
	e.mu.Unlock()
	return e.freeCache(c)
}

// Engine runs many requests on one model, decoding their sequences
// together: each step runs one batched decode graph over every sequence
// that is generating (a matmul reads each weight once for all of them) and
// up to Chunk prompt tokens of requests still in their prefill. A request
// waits in a bounded queue until a sequence slot is free; a finished,
// failed or cancelled request frees its slot before the next step.
//
// One goroutine runs the steps; Submit, Close and the streams are safe for
// concurrent use.
type Engine struct {
	m    *Model
	o    EngineOptions
	now  func() time.Time
	wake chan struct{}
	done chan struct{}
	ctx  context.Context // cancelled by Close: ends a run in flight
	stop context.CancelFunc

	mu      sync.Mutex
	queue   []*Stream
	waiting int // requests submitted and not yet admitted or ended
	running int // admitted sequences
	closed  bool
	extra   []*Cache // caches of NewCache, freed at Close when still open

	// progMu guards the program maps for Timings (the engine goroutine
	// reads them without it).
	progMu sync.Mutex

	// The engine goroutine's own state.
	active  []*seq
	free    []*Cache // pooled caches without a request
	pooled  int      // pooled caches allocated
	decode  map[int]*step
	prefill map[int]*step
	rows    []*seq // this step's decode rows
	feed    []int32
	logits  []float32
	// stepAt is when the run whose logits are being sampled ended: the
	// time of every token it gives (Token.Time).
	stepAt   time.Time
	scratch  []byte
	closeErr error
}

// seq is an admitted request.
type seq struct {
	st      *Stream
	cache   *Cache
	pending []int32 // prompt tokens still to run
	sampler *Sampler
	next    int32 // token to feed at the next decode step
	gen     int
	started bool // prefill began (for the timings)
}

// NewEngine starts an engine on m. Close stops it.
func NewEngine(m *Model, o EngineOptions) (*Engine, error) {
	e, err := newEngine(m, o)
	if err != nil {
		return nil, err
	}
	go e.loop()
	return e, nil
}

// newEngine is NewEngine without the goroutine that runs the steps.
func newEngine(m *Model, o EngineOptions) (*Engine, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Parallel == 0 {
		o.Parallel = 1
	}
	if o.Context == 0 {
		o.Context = m.DefaultContext()
	}
	if o.Chunk == 0 {
		o.Chunk = DefaultChunk
	}
	o.Chunk = min(o.Chunk, o.Context)
	if o.Queue == 0 {
		o.Queue = DefaultQueue
	}
	e := &Engine{m: m, o: o, now: o.Now, wake: make(chan struct{}, 1), done: make(chan struct{}),
		decode: map[int]*step{}, prefill: map[int]*step{}}
	if e.now == nil {
		e.now = time.Now
	}
	e.ctx, e.stop = context.WithCancel(context.Background())
	return e, nil
}

// Options returns the engine's options with the defaults filled in.
func (e *Engine) Options() EngineOptions { return e.o }

// EngineLoad is how busy an engine is at one moment.
type EngineLoad struct {
	Running int // requests admitted to a sequence slot (prefill or decoding)
	Waiting int // requests queued for a slot
}

// Load returns how many requests hold a sequence slot and how many wait
// for one. A request that ends (finished, cancelled, failed) leaves both
// counts before its stream reports the end.
func (e *Engine) Load() EngineLoad {
	e.mu.Lock()
	defer e.mu.Unlock()
	return EngineLoad{Running: e.running, Waiting: e.waiting}
}

// Model returns the model the engine runs.
func (e *Engine) Model() *Model { return e.m }

// NewCache allocates a KV cache of the engine's context for requests that
// continue one another (Request.Cache). The caller closes it.
func (e *Engine) NewCache() (*Cache, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("runtime: new cache: engine %w", backend.ErrClosed)
	}
	bufs, err := e.m.allocCache(e.o.Context, e.o.KVType)
	if err != nil {
		return nil, err
	}
	c := &Cache{e: e, bufs: bufs}
	e.mu.Lock()
	e.extra = append(e.extra, c)
	e.mu.Unlock()
	return c, nil
}

// Submit queues a request and returns the stream of its tokens. It fails
// at once for a bad request (an empty prompt, a token outside the
// vocabulary, options out of range), a prompt longer than the context
// (ErrContextFull), a cache another request is using (ErrCacheInUse), a
// full queue (ErrQueueFull) or a closed engine (backend.ErrClosed).
// Cancelling ctx ends the request: its stream ends with ctx's error.
func (e *Engine) Submit(ctx context.Context, r Request) (*Stream, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if len(r.Prompt) == 0 {
		return nil, errors.New("runtime: submit: empty prompt")
	}
	if len(r.Prompt) > e.o.Context {
		return nil, fmt.Errorf("runtime: %w: the prompt's %d tokens exceed the context of %d", ErrContextFull, len(r.Prompt), e.o.Context)
	}
	vocab := e.m.Config.VocabSize
	for _, t := range r.Prompt {
		if t < 0 || int(t) >= vocab {
			return nil, fmt.Errorf("runtime: submit: token %d outside the vocabulary of %d", t, vocab)
		}
	}
	sampler, err := NewSampler(r.Sampler)
	if err != nil {
		return nil, err
	}
	if r.Cache != nil && r.Cache.e != e {
		return nil, errors.New("runtime: submit: the cache belongs to another engine")
	}
	r.Prompt = append([]int32(nil), r.Prompt...)
	r.Stop = append([]string(nil), r.Stop...)
	st := newStream(e, r, sampler)
	st.submitted = e.now()
	st.stopWatch = context.AfterFunc(ctx, func() { st.cancel(context.Cause(ctx)) })
	fail := func(err error) (*Stream, error) {
		e.mu.Unlock()
		st.stopWatch()
		return nil, err
	}
	e.mu.Lock()
	switch {
	case e.closed:
		return fail(fmt.Errorf("runtime: submit: engine %w", backend.ErrClosed))
	case r.Cache != nil && r.Cache.inUse:
		return fail(fmt.Errorf("runtime: submit: %w", ErrCacheInUse))
	case r.Cache != nil && (r.Cache.closed || r.Cache.closing):
		return fail(fmt.Errorf("runtime: submit: cache %w", backend.ErrClosed))
	case e.waiting >= e.o.Queue+e.o.Parallel-e.running:
		return fail(fmt.Errorf("runtime: %w: %d requests wait for %d sequences (%d running, a queue of %d)", ErrQueueFull, e.waiting, e.o.Parallel, e.running, e.o.Queue))
	}
	if r.Cache != nil {
		r.Cache.inUse, r.Cache.st = true, st
	}
	e.queue = append(e.queue, st)
	e.waiting++
	e.mu.Unlock()
	e.signal()
	return st, nil
}

// Close ends every request (their streams end with an error wrapping
// backend.ErrClosed), waits for the step in flight, and frees the
// engine's programs and caches, those of NewCache included.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.stop()
	e.signal()
	<-e.done
	return e.closeErr
}

// signal wakes the engine goroutine.
func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

var errCacheClosed = fmt.Errorf("cache %w", backend.ErrClosed)

// freeCache frees c's buffers; the engine's programs forget it.
func (e *Engine) freeCache(c *Cache) error {
	e.mu.Lock()
	for i, x := range e.extra {
		if x == c {
			e.extra = append(e.extra[:i], e.extra[i+1:]...)
			break
		}
	}
	e.mu.Unlock()
	if err := freeAll(c.bufs); err != nil {
		return fmt.Errorf("runtime: free kv cache: %w", err)
	}
	return nil
}

// loop is the engine goroutine.
func (e *Engine) loop() {
	defer close(e.done)
	for {
		e.mu.Lock()
		closed := e.closed
		e.mu.Unlock()
		if closed {
			e.shutdown()
			return
		}
		e.reap()
		e.admit()
		if len(e.active) == 0 {
			<-e.wake
			continue
		}
		e.decodeStep()
		e.prefillStep()
	}
}

// reap ends the sequences whose requests were cancelled (their context,
// their stream or their cache closed, or a stop string reached).
func (e *Engine) reap() {
	for _, s := range e.active {
		if err := s.st.cancelCause(); err != nil {
			e.finish(s, StopCancelled, -1, err)
		}
	}
	e.compact()
}

// compact drops finished sequences from e.active.
func (e *Engine) compact() {
	n := 0
	for _, s := range e.active {
		if s.cache != nil {
			e.active[n] = s
			n++
		}
	}
	clear(e.active[n:])
	e.active = e.active[:n]
}

// admit moves waiting requests into free sequence slots, in order.
func (e *Engine) admit() {
	e.mu.Lock()
	q := e.queue
	e.queue = nil
	e.mu.Unlock()
	n := 0
	for _, st := range q {
		if err := st.cancelCause(); err != nil {
			e.endWaiting(st, err)
			continue
		}
		if len(e.active) >= e.o.Parallel {
			q[n] = st
			n++
			continue
		}
		c := st.req.Cache
		if c == nil {
			var err error
			if c, err = e.takePooled(st); err != nil {
				e.endWaiting(st, err)
				continue
			}
		}
		common := commonPrefix(c.tokens, st.req.Prompt)
		if common == len(st.req.Prompt) {
			common-- // the whole prompt is cached: run its last token again for its logits
		}
		c.tokens = c.tokens[:common]
		st.setAdmitted(e.now(), common)
		e.active = append(e.active, &seq{st: st, cache: c, pending: st.req.Prompt[common:], sampler: st.sampler})
		e.mu.Lock()
		e.waiting--
		e.running++
		e.mu.Unlock()
	}
	clear(q[n:])
	e.mu.Lock()
	e.queue = append(q[:n], e.queue...)
	e.mu.Unlock()
}

// takePooled returns a free pooled cache for st, or a new one while fewer
// than Parallel exist. Its former content is forgotten: a request's output
// must not depend on which request ran before it (reusing a cached prefix
// would cut the rest of the prompt into other runs, which can round
// differently), so only a caller's own cache (a conversation) keeps its
// prefix from one request to the next.
func (e *Engine) takePooled(st *Stream) (*Cache, error) {
	var c *Cache
	switch {
	case len(e.free) > 0:
		c = e.free[len(e.free)-1]
		e.free = e.free[:len(e.free)-1]
		c.tokens = c.tokens[:0]
	case e.pooled < e.o.Parallel:
		bufs, err := e.m.allocCache(e.o.Context, e.o.KVType)
		if err != nil {
			return nil, err
		}
		e.pooled++
		c = &Cache{e: e, bufs: bufs, pooled: true}
	default:
		return nil, errors.New("runtime: no free kv cache") // not reached: admit checks the rows first
	}
	e.mu.Lock()
	c.inUse, c.st = true, st
	e.mu.Unlock()
	return c, nil
}

// commonPrefix returns how many leading tokens a and b share.
func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// endWaiting ends a request that never ran.
func (e *Engine) endWaiting(st *Stream, err error) {
	e.mu.Lock()
	e.waiting--
	if c := st.req.Cache; c != nil {
		c.inUse, c.st = false, nil
	}
	e.mu.Unlock()
	e.releaseIfClosing(st.req.Cache)
	reason := StopError
	if st.cancelCause() != nil {
		reason = StopCancelled
	}
	st.push(event{id: -1, final: true, reason: reason, err: err, at: e.now()})
}

// releaseIfClosing frees a session cache whose Close waited for its request.
func (e *Engine) releaseIfClosing(c *Cache) {
	if c == nil {
		return
	}
	e.mu.Lock()
	free := c.closing && !c.inUse && !c.closed
	if free {
		c.closed = true
	}
	e.mu.Unlock()
	if free {
		e.forget(c)
		e.freeCache(c)
	}
}

// forget unbinds c from every program.
func (e *Engine) forget(c *Cache) {
	for _, p := range e.decode {
		p.unbind(c)
	}
	for _, p := range e.prefill {
		p.unbind(c)
	}
}

// finish ends sequence s: its stream gets its last event, its cache goes
// back to the pool (or to its owner), and it leaves the active set at the
// next compact.
func (e *Engine) finish(s *seq, reason string, id int32, err error) {
	if err != nil && reason != StopCancelled {
		s.cache.tokens = s.cache.tokens[:0] // its content is not known
	}
	c := s.cache
	s.cache = nil
	e.mu.Lock()
	e.running--
	c.inUse, c.st = false, nil
	if c.pooled {
		e.free = append(e.free, c)
	}
	e.mu.Unlock()
	e.releaseIfClosing(c)
	// Last: a reader that sees the end may submit to the cache at once.
	s.st.push(event{id: id, final: true, reason: reason, err: err, at: e.now()})
}

// emit delivers token id, sampled from logits for sequence s, and decides
// whether s goes on. It reports whether s is finished.
func (e *Engine) emit(s *seq, id int32, logits []float32) bool {
	if !s.st.req.IgnoreEOS && e.m.Tokenizer.IsEOG(id) {
		e.finish(s, StopEOS, id, nil)
		return true
	}
	ev := event{id: id, at: e.stepAt}
	if r := s.st.req; r.LogProbs || r.TopLogProbs > 0 {
		lse := logSumExp(logits)
		ev.logprob = logits[id] - lse
		if r.TopLogProbs > 0 {
			ev.top = topLogProbs(logits, r.TopLogProbs, lse)
		}
	}
	s.st.push(ev)
	s.gen++
	switch {
	case s.st.req.MaxTokens > 0 && s.gen >= s.st.req.MaxTokens:
		e.finish(s, StopLength, -1, nil)
		return true
	case len(s.cache.tokens) >= e.o.Context:
		e.finish(s, StopContext, -1, nil)
		return true
	}
	s.next = id
	return false
}

// sample picks the next token of s from its logits row, or ends s with
// the sampler's error.
func (e *Engine) sample(s *seq, logits []float32) {
	id, err := s.sampler.Sample(logits, s.cache.tokens)
	if err != nil {
		var nf *NonFiniteError
		if errors.As(err, &nf) {
			nf.Pos = len(s.cache.tokens) - 1
			nf.Tokens = append([]int32(nil), s.cache.tokens...)
			e.finish(s, StopError, -1, nf)
			return
		}
		e.finish(s, StopError, -1, fmt.Errorf("runtime: generate: %w", err))
		return
	}
	e.emit(s, id, logits)
}

// logSumExp returns log Σ exp(logits), so that logits[i] - logSumExp is
// log softmax(logits)[i].
func logSumExp(logits []float32) float32 {
	m := logits[0]
	for _, l := range logits[1:] {
		m = max(m, l)
	}
	var sum float64
	for _, l := range logits {
		sum += math.Exp(float64(l - m))
	}
	return float32(float64(m) + math.Log(sum))
}

// topLogProbs returns the k most likely tokens of logits, most likely
// first (the lower id first among equal logits), with their
// log-probabilities (logit - lse).
func topLogProbs(logits []float32, k int, lse float32) []TokenLogProb {
	k = min(k, len(logits))
	top := make([]TokenLogProb, 0, k)
	for i, l := range logits {
		if len(top) == k && l <= top[k-1].LogProb {
			continue
		}
		// Insert after the entries with a logit at least l (ids ascend
		// among equals, as i does).
		j := len(top)
		if j < k {
			top = append(top, TokenLogProb{})
		} else {
			j = k - 1
		}
		for j > 0 && top[j-1].LogProb < l {
			top[j] = top[j-1]
			j--
		}
		top[j] = TokenLogProb{ID: int32(i), LogProb: l}
	}
	for i := range top {
		top[i].LogProb -= lse
	}
	return top
}

// decodeStep runs one batched decode step over every sequence past its
// prompt.
func (e *Engine) decodeStep() {
	e.rows = e.rows[:0]
	e.feed = e.feed[:0]
	for _, s := range e.active {
		if s.cache != nil && len(s.pending) == 0 && s.started {
			e.rows = append(e.rows, s)
			e.feed = append(e.feed, s.next)
		}
	}
	b := len(e.rows)
	if b == 0 {
		return
	}
	err := e.runDecode()
	if err != nil {
		err = e.stepError(err)
		for _, s := range e.rows {
			e.finish(s, StopError, -1, err)
		}
	} else {
		v := e.m.Config.VocabSize
		e.stepAt = e.now()
		for r, s := range e.rows {
			e.sample(s, e.logits[r*v:(r+1)*v])
		}
	}
	clear(e.rows)
	e.compact()
}

// runDecode runs the decode program of len(e.rows) rows and reads the
// logits.
func (e *Engine) runDecode() error {
	b := len(e.rows)
	p, err := e.decodeProgram(b)
	if err != nil {
		return fmt.Errorf("runtime: decode step of %d sequences: %w", b, err)
	}
	for r, s := range e.rows {
		if err := p.bindRow(r, s.cache); err != nil {
			return fmt.Errorf("runtime: decode step: bind kv cache: %w", err)
		}
	}
	if e.scratch, err = p.writeInputs(e.feed, func(i int) int { return len(e.rows[i].cache.tokens) }, e.scratch); err != nil {
		return fmt.Errorf("runtime: decode step: %w", err)
	}
	if err := p.start(e.ctx); err != nil {
		return fmt.Errorf("runtime: decode step of %d sequences: %w", b, err)
	}
	// The read waits for the run and reports its errors (step.start): one
	// host wait per step.
	if e.logits, e.scratch, err = p.appendLogits(e.logits[:0], e.scratch); err != nil {
		return fmt.Errorf("runtime: decode step of %d sequences: %w", b, err)
	}
	for i, s := range e.rows {
		s.cache.tokens = append(s.cache.tokens, e.feed[i])
	}
	return nil
}

func (e *Engine) decodeProgram(b int) (*step, error) {
	if p, ok := e.decode[b]; ok {
		return p, nil
	}
	p, err := e.m.newStep(llama.BuildOptions{Tokens: b, Seqs: b, Context: e.o.Context, KVType: e.o.KVType})
	if err != nil {
		return nil, err
	}
	e.progMu.Lock()
	e.decode[b] = p
	e.progMu.Unlock()
	return p, nil
}

func (e *Engine) prefillProgram(n int) (*step, error) {
	if p, ok := e.prefill[n]; ok {
		return p, nil
	}
	p, err := e.m.newStep(llama.BuildOptions{Tokens: n, Context: e.o.Context, KVType: e.o.KVType})
	if err != nil {
		return nil, err
	}
	e.progMu.Lock()
	e.prefill[n] = p
	e.progMu.Unlock()
	return p, nil
}

// prefillStep runs up to Chunk prompt tokens of the sequences still in
// their prompt, oldest first. A prompt runs in pieces whose lengths are
// powers of two, the largest first (a 300-token prompt: 256 + 32 + 8 + 4),
// so that at most log2(Chunk)+1 prefill programs are ever compiled; the
// pieces depend on the prompt alone, never on what else runs in the step,
// so that a request's output does not depend on the others (a kernel may
// round a query differently in a longer run). A step runs whole pieces:
// the first always, the others while the budget lasts.
func (e *Engine) prefillStep() {
	budget := e.o.Chunk
	for _, s := range e.active {
		if s.cache == nil || (len(s.pending) == 0 && s.started) {
			continue
		}
		for len(s.pending) > 0 {
			n := 1
			for n*2 <= min(len(s.pending), e.o.Chunk) {
				n *= 2
			}
			if n > budget && budget < e.o.Chunk {
				break
			}
			if !s.started {
				s.started = true
				s.st.setPromptStart(e.now())
			}
			if err := e.runPrefill(s, s.pending[:n]); err != nil {
				e.finish(s, StopError, -1, e.stepError(err))
				break
			}
			s.pending = s.pending[n:]
			budget = max(budget-n, 0)
			if len(s.pending) == 0 {
				e.stepAt = e.now()
				s.st.setPromptEnd(e.stepAt)
				e.sample(s, e.logits[:e.m.Config.VocabSize])
			}
		}
		if budget == 0 {
			break
		}
	}
	e.compact()
}

// stepError is err of a failed run, or the engine's ErrClosed when the run
// failed because Close cancelled it.
func (e *Engine) stepError(err error) error {
	if e.ctx.Err() != nil {
		return fmt.Errorf("runtime: engine %w", backend.ErrClosed)
	}
	return err
}

// runPrefill runs chunk after what s's cache holds and reads the logits
// of its last token.
func (e *Engine) runPrefill(s *seq, chunk []int32) error {
	p, err := e.prefillProgram(len(chunk))
	if err != nil {
		return fmt.Errorf("runtime: prefill: %w", err)
	}
	if err := p.bindRow(0, s.cache); err != nil {
		return fmt.Errorf("runtime: prefill: bind kv cache: %w", err)
	}
	base := len(s.cache.tokens)
	if e.scratch, err = p.writeInputs(chunk, func(i int) int { return base + i }, e.scratch); err != nil {
		return fmt.Errorf("runtime: prefill: %w", err)
	}
	if err := p.start(e.ctx); err != nil {
		return fmt.Errorf("runtime: prefill at position %d: %w", base, err)
	}
	if e.logits, e.scratch, err = p.appendLogits(e.logits[:0], e.scratch); err != nil {
		return fmt.Errorf("runtime: prefill at position %d: %w", base, err)
	}
	s.cache.tokens = append(s.cache.tokens, chunk...)
	return nil
}

// ProgramTimings are the per-node times of the last run of one of the
// engine's programs.
type ProgramTimings struct {
	Kind    string // "prefill" (a prompt piece) or "decode" (a batched decode step)
	Tokens  int    // tokens per run: the piece's length, or the sequences of the step
	Timings []backend.OpTiming
}

// Timings returns the per-node times of the last run of each program the
// engine has compiled, prefill pieces (shortest first) then decode steps
// (fewest sequences first), for backends whose programs record them
// (backend.Profiler); programs without timings are left out. Read it when
// no request is running: a program's timings are those of its last run.
func (e *Engine) Timings() []ProgramTimings {
	e.progMu.Lock()
	defer e.progMu.Unlock()
	var out []ProgramTimings
	for _, kind := range []struct {
		name  string
		progs map[int]*step
	}{{"prefill", e.prefill}, {"decode", e.decode}} {
		keys := make([]int, 0, len(kind.progs))
		for n := range kind.progs {
			keys = append(keys, n)
		}
		slices.Sort(keys)
		for _, n := range keys {
			if pr, ok := kind.progs[n].prog.(backend.Profiler); ok {
				if t := pr.Timings(); t != nil {
					out = append(out, ProgramTimings{Kind: kind.name, Tokens: n, Timings: t})
				}
			}
		}
	}
	return out
}

// shutdown ends every request and frees the programs and caches.
func (e *Engine) shutdown() {
	closedErr := fmt.Errorf("runtime: engine %w", backend.ErrClosed)
	for _, s := range e.active {
		if s.cache != nil {
			e.finish(s, StopError, -1, closedErr)
		}
	}
	e.active = nil
	e.mu.Lock()
	queue := e.queue
	e.queue = nil
	e.mu.Unlock()
	for _, st := range queue {
		e.endWaiting(st, closedErr)
	}
	e.progMu.Lock()
	for _, p := range e.decode {
		p.close()
	}
	for _, p := range e.prefill {
		p.close()
	}
	e.decode, e.prefill = map[int]*step{}, map[int]*step{}
	e.progMu.Unlock()
	var errs []error
	for _, c := range e.free {
		errs = append(errs, e.freeCache(c))
	}
	e.free = nil
	e.mu.Lock()
	var extra []*Cache
	for _, c := range e.extra {
		if !c.closed { // a Cache.Close in progress frees its own
			c.closed = true
			extra = append(extra, c)
		}
	}
	e.extra = nil
	e.mu.Unlock()
	for _, c := range extra {
		errs = append(errs, freeAll(c.bufs))
	}
	e.closeErr = errors.Join(errs...)
}
