package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/optcheck"
	"github.com/golem-llm/golem/runtime"
)

// ModelOptions configure RunModel.
type ModelOptions struct {
	// Prompt is the tokens of each prefill run (pp); 0 means 512, a
	// negative value skips the prefill test.
	Prompt int
	// Gen is the tokens of each decode run (tg); 0 means 128, a negative
	// value skips the decode test.
	Gen int
	// KVType is the KV cache dtype (F32 or F16; the zero value is F32).
	KVType graph.DType
	// Name labels the model in rows (a file name or a synthetic preset).
	Name string
	// WeightType labels the rows' dtype column (e.g. "q4_0"); "" leaves it empty.
	WeightType string
	// Profile, when set, receives for each test the time its timed
	// repetitions spent in each op kind, from the programs' per-node
	// timings (backends whose programs do not report them give none).
	Profile func(OpProfile)
}

// OpProfile is where a model test's time went: the seconds of each op
// kind (matmul, attention, rms_norm, …) summed over the nodes of every
// program run of its timed repetitions.
type OpProfile struct {
	Device, Model, Test string
	// Tokens is the tokens of the repetitions together (per-token times
	// are Seconds / Tokens).
	Tokens int
	// Seconds maps an op kind to its seconds; Wall is the repetitions'
	// wall time (the difference is time outside the program runs).
	Seconds map[string]float64
	Wall    float64
}

// Validate reports a field out of its range as an *optcheck.FieldError.
func (mo ModelOptions) Validate() error {
	if mo.KVType != graph.F32 && mo.KVType != graph.F16 {
		return optcheck.Struct{Pkg: "bench", Name: "ModelOptions"}.Fail("KVType", mo.KVType, "f32 or f16")
	}
	return nil
}

// modelTest is pp (prefill) or tg (decode).
type modelTest struct {
	kind   string // "pp" or "tg"
	tokens int
}

func (t modelTest) String() string { return fmt.Sprintf("%s%d", t.kind, t.tokens) }

// RunModel measures end-to-end throughput of the model in src on every
// chosen device, as llama-bench does: pp = a prompt of Prompt tokens fed
// in one batch into an empty KV cache; tg = Gen tokens fed one at a time
// from an empty cache. Each test runs once untimed (a whole prompt for pp,
// one token for tg; it compiles the graphs), then o.Reps times (0: 3);
// rows report mean ± standard deviation of the tokens per second of the
// repetitions and the order statistics of their seconds. FLOPs count 2 per
// weight of the matmuls per token (an estimate that leaves out attention);
// bytes count every weight byte once per run for pp and once per token for
// tg (an upper bound for models with an untied embedding table, of which one
// row per token is read). The compute roof is the measured peak of
// mo.WeightType, or the best of every dtype when it is not one. Input
// tokens are seeded random ids.
func RunModel(ctx context.Context, src runtime.Source, mo ModelOptions, o Options) ([]Result, error) {
	if err := optcheck.First(o.Validate(), mo.Validate()); err != nil {
		return nil, err
	}
	cfg := src.Config()
	if cfg == nil || cfg.VocabSize < 1 {
		return nil, fmt.Errorf("bench: model %s: no vocabulary", src.Name())
	}
	var tests []modelTest
	switch {
	case mo.Prompt == 0:
		tests = append(tests, modelTest{"pp", 512})
	case mo.Prompt > 0:
		tests = append(tests, modelTest{"pp", mo.Prompt})
	}
	switch {
	case mo.Gen == 0:
		tests = append(tests, modelTest{"tg", 128})
	case mo.Gen > 0:
		tests = append(tests, modelTest{"tg", mo.Gen})
	}
	if len(tests) == 0 {
		return nil, fmt.Errorf("bench: model %s: neither a prefill nor a decode test", src.Name())
	}
	name := mo.Name
	if name == "" {
		name = src.Name()
	}
	log := o.logger()
	devs, err := openDevices(&o)
	if err != nil {
		return nil, err
	}
	defer closeDevices(devs)
	reps := o.Reps
	if reps <= 0 {
		reps = 3
	}
	warm := o.timing().warmup > 0
	matmulWeights := cfg.Params()
	if !cfg.Tied {
		matmulWeights -= int64(cfg.VocabSize) * int64(cfg.Dim) // the embedding is looked up, not multiplied
	}
	rng := rand.New(rand.NewPCG(uint64(o.seed()), 7))
	total, done := len(devs)*len(tests), 0
	var rows []Result
	for _, d := range devs {
		if err := ctx.Err(); err != nil {
			return rows, err
		}
		ceil, err := d.ceilings(ctx, &o)
		if err != nil {
			if ctx.Err() != nil {
				return rows, ctx.Err()
			}
			log.Warn("no device ceilings; rows have no roofline", "device", d.name, "err", err)
		}
		o.progress(Progress{Done: done, Total: total, Device: d.name, Variant: DefaultVariant, Case: "load " + name, Phase: "load"})
		m, err := runtime.Load(ctx, src, d.be, runtime.LoadOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return rows, ctx.Err()
			}
			return rows, fmt.Errorf("bench: load %s on %s: %w", name, d.name, err)
		}
		for _, t := range tests {
			o.progress(Progress{Done: done, Total: total, Device: d.name, Variant: DefaultVariant, Case: t.String(), Phase: "time"})
			r := newResult(o.Env, SuiteModel, t.String(), d.name, d.be.Device(), DefaultVariant)
			r.Kind, r.Model, r.Tokens, r.DType = t.kind, name, t.tokens, mo.WeightType
			r.FLOPs = 2 * float64(matmulWeights) * float64(t.tokens)
			r.Bytes = float64(m.WeightBytes())
			if t.kind == "tg" {
				r.Bytes *= float64(t.tokens)
			}
			if warm {
				r.Warmup = 1
			}
			var prof map[string]float64
			if mo.Profile != nil {
				prof = map[string]float64{}
			}
			times, err := runModelTest(ctx, m, mo.KVType, t, reps, warm, rng, cfg.VocabSize, prof)
			if err != nil {
				if ctx.Err() != nil {
					m.Close()
					return rows, ctx.Err()
				}
				r.Error = err.Error()
				log.Warn("model test failed", "device", d.name, "test", t.String(), "err", err)
			} else {
				peak := ceil.MaxPeak()
				if dt, err := graph.ParseDType(mo.WeightType); err == nil {
					peak = ceil.Peak(dt)
				}
				r.setTimes(times, peak, ceil.Bandwidth, ceil.Source)
				rates := make([]float64, len(times))
				for i, s := range times {
					rates[i] = float64(t.tokens) / s
				}
				st := summarize(rates)
				r.TokensPerS, r.TokensPerSStd = st.mean, st.std
				if prof != nil {
					var wall float64
					for _, s := range times {
						wall += s
					}
					mo.Profile(OpProfile{Device: d.name, Model: name, Test: t.String(), Tokens: t.tokens * len(times), Seconds: prof, Wall: wall})
				}
			}
			r.Check = CheckSkipped
			r.NMSE = -1
			rows = append(rows, r)
			done++
		}
		if err := m.Close(); err != nil {
			log.Warn("closing the model", "device", d.name, "err", err)
		}
	}
	o.progress(Progress{Done: done, Total: total, Phase: "done"})
	return rows, nil
}

// runModelTest runs test t reps times in a fresh session and returns the
// seconds of each repetition; with prof set it adds the seconds of each op
// kind of the timed runs to it.
func runModelTest(ctx context.Context, m *runtime.Model, kv graph.DType, t modelTest, reps int, warm bool, rng *rand.Rand, vocab int, prof map[string]float64) ([]float64, error) {
	s, err := m.NewSession(runtime.SessionOptions{Context: t.tokens, KVType: kv, Chunk: t.tokens})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	tokens := make([]int32, t.tokens)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(vocab))
	}
	var timed bool // the run is a timed repetition: profile it
	addTimes := func() {
		if prof == nil || !timed {
			return
		}
		for _, ot := range s.LastTimings() {
			prof[ot.Node.Op.String()] += ot.Seconds
		}
	}
	once := func(n int) (float64, error) {
		s.Rewind(0)
		start := time.Now()
		if t.kind == "pp" {
			if err := s.Feed(ctx, tokens[:n]); err != nil {
				return 0, err
			}
			addTimes()
		} else {
			for i := 0; i < n; i++ {
				if err := s.Feed(ctx, tokens[i:i+1]); err != nil {
					return 0, err
				}
				addTimes()
			}
		}
		return time.Since(start).Seconds(), nil
	}
	if warm {
		n := t.tokens
		if t.kind == "tg" {
			n = 1
		}
		if _, err := once(n); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	var times []float64
	timed = true
	for range reps {
		if err := ctx.Err(); err != nil {
			return times, err
		}
		sec, err := once(t.tokens)
		if err != nil {
			return times, err
		}
		times = append(times, sec)
	}
	return times, nil
}

// WriteOpProfile writes p as a table: each op kind's milliseconds per
// token and share of the wall time, largest first, and the time outside
// the program runs (reading logits, writing inputs, the session).
func WriteOpProfile(w io.Writer, p OpProfile) error {
	type row struct {
		op string
		s  float64
	}
	var rows []row
	var inside float64
	for op, s := range p.Seconds {
		rows = append(rows, row{op, s})
		inside += s
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].s > rows[j].s || rows[i].s == rows[j].s && rows[i].op < rows[j].op })
	rows = append(rows, row{"(outside the programs)", max(p.Wall-inside, 0)})
	tok := float64(max(p.Tokens, 1))
	wall := max(p.Wall, 1e-12)
	var b strings.Builder
	fmt.Fprintf(&b, "profile: %s %s %s, %d tokens in %.3f s\n", p.Device, p.Model, p.Test, p.Tokens, p.Wall)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  OP\t MS/TOKEN\t  SHARE")
	for _, r := range rows {
		fmt.Fprintf(tw, "  %s\t%9.4f\t%6.1f%%\n", r.op, 1e3*r.s/tok, 100*r.s/wall)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}
