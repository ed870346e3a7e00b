package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/safefile"
)

// Ceilings are a device's throughput ceilings, measured by MeasureCeilings.
type Ceilings struct {
	Device       string             `json:"device"`        // device string
	Name         string             `json:"name"`          // device name
	ID           string             `json:"id"`            // stable device id
	Caps         string             `json:"caps"`          // capability line (threads, features)
	GolemVersion string             `json:"golem_version"` // golem version that measured them
	Bandwidth    float64            `json:"bandwidth"`     // bytes per second (read + write)
	FLOPS        map[string]float64 `json:"flops"`         // peak matmul FLOP/s by weight dtype ("f32", "f16", "bf16")
	CopyBytes    int64              `json:"copy_bytes"`    // bytes of the tensor the bandwidth was measured on
	GEMMSize     map[string]int     `json:"gemm_size"`     // edge of the square GEMM each peak was measured on
	MeasuredAt   time.Time          `json:"measured_at"`   // when
	Source       string             `json:"-"`             // measured, cached, override, or a mix ("cached+override")
}

// MaxPeak returns the best measured matmul rate of any dtype.
func (c Ceilings) MaxPeak() float64 {
	best := 0.0
	for _, v := range c.FLOPS {
		best = math.Max(best, v)
	}
	return best
}

// Peak returns the best measured matmul rate among dts (the f32 rate when
// none of them was measured).
func (c Ceilings) Peak(dts ...graph.DType) float64 {
	best := 0.0
	for _, dt := range dts {
		best = math.Max(best, c.FLOPS[dt.String()])
	}
	if best == 0 {
		best = c.FLOPS[graph.F32.String()]
	}
	return best
}

// Override replaces measured ceilings (zero fields keep the measured value).
type Override struct {
	FLOPS     float64 // FLOP/s, for every dtype
	Bandwidth float64 // bytes per second
}

// IsZero reports whether the override changes nothing.
func (o Override) IsZero() bool { return o.FLOPS == 0 && o.Bandwidth == 0 }

// ParseOverride reads "flops=VALUE,bw=VALUE" (either part may be left out).
// Values are numbers with an optional SI suffix k, M, G, T or P:
// "flops=989T,bw=3.35T" is 989 TFLOP/s and 3.35 TB/s.
func ParseOverride(s string) (Override, error) {
	var o Override
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return o, fmt.Errorf("bench: --peak %q: want flops=VALUE,bw=VALUE", s)
		}
		v, err := parseSI(val)
		if err != nil {
			return o, fmt.Errorf("bench: --peak %q: %w", s, err)
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "flops":
			o.FLOPS = v
		case "bw", "bandwidth":
			o.Bandwidth = v
		default:
			return o, fmt.Errorf("bench: --peak %q: unknown key %q (want flops or bw)", s, key)
		}
	}
	return o, nil
}

// parseSI reads a positive number with an optional SI suffix.
func parseSI(s string) (float64, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1e3
		case 'M':
			mult = 1e6
		case 'G':
			mult = 1e9
		case 'T':
			mult = 1e12
		case 'P':
			mult = 1e15
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("bad value %q (want a positive number, optionally with k, M, G, T or P)", s)
	}
	return v * mult, nil
}

// apply returns c with the override applied.
func (o Override) apply(c Ceilings) Ceilings {
	if o.IsZero() {
		return c
	}
	full := o.FLOPS > 0 && o.Bandwidth > 0
	if o.FLOPS > 0 {
		flops := map[string]float64{graph.F32.String(): o.FLOPS}
		for k := range c.FLOPS {
			flops[k] = o.FLOPS
		}
		c.FLOPS = flops
	}
	if o.Bandwidth > 0 {
		c.Bandwidth = o.Bandwidth
	}
	switch {
	case full || c.Source == "":
		c.Source = "override"
	default:
		c.Source += "+override"
	}
	return c
}

// CeilingOptions configure DeviceCeilings.
type CeilingOptions struct {
	// CacheDir holds ceilings.json; "" means os.UserCacheDir()/golem.
	CacheDir string
	// Version is golem's version, part of the cache key.
	Version string
	// Remeasure ignores (and replaces) a cached entry.
	Remeasure bool
	// Override replaces measured values.
	Override Override
	// Logger receives progress; nil discards it.
	Logger *slog.Logger

	measure func(context.Context, backend.Backend) (Ceilings, error) // tests: replaces MeasureCeilings
}

// ceilingFile is the cache's on-disk form.
type ceilingFile struct {
	Entries map[string]Ceilings `json:"entries"`
}

// CeilingCachePath returns the cache file in dir ("" for the default
// os.UserCacheDir()/golem).
func CeilingCachePath(dir string) (string, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("bench: ceilings cache: %w", err)
		}
		dir = filepath.Join(base, "golem")
	}
	return filepath.Join(dir, "ceilings.json"), nil
}

// CeilingKey is the cache key of a device: device string, name, id,
// capability line (thread count, features) and golem version.
func CeilingKey(device string, info backend.DeviceInfo, version string) string {
	return strings.Join([]string{device, info.Name, info.ID, info.Caps, version}, "|")
}

// LoadCachedCeilings returns the cached ceilings under key, if any.
func LoadCachedCeilings(path, key string) (Ceilings, bool, error) {
	f, err := readCeilingFile(path)
	if err != nil {
		return Ceilings{}, false, err
	}
	c, ok := f.Entries[key]
	return c, ok, nil
}

func readCeilingFile(path string) (ceilingFile, error) {
	f := ceilingFile{Entries: map[string]Ceilings{}}
	data, err := safefile.ReadFile(path, 64<<20)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("bench: ceilings cache: %w", err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return ceilingFile{Entries: map[string]Ceilings{}}, fmt.Errorf("bench: ceilings cache %s: %w", path, err)
	}
	if f.Entries == nil {
		f.Entries = map[string]Ceilings{}
	}
	return f, nil
}

// SaveCachedCeilings stores c under key, keeping the other entries; the file
// is replaced atomically.
func SaveCachedCeilings(path, key string, c Ceilings) error {
	f, err := readCeilingFile(path)
	if err != nil {
		f = ceilingFile{Entries: map[string]Ceilings{}} // a corrupt cache is rewritten
	}
	f.Entries[key] = c
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: ceilings cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("bench: ceilings cache: %w", err)
	}
	err = safefile.Write(context.Background(), path, safefile.Options{Force: true}, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
	if err != nil {
		return fmt.Errorf("bench: ceilings cache: %w", err)
	}
	return nil
}

// DeviceCeilings returns be's ceilings from the cache, or measures and
// caches them (always with o.Remeasure), then applies o.Override. A cache
// that cannot be read or written is logged and otherwise ignored. When the
// override sets both ceilings nothing is measured.
func DeviceCeilings(ctx context.Context, be backend.Backend, o CeilingOptions) (Ceilings, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	info := be.Device()
	if o.Override.FLOPS > 0 && o.Override.Bandwidth > 0 {
		c := Ceilings{Device: be.Name(), Name: info.Name, ID: info.ID, Caps: info.Caps, GolemVersion: o.Version}
		return o.Override.apply(c), nil
	}
	key := CeilingKey(be.Name(), info, o.Version)
	path, perr := CeilingCachePath(o.CacheDir)
	if perr != nil {
		log.Warn("ceilings cache unavailable", "err", perr)
	}
	if perr == nil && !o.Remeasure {
		c, ok, err := LoadCachedCeilings(path, key)
		if err != nil {
			log.Warn("ceilings cache unreadable; measuring again", "path", path, "err", err)
		}
		if ok {
			c.Source = "cached"
			log.Info("device ceilings from cache", "device", be.Name(), "path", path)
			return o.Override.apply(c), nil
		}
	}
	log.Info("measuring device ceilings", "device", be.Name())
	measure := o.measure
	if measure == nil {
		measure = MeasureCeilings
	}
	c, err := measure(ctx, be)
	if err != nil {
		return Ceilings{}, err
	}
	c.Source = "measured"
	c.GolemVersion = o.Version
	if perr == nil {
		if err := SaveCachedCeilings(path, key, c); err != nil {
			log.Warn("could not cache device ceilings", "err", err)
		}
	}
	return o.Override.apply(c), nil
}

// Measurement sizes.
const (
	ceilMinRun      = 50 * time.Millisecond // grow a measurement until one run takes this long
	ceilReps        = 3                     // then keep the best of this many runs
	ceilStartElems  = 1 << 22               // copy: 16 MiB of f32 first
	ceilMaxCopy     = 1 << 30               // copy: at most 1 GiB per tensor
	ceilStartGEMM   = 256                   // GEMM edge first
	ceilMaxGEMM     = 8192                  // GEMM edge at most
	ceilMemFraction = 8                     // use at most 1/8 of device memory per measurement
)

// CeilingDTypes returns the weight dtypes whose peak matmul rate is
// measured: every dtype of the matmul suite.
func CeilingDTypes() []graph.DType { return MatMulTypes() }

// MeasureCeilings measures be's bandwidth and peak matmul rates on the
// device itself (no host transfers are timed):
//
//   - bandwidth: an F32 tensor copied to a new F32 tensor, and scaled by 1,
//     growing from 16 MiB until a run takes 50 ms (at most 1 GiB); read +
//     write bytes over the best of three runs, the better of the two graphs;
//   - peak FLOP/s per dtype of CeilingDTypes: a square GEMM x·Wᵀ with W of
//     that dtype, growing from 256 until a run takes 50 ms (at most 8192);
//     2·n³ over the best of three runs.
//
// A dtype the device does not support is left out.
func MeasureCeilings(ctx context.Context, be backend.Backend) (Ceilings, error) {
	return measureCeilings(ctx, be, CeilingDTypes(), ceilMinRun)
}

// measureCeilings measures the bandwidth and the peaks of dts, growing each
// measurement until a run takes minRun.
func measureCeilings(ctx context.Context, be backend.Backend, dts []graph.DType, minRun time.Duration) (Ceilings, error) {
	info := be.Device()
	c := Ceilings{
		Device: be.Name(), Name: info.Name, ID: info.ID, Caps: info.Caps,
		FLOPS: map[string]float64{}, GEMMSize: map[string]int{},
		MeasuredAt: time.Now().UTC().Truncate(time.Second), Source: "measured",
	}
	limit := int64(ceilMaxCopy)
	if info.MemoryBytes > 0 {
		limit = min(limit, info.MemoryBytes/ceilMemFraction)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []string{"copy", "scale"} {
		bw, size, err := measureBandwidth(ctx, be, kind, limit, minRun, rng)
		if err != nil {
			return c, fmt.Errorf("bench: %s: bandwidth (%s): %w", be.Name(), kind, err)
		}
		if bw > c.Bandwidth {
			c.Bandwidth, c.CopyBytes = bw, size
		}
	}
	for _, dt := range dts {
		flops, n, err := measureGEMM(ctx, be, dt, limit, minRun, rng)
		if errors.Is(err, errUnsupported) {
			continue
		}
		if err != nil {
			return c, fmt.Errorf("bench: %s: peak %s matmul: %w", be.Name(), dt, err)
		}
		c.FLOPS[dt.String()], c.GEMMSize[dt.String()] = flops, n
	}
	return c, nil
}

var errUnsupported = errors.New("not supported by the device")

// growAndTime builds graphs of growing size with build(step) until a run
// takes minRun or build reports the largest size, then returns the best of
// ceilReps runs and the step it was measured at.
func growAndTime(ctx context.Context, be backend.Backend, minRun time.Duration, build func(step int) (*graph.Graph, map[string][]byte, bool, error)) (float64, int, error) {
	for step := 0; ; step++ {
		g, data, last, err := build(step)
		if err != nil {
			return 0, 0, err
		}
		for _, n := range g.Nodes {
			if !n.Op.IsLeaf() && !be.Supports(n) {
				return 0, 0, errUnsupported
			}
		}
		p, err := prepare(be, be.Compile, g, data)
		if err != nil {
			return 0, 0, err
		}
		t, _, err := p.run(ctx) // also the warm-up
		if err == nil && (t >= minRun.Seconds() || last) {
			var times []float64
			times, _, err = timeRuns(ctx, p, timing{reps: ceilReps})
			if err == nil {
				st := summarize(times)
				cerr := p.close()
				return st.min, step, cerr
			}
		}
		cerr := p.close()
		if err != nil {
			return 0, 0, err
		}
		if cerr != nil {
			return 0, 0, cerr
		}
	}
}

func measureBandwidth(ctx context.Context, be backend.Backend, kind string, limit int64, minRun time.Duration, rng *rand.Rand) (float64, int64, error) {
	elems := func(step int) int64 { return int64(ceilStartElems) << step }
	best, step, err := growAndTime(ctx, be, minRun, func(step int) (*graph.Graph, map[string][]byte, bool, error) {
		n := elems(step)
		b := graph.NewBuilder()
		x := b.Input("x", graph.F32, int(n))
		var y *graph.Node
		if kind == "copy" {
			y = b.Copy(x, graph.F32)
		} else {
			y = b.Scale(x, 1)
		}
		g, err := b.Build(y)
		if err != nil {
			return nil, nil, false, err
		}
		data, err := randomBytes(graph.F32, int(n), rng)
		if err != nil {
			return nil, nil, false, err
		}
		return g, map[string][]byte{"x": data}, 4*elems(step+1) > limit, nil
	})
	if err != nil {
		return 0, 0, err
	}
	bytes := 4 * elems(step)
	return 2 * float64(bytes) / best, bytes, nil
}

func measureGEMM(ctx context.Context, be backend.Backend, dt graph.DType, limit int64, minRun time.Duration, rng *rand.Rand) (float64, int, error) {
	edge := func(step int) int { return ceilStartGEMM << step }
	best, step, err := growAndTime(ctx, be, minRun, func(step int) (*graph.Graph, map[string][]byte, bool, error) {
		n := edge(step)
		b := graph.NewBuilder()
		x := b.Input("x", graph.F32, n, n)
		w := b.Weight("w", dt, n, n)
		g, err := b.Build(b.MatMul(x, w))
		if err != nil {
			return nil, nil, false, err
		}
		xd, err := randomBytes(graph.F32, n*n, rng)
		if err != nil {
			return nil, nil, false, err
		}
		wd, err := randomBytes(dt, n*n, rng)
		if err != nil {
			return nil, nil, false, err
		}
		next := int64(edge(step + 1))
		return g, map[string][]byte{"x": xd, "w": wd}, next > ceilMaxGEMM || 4*next*next > limit, nil
	})
	if err != nil {
		return 0, 0, err
	}
	n := float64(edge(step))
	return 2 * n * n * n / best, edge(step), nil
}
