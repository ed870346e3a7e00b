package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golem-llm/golem/internal/optcheck"
)

// GenerateOptions configure Generate.
type GenerateOptions struct {
	MaxTokens int           // stop after this many new tokens, ≥ 0 (0: until the context is full)
	Sampler   SamplerConfig // how tokens are picked
	Stop      []string      // stop when the text generated so far ends with one of these
	// OnText receives text as soon as it is complete (UTF-8 held back across
	// token boundaries). Returning an error stops generation with that error.
	OnText func(text string) error
	// Now is the clock used for the timings (nil: time.Now).
	Now func() time.Time
}

// Validate reports the first field out of its range (the sampler's
// included) as an *optcheck.FieldError.
func (o GenerateOptions) Validate() error {
	s := optcheck.Struct{Pkg: "runtime", Name: "GenerateOptions"}
	return optcheck.First(s.NonNegative("MaxTokens", o.MaxTokens), o.Sampler.Validate())
}

// Stats are the counts and timings of one generation (a Generate call or
// an engine request).
type Stats struct {
	PromptTokens int           // tokens of the prompt
	CachedTokens int           // of which the KV cache already held (engine requests)
	GenTokens    int           // tokens generated (an end-of-generation token not counted)
	QueueTime    time.Duration // waiting for a sequence slot (engine requests)
	PromptTime   time.Duration // running the prompt
	GenTime      time.Duration // generating, from the end of the prompt
	StopReason   string        // StopEOS, StopString, StopLength, StopContext, StopCancelled or StopError
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

// Generate feeds prompt (token ids, after what the session holds) and then
// samples up to MaxTokens new tokens, streaming their text to OnText. It
// returns the generated text and stats. Generation stops at an
// end-of-generation token (not printed), a stop string (not printed), the
// token limit, or a full context.
//
// An empty prompt continues from the session's last logits; a session
// with none (fresh or rewound) is an error. Logits holding NaN or ±Inf end
// generation with a *NonFiniteError (errors.Is ErrNonFinite) naming the
// position. An error of OnText is returned as it is.
func Generate(ctx context.Context, s *Session, prompt []int32, o GenerateOptions) (text string, st Stats, err error) {
	if err := o.Validate(); err != nil {
		return "", st, err
	}
	sampler, err := NewSampler(o.Sampler)
	if err != nil {
		return "", st, err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	st.PromptTokens = len(prompt)
	t0 := now()
	if len(prompt) > 0 {
		if err := s.Feed(ctx, prompt); err != nil {
			return "", st, err
		}
	} else if len(s.logits) == 0 {
		return "", st, errors.New("runtime: generate: no prompt, and the session holds no logits to continue from")
	}
	st.PromptTime = now().Sub(t0)
	tok := s.m.Tokenizer
	dec := tok.NewDecoder()
	var out strings.Builder
	emitted := 0 // bytes of out already passed to OnText
	holdBack := 0
	for _, stop := range o.Stop {
		holdBack = max(holdBack, len(stop))
	}
	flush := func(final bool) error {
		text := out.String()
		end := len(text)
		if !final {
			end = max(emitted, len(text)-holdBack)
		}
		if o.OnText != nil && end > emitted {
			if err := o.OnText(text[emitted:end]); err != nil {
				return err
			}
		}
		emitted = end
		return nil
	}
	t1 := now()
	defer func() { st.GenTime = now().Sub(t1) }()
	for o.MaxTokens <= 0 || st.GenTokens < o.MaxTokens {
		// The logits buffer is read in place: Sample does not keep it.
		next, err := sampler.Sample(s.lastLogits(), s.tokens)
		if err != nil {
			var nf *NonFiniteError
			if errors.As(err, &nf) {
				nf.Pos = s.Len() - 1
				return out.String(), st, nf
			}
			return out.String(), st, fmt.Errorf("runtime: generate: %w", err)
		}
		if tok.IsEOG(next) {
			st.StopReason = "eos"
			out.WriteString(dec.Flush())
			return out.String(), st, flush(true)
		}
		st.GenTokens++
		out.WriteString(dec.Next(next))
		if text, ok := cutStop(out.String(), o.Stop); ok {
			out.Reset()
			out.WriteString(text)
			st.StopReason = "stop"
			emitted = min(emitted, len(text))
			return text, st, flush(true)
		}
		if err := flush(false); err != nil {
			return out.String(), st, err
		}
		if s.Len() >= s.Context() {
			st.StopReason = "context"
			out.WriteString(dec.Flush())
			return out.String(), st, flush(true)
		}
		if err := s.Feed(ctx, []int32{next}); err != nil {
			if errors.Is(err, ErrContextFull) {
				st.StopReason = "context"
				return out.String(), st, flush(true)
			}
			return out.String(), st, err // Feed's error says "runtime: " already
		}
	}
	st.StopReason = "length"
	out.WriteString(dec.Flush())
	return out.String(), st, flush(true)
}

// cutStop returns text up to the first stop string it contains.
func cutStop(text string, stops []string) (string, bool) {
	cut, found := len(text), false
	for _, s := range stops {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 && i < cut {
			cut, found = i, true
		}
	}
	return text[:cut], found
}
