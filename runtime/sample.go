package runtime

import (
	"math"
	"math/rand/v2"
	"sort"
)

// SamplerConfig chooses how the next token is picked from the logits. The
// zero value is greedy decoding. Filters apply in llama.cpp's order:
// penalties, top-k, top-p, min-p, temperature, then a seeded draw.
type SamplerConfig struct {
	Temperature      float32 // ≤ 0: greedy (argmax)
	TopK             int     // keep the k most likely tokens (0: all)
	TopP             float32 // keep the smallest set whose probability reaches p (0 or 1: all)
	MinP             float32 // drop tokens below min_p × the top probability (0: none)
	RepeatPenalty    float32 // divide positive / multiply negative logits of recent tokens (1 or 0: none)
	RepeatLastN      int     // how many recent tokens the penalties look at (0: 64)
	PresencePenalty  float32 // subtract from logits of tokens seen recently
	FrequencyPenalty float32 // subtract per occurrence in the recent window
	Seed             uint64  // same seed, same choices
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

// NewSampler returns a sampler for cfg.
func NewSampler(cfg SamplerConfig) *Sampler {
	if cfg.RepeatLastN == 0 {
		cfg.RepeatLastN = 64
	}
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), count: map[int32]int{}}
}

// Sample returns the next token given the logits of the last position and
// the tokens so far (used by the penalties). logits is not modified.
func (s *Sampler) Sample(logits []float32, history []int32) int32 {
	c := s.cfg
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
		return s.cands[best].id
	}
	cands := s.cands
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].l > cands[j].l })
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
			return cd.id
		}
	}
	return cands[len(cands)-1].id
}

func (s *Sampler) penalize(history []int32) {
	c := s.cfg
	rep := c.RepeatPenalty != 0 && c.RepeatPenalty != 1
	if !rep && c.PresencePenalty == 0 && c.FrequencyPenalty == 0 {
		return
	}
	clear(s.count)
	start := max(0, len(history)-c.RepeatLastN)
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
