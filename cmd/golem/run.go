package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem"
)

// samplingFlags are the flags that choose how tokens are sampled.
type samplingFlags struct {
	temp, topP, minP, repeat, presence, frequency float32
	topK, repeatLastN                             int
	seed                                          int64
}

func (f *samplingFlags) register(cmd *cobra.Command) {
	cmd.Flags().Float32Var(&f.temp, "temp", 0.8, "temperature, ≥ 0 (0: greedy)")
	cmd.Flags().IntVar(&f.topK, "top-k", 40, "keep the k most likely tokens (0: all)")
	cmd.Flags().Float32Var(&f.topP, "top-p", 0.95, "nucleus sampling threshold, in [0, 1] (1: off)")
	cmd.Flags().Float32Var(&f.minP, "min-p", 0.05, "drop tokens below min-p × the top probability, in [0, 1] (0: off)")
	cmd.Flags().Float32Var(&f.repeat, "repeat-penalty", 1.0, "penalty for recently seen tokens, ≥ 0 (1: off)")
	cmd.Flags().IntVar(&f.repeatLastN, "repeat-last-n", golem.DefaultRepeatLastN, "how many recent tokens the penalties consider (-1: every token so far)")
	cmd.Flags().Float32Var(&f.presence, "presence-penalty", 0, "subtracted from logits of tokens already seen")
	cmd.Flags().Float32Var(&f.frequency, "frequency-penalty", 0, "subtracted per occurrence of a token already seen")
	cmd.Flags().Int64Var(&f.seed, "seed", -1, "random seed (-1: pick one and print it); the same seed gives the same text")
}

// registerVerbosePrompt adds --verbose-prompt to cmd.
func registerVerbosePrompt(cmd *cobra.Command, v *bool) {
	cmd.Flags().BoolVar(v, "verbose-prompt", false, "print the prompt's token ids on stderr")
}

// generateOptions returns the options of a generation of up to n tokens,
// checked. With --seed -1 it picks a seed, and prints it when sampling is
// random, once everything is checked.
func (f *samplingFlags) generateOptions(cmd *cobra.Command, n int) (golem.GenerateOptions, error) {
	o := golem.GenerateOptions{MaxTokens: n,
		Temperature: f.temp, TopK: f.topK, TopP: f.topP, MinP: f.minP,
		RepeatPenalty: f.repeat, RepeatLastN: f.repeatLastN,
		PresencePenalty: f.presence, FrequencyPenalty: f.frequency, Seed: uint64(f.seed),
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	if f.seed < 0 {
		o.Seed = uint64(time.Now().UnixNano() & 0x7fffffff)
		if f.temp > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "seed: %d\n", o.Seed)
		}
	}
	return o, nil
}

func newRunCmd() *cobra.Command {
	var (
		mf        modelFlags
		sf        samplingFlags
		prompt    string
		n         int
		stops     []string
		noBOS     bool
		noSpecial bool
		verbose   bool
	)
	cmd := &cobra.Command{
		Use:   "run -m MODEL -p PROMPT",
		Short: "Generate text from a prompt",
		Long: `run loads a model, feeds the prompt and streams the continuation to stdout.
When it ends, prompt and generation speeds are printed on stderr.

-n counts generated tokens, as llama.cpp's -n does (llama2.c's -n counts
positions, prompt included).

The texts of the model's control tokens in the prompt ("<s>", "<|im_start|>")
become those tokens, as in llama.cpp; --no-special keeps them text.

Ctrl-C (or SIGTERM) stops the generation: the text so far and the summary
are printed, and golem exits with status 130 (143 for SIGTERM).`,
		Example: `  golem run -m ../shared/models/stories260K.gguf -p "Once upon a time" -n 100 --temp 0`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			ctx := cmd.Context()
			mo, err := mf.options(cmd)
			if err != nil {
				return err
			}
			o, err := sf.generateOptions(cmd, n)
			if err != nil {
				return err
			}
			o.Stop, o.NoBOS, o.ParseSpecial = stops, noBOS, !noSpecial
			m, err := mf.open(ctx, cmd, mo)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, m.Close()) }()
			return runPrompt(ctx, cmd, m, prompt, verbose, mf.profile, o)
		},
	}
	mf.register(cmd)
	sf.register(cmd)
	cmd.Flags().StringVarP(&prompt, "prompt", "p", "", "prompt text")
	cmd.Flags().IntVarP(&n, "n-predict", "n", 128, "tokens to generate (0: until end of text or a full context)")
	cmd.Flags().StringArrayVar(&stops, "stop", nil, "stop when this text is generated (repeatable)")
	cmd.Flags().BoolVar(&noBOS, "no-bos", false, "do not add the BOS token the model asks for")
	cmd.Flags().BoolVar(&noSpecial, "no-special", false, "keep the texts of control tokens in the prompt as text")
	cmd.Flags().BoolVar(&mf.profile, "profile", false, "time every op on the device and print, per op, its count, kernel launches and device time for the last prefill and decode step")
	registerVerbosePrompt(cmd, &verbose)
	return cmd
}

// runPrompt streams the continuation of prompt: the prompt, then the text
// as it comes, then the summary on stderr.
func runPrompt(ctx context.Context, cmd *cobra.Command, m *golem.Model, prompt string, verbose, profile bool, o golem.GenerateOptions) error {
	out := cmd.OutOrStdout()
	started := false
	o.OnPrompt = func(ids []int32) {
		if verbose {
			fmt.Fprintf(cmd.ErrOrStderr(), "prompt tokens: %v\n", ids)
		}
		fmt.Fprint(out, prompt)
		started = true
	}
	var end *golem.Stats
	var genErr error
	for tok, err := range m.Generate(ctx, prompt, o) {
		fmt.Fprint(out, tok.Text)
		if err != nil {
			genErr = err
		}
		end = tok.End
	}
	if started {
		fmt.Fprintln(out)
	}
	if genErr != nil && ctx.Err() == nil {
		if errors.Is(genErr, golem.ErrEmptyPrompt) {
			return fmt.Errorf("run: %w; give -p", genErr)
		}
		return m.LocateNonFinite(ctx, genErr)
	}
	if end == nil {
		return genErr
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "prompt: %d tokens, %.1f tok/s | generation: %d tokens, %.1f tok/s | stop: %s | device: %s\n",
		end.PromptTokens, end.PromptRate(), end.GenTokens, end.GenRate(), stopReason(end, ctx), m.Info().Device)
	if profile {
		printProfiles(cmd.ErrOrStderr(), m.Info().Device, m.Profile())
	}
	return nil
}

// stopReason is the summary's stop word: the signal's ("interrupted",
// "terminated") when one stopped the generation.
func stopReason(st *golem.Stats, ctx context.Context) string {
	if se, ok := interrupted(ctx); ok {
		return se.Error()
	}
	if ctx.Err() != nil {
		return "interrupted"
	}
	return string(st.Stop)
}
