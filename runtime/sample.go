package runtime

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/internal/optcheck"
)

// DefaultRepeatLastN is the penalty window of a SamplerConfig that sets none.
const DefaultRepeatLastN = 64

// SamplerConfig chooses how the next token is picked from the logits. The
// zero value is greedy decoding. Filters apply in llama.cpp's order:
// penalties, top-k, top-p, min-p, temperature, then a seeded draw.
// Validate gives the accepted range of each field.
type SamplerConfig struct {
	Temperature      float32 // 0: greedy (argmax); a finite number ≥ 0
	TopK             int     // keep the k most likely tokens (0: all)
	TopP             float32 // keep the smallest set whose probability reaches p, in [0, 1] (0 or 1: all)
	MinP             float32 // drop tokens below min_p × the top probability, in [0, 1] (0: none)
	RepeatPenalty    float32 // divide positive / multiply negative logits of recent tokens, ≥ 0 (1 or 0: none)
	RepeatLastN      int     // how many recent tokens the penalties look at (0: DefaultRepeatLastN; -1: every token so far)
	PresencePenalty  float32 // subtract from logits of tokens seen recently (finite)
	FrequencyPenalty float32 // subtract per occurrence in the recent window (finite)
	Seed             uint64  // same seed, same choices
}

// Validate reports the first field out of its range as an
// *optcheck.FieldError ("runtime: SamplerConfig.TopP 2: want a value in
// [0, 1]").
func (c SamplerConfig) Validate() error {
	s := optcheck.Struct{Pkg: "runtime", Name: "SamplerConfig"}
	return optcheck.First(
		optcheck.FiniteNonNegative(s, "Temperature", c.Temperature),
		s.NonNegative("TopK", c.TopK),
		optcheck.FiniteRange(s, "TopP", c.TopP, 0, 1),
		optcheck.FiniteRange(s, "MinP", c.MinP, 0, 1),
		optcheck.FiniteNonNegative(s, "RepeatPenalty", c.RepeatPenalty),
		repeatLastN(s, c.RepeatLastN),
		optcheck.Finite(s, "PresencePenalty", c.PresencePenalty),
		optcheck.Finite(s, "FrequencyPenalty", c.FrequencyPenalty),
	)
}

func repeatLastN(s optcheck.Struct, n int) error {
	if n < -1 {
		return s.Fail("RepeatLastN", n, "-1 (every token so far) or a count ≥ 0")
	}
	return nil
}

// ErrNonFinite is matched (errors.Is) by a *NonFiniteError.
var ErrNonFinite = errors.New("non-finite logits")

// NonFiniteError reports logits holding NaN or ±Inf: a model whose weights
// or hyper-parameters are broken, or a kernel that overflowed. Sampling
// such logits would pick garbage silently.
type NonFiniteError struct {
	Pos   int     // position whose logits these are (-1: not known, as in Sampler.Sample)
	Index int     // the first non-finite logit (a token id)
	Value float32 // its value: NaN, +Inf or -Inf
	// Tokens are the tokens fed up to and including Pos, when known (set
	// by the Engine): running them again locates the first non-finite
	// activation (parity.FirstNonFinite).
	Tokens []int32
}

// Error formats the error as "non-finite logits at position 4 (logit 17 = NaN)".
func (e *NonFiniteError) Error() string {
	if e.Pos < 0 {
		return fmt.Sprintf("%v (logit %d = %v)", ErrNonFinite, e.Index, e.Value)
	}
	return fmt.Sprintf("%v at position %d (logit %d = %v)", ErrNonFinite, e.Pos, e.Index, e.Value)
}

// Is makes errors.Is(err, ErrNonFinite) true.
func (e *NonFiniteError) Is(target error) bool { return target == ErrNonFinite }

// checkFinite returns a *NonFiniteError naming the first NaN or ±Inf of
// logits, or nil.
func checkFinite(logits []float32) error {
	for i, l := range logits {
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			return &NonFiniteError{Pos: -1, Index: i, Value: l}
		}
	}
	return nil
}

// Sampler picks tokens; it is not safe for concurrent use.
type Sampler struct {
	cfg   SamplerConfig
	rng   *rand.Rand
	cands []candidate
	count map[int32]int
}

type candidate struct {
	id int32
	l  float32 // logit, then probability
}

// NewSampler returns a sampler for cfg, or cfg's Validate error.
func NewSampler(cfg SamplerConfig) (*Sampler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.RepeatLastN == 0 {
		cfg.RepeatLastN = DefaultRepeatLastN
	}
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), count: map[int32]int{}}, nil
}

// Sample returns the next token given the logits of the last position and
// the tokens so far (used by the penalties). logits is not modified. Empty
// logits are an error, and logits holding NaN or ±Inf give a
// *NonFiniteError (Pos -1).
func (s *Sampler) Sample(logits []float32, history []int32) (int32, error) {
	if len(logits) == 0 {
		return -1, errors.New("runtime: sample: no logits")
	}
	c := s.cfg
	if c.Temperature <= 0 && !s.penalizes() {
		// Greedy without penalties: one pass, no copy.
		best, finite := quant.ArgMaxF32(logits)
		if !finite {
			return -1, checkFinite(logits)
		}
		return int32(best), nil
	}
	if err := checkFinite(logits); err != nil {
		return -1, err
	}
	s.cands = s.cands[:0]
	for i, l := range logits {
		s.cands = append(s.cands, candidate{int32(i), l})
	}
	s.penalize(history)
	if c.Temperature <= 0 {
		best := 0
		for i, cd := range s.cands {
			if cd.l > s.cands[best].l {
				best = i
			}
		}
		return s.cands[best].id, nil
	}
	cands := s.cands
	slices.SortStableFunc(cands, byLogitDesc) // no allocation, unlike sort.SliceStable
	if c.TopK > 0 && c.TopK < len(cands) {
		cands = cands[:c.TopK]
	}
	softmax(cands)
	if c.TopP > 0 && c.TopP < 1 {
		var cum float64
		for i := range cands {
			cum += float64(cands[i].l)
			if cum >= float64(c.TopP) {
				cands = cands[:i+1]
				break
			}
		}
	}
	if c.MinP > 0 {
		limit := cands[0].l * c.MinP
		n := 1
		for n < len(cands) && cands[n].l >= limit {
			n++
		}
		cands = cands[:n]
	}
	// Temperature on the surviving logits: p^(1/T) renormalised.
	var sum float64
	for i := range cands {
		p := math.Pow(float64(cands[i].l), 1/float64(c.Temperature))
		cands[i].l = float32(p)
		sum += p
	}
	r := s.rng.Float64() * sum
	for _, cd := range cands {
		r -= float64(cd.l)
		if r <= 0 {
			return cd.id, nil
		}
	}
	return cands[len(cands)-1].id, nil
}

// byLogitDesc orders candidates by logit, largest first.
func byLogitDesc(a, b candidate) int { return cmp.Compare(b.l, a.l) }

// penalizes reports whether any repetition penalty is set.
func (s *Sampler) penalizes() bool {
	c := s.cfg
	return (c.RepeatPenalty != 0 && c.RepeatPenalty != 1) || c.PresencePenalty != 0 || c.FrequencyPenalty != 0
}

// penalize applies the repetition penalties to the last RepeatLastN tokens
// of history (all of them when RepeatLastN is negative or exceeds it).
func (s *Sampler) penalize(history []int32) {
	c := s.cfg
	rep := c.RepeatPenalty != 0 && c.RepeatPenalty != 1
	if !s.penalizes() {
		return
	}
	clear(s.count)
	start := 0
	if c.RepeatLastN >= 0 {
		start = max(0, len(history)-c.RepeatLastN)
	}
	for _, t := range history[start:] {
		s.count[t]++
	}
	for t, n := range s.count {
		if t < 0 || int(t) >= len(s.cands) {
			continue
		}
		l := s.cands[t].l
		if rep {
			if l > 0 {
				l /= c.RepeatPenalty
			} else {
				l *= c.RepeatPenalty
			}
		}
		l -= float32(n)*c.FrequencyPenalty + c.PresencePenalty
		s.cands[t].l = l
	}
}

// softmax turns the logits of cands (sorted, largest first) into probabilities.
func softmax(cands []candidate) {
	m := cands[0].l
	var sum float64
	for i := range cands {
		e := math.Exp(float64(cands[i].l - m))
		cands[i].l = float32(e)
		sum += e
	}
	for i := range cands {
		cands[i].l = float32(float64(cands[i].l) / sum)
	}
}
