package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/parity"
	"github.com/golem-llm/golem/runtime"
)

// newParityCmd builds `golem parity` and its subcommands ops and model.
func newParityCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "parity",
		Short: "Check that backends agree with the CPU reference, op by op and on whole models",
		Long: `parity validates backends against golem's float64 CPU reference (cpu:ref).

  golem parity ops     runs the op conformance suite on each device
  golem parity model   runs a model on two devices and compares logits,
                       greedy text and (with --layers) every activation

Both exit with status 1 when a check fails.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newParityOpsCmd(), newParityModelCmd())
	return cmd
}

func newParityOpsCmd() *cobra.Command {
	var (
		devices []string
		opRE    string
		dtype   string
		seed    int64
		short   bool
		format  string
		threads int
	)
	cmd := &cobra.Command{
		Use:   "ops",
		Short: "Run the op conformance suite on each device against cpu:ref",
		Long: `ops runs every op conformance case (tiny seeded graphs, one per op, dtype and
shape class) on each chosen device and on the float64 CPU reference, and
compares every output: NMSE against the op's threshold, NaN/Inf, sign flips,
writes outside the output and elements left unwritten.

Thresholds on NMSE: 1e-7 element-wise ops, 1e-6 softmax, 5e-4 matmul and
attention (and conversions to f16/bf16/quantized), 0 (exact bytes) for argmax
and same-type copies.

The table prints one line per case and a summary per device. --format json
writes {"reference", "seed", "rows": [...], "summary": [...]}; --format csv
writes one record per row. Rows have the columns
  device, case, op, dtypes, seed, nmse, max_abs, threshold, status, reason
(status ok, fail or skip; nmse and max_abs are empty in CSV and null in JSON
when not measured). The exit status is 1 when any case fails.`,
		Example: `  golem parity ops --short
  golem parity ops --device cpu --op 'matmul|attention' --dtype q4_k --format csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" && format != "csv" {
				return fmt.Errorf("--format %q: want table, json or csv", format)
			}
			log, err := logger(cmd)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("seed") {
				if seed, err = parity.SeedFromEnv(); err != nil {
					return err
				}
			}
			cases := parity.Cases()
			if short {
				cases = parity.ShortCases()
			}
			if cases, err = parity.Filter(cases, opRE, dtype); err != nil {
				return err
			}
			if len(cases) == 0 {
				return fmt.Errorf("parity ops: no case matches --op %q --dtype %q", opRE, dtype)
			}
			if len(devices) == 0 {
				devices = defaultParityDevices()
				if len(devices) == 0 {
					return errors.New("parity ops: no device available besides the reference (see golem devices)")
				}
			}
			ctx := cmd.Context()
			ref, err := backend.Open(parity.ReferenceDevice, backend.Options{Logger: log})
			if err != nil {
				return fmt.Errorf("parity ops: reference: %w", err)
			}
			defer ref.Close()
			var targets []backend.Backend
			defer func() {
				for _, t := range targets {
					t.Close()
				}
			}()
			for _, d := range devices {
				be, err := backend.Open(d, backend.Options{Threads: threads, Logger: log})
				if err != nil {
					return fmt.Errorf("parity ops: %w", err)
				}
				targets = append(targets, be)
			}
			log.Info("parity ops", "cases", len(cases), "devices", devices, "seed", seed)

			out := cmd.OutOrStdout()
			var onRow func(parity.OpRow)
			if format == "table" { // stream lines as the cases finish
				width := parity.CaseWidth(cases)
				fmt.Fprintln(out, (&parity.OpReport{Seed: seed, Reference: ref.Name()}).TableHeader())
				dev := ""
				onRow = func(r parity.OpRow) {
					if r.Device != dev {
						dev = r.Device
						fmt.Fprintf(out, "== %s ==\n", dev)
					}
					fmt.Fprintln(out, r.Line(width))
				}
			}
			rep, runErr := parity.RunOps(ctx, targets, ref, cases, seed, onRow)
			switch format {
			case "table":
				for _, s := range rep.Summary {
					fmt.Fprintln(out, s)
				}
			case "json":
				err = rep.WriteJSON(out)
			case "csv":
				err = rep.WriteCSV(out)
			}
			if runErr != nil {
				return fmt.Errorf("parity ops: stopped after %d cases: %w", len(rep.Rows), runErr)
			}
			if err != nil {
				return err
			}
			if n := rep.Failed(); n > 0 {
				return fmt.Errorf("parity ops: %d of %d cases failed (seed %d)", n, len(rep.Rows), seed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&devices, "device", nil, "devices to check, comma-separated or repeated (default: every available device except cpu:ref)")
	f.StringVar(&opRE, "op", "", "only ops whose name matches this regular expression (e.g. 'matmul|attention')")
	f.StringVar(&dtype, "dtype", "", "only cases exercising this dtype (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k, i32)")
	f.Int64Var(&seed, "seed", parity.DefaultSeed, "suite seed (default: $"+parity.SeedEnv+" or the fixed default)")
	f.BoolVar(&short, "short", false, "a quick subset: one case per op and dtype combination plus a few shapes")
	f.StringVar(&format, "format", "table", "output format: table, json or csv")
	f.IntVarP(&threads, "threads", "t", 0, "CPU threads of the checked devices (0: all cores)")
	return cmd
}

// defaultParityDevices lists every available device except the reference.
func defaultParityDevices() []string {
	var out []string
	for _, st := range backend.Probe() {
		if st.Available && st.Device != parity.ReferenceDevice {
			out = append(out, st.Device)
		}
	}
	return out
}

// defaultParityPrompt is the prompt of `parity model` without -p or --tokens.
const defaultParityPrompt = "Once upon a time"

func newParityModelCmd() *cobra.Command {
	var (
		path       string
		devices    []string
		prompt     string
		nTokens    int
		seed       int64
		layers     bool
		gen        int
		format     string
		positions  int
		maxKL      float64
		minTop1    float64
		nodeThr    string
		kvType     string
		threads    int
		noBOS      bool
		showPrompt bool
	)
	cmd := &cobra.Command{
		Use:   "model -m MODEL --device A --device B",
		Short: "Compare a model's logits, greedy text and activations on two devices",
		Long: `model runs the same prompt through a model on two devices (A, then B as the
reference side) and reports, per position and overall, the largest |Δlogit|,
KL(P_a‖P_b) and whether the most likely tokens agree; then the greedy
continuation (-n tokens) on each device.

Gates: mean KL ≤ --max-kl (default 1e-4) and top-1 agreement ≥ --min-top1
(default 99.5%), for devices at equal weight types.

With --layers every intermediate activation of the prompt's run (every node of
the model's graph that owns memory, in graph order) is compared by NMSE, and
the first layer and op whose NMSE exceeds its threshold is named:
  first divergence: blk.3 attention "blk.3.kqv" NMSE 3.1e-02 > 2e-03
--node-thresholds layer (default) holds every activation to the whole-layer
tolerance 2e-3: inside a model every node carries the error of all before
it, so single-op tolerances would flag healthy devices. --node-thresholds op
applies each op's own tolerance (1e-7 element-wise, 5e-4 matmul), useful
between two devices that should be nearly bit-identical. A divergence fails
the run. --layers keeps every activation of the prompt on both devices: use a
short prompt on large models.

The exit status is 1 when a gate fails.`,
		Example: `  golem parity model -m ../shared/models/stories260K.gguf --device cpu --device cpu:ref --layers
  golem parity model -m model.gguf --device vulkan:0 --device cpu:ref --tokens 64 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("--format %q: want table or json", format)
			}
			if len(devices) != 2 {
				return fmt.Errorf("parity model: give exactly two devices (--device A --device B), got %d", len(devices))
			}
			if cmd.Flags().Changed("tokens") && nTokens <= 0 {
				return fmt.Errorf("--tokens %d: want at least 1", nTokens)
			}
			if gen < 0 {
				return fmt.Errorf("-n %d: want 0 or more", gen)
			}
			// A percentage here, a fraction in ModelOptions: checked here.
			if !(minTop1 > 0 && minTop1 <= 100) {
				return fmt.Errorf("--min-top1 %g: want a percentage in (0, 100]", minTop1)
			}
			if maxKL == 0 { // 0 is ModelOptions' "default", not a bound
				return errors.New("--max-kl 0: want a finite number > 0")
			}
			kv, err := graph.ParseKVType(kvType)
			if err != nil {
				return fmt.Errorf("--kv-type %q: want %s", kvType, graph.KVTypeNames())
			}
			mo := parity.ModelOptions{MaxMeanKL: maxKL, MinTop1: minTop1 / 100, Generate: gen, Layers: layers, KVType: kv}
			if gen == 0 {
				mo.Generate = -1
			}
			switch nodeThr {
			case "layer":
			case "op":
				mo.NodeThreshold = parity.OpNodeThreshold
			default:
				return fmt.Errorf("--node-thresholds %q: want layer or op", nodeThr)
			}
			if err := mo.Validate(); err != nil {
				return err
			}
			to := parity.ModelTableOptions{Positions: positions}
			if err := to.Validate(); err != nil {
				return err
			}
			log, err := logger(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			status := newStatusLine(cmd.ErrOrStderr(), time.Now)
			mo.Progress = parityProgress(status)
			defer status.clear()

			src, err := runtime.OpenSource(path)
			if err != nil {
				return err
			}
			defer src.Close()
			var bes []backend.Backend
			defer func() {
				for _, b := range bes {
					b.Close()
				}
			}()
			for _, d := range devices {
				be, err := backend.Open(d, backend.Options{Threads: threads, Logger: log})
				if err != nil {
					return fmt.Errorf("parity model: %w", err)
				}
				bes = append(bes, be)
			}
			tokens, err := parityTokens(src, prompt, nTokens, seed, !noBOS, cmd.Flags().Changed("tokens"))
			if err != nil {
				return err
			}
			log.Info("parity model", "model", path, "a", bes[0].Name(), "b", bes[1].Name(), "tokens", len(tokens), "layers", layers)
			if showPrompt {
				fmt.Fprintf(cmd.ErrOrStderr(), "prompt tokens: %v\n", tokens)
			}
			r, err := parity.CompareModel(ctx, src, bes[0], bes[1], tokens, mo)
			status.clear()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				err = r.WriteJSON(out)
			} else {
				err = r.WriteTable(out, to)
			}
			if err != nil {
				return err
			}
			if !r.Pass {
				return fmt.Errorf("parity model: %s", strings.Join(r.Failures, "; "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&path, "model", "m", "", "model: a GGUF file or a Hugging Face folder")
	f.StringArrayVar(&devices, "device", nil, "a device to compare; give it twice: A, then B (the reference side)")
	f.StringVarP(&prompt, "prompt", "p", "", "prompt text (default \""+defaultParityPrompt+"\")")
	f.IntVar(&nTokens, "tokens", 0, "instead of a prompt: this many seeded random tokens (BOS first)")
	f.Int64Var(&seed, "seed", parity.DefaultSeed, "seed of the --tokens draw")
	f.BoolVar(&layers, "layers", false, "compare every intermediate activation and name the first that diverges")
	f.IntVarP(&gen, "n-predict", "n", parity.DefaultGenerate, "greedy tokens generated on each device (0: none)")
	f.StringVar(&format, "format", "table", "output format: table or json")
	f.IntVar(&positions, "positions", 16, "per-position lines shown: the first and last half of this many (0: all)")
	f.Float64Var(&maxKL, "max-kl", parity.DefaultMaxMeanKL, "gate: largest mean KL divergence that passes")
	f.Float64Var(&minTop1, "min-top1", 100*parity.DefaultMinTop1, "gate: smallest top-1 agreement in percent that passes")
	f.StringVar(&nodeThr, "node-thresholds", "layer", "activation tolerances with --layers: layer (2e-3 everywhere) or op (each op's own)")
	f.StringVar(&kvType, "kv-type", graph.DefaultKVType.String(), "KV cache element type: f16, f32 or bf16")
	f.IntVarP(&threads, "threads", "t", 0, "CPU threads (0: all cores)")
	f.BoolVar(&noBOS, "no-bos", false, "do not start the prompt with the BOS token")
	f.BoolVar(&showPrompt, "verbose-prompt", false, "print the prompt's token ids on stderr")
	_ = cmd.MarkFlagRequired("model")
	cmd.MarkFlagsMutuallyExclusive("prompt", "tokens")
	return cmd
}

// parityTokens returns the prompt's tokens: the encoded prompt, or with
// random set n tokens drawn from the vocabulary with seed (BOS first when bos).
func parityTokens(src runtime.Source, prompt string, n int, seed int64, bos, random bool) ([]int32, error) {
	tok, err := src.Tokenizer()
	if err != nil {
		return nil, fmt.Errorf("parity model: %s: %w", src.Name(), err)
	}
	if !random {
		if prompt == "" {
			prompt = defaultParityPrompt
		}
		ids := tok.Encode(prompt, bos, false)
		if len(ids) == 0 {
			return nil, fmt.Errorf("parity model: prompt %q has no tokens", prompt)
		}
		return ids, nil
	}
	vocab := src.Config().VocabSize
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	ids := make([]int32, 0, n)
	if bos && tok.BOS() >= 0 {
		ids = append(ids, tok.BOS())
	}
	for len(ids) < n {
		ids = append(ids, int32(rng.IntN(vocab)))
	}
	return ids, nil
}

// parityProgress returns the progress callback of parity model: one
// status line per step, "parity model: DEVICE: STAGE DONE/TOTAL tokens".
func parityProgress(status *statusLine) func(parity.ModelProgress) {
	return func(p parity.ModelProgress) {
		status.update(fmt.Sprintf("parity model: %s: %s %d/%d tokens", p.Device, p.Stage, p.Done, p.Total), false)
	}
}
