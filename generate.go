package golem

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/golem-llm/golem/internal/optcheck"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// GenerateOptions configure a generation. The zero value decodes greedily
// (always the most likely token) until an end-of-generation token or a
// full context. Sampling filters apply in llama.cpp's order: penalties,
// top-k, top-p, min-p, temperature, then a seeded draw.
type GenerateOptions struct {
	// MaxTokens stops after this many generated tokens, ≥ 0 (0: until the
	// context is full).
	MaxTokens int
	// Temperature, a finite number ≥ 0: 0 is greedy decoding.
	Temperature float32
	// TopK keeps the k most likely tokens (0: all).
	TopK int
	// TopP keeps the smallest set of tokens whose probability reaches p, in
	// [0, 1] (0 or 1: all).
	TopP float32
	// MinP drops tokens below MinP × the top probability, in [0, 1].
	MinP float32
	// RepeatPenalty divides positive and multiplies negative logits of
	// recent tokens, ≥ 0 (0 or 1: none).
	RepeatPenalty float32
	// RepeatLastN is how many recent tokens the penalties look at (0:
	// DefaultRepeatLastN; -1: every token so far).
	RepeatLastN int
	// PresencePenalty is subtracted from the logits of recent tokens.
	PresencePenalty float32
	// FrequencyPenalty is subtracted once per occurrence in the recent
	// window.
	FrequencyPenalty float32
	// Seed makes sampling reproducible: the same seed, prompt and options
	// give the same tokens, whatever else the model is running.
	Seed uint64
	// Stop ends generation when the text contains one of these strings
	// (it and what follows are not returned). Chat adds the template's.
	Stop []string
	// LogProbs fills Token.LogProb.
	LogProbs bool
	// TopLogProbs fills Token.TopLogProbs with this many of the most
	// likely tokens of each step, 0..MaxTopLogProbs (0: none).
	TopLogProbs int
	// IgnoreEOS generates past end-of-generation tokens (benchmarks).
	IgnoreEOS bool
	// NoBOS (Generate) does not add the tokens the vocabulary asks for
	// around a prompt (BOS).
	NoBOS bool
	// ParseSpecial (Generate) turns the texts of control tokens in the
	// prompt ("<s>", "<|im_start|>") into those tokens, as llama.cpp's
	// completion does; otherwise they stay text.
	ParseSpecial bool
	// OnPrompt, when set, is called with the prompt's token ids before
	// they run.
	OnPrompt func(ids []int32)
}

var generateStruct = optcheck.Struct{Pkg: "golem", Name: "GenerateOptions"}

// Validate reports the first field out of its range as an error naming
// the field ("golem: GenerateOptions.TopP 2: want a value in [0, 1]").
func (o GenerateOptions) Validate() error {
	return optcheck.Restruct(o.request(nil).Validate(), generateStruct)
}

func (o GenerateOptions) request(prompt []int32) runtime.Request {
	return runtime.Request{
		Prompt:    prompt,
		MaxTokens: o.MaxTokens,
		Sampler: runtime.SamplerConfig{
			Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP, MinP: o.MinP,
			RepeatPenalty: o.RepeatPenalty, RepeatLastN: o.RepeatLastN,
			PresencePenalty: o.PresencePenalty, FrequencyPenalty: o.FrequencyPenalty, Seed: o.Seed,
		},
		Stop:        o.Stop,
		LogProbs:    o.LogProbs,
		TopLogProbs: o.TopLogProbs,
		IgnoreEOS:   o.IgnoreEOS,
	}
}

// Token is one step of a generation.
type Token struct {
	// ID is the token generated. In the last token (End set) it is the
	// end-of-generation token for StopEOS, the token that completed the
	// stop string for StopString, and -1 otherwise.
	ID int32
	// Text is the text the token releases: valid UTF-8, possibly empty (a
	// character split over tokens, or text that may begin a stop string,
	// is held back until it is known; the last token releases the rest).
	// The texts of a generation concatenated are its whole text.
	Text string
	// LogProb is the token's log-probability under the model (log softmax
	// of its logits, before penalties and temperature), with
	// GenerateOptions.LogProbs; 0 otherwise.
	LogProb float32
	// TopLogProbs are the GenerateOptions.TopLogProbs most likely tokens of
	// this step (the token generated may be one of them), most likely
	// first, with log-probabilities as LogProb gives them; nil when not
	// asked for, and in the last token when it is not a generated one.
	TopLogProbs []TokenLogProb
	// End is set on the last token: why generation stopped, counts and
	// timings.
	End *Stats
	// Time is when the token was sampled (for the last token: when the
	// generation ended); tokens that one batched step gave several
	// requests have the same time.
	Time time.Time
}

// TokenLogProb is a token id and its log-probability.
type TokenLogProb = runtime.TokenLogProb

// MaxTopLogProbs is the most GenerateOptions.TopLogProbs may ask for.
const MaxTopLogProbs = runtime.MaxTopLogProbs

// StopReason says why a generation ended.
type StopReason string

// Stop reasons.
const (
	StopEOS       StopReason = runtime.StopEOS       // the model emitted an end-of-generation token
	StopString    StopReason = runtime.StopString    // a stop string appeared
	StopLength    StopReason = runtime.StopLength    // MaxTokens were generated
	StopContext   StopReason = runtime.StopContext   // the KV cache is full
	StopCancelled StopReason = runtime.StopCancelled // the context was cancelled
	StopError     StopReason = runtime.StopError     // an error ended it (the iterator yields it)
)

// Stats are the counts and timings of a generation.
type Stats struct {
	PromptTokens int // tokens of the prompt
	CachedTokens int // of which a session's KV cache already held
	GenTokens    int // tokens generated (an end-of-generation token not counted)
	// Dropped is how many of a session's oldest messages were left out to
	// fit the context (Session.Chat).
	Dropped    int
	QueueTime  time.Duration // waiting for a free sequence
	PromptTime time.Duration // running the prompt
	GenTime    time.Duration // generating, from the end of the prompt
	Stop       StopReason
}

// PromptRate returns prompt tokens run (those not cached) per second.
func (s Stats) PromptRate() float64 { return rate(s.PromptTokens-s.CachedTokens, s.PromptTime) }

// GenRate returns generated tokens per second.
func (s Stats) GenRate() float64 { return rate(s.GenTokens, s.GenTime) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func statsOf(s runtime.Stats) *Stats {
	return &Stats{PromptTokens: s.PromptTokens, CachedTokens: s.CachedTokens, GenTokens: s.GenTokens,
		QueueTime: s.QueueTime, PromptTime: s.PromptTime, GenTime: s.GenTime, Stop: StopReason(s.StopReason)}
}

// Generate continues prompt. The iterator yields the generated tokens, in
// order, and last a token with End set (with the error that ended the
// generation, if one did: a cancelled ctx's error, *NonFiniteError, ...).
// Nothing runs until the iteration starts; breaking out of the loop ends
// the request at once. An error before anything ran (options out of
// range, ErrEmptyPrompt, ErrContextFull, ErrQueueFull, ErrClosed) is
// yielded alone, with a zero Token.
func (m *Model) Generate(ctx context.Context, prompt string, o GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		ids := m.tok.Tokenize(prompt, TokenizeOptions{NoBOS: o.NoBOS, ParseSpecial: o.ParseSpecial})
		if len(ids) == 0 {
			yield(Token{}, ErrEmptyPrompt)
			return
		}
		m.run(ctx, ids, o, nil, yield)
	}
}

// GenerateTokens is Generate for a prompt given as token ids.
func (m *Model) GenerateTokens(ctx context.Context, prompt []int32, o GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) { m.run(ctx, prompt, o, nil, yield) }
}

// run submits one request and yields its tokens; end, when set, is told
// of the last token (a session's bookkeeping) before it is yielded.
func (m *Model) run(ctx context.Context, ids []int32, o GenerateOptions, cache *runtime.Cache, yield func(Token, error) bool) {
	if err := o.Validate(); err != nil {
		yield(Token{}, err)
		return
	}
	if err := m.open(); err != nil {
		yield(Token{}, err)
		return
	}
	if o.OnPrompt != nil {
		o.OnPrompt(ids)
	}
	r := o.request(ids)
	r.Cache = cache
	st, err := m.engine.Submit(ctx, r)
	if err != nil {
		yield(Token{}, err)
		return
	}
	defer st.Close()
	for {
		t, err := st.Next()
		tok := Token{ID: t.ID, Text: t.Text, LogProb: t.LogProb, TopLogProbs: t.TopLogProbs, Time: t.Time}
		if t.End != nil {
			tok.End = statsOf(*t.End)
		}
		if !yield(tok, err) || t.End != nil {
			return
		}
	}
}

// Message is one turn of a conversation.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

func runtimeMessages(msgs []Message) []runtime.Message {
	out := make([]runtime.Message, len(msgs))
	for i, m := range msgs {
		out[i] = runtime.Message{Role: m.Role, Content: m.Content}
	}
	return out
}

// Chat generates the assistant's reply to msgs in the model's chat format
// (the template's markers become control tokens; text in the messages
// never does, so "<|im_start|>" typed by a user stays text). The
// template's end-of-turn strings are added to o.Stop. It fails with
// ErrNoChatTemplate when the model has no template golem recognises and
// Options.ChatTemplate named none, and with ErrChatMessages for a
// conversation the template refuses.
func (m *Model) Chat(ctx context.Context, msgs []Message, o GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		if m.chat == nil {
			yield(Token{}, m.chatEr)
			return
		}
		ids, err := m.chat.Encode(m.rm.Tokenizer, runtimeMessages(msgs), true)
		if err != nil {
			yield(Token{}, err)
			return
		}
		o.Stop = append(append([]string(nil), o.Stop...), m.chat.Stop...)
		m.run(ctx, ids, o, nil, yield)
	}
}

// locateBytes bounds the memory of the run that locates a non-finite
// activation (every activation of every token fed is kept at once).
const locateBytes = 2 << 30

// LocateNonFinite returns err with the first activation that holds a NaN
// or ±Inf added, when err is a *NonFiniteError whose tokens are known:
// those tokens run again, from an empty cache, with every activation
// exposed, and the first bad one is named with its layer and op and the
// weights behind it. It needs memory for every activation of those tokens
// (at most 2 GiB) besides the model. Other errors are returned unchanged.
func (m *Model) LocateNonFinite(ctx context.Context, err error) error {
	var nf *NonFiniteError
	if !errors.As(err, &nf) || len(nf.Tokens) == 0 {
		return err
	}
	if oerr := m.open(); oerr != nil {
		return err
	}
	node, lerr := parity.FirstNonFinite(ctx, m.src, m.be, nf.Tokens, locateBytes)
	switch {
	case lerr != nil:
		return fmt.Errorf("%w; the first non-finite activation could not be located: %v", err, lerr)
	case node == nil:
		return fmt.Errorf("%w; a second run of the %d tokens gave finite activations everywhere", err, len(nf.Tokens))
	}
	return fmt.Errorf("%w; first non-finite activation: %s", err, node.Describe())
}
