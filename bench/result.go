package bench

import (
	"math"
	goruntime "runtime"
	"slices"
	"time"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/sysinfo"
)

// Suites a Result belongs to.
const (
	SuiteAttention = "attention"
	SuiteMatMul    = "matmul"
	SuiteModel     = "model"
	SuiteCeiling   = "ceiling"
)

// Check outcomes of Result.Check.
const (
	CheckOK      = "ok"      // matched the reference within the threshold
	CheckFail    = "fail"    // did not match; the case was not timed
	CheckSkipped = "skipped" // not checked (unsupported, or no reference for the suite)
)

// Result is one row of a report: one case run with one variant on one
// device. Every field is a column of the CSV output (see Columns); JSON uses
// the same names. Rates and percentages are 0 where they do not apply.
type Result struct {
	Suite        string    `json:"suite"`         // attention, matmul, model or ceiling
	Case         string    `json:"case"`          // canonical case name ("prefill:b1,h32,kv8,d128,s2048,causal")
	Device       string    `json:"device"`        // device string ("cpu", "cuda:0")
	DeviceName   string    `json:"device_name"`   // marketing or model name
	DeviceID     string    `json:"device_id"`     // stable device id
	Driver       string    `json:"driver"`        // driver or runtime version
	CPUModel     string    `json:"cpu_model"`     // host CPU
	GolemVersion string    `json:"golem_version"` // golem release
	GitCommit    string    `json:"git_commit"`    // golem commit
	GoVersion    string    `json:"go_version"`    // Go toolchain that built golem
	Timestamp    time.Time `json:"timestamp"`     // when the row was measured (RFC 3339)
	Variant      string    `json:"variant"`       // implementation ("fused", "ref"; "default" for a backend with one)

	Kind    string `json:"kind"`     // prefill, decode, gemv, gemm, pp, tg, copy, gemm-peak
	DType   string `json:"dtype"`    // KV dtype (attention), weight dtype (matmul, model)
	Batch   int    `json:"batch"`    // attention batch
	Heads   int    `json:"heads"`    // query heads
	KVHeads int    `json:"kv_heads"` // kv heads
	HeadDim int    `json:"head_dim"` // head dim
	SeqQ    int    `json:"seq_q"`    // queries per batch
	SeqKV   int    `json:"seq_kv"`   // keys per batch
	Causal  bool   `json:"causal"`   // causal mask
	M       int    `json:"m"`        // matmul rows of x
	N       int    `json:"n"`        // matmul rows of W
	K       int    `json:"k"`        // matmul inner dimension
	Model   string `json:"model"`    // model file or synthetic preset
	Tokens  int    `json:"tokens"`   // tokens per run (model; of each sequence for seqs > 1)
	Seqs    int    `json:"seqs"`     // model: sequences decoded together (parallel decode tests)

	Reps    int     `json:"reps"`     // timed runs
	Warmup  int     `json:"warmup"`   // untimed runs before them
	MedianS float64 `json:"median_s"` // median seconds per run
	MinS    float64 `json:"min_s"`    // fastest run
	MaxS    float64 `json:"max_s"`    // slowest run
	Q1S     float64 `json:"q1_s"`     // first quartile
	Q3S     float64 `json:"q3_s"`     // third quartile
	MeanS   float64 `json:"mean_s"`   // mean
	StdS    float64 `json:"std_s"`    // sample standard deviation
	// DeviceS is the median over the timed runs of the device time the
	// backend reports for a run (the sum of its per-op times,
	// backend.Profiler); 0 without bench --device-time, or for a backend
	// without timings.
	DeviceS float64 `json:"device_s"`

	FLOPs       float64 `json:"flops"`        // floating-point operations per run
	Bytes       float64 `json:"bytes"`        // compulsory bytes per run
	Intensity   float64 `json:"intensity"`    // FLOPs / bytes
	TFLOPS      float64 `json:"tflops"`       // FLOPs / median, in 10¹² per second
	GBps        float64 `json:"gbps"`         // bytes / median, in 10⁹ per second
	PeakTFLOPS  float64 `json:"peak_tflops"`  // the compute roof used
	PeakGBps    float64 `json:"peak_gbps"`    // the bandwidth roof used
	PeakSource  string  `json:"peak_source"`  // measured, cached, override
	RooflinePct float64 `json:"roofline_pct"` // achieved / min(peak, AI·bandwidth), in percent

	TokensPerS    float64 `json:"tokens_per_s"`     // model: mean tokens per second over reps
	TokensPerSStd float64 `json:"tokens_per_s_std"` // model: its standard deviation
	// HostGBps and HostBWPct are set for a decode test run with
	// ModelOptions.HostBandwidth: the median of the host read bandwidth
	// samples (10⁹ bytes per second), and the median over the reps of a
	// rep's weight bytes per second in percent of the mean of the samples
	// taken right before and right after it.
	HostGBps  float64 `json:"host_gbps"`
	HostBWPct float64 `json:"host_bw_pct"`

	Check     string  `json:"check"`      // ok, fail or skipped
	CheckCase string  `json:"check_case"` // the shape checked (reduced when the case is too big for the reference)
	NMSE      float64 `json:"nmse"`       // NMSE against the reference (-1 when not a number)
	Error     string  `json:"error"`      // why the row has no timing, if it has none
}

// Env describes where a run happens; every Result carries it.
type Env struct {
	GolemVersion string
	GitCommit    string
	GoVersion    string
	CPUModel     string
}

// DetectEnv returns the environment of this process with golem's version
// and commit as given.
func DetectEnv(version, commit string) Env {
	return Env{GolemVersion: version, GitCommit: commit, GoVersion: goruntime.Version(), CPUModel: CPUModel()}
}

// CPUModel returns the host CPU's model name from /proc/cpuinfo, or the
// architecture when it cannot be read.
func CPUModel() string { return sysinfo.CPUModel() }

// newResult starts a row for device be.
func newResult(env Env, suite, name, device string, info backend.DeviceInfo, variant string) Result {
	return Result{
		Suite: suite, Case: name, Device: device,
		DeviceName: info.Name, DeviceID: info.ID, Driver: info.Driver,
		CPUModel: env.CPUModel, GolemVersion: env.GolemVersion, GitCommit: env.GitCommit, GoVersion: env.GoVersion,
		Timestamp: time.Now().UTC().Truncate(time.Second), Variant: variant,
	}
}

// stats summarises run times.
type stats struct {
	n                              int
	median, min, max, q1, q3, mean float64
	std                            float64
}

// summarize computes order statistics (linear interpolation between
// ranks), the mean and the sample standard deviation of xs.
func summarize(xs []float64) stats {
	if len(xs) == 0 {
		return stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 {
		pos := p * float64(len(s)-1)
		lo := int(math.Floor(pos))
		hi := min(lo+1, len(s)-1)
		return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
	}
	var sum float64
	for _, v := range s {
		sum += v
	}
	mean := sum / float64(len(s))
	var ss float64
	for _, v := range s {
		ss += (v - mean) * (v - mean)
	}
	std := 0.0
	if len(s) > 1 {
		std = math.Sqrt(ss / float64(len(s)-1))
	}
	return stats{n: len(s), median: q(0.5), min: s[0], max: s[len(s)-1], q1: q(0.25), q3: q(0.75), mean: mean, std: std}
}

// setTimes fills the timing columns of r from the run times and derives
// the rates and the roofline percentage from r.FLOPs, r.Bytes and the roofs.
func (r *Result) setTimes(times []float64, peakFLOPS, peakBW float64, source string) {
	st := summarize(times)
	r.Reps = st.n
	r.MedianS, r.MinS, r.MaxS, r.Q1S, r.Q3S, r.MeanS, r.StdS = st.median, st.min, st.max, st.q1, st.q3, st.mean, st.std
	r.PeakTFLOPS, r.PeakGBps, r.PeakSource = peakFLOPS/1e12, peakBW/1e9, source
	r.derive()
}

// setDeviceTimes sets DeviceS from the device seconds of the timed runs
// (none: 0).
func (r *Result) setDeviceTimes(dev []float64) {
	r.DeviceS = 0
	if len(dev) > 0 {
		r.DeviceS = summarize(dev).median
	}
}

// derive computes Intensity, TFLOPS, GBps and RooflinePct from the other
// columns.
func (r *Result) derive() {
	if r.Bytes > 0 {
		r.Intensity = r.FLOPs / r.Bytes
	}
	if r.MedianS > 0 {
		r.TFLOPS = r.FLOPs / r.MedianS / 1e12
		r.GBps = r.Bytes / r.MedianS / 1e9
	}
	r.RooflinePct = 0
	if roof := r.Roof(); roof > 0 {
		switch {
		case r.FLOPs > 0:
			r.RooflinePct = 100 * r.TFLOPS * 1e12 / roof
		case r.Bytes > 0 && r.PeakGBps > 0: // pure traffic: percent of bandwidth
			r.RooflinePct = 100 * r.GBps / r.PeakGBps
		}
	}
}

// Roof returns the attainable FLOP/s at the row's intensity,
// min(peak, AI·bandwidth), with whichever roofs are known; 0 when neither.
func (r Result) Roof() float64 {
	peak, bw := r.PeakTFLOPS*1e12, r.PeakGBps*1e9
	switch {
	case peak > 0 && bw > 0 && r.Intensity > 0:
		return math.Min(peak, r.Intensity*bw)
	case peak > 0:
		return peak
	case bw > 0 && r.Intensity > 0:
		return r.Intensity * bw
	}
	return 0
}

// Bound says which roof limits the row at its intensity: "compute",
// "memory", or "" when the roofs are unknown.
func (r Result) Bound() string {
	peak, bw := r.PeakTFLOPS*1e12, r.PeakGBps*1e9
	if peak <= 0 || bw <= 0 || r.Intensity <= 0 {
		return ""
	}
	if r.Intensity*bw < peak {
		return "memory"
	}
	return "compute"
}

// finiteOr returns v, or alt when v is NaN or infinite (JSON cannot hold them).
func finiteOr(v, alt float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return alt
	}
	return v
}
