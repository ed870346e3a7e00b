package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/bench"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/internal/resource"
	"github.com/golem-llm/golem/internal/safefile"
	"github.com/golem-llm/golem/model/synth"
	"github.com/golem-llm/golem/runtime"
)

// newBenchCmd builds `golem bench` and its subcommands.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark attention, matmul and whole models against each device's roofline",
		Long: `bench times golem's kernels and models on every available device (or those
given with --device) and reports each case's median time, spread, TFLOP/s,
GB/s and percent of the device's roofline. The roofline is measured by golem
itself on first use (copy bandwidth and peak matmul rate per dtype) and
cached in the user cache directory (~/.cache/golem/ceilings.json on Linux,
keyed by device and golem version); --peak overrides it, --remeasure measures
again.

Every implementation ("variant") of an op that a backend has is checked against
the float64 CPU reference before it is timed.

Results go to stdout (table, csv, json, jsonl or md); logs and the progress
line go to stderr. Ctrl-C stops after the running case and prints what finished.`,
	}
	cmd.AddCommand(newBenchAttentionCmd(), newBenchMatMulCmd(), newBenchModelCmd(), newBenchCompareCmd(), newBenchCeilingsCmd())
	return cmd
}

// quickMinTime is --min-time's default under --quick.
const quickMinTime = 300 * time.Millisecond

// benchFlags are the flags shared by the suites.
type benchFlags struct {
	devices   []string
	format    string
	output    string
	plot      string
	peak      string
	reps      int
	warmup    int
	minTime   time.Duration
	remeasure bool
	threads   int
	seed      int64
	force     bool
	devTime   bool
	status    *statusLine // the progress line on stderr
}

func (f *benchFlags) register(cmd *cobra.Command, plot bool, reps int) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.devices, "device", nil, "device to run on, repeatable or comma-separated (default: every available device but cpu:ref)")
	fl.StringVar(&f.format, "format", bench.FormatTable, "output format: "+strings.Join(bench.Formats(), ", "))
	fl.StringVarP(&f.output, "output", "o", "", "also write the results to FILE, in the format its extension names (.json .jsonl .csv .md; others: --format)")
	if plot {
		fl.StringVar(&f.plot, "plot", "", "draw a roofline chart to FILE.png or FILE.svg")
	}
	fl.StringVar(&f.peak, "peak", "", `override the device ceilings: "flops=VALUE,bw=VALUE" (FLOP/s, bytes/s; suffixes k M G T P)`)
	fl.IntVarP(&f.reps, "reps", "r", reps, "timed repetitions per case (0: at least 3, until one second has passed)")
	fl.IntVar(&f.warmup, "warmup", 1, "untimed runs before timing")
	fl.DurationVar(&f.minTime, "min-time", time.Second, "with --reps 0, time each case for at least this long (--quick: 300ms)")
	fl.BoolVar(&f.remeasure, "remeasure", false, "measure the device ceilings again instead of using the cache")
	fl.IntVarP(&f.threads, "threads", "t", 0, "CPU threads (0: all cores)")
	fl.Int64Var(&f.seed, "seed", 0, "input seed (0: the parity suite's default)")
	fl.BoolVarP(&f.force, "force", "f", false, "replace the -o and --plot files if they exist")
	fl.BoolVar(&f.devTime, "device-time", false, "open the devices with per-op timing and report each run's device time (DEVICE TIME) beside its wall time; the timing costs time in the runs")
}

// options turns the flags into bench.Options with a progress line on a
// terminal.
func (f *benchFlags) options(cmd *cobra.Command) (bench.Options, error) {
	log, err := logger(cmd)
	if err != nil {
		return bench.Options{}, err
	}
	if _, err := bench.ParseFormat(f.format); err != nil {
		return bench.Options{}, err
	}
	ov, err := bench.ParseOverride(f.peak)
	if err != nil {
		return bench.Options{}, err
	}
	// --warmup 0 is bench.Options' -1 (none): the flag's range is checked here.
	if f.warmup < 0 {
		return bench.Options{}, fmt.Errorf("--warmup %d: want 0 or more", f.warmup)
	}
	// Output files are checked before any work, so a bad path fails at once
	// instead of after the benchmarks.
	for _, out := range []struct{ flag, path string }{{"-o", f.output}, {"--plot", f.plot}} {
		if out.path == "" {
			continue
		}
		if err := safefile.CheckTarget(out.path, f.force); err != nil {
			return bench.Options{}, fmt.Errorf("%s: %w", out.flag, err)
		}
	}
	if f.plot != "" {
		if _, err := bench.PlotFormat(f.plot); err != nil {
			return bench.Options{}, err
		}
	}
	f.status = newStatusLine(cmd.ErrOrStderr(), time.Now)
	warm := f.warmup
	if warm == 0 {
		warm = -1 // bench.Options: negative means none
	}
	o := bench.Options{
		Devices: f.devices, Reps: f.reps, Warmup: warm, MinTime: f.minTime, Threads: f.threads, Seed: f.seed, DeviceTime: f.devTime,
		Env:      bench.DetectEnv(version, buildCommit()),
		Ceilings: bench.CeilingOptions{Version: buildKey(), Remeasure: f.remeasure, Override: ov, Logger: log},
		Logger:   log,
		Progress: f.progress,
	}
	return o, o.Validate()
}

// progress shows the suite's advance on the status line.
func (f *benchFlags) progress(p bench.Progress) {
	switch p.Phase {
	case "done":
		f.status.clear()
	case "ceilings":
		f.status.update(fmt.Sprintf("measuring the ceilings of %s ...", p.Device), false)
	default:
		f.status.update(fmt.Sprintf("[%d/%d] %s %s %s (%s)", p.Done+1, p.Total, p.Device, p.Variant, p.Case, p.Phase), false)
	}
}

// finish writes rows (stdout, -o, --plot) and turns an interrupted or
// failed run into the command's error after what finished is printed.
func (f *benchFlags) finish(cmd *cobra.Command, title string, rows []bench.Result, runErr error) error {
	if f.status != nil {
		f.status.clear() // an interrupted progress line
	}
	if len(rows) == 0 && runErr != nil {
		return runErr
	}
	if err := bench.Write(cmd.OutOrStdout(), f.format, rows); err != nil {
		return err
	}
	if f.output != "" {
		if err := f.writeResultsFile(cmd, rows); err != nil {
			return err
		}
	}
	if f.plot != "" {
		if err := bench.WritePlot(cmd.Context(), f.plot, title, rows, f.force); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "roofline plot: %s\n", f.plot)
	}
	if errors.Is(runErr, context.Canceled) {
		return fmt.Errorf("bench: interrupted; %d finished cases shown", len(rows))
	}
	return runErr
}

// writeResultsFile writes rows to -o in the format its extension names
// (so "--format md -o x.json" prints Markdown and saves JSON), or in
// --format for other extensions.
func (f *benchFlags) writeResultsFile(cmd *cobra.Command, rows []bench.Result) error {
	format := formatFromExt(f.output, f.format)
	err := safefile.Write(cmd.Context(), f.output, safefile.Options{Force: f.force}, func(w io.Writer) error {
		return bench.Write(w, format, rows)
	})
	if err != nil {
		return fmt.Errorf("bench: -o: %w", err)
	}
	return nil
}

// formatFromExt returns the results format path's extension names, or def.
func formatFromExt(path, def string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return bench.FormatJSON
	case ".jsonl", ".ndjson":
		return bench.FormatJSONL
	case ".csv":
		return bench.FormatCSV
	case ".md":
		return bench.FormatMarkdown
	}
	return def
}

func newBenchAttentionCmd() *cobra.Command {
	var (
		f        benchFlags
		shapes   string
		variants []string
		quick    bool
	)
	cmd := &cobra.Command{
		Use:   "attention",
		Short: "Time every attention variant of every device over prefill and decode shapes",
		Long: `attention runs every attention implementation each device has (on the CPU:
the fused fast path and the float64 reference) over a grid of shapes, checks
each against the CPU reference, then times it.

--shapes takes a preset (quick, default, full) or a ';'-separated list of
specs such as
  prefill:b1,h32,kv8,d128,s2048,causal      batch, query heads, kv heads, head dim, sequence
  decode:b4,h32,kv8,d128,kv4096             ... and the KV length (the second kv)
Other tokens: skvN (keys of a prefill), f32 / f16 (KV dtype, default f16),
noncausal. FLOPs are 4·B·Hq·D·pairs, where pairs counts the (query, key)
pairs scored (a causal S×S prefill scores S(S+1)/2); bytes are Q, K, V read
and O written once.`,
		Example: `  golem bench attention --quick --plot roofline.png
  golem bench attention --device vulkan:0 --shapes "decode:b1,h32,kv8,d128,kv32768" --format csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if quick {
				if cmd.Flags().Changed("shapes") {
					return errors.New("--quick and --shapes cannot be combined")
				}
				shapes = "quick"
				if !cmd.Flags().Changed("min-time") {
					f.minTime = quickMinTime
				}
			}
			list, err := bench.ParseAttnShapes(shapes)
			if err != nil {
				return err
			}
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			o.Variants = variants
			ctx := cmd.Context()
			rows, err := bench.RunAttention(ctx, list, o)
			return f.finish(cmd, "golem bench attention", rows, err)
		},
	}
	f.register(cmd, true, 0)
	cmd.Flags().StringVar(&shapes, "shapes", "default", "preset (quick, default, full) or ';'-separated shape specs")
	cmd.Flags().StringSliceVar(&variants, "variants", nil, "only these variants (default: all; e.g. fused,ref)")
	cmd.Flags().BoolVar(&quick, "quick", false, "the quick preset: a few small shapes that run in seconds on a laptop CPU")
	return cmd
}

func newBenchMatMulCmd() *cobra.Command {
	var (
		f     benchFlags
		quick bool
		size  int
		types []string
	)
	cmd := &cobra.Command{
		Use:   "matmul",
		Short: "Time GEMV (m=1) and GEMM (m=512) per weight dtype",
		Long: `matmul times x·Wᵀ with a square weight W of each dtype (f32 f16 bf16 q8_0 q4_0
q4_k q6_k) for one row of x (GEMV, decode-like, memory-bound) and 512 rows
(GEMM, prefill-like, compute-bound), after checking each against the CPU
reference. FLOPs are 2·m·n·k; bytes are x, W (at its dtype) and the output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if size < 0 {
				return fmt.Errorf("--size %d: want a positive size (0: the default)", size)
			}
			if size == 0 {
				size = 4096
				if quick {
					size = 1024
				}
			}
			if quick && !cmd.Flags().Changed("min-time") {
				f.minTime = quickMinTime
			}
			var dts []graph.DType
			for _, t := range types {
				dt, err := graph.ParseDType(strings.TrimSpace(t))
				if err != nil {
					return fmt.Errorf("--types: %w", err)
				}
				dts = append(dts, dt)
			}
			if len(dts) == 0 {
				dts = bench.MatMulTypes()
			}
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			rows, err := bench.RunMatMul(ctx, bench.MatMulGrid(size, dts), o)
			return f.finish(cmd, "golem bench matmul", rows, err)
		},
	}
	f.register(cmd, true, 0)
	cmd.Flags().BoolVar(&quick, "quick", false, "1024×1024 weights instead of 4096×4096")
	cmd.Flags().IntVar(&size, "size", 0, "weight rows and columns (default 4096, 1024 with --quick; a multiple of 256 for k-quants)")
	cmd.Flags().StringSliceVar(&types, "types", nil, "weight dtypes (default: f32,f16,bf16,q8_0,q4_0,q4_k,q6_k)")
	return cmd
}

func newBenchModelCmd() *cobra.Command {
	var (
		f             benchFlags
		path, shape   string
		types         []string
		prompt, gen   int
		depth         int
		kvType, vocab string
		seed          uint64
		parallel      []int
		profile       bool
		hostBW        bool
	)
	cmd := &cobra.Command{
		Use:   "model (-m FILE | --shape NAME)",
		Short: "Prefill and decode tokens per second of a whole model (llama-bench's pp512 / tg128)",
		Long: `model measures end-to-end throughput like llama-bench: pp = a prompt of -p
tokens fed in one batch into an empty KV cache, tg = -n tokens decoded one at a
time from an empty cache, each repeated -r times after one warm-up; the table
shows mean ± standard deviation tokens per second, and the device time of a
repetition where the backend times its ops. --profile prints, after each test,
the per-op table of golem run --profile (count, kernel launches, device time,
share) for the test's last prefill or decode step (a --parallel test's: its
batched decode step of N sequences), on stderr.

--parallel 1,2,4,8 replaces tg by one test per count N: N sequences of -n
tokens decoded together (one batched step per token reads the weights once
for all N), reporting the aggregate decode tokens per second (rows tgNxM,
column seqs) of the steps in which all N decode together: the engine reads
the prompts one at a time between decode steps as the sequences join, and
those steps are left out, as llama-batched-bench's S_TG leaves out its
prompts. The counts take turns, repetition after repetition, so that load
from other work on the machine slows them alike.

--host-bandwidth (CPU devices) reads a 1 GiB buffer on the bench's threads
right before the first timed decode repetition and right after each, and
compares each repetition's weight bytes per second with the mean of the two
read rates around it; the NOTE column gives the median share and the median
read rate (columns host_bw_pct and host_gbps of the other formats). On a host
whose memory speed drifts, that tells how close decode runs to the memory
system of the moment.

The model is a file (-m: GGUF or a Hugging Face folder), or a synthetic model
of a real shape with seeded random weights (--shape: ` + strings.Join(synth.PresetNames(), ", ") + `,
or a custom spec), written to a temporary file in each --type.`,
		Example: `  golem bench model --shape tinyllama-1.1b --type q4_0,q8_0 -p 512 -n 128 -r 3
  golem bench model -m ../shared/models/stories260K.gguf --format md
  golem bench model --shape 110m --type q8_0 -p 0 -n 64 --parallel 1,2,4,8 -r 5
  golem bench model -m tinyllama-1.1b-q4_0.gguf --device cpu -t 2 -p 0 -n 128 -r 8 --host-bandwidth`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (path == "") == (shape == "") {
				return errors.New("give exactly one of -m FILE and --shape NAME")
			}
			if path != "" && len(types) > 0 {
				return errors.New("--type applies to --shape models (a file has its own types)")
			}
			if prompt < 0 || gen < 0 || prompt+gen == 0 {
				return fmt.Errorf("-p %d -n %d: want sizes ≥ 0, not both 0", prompt, gen)
			}
			kv, err := graph.ParseKVType(kvType)
			if err != nil {
				return fmt.Errorf("--kv-type %q: want %s", kvType, graph.KVTypeNames())
			}
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			mo := bench.ModelOptions{Prompt: prompt, Gen: gen, Depth: depth, KVType: kv, Parallel: parallel, HostBandwidth: hostBW}
			if err := mo.Validate(); err != nil {
				return err
			}
			if profile {
				o.DeviceTime = true // the per-op timings are the profile
				mo.Profile = func(device, test string, ts []runtime.ProgramTimings) {
					f.status.clear()
					printProfiles(cmd.ErrOrStderr(), fmt.Sprintf("%s (%s %s)", device, mo.Name, test), programProfiles(ts))
				}
			}
			if prompt == 0 {
				mo.Prompt = -1
			}
			if gen == 0 {
				mo.Gen = -1
			}
			ctx := cmd.Context()
			if path != "" {
				src, err := runtime.OpenSource(path)
				if err != nil {
					return err
				}
				defer src.Close()
				mo.Name = filepath.Base(path)
				rows, err := bench.RunModel(ctx, src, mo, o)
				return f.finish(cmd, "golem bench model", rows, err)
			}
			s, err := synth.Lookup(shape)
			if err != nil {
				return err
			}
			if len(types) == 0 {
				types = []string{"f32"}
			}
			// Every type is checked, and the weights' size compared with the
			// free memory, before any file is written.
			var dts []graph.DType
			for _, t := range types {
				dt, err := graph.ParseDType(strings.TrimSpace(t))
				if err != nil {
					return fmt.Errorf("--type: %w", err)
				}
				size, err := synth.FileBytes(&s.Config, dt)
				if err != nil {
					return fmt.Errorf("bench model: shape %s: %w", s.Name, err)
				}
				if err := resource.CheckMemory(fmt.Sprintf("bench model: the %s model of shape %s", dt, s.Name), size); err != nil {
					return err
				}
				dts = append(dts, dt)
			}
			dir, err := safefile.MkdirTemp("", "golem-bench-*")
			if err != nil {
				return fmt.Errorf("bench: %w", err)
			}
			defer dir.Remove()
			var rows []bench.Result
			for _, dt := range dts {
				file := filepath.Join(dir.Path, fmt.Sprintf("%s-%s.gguf", s.Name, dt))
				o.Logger.Info("writing synthetic model", "shape", s.Name, "type", dt, "path", file)
				err = synth.Write(ctx, file, s, synth.Options{Type: dt, Seed: seed, Vocab: vocab,
					Progress: progressBar(cmd.ErrOrStderr(), "writing "+s.Name+" "+dt.String())})
				if err != nil {
					return err
				}
				src, err := runtime.OpenGGUF(file)
				if err != nil {
					return err
				}
				mo.Name, mo.WeightType = s.Name, dt.String()
				got, err := bench.RunModel(ctx, src, mo, o)
				src.Close()
				os.Remove(file)
				rows = append(rows, got...)
				if err != nil {
					return f.finish(cmd, "golem bench model", rows, err)
				}
			}
			return f.finish(cmd, "golem bench model", rows, nil)
		},
	}
	f.register(cmd, true, 3)
	cmd.Flags().StringVarP(&path, "model", "m", "", "model file (GGUF) or Hugging Face folder")
	cmd.Flags().StringVar(&shape, "shape", "", "synthetic model preset or custom spec instead of -m")
	cmd.Flags().StringSliceVar(&types, "type", nil, "weight types of the synthetic model (default f32; e.g. q4_0,q8_0)")
	cmd.Flags().StringVar(&vocab, "vocab", "", "GGUF whose tokenizer the synthetic model copies (default: a synthetic vocabulary)")
	cmd.Flags().Uint64Var(&seed, "model-seed", 1, "seed of the synthetic weights")
	cmd.Flags().IntVarP(&prompt, "n-prompt", "p", 512, "prompt tokens of the prefill test (0: skip it)")
	cmd.Flags().IntVarP(&gen, "n-gen", "n", 128, "tokens of the decode test (0: skip it)")
	cmd.Flags().IntVarP(&depth, "n-depth", "d", 0, "random tokens already in the KV cache when each timed run starts, as llama-bench -d (not with --parallel)")
	cmd.Flags().StringVar(&kvType, "kv-type", graph.DefaultKVType.String(), "KV cache element type: f16, f32 or bf16")
	cmd.Flags().IntSliceVar(&parallel, "parallel", nil, "decode tests of N sequences decoded together, for each N (e.g. 1,2,4,8)")
	cmd.Flags().BoolVar(&profile, "profile", false, "print the per-op device times (count, launches, device time, share) of each test's last prefill or decode step (or batched decode step) on stderr")
	cmd.Flags().BoolVar(&hostBW, "host-bandwidth", false, "on CPU devices, compare each decode repetition with the host's read bandwidth measured right before and after it (1 GiB buffer)")
	return cmd
}

func newBenchCompareCmd() *cobra.Command {
	var (
		format string
		key    []string
	)
	cmd := &cobra.Command{
		Use:   "compare BASE.json OTHER.json [MORE.json ...]",
		Short: "Merge saved runs (-o x.json) and show each case's time and speedup over the first",
		Long: `compare reads results saved with --format json or jsonl (or -o FILE.json),
matches rows by --key (default: suite, case, variant, device, model) and
prints each case's median time in every run and the speedup of each run
over the first (>1: faster). Use --key case,variant to compare different
devices or machines.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var runs [][]bench.Result
			for _, a := range args {
				rows, err := bench.ReadResultsFile(a)
				if err != nil {
					return err
				}
				runs = append(runs, rows)
			}
			cmps, err := bench.Compare(runs, key)
			if err != nil {
				return err
			}
			return bench.WriteComparison(cmd.OutOrStdout(), format, args, cmps)
		},
	}
	cmd.Flags().StringVar(&format, "format", bench.FormatTable, "output format: "+strings.Join(bench.Formats(), ", "))
	cmd.Flags().StringSliceVar(&key, "key", nil, "fields rows are matched on (default suite,case,variant,device,model)")
	return cmd
}

func newBenchCeilingsCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "ceilings",
		Short: "Show (measuring on first use) each device's bandwidth and peak matmul rates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := f.options(cmd)
			if err != nil {
				return err
			}
			if f.format != bench.FormatTable && f.format != bench.FormatJSON {
				return fmt.Errorf("--format %q: want table or json", f.format)
			}
			devs := o.Devices
			if len(devs) == 0 {
				devs = bench.DefaultDevices()
			}
			ctx := cmd.Context()
			var all []bench.Ceilings
			for _, d := range devs {
				be, err := backend.Open(strings.TrimSpace(d), backend.Options{Threads: o.Threads, Logger: o.Logger})
				if err != nil {
					return err
				}
				if o.Progress != nil {
					o.Progress(bench.Progress{Device: be.Name(), Phase: "ceilings"})
				}
				c, err := bench.DeviceCeilings(ctx, be, o.Ceilings)
				be.Close()
				if o.Progress != nil {
					o.Progress(bench.Progress{Phase: "done"})
				}
				if err != nil {
					return err
				}
				all = append(all, c)
			}
			if f.format == bench.FormatJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(all)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			head := []string{"DEVICE", "NAME", "BANDWIDTH"}
			for _, dt := range bench.CeilingDTypes() {
				head = append(head, "PEAK "+strings.ToUpper(dt.String()))
			}
			fmt.Fprintln(tw, strings.Join(append(head, "SOURCE"), "\t"))
			for _, c := range all {
				row := []string{c.Device, dash(c.Name), rateCell(c.Bandwidth, "B/s")}
				for _, dt := range bench.CeilingDTypes() {
					row = append(row, rateCell(c.FLOPS[dt.String()], "FLOP/s"))
				}
				fmt.Fprintln(tw, strings.Join(append(row, c.Source), "\t"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if path, err := bench.CeilingCachePath(""); err == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "cache: %s\n", path)
			}
			return nil
		},
	}
	f.register(cmd, false, 0)
	return cmd
}

// rateCell writes a rate with an SI prefix ("45.3 GFLOP/s"), or "-".
func rateCell(v float64, unit string) string {
	if v <= 0 {
		return "-"
	}
	prefixes := "kMGTPE"
	p := ""
	for i := 0; v >= 1000 && i < len(prefixes); i++ {
		v /= 1000
		p = prefixes[i : i+1]
	}
	return fmt.Sprintf("%.3g %s%s", v, p, unit)
}
