package runtime

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/golem-llm/golem/model/tokenizer"
)

// Token is one step of a Stream.
type Token struct {
	// ID is the token generated. In the last token of a stream (End set)
	// it is the end-of-generation token for StopEOS, the token that
	// completed the stop string for StopString, and -1 otherwise.
	ID int32
	// Text is the text this token releases: valid UTF-8, possibly empty
	// (the bytes of a character split over tokens, or text that could
	// still turn out to start a stop string, are held back until they are
	// known); the last token releases whatever was held back.
	Text string
	// LogProb is the natural logarithm of the token's probability under
	// the model (softmax of its logits, before penalties and temperature),
	// when Request.LogProbs is set; 0 otherwise.
	LogProb float32
	// TopLogProbs are the Request.TopLogProbs most likely tokens of this
	// step, most likely first, with their log-probabilities as LogProb
	// gives them; nil when not asked for.
	TopLogProbs []TokenLogProb
	// End is set on the last token: why generation stopped, its counts
	// and timings.
	End *Stats
	// Time is when the engine sampled the token, by its clock (for the
	// last token: when the generation ended). Tokens of one batched decode
	// step have the same time; the time between a stream's tokens is its
	// inter-token latency.
	Time time.Time
}

// TokenLogProb is a token and its log-probability.
type TokenLogProb struct {
	ID      int32
	LogProb float32
}

// errStopped cancels the sequence of a stream that ended at a stop string.
var errStopped = errors.New("stop string reached")

// errStreamClosed cancels the sequence of a stream closed by its reader.
var errStreamClosed = errors.New("stream closed")

// event is what the engine tells a stream: a token, or the end.
type event struct {
	id      int32
	logprob float32
	top     []TokenLogProb
	final   bool
	reason  string
	err     error
	at      time.Time // when the engine made the event
}

// Stream is the tokens of one request, in order. Next is for one reader
// goroutine; Close may be called from any goroutine. The engine never
// waits for the reader: tokens not yet read are kept in the stream.
type Stream struct {
	e         *Engine
	req       Request
	sampler   *Sampler
	submitted time.Time
	stopWatch func() bool // stops the context.AfterFunc of Submit
	cause     atomic.Pointer[error]

	mu          sync.Mutex
	evs         []event
	head        int
	notify      chan struct{}
	cached      int
	admitted    time.Time
	promptStart time.Time
	promptEnd   time.Time

	// The reader's state.
	dec      *tokenizer.Decoder
	pending  string // decoded text not released yet
	holdBack int    // bytes of text held back for the stop strings
	gen      int
	ended    bool
}

func newStream(e *Engine, r Request, s *Sampler) *Stream {
	st := &Stream{e: e, req: r, sampler: s, notify: make(chan struct{}, 1), dec: e.m.Tokenizer.NewDecoder()}
	for _, stop := range r.Stop {
		st.holdBack = max(st.holdBack, len(stop))
	}
	return st
}

// cancel ends the request with cause (the first cause wins) at the
// engine's next step.
func (st *Stream) cancel(cause error) {
	if cause == nil {
		cause = errStreamClosed
	}
	if st.cause.CompareAndSwap(nil, &cause) {
		st.e.signal()
	}
}

// cancelCause returns why the request was cancelled, or nil.
func (st *Stream) cancelCause() error {
	if p := st.cause.Load(); p != nil {
		return *p
	}
	return nil
}

// push delivers an event (engine goroutine).
func (st *Stream) push(ev event) {
	st.mu.Lock()
	st.evs = append(st.evs, ev)
	st.mu.Unlock()
	if ev.final && st.stopWatch != nil {
		st.stopWatch()
	}
	select {
	case st.notify <- struct{}{}:
	default:
	}
}

func (st *Stream) setAdmitted(at time.Time, cached int) {
	st.mu.Lock()
	st.admitted, st.cached = at, cached
	st.mu.Unlock()
}

func (st *Stream) setPromptStart(at time.Time) {
	st.mu.Lock()
	st.promptStart = at
	st.mu.Unlock()
}

func (st *Stream) setPromptEnd(at time.Time) {
	st.mu.Lock()
	st.promptEnd = at
	st.mu.Unlock()
}

// Close ends the request if it is still running and returns once the
// engine has let go of it (its sequence slot and cache are free: at most
// one step later). Next returns io.EOF after Close. Close is for the
// reader's goroutine, as Next is; other goroutines end a request through
// its context.
func (st *Stream) Close() {
	if st.ended {
		return
	}
	st.cancel(errStreamClosed)
	st.awaitEnd()
	st.ended = true
}

// Next waits for the next token. The last token has End set; when the
// generation ended with an error (a cancelled context's error, a failed
// step, non-finite logits: *NonFiniteError), Next returns it with that
// last token. When the last token is returned, the engine has let go of
// the request: its cache may take the next request at once. After the
// last token Next returns io.EOF.
func (st *Stream) Next() (Token, error) {
	if st.ended {
		return Token{}, io.EOF
	}
	return st.consume(st.next())
}

// next waits for the engine's next event.
func (st *Stream) next() event {
	for {
		st.mu.Lock()
		if st.head < len(st.evs) {
			ev := st.evs[st.head]
			st.evs[st.head] = event{}
			st.head++
			if st.head == len(st.evs) {
				st.evs, st.head = st.evs[:0], 0
			}
			st.mu.Unlock()
			return ev
		}
		st.mu.Unlock()
		<-st.notify
	}
}

// awaitEnd discards events up to the engine's last one.
func (st *Stream) awaitEnd() {
	for !st.next().final {
	}
}

// consume turns an engine event into the reader's token.
func (st *Stream) consume(ev event) (Token, error) {
	if ev.final {
		st.ended = true
		text := st.pending + st.dec.Flush()
		st.pending = ""
		stats := st.stats(ev.reason, ev.at)
		return Token{ID: ev.id, Text: text, End: &stats, Time: ev.at}, ev.err
	}
	st.gen++
	piece := st.dec.Next(ev.id)
	if st.holdBack == 0 {
		return Token{ID: ev.id, Text: piece, LogProb: ev.logprob, TopLogProbs: ev.top, Time: ev.at}, nil
	}
	st.pending += piece
	if i, ok := firstStop(st.pending, st.req.Stop); ok {
		st.ended = true
		text := st.pending[:i]
		st.pending = ""
		end := st.e.now()
		st.cancel(errStopped)
		st.awaitEnd()
		stats := st.stats(StopString, end)
		return Token{ID: ev.id, Text: text, LogProb: ev.logprob, TopLogProbs: ev.top, End: &stats, Time: end}, nil
	}
	cut := len(st.pending) - st.holdBack
	for cut > 0 && !utf8.RuneStart(st.pending[cut]) {
		cut--
	}
	cut = max(cut, 0)
	text := st.pending[:cut]
	st.pending = st.pending[cut:]
	return Token{ID: ev.id, Text: text, LogProb: ev.logprob, TopLogProbs: ev.top, Time: ev.at}, nil
}

// stats are the request's counts and timings at its end.
func (st *Stream) stats(reason string, end time.Time) Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := Stats{PromptTokens: len(st.req.Prompt), CachedTokens: st.cached, GenTokens: st.gen, StopReason: reason}
	if !st.admitted.IsZero() {
		s.QueueTime = st.admitted.Sub(st.submitted)
	}
	if !st.promptEnd.IsZero() {
		s.PromptTime = st.promptEnd.Sub(st.promptStart)
		s.GenTime = end.Sub(st.promptEnd)
	}
	return s
}

// firstStop returns the index in text of the first of stops it contains.
func firstStop(text string, stops []string) (int, bool) {
	cut, found := len(text), false
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && i < cut {
			cut, found = i, true
		}
	}
	return cut, found
}
