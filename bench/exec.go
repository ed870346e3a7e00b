package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/backend/quant"
	"github.com/golem-llm/golem/graph"
)

// compileFunc compiles a graph (plainly, or with a chosen variant).
type compileFunc func(g *graph.Graph) (backend.Program, error)

// prepared is a compiled graph with every leaf and output bound, ready to
// run repeatedly.
type prepared struct {
	prog backend.Program
	bufs []backend.Buffer
	data map[string][]byte // kept alive while wrapped host buffers use it
}

// prepare compiles g with compile and binds every leaf to a buffer holding
// data[leaf name] (wrapped in place when the backend computes on host
// memory) and every output to a fresh buffer.
func prepare(be backend.Backend, compile compileFunc, g *graph.Graph, data map[string][]byte) (*prepared, error) {
	prog, err := compile(g)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	p := &prepared{prog: prog, data: data}
	hw, host := be.(backend.HostWrapper)
	for _, n := range g.Nodes {
		if !n.Op.IsLeaf() {
			continue
		}
		d, ok := data[n.Name]
		if !ok || int64(len(d)) != n.Bytes() {
			p.close()
			return nil, fmt.Errorf("leaf %s: have %d bytes of data, want %d", n, len(d), n.Bytes())
		}
		var buf backend.Buffer
		if host {
			buf, err = hw.WrapHost(d)
		} else if buf, err = be.Alloc(n.Bytes()); err == nil {
			err = buf.Write(0, d)
		}
		if buf != nil {
			p.bufs = append(p.bufs, buf)
		}
		if err == nil {
			err = prog.Bind(n, buf, 0)
		}
		if err != nil {
			p.close()
			return nil, fmt.Errorf("leaf %s: %w", n, err)
		}
	}
	if !host {
		p.data = nil // uploaded; let the host copy go
	}
	for _, o := range g.Outputs {
		buf, err := be.Alloc(o.Bytes())
		if err == nil {
			p.bufs = append(p.bufs, buf)
			err = prog.Bind(o, buf, 0)
		}
		if err != nil {
			p.close()
			return nil, fmt.Errorf("output %s: %w", o, err)
		}
	}
	return p, nil
}

// run runs the program once and returns the wall-clock seconds it took
// (Program.Run returns when the results can be read) and, when the
// backend timed the run's ops (backend.Profiler), their device seconds
// (else -1).
func (p *prepared) run(ctx context.Context) (wall, dev float64, err error) {
	start := time.Now()
	if err := p.prog.Run(ctx); err != nil {
		return 0, 0, err
	}
	wall = time.Since(start).Seconds()
	return wall, deviceSeconds(p.prog), nil
}

// deviceSeconds returns the summed device time of the last run of prog
// (backend.Profiler), or -1 when it reports none.
func deviceSeconds(prog backend.Program) float64 {
	pr, ok := prog.(backend.Profiler)
	if !ok {
		return -1
	}
	ts := pr.Timings()
	if ts == nil {
		return -1
	}
	var s float64
	for _, t := range ts {
		s += t.Seconds
	}
	return s
}

// close releases the program and the buffers.
func (p *prepared) close() error {
	var errs []error
	if p.prog != nil {
		errs = append(errs, p.prog.Close())
	}
	for _, b := range p.bufs {
		errs = append(errs, b.Free())
	}
	p.prog, p.bufs, p.data = nil, nil, nil
	return errors.Join(errs...)
}

// Default timing policy.
const (
	defaultMinTime = time.Second // automatic repetitions run at least this long
	autoMinReps    = 3           // ... and at least this many times
	autoMaxReps    = 100         // ... and at most this many
)

// timing says how many times a case runs.
type timing struct {
	warmup  int           // untimed runs first
	reps    int           // timed runs; 0: automatic
	minTime time.Duration // automatic: keep going until this much time is spent
}

// timeRuns runs p warmup times, then the timed runs, and returns their
// wall-clock seconds and, when the backend reports them for every run,
// their device seconds (else nil). With automatic repetitions it runs at
// least autoMinReps times and until minTime has passed, at most
// autoMaxReps times.
func timeRuns(ctx context.Context, p *prepared, t timing) (times, dev []float64, err error) {
	for range t.warmup {
		if _, _, err := p.run(ctx); err != nil {
			return nil, nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	minTime := t.minTime
	if minTime <= 0 {
		minTime = defaultMinTime
	}
	start := time.Now()
	timed := true
	for {
		if t.reps > 0 && len(times) >= t.reps {
			break
		}
		if t.reps <= 0 && len(times) >= autoMinReps && (time.Since(start) >= minTime || len(times) >= autoMaxReps) {
			break
		}
		if err := ctx.Err(); err != nil {
			return times, nil, err
		}
		s, d, err := p.run(ctx)
		if err != nil {
			return times, nil, err
		}
		times = append(times, s)
		if d < 0 {
			timed = false
		}
		dev = append(dev, d)
	}
	if !timed {
		dev = nil
	}
	return times, dev, nil
}

// randomBytes returns n seeded pseudo-random values uniform in [-1, 1)
// encoded as dt (quantized types are quantized from them).
func randomBytes(dt graph.DType, n int, rng *rand.Rand) ([]byte, error) {
	size, err := dt.RowBytes(int64(n))
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	if dt == graph.F32 {
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(uniform(rng)))
		}
		return out, nil
	}
	if dt == graph.F16 {
		for i := 0; i < n; i++ {
			h := quant.F32ToF16(uniform(rng))
			out[2*i], out[2*i+1] = byte(h), byte(h>>8)
		}
		return out, nil
	}
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = uniform(rng)
	}
	if err := quant.Quantize(dt, vals, out); err != nil {
		return nil, err
	}
	return out, nil
}

// uniform draws a float32 uniform in [-1, 1) from 24 random bits.
func uniform(rng *rand.Rand) float32 {
	return float32(int32(rng.Uint32())>>7) / (1 << 24)
}
