package bench

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/golem-llm/golem/backend"
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
	// Depth is the tokens already in the KV cache when each timed run
	// starts, as llama-bench's -d: random tokens fed once before the
	// warm-up, untimed, so that pp and tg measure prefill and decode
	// attending to Depth earlier tokens. Rows name it: tg128@d512. Not
	// with Parallel (whose sequences' prompts would be prefilled between
	// the others' timed decode steps).
	Depth int
	// KVType is the KV cache dtype (F32, F16 or BF16: graph.KVTypes; the
	// zero value is F32).
	KVType graph.DType
	// Name labels the model in rows (a file name or a synthetic preset).
	Name string
	// WeightType labels the rows' dtype column (e.g. "q4_0"); "" leaves it empty.
	WeightType string
	// Parallel, when set, replaces the decode test by one per count N:
	// N sequences decoded together by a runtime.Engine (one batched step
	// per token), each generating Gen tokens after a short random prompt;
	// the row reports the aggregate decode tokens per second of the steps
	// in which all N decode together (the window of Token.Time from the
	// last sequence's first token to the first sequence's last; the
	// prompts, read as the sequences join, are left out). The counts
	// are measured in turn, repetition after repetition (1, 2, 4, 1, 2,
	// 4, ...), so that a machine shared with other work slows them alike.
	Parallel []int
	// Profile, when set, is called after each test (pp, tg, and each
	// parallel decode test) on each device with the per-op device times of
	// the last run of each of the test's programs: the prompt or the
	// decode step (runtime.Session.Timings), or the batched decode step of
	// the test's N sequences (runtime.Engine.Timings); empty when the
	// backend reports none, or when Options.DeviceTime is off (the
	// backends then time nothing).
	Profile func(device, test string, progs []runtime.ProgramTimings)
	// HostBandwidth, on a CPU device, samples the host's memory read
	// bandwidth with the bench's threads right before the first timed
	// repetition of a single-sequence decode test and right after each
	// (see hostReader), so that each repetition's weight bytes per second
	// is compared with the bandwidth of the moment on a host whose memory
	// speed drifts: rows report the median share (Result.HostBWPct) and
	// the median sample (Result.HostGBps).
	HostBandwidth bool
	// HostBandwidthBytes is the buffer HostBandwidth streams (0:
	// DefaultHostBandwidthBytes); it must be far larger than the caches.
	HostBandwidthBytes int64
}

// Validate reports a field out of its range as an *optcheck.FieldError.
func (mo ModelOptions) Validate() error {
	s := optcheck.Struct{Pkg: "bench", Name: "ModelOptions"}
	if !mo.KVType.IsKVType() {
		return s.Fail("KVType", mo.KVType, graph.KVTypeNames())
	}
	for _, n := range mo.Parallel {
		if err := s.IntRange("Parallel", n, 1, runtime.MaxParallel); err != nil {
			return err
		}
	}
	if mo.HostBandwidthBytes < 0 {
		return s.Fail("HostBandwidthBytes", mo.HostBandwidthBytes, "0 or more")
	}
	if mo.Depth < 0 || (mo.Depth > 0 && len(mo.Parallel) > 0) {
		return s.Fail("Depth", mo.Depth, "0 or more, and 0 with Parallel")
	}
	return nil
}

// modelTest is pp (prefill) or tg (decode).
type modelTest struct {
	kind   string // "pp" or "tg"
	tokens int
	seqs   int // tg of seqs sequences decoded together (0: one session)
	depth  int // tokens in the cache before each timed run
}

func (t modelTest) String() string {
	name := fmt.Sprintf("%s%d", t.kind, t.tokens)
	if t.seqs > 0 {
		name += fmt.Sprintf("x%d", t.seqs)
	}
	if t.depth > 0 {
		name += fmt.Sprintf("@d%d", t.depth)
	}
	return name
}

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
		tests = append(tests, modelTest{kind: "pp", tokens: 512, depth: mo.Depth})
	case mo.Prompt > 0:
		tests = append(tests, modelTest{kind: "pp", tokens: mo.Prompt, depth: mo.Depth})
	}
	gen := mo.Gen
	if gen == 0 {
		gen = 128
	}
	switch {
	case gen < 0:
	case len(mo.Parallel) > 0:
		for _, n := range mo.Parallel {
			tests = append(tests, modelTest{kind: "tg", tokens: gen, seqs: n})
		}
	default:
		tests = append(tests, modelTest{kind: "tg", tokens: gen, depth: mo.Depth})
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
	var host *hostReader // made for the first CPU device
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
		// The parallel decode tests are measured together, interleaved.
		var par []modelTest
		var parTimes map[int][]float64
		var parProfiles map[int][]runtime.ProgramTimings
		var parErrs map[int]error
		for _, t := range tests {
			if t.seqs > 0 {
				par = append(par, t)
			}
		}
		if len(par) > 0 {
			o.progress(Progress{Done: done, Total: total, Device: d.name, Variant: DefaultVariant, Case: fmt.Sprintf("tg%dx%v", gen, mo.Parallel), Phase: "time"})
			parTimes, parProfiles, parErrs = runParallelTests(ctx, m, mo.KVType, par, reps, warm, rng, cfg.VocabSize)
			if ctx.Err() != nil {
				m.Close()
				return rows, ctx.Err()
			}
		}
		for _, t := range tests {
			o.progress(Progress{Done: done, Total: total, Device: d.name, Variant: DefaultVariant, Case: t.String(), Phase: "time"})
			r := newResult(o.Env, SuiteModel, t.String(), d.name, d.be.Device(), DefaultVariant)
			r.Kind, r.Model, r.Tokens, r.Seqs, r.DType = t.kind, name, t.tokens, t.seqs, mo.WeightType
			seqs := max(t.seqs, 1)
			r.FLOPs = 2 * float64(matmulWeights) * float64(t.tokens*seqs)
			r.Bytes = float64(m.WeightBytes())
			if t.kind == "tg" {
				r.Bytes *= float64(t.tokens) // a decode step reads every weight once, for all its sequences
			}
			if warm {
				r.Warmup = 1
			}
			var times, dev, samples []float64
			var profile []runtime.ProgramTimings
			var err error
			if t.seqs > 0 {
				times, profile, err = parTimes[t.seqs], parProfiles[t.seqs], parErrs[t.seqs]
			} else {
				var hr *hostReader
				if mo.HostBandwidth && t.kind == "tg" && strings.HasPrefix(d.name, "cpu") {
					if host == nil {
						if host, err = newHostReader(cmp.Or(mo.HostBandwidthBytes, DefaultHostBandwidthBytes), cmp.Or(o.Threads, goruntime.NumCPU())); err != nil {
							m.Close()
							return rows, err
						}
					}
					hr = host
				}
				times, dev, samples, profile, err = runModelTest(ctx, m, mo.KVType, t, reps, warm, rng, cfg.VocabSize, hr)
			}
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
				if len(samples) > 0 {
					pct, bw := hostShares(r.Bytes, times, samples)
					r.HostBWPct, r.HostGBps = pct, bw/1e9
				}
				if o.DeviceTime {
					r.setDeviceTimes(dev)
				}
				if mo.Profile != nil {
					mo.Profile(d.name, t.String(), profile)
				}
				rates := make([]float64, len(times))
				for i, s := range times {
					rates[i] = float64(t.tokens*seqs) / s
				}
				st := summarize(rates)
				r.TokensPerS, r.TokensPerSStd = st.mean, st.std
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

// runModelTest runs test t reps times in a fresh session (t.depth random
// tokens fed first, untimed, and kept before each repetition) and returns
// the seconds of each repetition, the device seconds of each (the summed
// per-op device times of its program runs; nil when the backend reports
// none), with host set the host's read bandwidth sampled before the
// first repetition and after each (reps+1 samples), and the per-op
// timings of the last run of each program.
func runModelTest(ctx context.Context, m *runtime.Model, kv graph.DType, t modelTest, reps int, warm bool, rng *rand.Rand,
	vocab int, host *hostReader) (times, dev, samples []float64, profile []runtime.ProgramTimings, err error) {
	s, err := m.NewSession(runtime.SessionOptions{Context: t.depth + t.tokens, KVType: kv, Chunk: t.tokens})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	defer s.Close()
	tokens := make([]int32, t.depth+t.tokens)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(vocab))
	}
	if t.depth > 0 {
		if err := s.Feed(ctx, tokens[:t.depth]); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("depth %d: %w", t.depth, err)
		}
	}
	tokens = tokens[t.depth:]
	timed := true
	// feed feeds toks and returns the device seconds of the run (each Feed
	// here runs one program once: a whole prompt, or one token).
	feed := func(toks []int32) (float64, error) {
		if err := s.Feed(ctx, toks); err != nil {
			return 0, err
		}
		ts, ok := s.Timings()[len(toks)]
		if !ok {
			timed = false
			return 0, nil
		}
		var d float64
		for _, x := range ts {
			d += x.Seconds
		}
		return d, nil
	}
	once := func(n int) (wall, devSec float64, err error) {
		s.Rewind(t.depth)
		start := time.Now()
		if t.kind == "pp" {
			if devSec, err = feed(tokens[:n]); err != nil {
				return 0, 0, err
			}
		} else {
			for i := 0; i < n; i++ {
				d, err := feed(tokens[i : i+1])
				if err != nil {
					return 0, 0, err
				}
				devSec += d
			}
		}
		return time.Since(start).Seconds(), devSec, nil
	}
	if warm {
		n := t.tokens
		if t.kind == "tg" {
			n = 1
		}
		if _, _, err := once(n); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	if host != nil {
		samples = append(samples, host.sample())
	}
	for range reps {
		if err := ctx.Err(); err != nil {
			return times, nil, nil, nil, err
		}
		sec, d, err := once(t.tokens)
		if err != nil {
			return times, nil, nil, nil, err
		}
		times = append(times, sec)
		dev = append(dev, d)
		if host != nil {
			samples = append(samples, host.sample())
		}
	}
	if !timed {
		dev = nil
	}
	return times, dev, samples, sessionPrograms(s.Timings()), nil
}

// sessionPrograms lists a session's per-program timings (by tokens per
// run) as programs, longest prefill first; the one-token program is the
// decode step.
func sessionPrograms(ts map[int][]backend.OpTiming) []runtime.ProgramTimings {
	keys := slices.Sorted(maps.Keys(ts))
	slices.Reverse(keys)
	out := make([]runtime.ProgramTimings, 0, len(keys))
	for _, k := range keys {
		kind := "prefill"
		if k == 1 {
			kind = "decode"
		}
		out = append(out, runtime.ProgramTimings{Kind: kind, Tokens: k, Timings: ts[k]})
	}
	return out
}

// parallelPrompt is the prompt length of each sequence of a parallel
// decode test: short, so that the test measures decoding.
const parallelPrompt = 8

// parallelWindow returns the time and the tokens of the decode steps in
// which every sequence of a parallel test decodes, given each sequence's
// token times (its first token is its prompt's): from the last sequence's
// first token to the first sequence's last, the tokens strictly after the
// start. The engine prefills one prompt at a time between decode steps,
// so before the window the batch grows and prompts run between its steps,
// and after it the batch shrinks; inside it every step is a batched step
// of all the sequences, as llama-batched-bench's generation phase (S_TG)
// is, which leaves the prompts out too. A test of too few tokens for the
// last prompt to be read before the first sequence ends has no window.
func parallelWindow(times [][]time.Time) (float64, int, error) {
	var start, end time.Time
	for i, ts := range times {
		if len(ts) == 0 {
			return 0, 0, fmt.Errorf("sequence %d gave no token", i)
		}
		if i == 0 || ts[0].After(start) {
			start = ts[0]
		}
		if last := ts[len(ts)-1]; i == 0 || last.Before(end) {
			end = last
		}
	}
	tokens := 0
	for _, ts := range times {
		for _, at := range ts {
			if at.After(start) && !at.After(end) {
				tokens++
			}
		}
	}
	if tokens == 0 || !end.After(start) {
		return 0, 0, fmt.Errorf("the %d sequences never decoded together (raise -n)", len(times))
	}
	return end.Sub(start).Seconds(), tokens, nil
}

// runParallelTests times the parallel decode tests: for each, an engine of
// t.seqs sequences (built once, its programs compiled by the warm-up run)
// decodes t.seqs requests of t.tokens tokens each after a random prompt,
// ignoring end-of-generation tokens. The tests take turns, repetition after
// repetition. A run is timed over the steps in which all its sequences
// decode together (parallelWindow); its time is that of t.tokens such
// steps for every sequence, at the window's rate. profiles holds,
// for each test, the per-op timings of the last run of its batched decode
// step of t.seqs sequences (none when the backend records none), and errs
// each failed test's error: a test that fails is left out of the later
// rounds while the others go on.
func runParallelTests(ctx context.Context, m *runtime.Model, kv graph.DType, tests []modelTest, reps int, warm bool, rng *rand.Rand, vocab int) (times map[int][]float64, profiles map[int][]runtime.ProgramTimings, errs map[int]error) {
	errs = map[int]error{}
	// fail gives err to every test that has no error yet.
	fail := func(err error) map[int]error {
		for _, t := range tests {
			if errs[t.seqs] == nil {
				errs[t.seqs] = err
			}
		}
		return errs
	}
	engines := map[int]*runtime.Engine{}
	defer func() {
		for _, e := range engines {
			e.Close()
		}
	}()
	for _, t := range tests {
		e, err := runtime.NewEngine(m, runtime.EngineOptions{Parallel: t.seqs, Context: parallelPrompt + t.tokens + 1, KVType: kv})
		if err != nil {
			return nil, nil, fail(err)
		}
		engines[t.seqs] = e
	}
	once := func(t modelTest) (float64, error) {
		streams := make([]*runtime.Stream, t.seqs)
		for i := range streams {
			prompt := make([]int32, parallelPrompt)
			for j := range prompt {
				prompt[j] = int32(rng.IntN(vocab))
			}
			st, err := engines[t.seqs].Submit(ctx, runtime.Request{Prompt: prompt, MaxTokens: t.tokens + 1, IgnoreEOS: true})
			if err != nil {
				for _, s := range streams[:i] {
					s.Close()
				}
				return 0, err
			}
			streams[i] = st
		}
		var first error
		times := make([][]time.Time, len(streams))
		for i, st := range streams {
			for {
				tok, err := st.Next()
				if err != nil && first == nil {
					first = err
				}
				if tok.End != nil {
					break
				}
				times[i] = append(times[i], tok.Time)
			}
		}
		if first != nil {
			return 0, first
		}
		sec, tokens, err := parallelWindow(times)
		if err != nil {
			return 0, err
		}
		return sec * float64(t.seqs*t.tokens) / float64(tokens), nil
	}
	times = map[int][]float64{}
	if warm {
		for _, t := range tests {
			if _, err := once(t); err != nil {
				errs[t.seqs] = fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	for range reps {
		for _, t := range tests {
			if err := ctx.Err(); err != nil {
				return times, nil, fail(err)
			}
			if errs[t.seqs] != nil {
				continue
			}
			sec, err := once(t)
			if err != nil {
				errs[t.seqs] = err
				continue
			}
			times[t.seqs] = append(times[t.seqs], sec)
		}
	}
	profiles = map[int][]runtime.ProgramTimings{}
	for _, t := range tests {
		for _, pt := range engines[t.seqs].Timings() {
			if pt.Kind == "decode" && pt.Tokens == t.seqs {
				profiles[t.seqs] = append(profiles[t.seqs], pt)
			}
		}
	}
	return times, profiles, errs
}
