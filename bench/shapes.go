package bench

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/resource"
)

// Kinds of attention case.
const (
	KindPrefill = "prefill" // Sq queries over Skv keys (Skv = Sq by default)
	KindDecode  = "decode"  // one query over a KV cache of Skv keys
)

// AttnShape is one attention case.
type AttnShape struct {
	Kind    string      // KindPrefill or KindDecode
	Batch   int         // B
	Heads   int         // query heads Hq
	KVHeads int         // kv heads Hkv (Hq a multiple of it)
	HeadDim int         // D (= Dv)
	SeqQ    int         // queries per batch (1 for decode)
	SeqKV   int         // keys per batch
	Causal  bool        // causal mask (always set for decode, where it changes nothing)
	KVType  graph.DType // dtype of K and V: F16 (default), F32 or BF16
}

// String returns the canonical spec that ParseAttnShape reads back:
// "prefill:b1,h32,kv8,d128,s2048,causal" or "decode:b4,h32,kv8,d128,kv4096"
// (in decode specs the first kv is the kv heads, the second the KV length).
// A prefill over more keys than queries adds skvN; an F32 or BF16 KV adds
// ",f32" or ",bf16".
func (s AttnShape) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:b%d,h%d,kv%d,d%d", s.Kind, s.Batch, s.Heads, s.KVHeads, s.HeadDim)
	if s.Kind == KindDecode {
		fmt.Fprintf(&b, ",kv%d", s.SeqKV)
	} else {
		fmt.Fprintf(&b, ",s%d", s.SeqQ)
		if s.SeqKV != s.SeqQ {
			fmt.Fprintf(&b, ",skv%d", s.SeqKV)
		}
		if s.Causal {
			b.WriteString(",causal")
		}
	}
	if s.KVType != graph.F16 {
		b.WriteString("," + s.KVType.String())
	}
	return b.String()
}

// Validate reports whether the shape can be built.
func (s AttnShape) Validate() error {
	switch {
	case s.Kind != KindPrefill && s.Kind != KindDecode:
		return fmt.Errorf("bench: shape %s: kind must be prefill or decode", s)
	case s.Batch < 1 || s.Heads < 1 || s.KVHeads < 1 || s.HeadDim < 1 || s.SeqQ < 1 || s.SeqKV < 1:
		return fmt.Errorf("bench: shape %s: every size must be at least 1", s)
	case s.Heads%s.KVHeads != 0:
		return fmt.Errorf("bench: shape %s: %d query heads are not a multiple of %d kv heads", s, s.Heads, s.KVHeads)
	case s.Kind == KindDecode && s.SeqQ != 1:
		return fmt.Errorf("bench: shape %s: decode has one query", s)
	case s.Causal && s.SeqQ > s.SeqKV:
		return fmt.Errorf("bench: shape %s: causal with more queries (%d) than keys (%d)", s, s.SeqQ, s.SeqKV)
	case !s.KVType.IsKVType():
		return fmt.Errorf("bench: shape %s: KV dtype must be %s", s, graph.KVTypeNames())
	}
	if _, err := s.tensorBytes(); err != nil {
		return fmt.Errorf("bench: shape %s: %w", s, err)
	}
	return nil
}

// tensorBytes returns the bytes of the case's tensors (Q and O as F32, K
// and V at the KV dtype), computed with overflow checks.
func (s AttnShape) tensorBytes() (int64, error) {
	qo, err := resource.Mul(2*4, int64(s.Batch), int64(s.SeqQ), int64(s.Heads), int64(s.HeadDim))
	if err != nil {
		return 0, err
	}
	kv, err := resource.Mul(2, int64(s.KVType.BlockBytes()), int64(s.Batch), int64(s.SeqKV), int64(s.KVHeads), int64(s.HeadDim))
	if err != nil {
		return 0, err
	}
	return resource.Add(qo, kv)
}

// Pairs returns P, the (query, key) pairs each query head scores (see the
// package documentation): Sq·Skv, or Sq·(Skv−Sq) + Sq·(Sq+1)/2 when causal.
func (s AttnShape) Pairs() int64 {
	sq, sk := int64(s.SeqQ), int64(s.SeqKV)
	if !s.Causal {
		return sq * sk
	}
	return sq*(sk-sq) + sq*(sq+1)/2
}

// FLOPs returns 2·B·Hq·(D+Dv)·P: the multiply-adds of Q·Kᵀ and P·V.
func (s AttnShape) FLOPs() float64 {
	return 2 * float64(s.Batch) * float64(s.Heads) * float64(2*s.HeadDim) * float64(s.Pairs())
}

// Bytes returns the compulsory traffic: Q read and O written as F32, K and V
// read once at the KV dtype.
func (s AttnShape) Bytes() float64 {
	qo := 2 * 4 * float64(s.Batch) * float64(s.SeqQ) * float64(s.Heads) * float64(s.HeadDim)
	kv := 2 * float64(s.KVType.BlockBytes()) * float64(s.Batch) * float64(s.SeqKV) * float64(s.KVHeads) * float64(s.HeadDim)
	return qo + kv
}

// memBytes is the device memory the case's tensors occupy (MaxInt64 for a
// shape whose size overflows, which Validate refuses).
func (s AttnShape) memBytes() int64 {
	n, err := s.tensorBytes()
	if err != nil {
		return math.MaxInt64
	}
	return n
}

// ParseAttnShape reads one spec: "KIND:TOKEN,TOKEN,...", where KIND is
// prefill or decode and the tokens are bN (batch), hN (query heads), kvN
// (kv heads; in a decode spec a second kvN is the KV length), hkvN (kv
// heads), dN (head dim), sN (queries; prefill), skvN or lenN (keys),
// causal, noncausal, f16, f32 or bf16 (KV dtype). Defaults: b1, h32, kv = h,
// d128, f16; a prefill has Skv = Sq and no causal mask unless given.
func ParseAttnShape(spec string) (AttnShape, error) {
	kind, rest, ok := strings.Cut(strings.TrimSpace(spec), ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	if !ok || (kind != KindPrefill && kind != KindDecode) {
		return AttnShape{}, fmt.Errorf("bench: shape %q: want prefill:... or decode:...", spec)
	}
	s := AttnShape{Kind: kind, Batch: 1, Heads: 32, HeadDim: 128, KVType: graph.F16}
	kvSeen := 0
	for _, tok := range strings.Split(rest, ",") {
		tok = strings.ToLower(strings.TrimSpace(tok))
		switch tok {
		case "":
			continue
		case "causal":
			s.Causal = true
			continue
		case "noncausal", "nc":
			s.Causal = false
			continue
		case "f16", "f32", "bf16":
			s.KVType, _ = graph.ParseKVType(tok)
			continue
		}
		key := strings.TrimRight(tok, "0123456789")
		val, err := strconv.Atoi(tok[len(key):])
		if key == tok || err != nil || val < 1 {
			return AttnShape{}, fmt.Errorf("bench: shape %q: bad token %q (want e.g. b1, h32, kv8, d128, s2048, causal)", spec, tok)
		}
		switch key {
		case "b":
			s.Batch = val
		case "h", "hq":
			s.Heads = val
		case "hkv", "kvh":
			s.KVHeads = val
		case "kv":
			kvSeen++
			switch {
			case kvSeen == 1:
				s.KVHeads = val
			case kvSeen == 2:
				s.SeqKV = val
			default:
				return AttnShape{}, fmt.Errorf("bench: shape %q: kv given more than twice", spec)
			}
		case "d":
			s.HeadDim = val
		case "s", "sq":
			s.SeqQ = val
		case "skv", "len", "l":
			s.SeqKV = val
		default:
			return AttnShape{}, fmt.Errorf("bench: shape %q: unknown key %q in %q", spec, key, tok)
		}
	}
	if s.KVHeads == 0 {
		s.KVHeads = s.Heads
	}
	switch s.Kind {
	case KindDecode:
		if s.SeqQ == 0 {
			s.SeqQ = 1
		}
		if s.SeqKV == 0 {
			return AttnShape{}, fmt.Errorf("bench: shape %q: decode needs a KV length (a second kvN, or skvN)", spec)
		}
		s.Causal = true
	case KindPrefill:
		if s.SeqQ == 0 {
			return AttnShape{}, fmt.Errorf("bench: shape %q: prefill needs a sequence length sN", spec)
		}
		if s.SeqKV == 0 {
			s.SeqKV = s.SeqQ
		}
	}
	if err := s.Validate(); err != nil {
		return AttnShape{}, err
	}
	return s, nil
}

// AttnPresetNames lists the attention presets, smallest first.
func AttnPresetNames() []string { return []string{"quick", "default", "full"} }

// AttnPreset returns a named grid of attention shapes:
//
//   - quick: seven small shapes (8 query heads, head dim 64/128, prefill
//     128–512, decode over 512–1024 keys) that run in seconds on a 2-core
//     CPU, reference variant included;
//   - default: the realistic shapes a GPU is judged on (32 query heads with
//     8 or 32 kv heads, head dim 64/128, prefill 512–16k causal and not,
//     decode over 1k–128k keys with batch 1–16);
//   - full: the whole grid: prefill batch 1–8 × kv heads 32/8 × head dim
//     64/128 × sequence 512–16k × causal and not (batch·sequence ≤ 32k), and
//     decode batch 1–16 × kv heads 32/8 × head dim 64/128 × KV 1k–128k
//     (K+V ≤ 8 GiB).
func AttnPreset(name string) ([]AttnShape, error) {
	p := func(b, h, kv, d, s int, causal bool) AttnShape {
		return AttnShape{Kind: KindPrefill, Batch: b, Heads: h, KVHeads: kv, HeadDim: d, SeqQ: s, SeqKV: s, Causal: causal, KVType: graph.F16}
	}
	dec := func(b, h, kv, d, l int) AttnShape {
		return AttnShape{Kind: KindDecode, Batch: b, Heads: h, KVHeads: kv, HeadDim: d, SeqQ: 1, SeqKV: l, Causal: true, KVType: graph.F16}
	}
	var out []AttnShape
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "quick":
		out = []AttnShape{
			p(1, 8, 8, 64, 128, true),
			p(1, 8, 2, 64, 256, true),
			p(1, 8, 8, 64, 256, false),
			p(1, 8, 2, 64, 512, true),
			p(1, 8, 2, 128, 256, true),
			dec(1, 8, 2, 64, 1024),
			dec(4, 8, 2, 128, 512),
		}
	case "default":
		for _, s := range []int{512, 2048, 4096, 8192} {
			out = append(out, p(1, 32, 8, 128, s, true))
		}
		out = append(out,
			p(1, 32, 32, 128, 2048, true),
			p(1, 32, 32, 128, 2048, false),
			p(1, 32, 8, 64, 2048, true),
			p(4, 32, 8, 128, 2048, true),
			p(1, 32, 32, 128, 16384, false),
		)
		for _, l := range []int{1024, 4096, 32768, 131072} {
			out = append(out, dec(1, 32, 8, 128, l))
		}
		out = append(out,
			dec(1, 32, 32, 128, 4096),
			dec(4, 32, 8, 128, 4096),
			dec(16, 32, 8, 128, 4096),
			dec(8, 32, 8, 64, 16384),
		)
	case "full":
		for _, b := range []int{1, 2, 4, 8} {
			for _, kv := range []int{32, 8} {
				for _, d := range []int{64, 128} {
					for _, s := range []int{512, 1024, 2048, 4096, 8192, 16384} {
						if b*s > 32768 {
							continue
						}
						for _, causal := range []bool{true, false} {
							out = append(out, p(b, 32, kv, d, s, causal))
						}
					}
				}
			}
		}
		for _, b := range []int{1, 2, 4, 8, 16} {
			for _, kv := range []int{32, 8} {
				for _, d := range []int{64, 128} {
					for l := 1024; l <= 131072; l *= 2 {
						if 2*2*int64(b)*int64(l)*int64(kv)*int64(d) > 8<<30 {
							continue
						}
						out = append(out, dec(b, 32, kv, d, l))
					}
				}
			}
		}
	default:
		return nil, fmt.Errorf("bench: unknown attention preset %q (have %s)", name, strings.Join(AttnPresetNames(), ", "))
	}
	return out, nil
}

// ParseAttnShapes reads a preset name or a ';'-separated list of specs (see
// ParseAttnShape); duplicates are dropped.
func ParseAttnShapes(spec string) ([]AttnShape, error) {
	spec = strings.TrimSpace(spec)
	if slices.Contains(AttnPresetNames(), strings.ToLower(spec)) {
		return AttnPreset(spec)
	}
	var out []AttnShape
	seen := map[string]bool{}
	for _, part := range strings.Split(spec, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		s, err := ParseAttnShape(part)
		if err != nil {
			return nil, err
		}
		if !seen[s.String()] {
			seen[s.String()] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: no attention shapes in %q (a preset: %s, or specs like prefill:b1,h32,kv8,d128,s2048,causal)",
			spec, strings.Join(AttnPresetNames(), ", "))
	}
	return out, nil
}

// reduced returns the shape the reference checks in place of s: s itself
// when its FLOPs are within budget, else a shape with the same head dim,
// GQA ratio, causality and KV dtype, at most 2 batches, and kv heads, then
// sequences, halved until within budget (or as small as they go).
func (s AttnShape) reduced(budget float64) AttnShape {
	if s.FLOPs() <= budget {
		return s
	}
	c := s
	c.Batch = min(c.Batch, 2)
	group := c.Heads / c.KVHeads
	for c.FLOPs() > budget && c.KVHeads > 1 {
		c.KVHeads = (c.KVHeads + 1) / 2
		c.Heads = group * c.KVHeads
	}
	for c.FLOPs() > budget && c.Batch > 1 {
		c.Batch--
	}
	for c.FLOPs() > budget {
		switch {
		case c.Kind == KindDecode && c.SeqKV > 16:
			c.SeqKV /= 2
		case c.Kind == KindPrefill && c.SeqQ > 16:
			extra := c.SeqKV - c.SeqQ
			c.SeqQ /= 2
			c.SeqKV = c.SeqQ + extra/2
		default:
			return c
		}
	}
	return c
}

// MatMulShape is one matmul case: x [M, K] times Wᵀ with W [N, K] of dtype W.
type MatMulShape struct {
	M, N, K int
	W       graph.DType
}

// Kind is "gemv" for one row of x, "gemm" otherwise.
func (s MatMulShape) Kind() string {
	if s.M == 1 {
		return "gemv"
	}
	return "gemm"
}

// String names the case: "gemv:q4_0,m1,n4096,k4096".
func (s MatMulShape) String() string {
	return fmt.Sprintf("%s:%s,m%d,n%d,k%d", s.Kind(), s.W, s.M, s.N, s.K)
}

// FLOPs returns 2·M·N·K.
func (s MatMulShape) FLOPs() float64 { return 2 * float64(s.M) * float64(s.N) * float64(s.K) }

// Bytes returns x (F32) + W at its dtype + the F32 output.
func (s MatMulShape) Bytes() float64 {
	row, err := s.W.RowBytes(int64(s.K))
	if err != nil {
		return 0
	}
	return 4*float64(s.M)*float64(s.K) + float64(row)*float64(s.N) + 4*float64(s.M)*float64(s.N)
}

// Validate reports whether the case can be built: positive sizes, a float
// weight dtype, K a whole number of its blocks.
func (s MatMulShape) Validate() error {
	if s.M < 1 || s.N < 1 || s.K < 1 {
		return fmt.Errorf("bench: matmul %s: sizes must be at least 1", s)
	}
	if !s.W.IsFloat() {
		return fmt.Errorf("bench: matmul %s: weight dtype %s is not a float type", s, s.W)
	}
	if _, err := s.W.RowBytes(int64(s.K)); err != nil {
		return fmt.Errorf("bench: matmul %s: %w", s, err)
	}
	return nil
}

// MatMulTypes returns the weight dtypes of the matmul suite: f32 f16 bf16
// q8_0 q4_0 q4_k q6_k.
func MatMulTypes() []graph.DType {
	return []graph.DType{graph.F32, graph.F16, graph.BF16, graph.Q8_0, graph.Q4_0, graph.Q4_K, graph.Q6_K}
}

// MatMulGrid returns GEMV (M = 1) and GEMM (M = 512) of size×size weights
// for each dtype.
func MatMulGrid(size int, types []graph.DType) []MatMulShape {
	var out []MatMulShape
	for _, dt := range types {
		for _, m := range []int{1, 512} {
			out = append(out, MatMulShape{M: m, N: size, K: size, W: dt})
		}
	}
	return out
}

// reduced returns the shape the reference checks in place of s: the same
// K and dtype with fewer rows of x (down to 8), then fewer rows of W (down
// to 64), until within budget.
func (s MatMulShape) reduced(budget float64) MatMulShape {
	c := s
	for c.FLOPs() > budget {
		switch {
		case c.M > 8:
			c.M /= 2
		case c.N > 64:
			c.N /= 2
		default:
			return c
		}
	}
	return c
}
