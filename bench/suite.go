package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/optcheck"
	"github.com/golem-llm/golem/parity"
)

// DefaultVariant names the only implementation of a backend without
// variants of an op.
const DefaultVariant = "default"

// CheckBudgetFLOPs bounds the work of one correctness check on the float64
// reference; bigger cases are checked on a reduced shape (see the package
// documentation).
const CheckBudgetFLOPs = 6.4e7

// Options configure a suite run.
type Options struct {
	// Devices are the device strings to run on; empty means every available
	// device except the reference tier "cpu:ref" (which every variant is
	// checked against, and which the CPU offers as its "ref" variant).
	Devices []string
	// Variants restricts the implementations run (by name; "default" for
	// backends with one); empty runs all.
	Variants []string
	// Reps is the number of timed runs per case, ≥ 0; 0 runs at least 3
	// and until MinTime has passed (at most 100).
	Reps int
	// Warmup is the number of untimed runs before timing; 0 means 1, a
	// negative value none.
	Warmup int
	// MinTime is how long automatic repetitions run, ≥ 0 (0: one second).
	MinTime time.Duration
	// Seed seeds the inputs (0: parity.DefaultSeed).
	Seed int64
	// Threads bounds the host threads of each backend, ≥ 0 (0: its choice).
	Threads int
	// Env is stamped on every Result.
	Env Env
	// Ceilings configures how device ceilings are found.
	Ceilings CeilingOptions
	// DeviceTime opens the backends with per-op timing
	// (backend.Options.Profile), so that rows also report the device time
	// of a run where the backend times its ops. It is off by default: a
	// profiled run pays for its timestamps (and on CUDA runs its launches
	// one by one instead of replaying a CUDA graph), so the wall times of
	// the default runs are those of production runs.
	DeviceTime bool
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Progress, if set, is called before each case and once at the end.
	Progress func(Progress)
}

// Progress describes where a run is.
type Progress struct {
	Done, Total int    // cases finished and planned
	Device      string // device string
	Variant     string // variant
	Case        string // case name
	Phase       string // "ceilings", "load" (model), "check", "time" or "done"
}

// Validate reports the first field out of its range as an
// *optcheck.FieldError ("bench: Options.MinTime -1s: want 0 or more").
// Every suite calls it before opening a device.
func (o *Options) Validate() error {
	s := optcheck.Struct{Pkg: "bench", Name: "Options"}
	return optcheck.First(
		s.NonNegative("Reps", o.Reps),
		s.Duration("MinTime", o.MinTime),
		s.NonNegative("Threads", o.Threads),
	)
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o *Options) timing() timing {
	w := o.Warmup
	switch {
	case w == 0:
		w = 1
	case w < 0:
		w = 0
	}
	return timing{warmup: w, reps: o.Reps, minTime: o.MinTime}
}

func (o *Options) seed() int64 {
	if o.Seed == 0 {
		return parity.DefaultSeed
	}
	return o.Seed
}

func (o *Options) progress(p Progress) {
	if o.Progress != nil {
		o.Progress(p)
	}
}

// device is one opened backend and its ceilings, found on first use.
type device struct {
	name     string
	be       backend.Backend
	ceil     *Ceilings
	variants map[graph.Op][]string
}

// DefaultDevices returns the device strings a run uses when none are
// given: every available device except the CPU reference tier.
func DefaultDevices() []string {
	var out []string
	for _, st := range backend.Probe() {
		if st.Available && st.Device != parity.ReferenceDevice {
			out = append(out, st.Device)
		}
	}
	return out
}

// openDevices opens the chosen devices (each once).
func openDevices(o *Options) ([]*device, error) {
	names := o.Devices
	if len(names) == 0 {
		names = DefaultDevices()
	}
	if len(names) == 0 {
		return nil, errors.New("bench: no device is available (see golem devices)")
	}
	var devs []*device
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		be, err := backend.Open(n, backend.Options{Threads: o.Threads, Logger: o.Logger, Profile: o.DeviceTime})
		if err != nil {
			closeDevices(devs)
			return nil, fmt.Errorf("bench: %w", err)
		}
		devs = append(devs, &device{name: be.Name(), be: be, variants: map[graph.Op][]string{}})
	}
	return devs, nil
}

func closeDevices(devs []*device) {
	for _, d := range devs {
		d.be.Close()
	}
}

// ceilings returns the device's ceilings, finding them on first use.
func (d *device) ceilings(ctx context.Context, o *Options) (Ceilings, error) {
	if d.ceil != nil {
		return *d.ceil, nil
	}
	o.progress(Progress{Device: d.name, Phase: "ceilings"})
	co := o.Ceilings
	if co.Logger == nil {
		co.Logger = o.Logger
	}
	if co.Version == "" {
		co.Version = o.Env.GolemVersion
	}
	c, err := DeviceCeilings(ctx, d.be, co)
	if err != nil {
		return Ceilings{}, err
	}
	d.ceil = &c
	return c, nil
}

// variantsOf lists the implementations of op on d that o selects.
func (d *device) variantsOf(op graph.Op, o *Options) []string {
	if v, ok := d.variants[op]; ok {
		return v
	}
	var all []string
	if vc, ok := d.be.(backend.VariantCompiler); ok {
		all = vc.Variants(op)
	}
	if len(all) == 0 {
		all = []string{DefaultVariant}
	}
	var out []string
	for _, v := range all {
		if len(o.Variants) == 0 || slices.Contains(o.Variants, v) {
			out = append(out, v)
		}
	}
	d.variants[op] = out
	return out
}

// variantBackend compiles with one variant of an op.
type variantBackend struct {
	backend.Backend
	op      graph.Op
	variant string // DefaultVariant: plain Compile
}

// Compile compiles g with the chosen variant.
func (v variantBackend) Compile(g *graph.Graph) (backend.Program, error) {
	if v.variant == DefaultVariant {
		return v.Backend.Compile(g)
	}
	vc, ok := v.Backend.(backend.VariantCompiler)
	if !ok {
		return nil, fmt.Errorf("%s has no variants of %s", v.Name(), v.op)
	}
	return vc.CompileVariant(g, v.op, v.variant)
}

// kernelCase is one op-level benchmark case.
type kernelCase struct {
	suite     string
	name      string
	op        graph.Op
	dtypes    []graph.DType // for the parity threshold
	flops     float64
	bytes     float64
	mem       int64         // device bytes the case needs
	peakTypes []graph.DType // dtypes whose measured peak is the compute roof
	build     func(b *graph.Builder, rng *rand.Rand) (parity.Fixture, error)
	check     *kernelCase   // the reduced case the reference checks; nil: itself
	fill      func(*Result) // sets the shape columns
}

// checkResult is a cached correctness check.
type checkResult struct {
	status string
	nmse   float64
	err    string
}

// runKernelCases runs every case with every selected variant on every
// device. It returns the rows finished so far with ctx's error when
// cancelled.
func runKernelCases(ctx context.Context, cases []kernelCase, o Options) ([]Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	log := o.logger()
	devs, err := openDevices(&o)
	if err != nil {
		return nil, err
	}
	defer closeDevices(devs)
	ref, err := backend.Open(parity.ReferenceDevice, backend.Options{Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("bench: the reference: %w", err)
	}
	defer ref.Close()
	total := 0
	for _, d := range devs {
		for _, c := range cases {
			total += len(d.variantsOf(c.op, &o))
		}
	}
	if total == 0 {
		return nil, fmt.Errorf("bench: no variant %s on %s", strings.Join(o.Variants, ", "), deviceNames(devs))
	}
	var rows []Result
	done := 0
	checks := map[string]checkResult{}
	tm := o.timing()
	for _, d := range devs {
		ceil, err := d.ceilings(ctx, &o)
		if err != nil {
			if ctx.Err() != nil {
				return rows, ctx.Err()
			}
			log.Warn("no device ceilings; rows have no roofline", "device", d.name, "err", err)
		}
		warnIfLong(log, d, cases, &o, tm, ceil)
		for _, c := range cases {
			for _, v := range d.variantsOf(c.op, &o) {
				if err := ctx.Err(); err != nil {
					return rows, err
				}
				o.progress(Progress{Done: done, Total: total, Device: d.name, Variant: v, Case: c.name, Phase: "check"})
				r := newResult(o.Env, c.suite, c.name, d.name, d.be.Device(), v)
				c.fill(&r)
				r.FLOPs, r.Bytes = c.flops, c.bytes
				r.Warmup = tm.warmup
				peakF, peakBW := ceil.Peak(c.peakTypes...), ceil.Bandwidth
				r.PeakTFLOPS, r.PeakGBps, r.PeakSource = peakF/1e12, peakBW/1e9, ceil.Source
				r.derive()
				times, dev, err := runOne(ctx, d, ref, c, v, &o, tm, checks, &r, func() {
					o.progress(Progress{Done: done, Total: total, Device: d.name, Variant: v, Case: c.name, Phase: "time"})
				})
				if err != nil && ctx.Err() != nil {
					return rows, ctx.Err()
				}
				if err != nil {
					r.Error = err.Error()
					log.Warn("case failed", "device", d.name, "variant", v, "case", c.name, "err", err)
				} else {
					r.setTimes(times, peakF, peakBW, ceil.Source)
					if o.DeviceTime {
						r.setDeviceTimes(dev)
					}
				}
				rows = append(rows, r)
				done++
			}
		}
	}
	o.progress(Progress{Done: done, Total: total, Phase: "done"})
	return rows, nil
}

// longRun is the estimated duration above which a run warns.
const longRun = 10 * time.Minute

// warnIfLong logs when the cases would take longer than longRun on d even
// at the device's measured peak.
func warnIfLong(log *slog.Logger, d *device, cases []kernelCase, o *Options, tm timing, ceil Ceilings) {
	runs := tm.warmup + max(tm.reps, autoMinReps)
	var secs float64
	for _, c := range cases {
		peak := ceil.Peak(c.peakTypes...)
		if peak <= 0 {
			return
		}
		secs += float64(runs*len(d.variantsOf(c.op, o))) * c.flops / peak
	}
	if est := time.Duration(secs * float64(time.Second)); est > longRun {
		log.Warn("this grid takes a long time on this device (the estimate assumes every run reaches the measured peak); "+
			"try --quick or fewer --shapes", "device", d.name, "at_least", est.Round(time.Minute))
	}
}

func deviceNames(devs []*device) string {
	var n []string
	for _, d := range devs {
		n = append(n, d.name)
	}
	return strings.Join(n, ", ")
}

// runOne checks variant v of case c on d against the reference (once per
// checked shape, recording the outcome in r) and, when it passes, times it.
func runOne(ctx context.Context, d *device, ref backend.Backend, c kernelCase, v string, o *Options, tm timing,
	checks map[string]checkResult, r *Result, timingStarts func()) (times, dev []float64, err error) {
	if mem := d.be.Device().MemoryBytes; mem > 0 && c.mem > mem*9/10 {
		r.Check = CheckSkipped
		return nil, nil, fmt.Errorf("needs %.1f GiB, the device has %.1f GiB", float64(c.mem)/(1<<30), float64(mem)/(1<<30))
	}
	target := variantBackend{Backend: d.be, op: c.op, variant: v}
	chk := c.check
	if chk == nil {
		chk = &c
	}
	r.CheckCase = chk.name
	key := d.name + "\x00" + v + "\x00" + chk.name
	cr, ok := checks[key]
	if !ok {
		pc := parity.Case{Name: chk.name, Op: chk.op, DTypes: chk.dtypes, Build: chk.build}
		pc.Threshold = parity.Threshold(pc)
		res := parity.RunCase(ctx, target, ref, pc, o.seed())
		switch {
		case res.Err != nil:
			cr = checkResult{status: CheckFail, nmse: -1, err: fmt.Sprintf("check on %s: %v", chk.name, res.Err)}
		case res.Skipped:
			cr = checkResult{status: CheckSkipped, nmse: -1, err: res.SkipReason}
		case !res.Pass:
			cr = checkResult{status: CheckFail, nmse: finiteOr(res.Check.NMSE, -1), err: res.Message()}
		default:
			cr = checkResult{status: CheckOK, nmse: finiteOr(res.Check.NMSE, -1)}
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		checks[key] = cr
	}
	r.Check, r.NMSE = cr.status, cr.nmse
	if cr.status != CheckOK {
		return nil, nil, errors.New(cr.err)
	}
	timingStarts()
	b := graph.NewBuilder()
	fx, err := c.build(b, parity.NewRand(o.seed(), c.name))
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	g, err := b.Build(fx.Outputs...)
	if err != nil {
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	p, err := prepare(d.be, target.Compile, g, fx.Data)
	if err != nil {
		return nil, nil, err
	}
	times, dev, err = timeRuns(ctx, p, tm)
	if cerr := p.close(); err == nil {
		err = cerr
	}
	return times, dev, err
}

// attentionCase turns a shape into a kernel case.
func attentionCase(s AttnShape) kernelCase {
	c := attentionKernelCase(s)
	if red := s.reduced(CheckBudgetFLOPs); red != s {
		rc := attentionKernelCase(red)
		c.check = &rc
	}
	return c
}

func attentionKernelCase(s AttnShape) kernelCase {
	dims := func(d ...int) []int {
		if s.Batch > 1 {
			return append([]int{s.Batch}, d...)
		}
		return d
	}
	return kernelCase{
		suite: SuiteAttention, name: s.String(), op: graph.OpAttention,
		dtypes: []graph.DType{s.KVType}, flops: s.FLOPs(), bytes: s.Bytes(), mem: s.memBytes(),
		peakTypes: []graph.DType{graph.F32, s.KVType},
		build: func(b *graph.Builder, rng *rand.Rand) (parity.Fixture, error) {
			data := map[string][]byte{}
			leaf := func(name string, dt graph.DType, d []int) (*graph.Node, error) {
				n := b.Input(name, dt, d...)
				if err := b.Err(); err != nil {
					return nil, err
				}
				bytes, err := randomBytes(dt, int(n.Shape.NumElements()), rng)
				data[name] = bytes
				return n, err
			}
			q, err := leaf("q", graph.F32, dims(s.SeqQ, s.Heads, s.HeadDim))
			if err != nil {
				return parity.Fixture{}, err
			}
			k, err := leaf("k", s.KVType, dims(s.SeqKV, s.KVHeads, s.HeadDim))
			if err != nil {
				return parity.Fixture{}, err
			}
			v, err := leaf("v", s.KVType, dims(s.SeqKV, s.KVHeads, s.HeadDim))
			if err != nil {
				return parity.Fixture{}, err
			}
			out := b.Attention(q, k, v, graph.AttentionOpts{Causal: s.Causal})
			if err := b.Err(); err != nil {
				return parity.Fixture{}, err
			}
			return parity.Fixture{Outputs: []*graph.Node{out}, Data: data}, nil
		},
		fill: func(r *Result) {
			r.Kind, r.DType = s.Kind, s.KVType.String()
			r.Batch, r.Heads, r.KVHeads, r.HeadDim = s.Batch, s.Heads, s.KVHeads, s.HeadDim
			r.SeqQ, r.SeqKV, r.Causal = s.SeqQ, s.SeqKV, s.Causal
		},
	}
}

// RunAttention runs every attention variant of every chosen device over
// shapes: each variant is checked against the reference, then timed. When
// ctx is cancelled it returns the rows finished so far with ctx's error.
func RunAttention(ctx context.Context, shapes []AttnShape, o Options) ([]Result, error) {
	cases := make([]kernelCase, 0, len(shapes))
	for _, s := range shapes {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		cases = append(cases, attentionCase(s))
	}
	return runKernelCases(ctx, cases, o)
}

// matmulCase turns a matmul shape into a kernel case.
func matmulCase(s MatMulShape) kernelCase {
	c := matmulKernelCase(s)
	if red := s.reduced(CheckBudgetFLOPs); red != s {
		rc := matmulKernelCase(red)
		c.check = &rc
	}
	return c
}

func matmulKernelCase(s MatMulShape) kernelCase {
	return kernelCase{
		suite: SuiteMatMul, name: s.String(), op: graph.OpMatMul,
		dtypes: []graph.DType{s.W}, flops: s.FLOPs(), bytes: s.Bytes(), mem: int64(s.Bytes()),
		peakTypes: []graph.DType{s.W},
		build: func(b *graph.Builder, rng *rand.Rand) (parity.Fixture, error) {
			x := b.Input("x", graph.F32, s.M, s.K)
			w := b.Weight("w", s.W, s.N, s.K)
			out := b.MatMul(x, w)
			if err := b.Err(); err != nil {
				return parity.Fixture{}, err
			}
			xd, err := randomBytes(graph.F32, s.M*s.K, rng)
			if err != nil {
				return parity.Fixture{}, err
			}
			wd, err := randomBytes(s.W, s.N*s.K, rng)
			if err != nil {
				return parity.Fixture{}, err
			}
			return parity.Fixture{Outputs: []*graph.Node{out}, Data: map[string][]byte{"x": xd, "w": wd}}, nil
		},
		fill: func(r *Result) {
			r.Kind, r.DType = s.Kind(), s.W.String()
			r.M, r.N, r.K = s.M, s.N, s.K
		},
	}
}

// RunMatMul runs every matmul variant of every chosen device over shapes,
// checked against the reference first.
func RunMatMul(ctx context.Context, shapes []MatMulShape, o Options) ([]Result, error) {
	cases := make([]kernelCase, 0, len(shapes))
	for _, s := range shapes {
		if err := s.Validate(); err != nil {
			return nil, err
		}
		cases = append(cases, matmulCase(s))
	}
	return runKernelCases(ctx, cases, o)
}
