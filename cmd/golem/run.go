package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/graph"
	"github.com/golem-llm/golem/runtime"
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
	cmd.Flags().IntVar(&f.repeatLastN, "repeat-last-n", runtime.DefaultRepeatLastN, "how many recent tokens the penalties consider (-1: every token so far)")
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
func (f *samplingFlags) generateOptions(cmd *cobra.Command, n int) (runtime.GenerateOptions, error) {
	o := runtime.GenerateOptions{MaxTokens: n, Sampler: runtime.SamplerConfig{
		Temperature: f.temp, TopK: f.topK, TopP: f.topP, MinP: f.minP,
		RepeatPenalty: f.repeat, RepeatLastN: f.repeatLastN,
		PresencePenalty: f.presence, FrequencyPenalty: f.frequency, Seed: uint64(f.seed),
	}}
	if err := o.Validate(); err != nil {
		return o, err
	}
	if f.seed < 0 {
		o.Sampler.Seed = uint64(time.Now().UnixNano() & 0x7fffffff)
		if f.temp > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "seed: %d\n", o.Sampler.Seed)
		}
	}
	return o, nil
}

// sessionOptions returns the session options of the flags, checked (with
// the backend options: every flag is checked before the model loads).
func sessionOptions(mf *modelFlags) (runtime.SessionOptions, error) {
	if err := mf.backendOptions(nil).Validate(); err != nil {
		return runtime.SessionOptions{}, err
	}
	kv, err := graph.ParseDType(mf.kvType)
	if err != nil {
		return runtime.SessionOptions{}, fmt.Errorf("--kv-type %s: want f32 or f16", mf.kvType)
	}
	so := runtime.SessionOptions{Context: mf.ctx, KVType: kv}
	return so, so.Validate()
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
			so, err := sessionOptions(&mf)
			if err != nil {
				return err
			}
			o, err := sf.generateOptions(cmd, n)
			if err != nil {
				return err
			}
			o.Stop = stops
			l, err := mf.load(ctx, cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, l.Close()) }()
			return runPrompt(ctx, cmd, l, so, prompt, !noBOS, !noSpecial, verbose, o)
		},
	}
	mf.register(cmd)
	sf.register(cmd)
	cmd.Flags().StringVarP(&prompt, "prompt", "p", "", "prompt text")
	cmd.Flags().IntVarP(&n, "n-predict", "n", 128, "tokens to generate (0: until end of text or a full context)")
	cmd.Flags().StringArrayVar(&stops, "stop", nil, "stop when this text is generated (repeatable)")
	cmd.Flags().BoolVar(&noBOS, "no-bos", false, "do not add the BOS token the model asks for")
	cmd.Flags().BoolVar(&noSpecial, "no-special", false, "keep the texts of control tokens in the prompt as text")
	registerVerbosePrompt(cmd, &verbose)
	cmd.Flags().BoolVar(&mf.profile, "profile", false, "time every op on the device and print, per op, its count, kernel launches and device time for the last prefill and decode step")
	return cmd
}

func runPrompt(ctx context.Context, cmd *cobra.Command, l *loaded, so runtime.SessionOptions, prompt string, addSpecial, parseSpecial, verbose bool, o runtime.GenerateOptions) error {
	m := l.model
	s, err := m.NewSession(so)
	if err != nil {
		return err
	}
	defer s.Close()
	ids := m.Tokenizer.Encode(prompt, addSpecial, parseSpecial)
	if verbose {
		fmt.Fprintf(cmd.ErrOrStderr(), "prompt tokens: %v\n", ids)
	}
	if len(ids) == 0 {
		return fmt.Errorf("run: the prompt is empty and the model adds no BOS token; give -p")
	}
	out := cmd.OutOrStdout()
	fmt.Fprint(out, prompt)
	o.OnText = func(text string) error {
		_, err := fmt.Fprint(out, text)
		return err
	}
	_, st, err := runtime.Generate(ctx, s, ids, o)
	fmt.Fprintln(out)
	if err != nil && ctx.Err() == nil {
		return generationError(ctx, l, s, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "prompt: %d tokens, %.1f tok/s | generation: %d tokens, %.1f tok/s | stop: %s | device: %s\n",
		st.PromptTokens, st.PromptRate(), st.GenTokens, st.GenRate(), stopReason(st, ctx), m.Backend.Name())
	if l.profile {
		printProfiles(cmd.ErrOrStderr(), m.Backend.Name(), s.Timings())
	}
	return nil
}

// stopReason is the summary's stop word: the signal's ("interrupted",
// "terminated") when one stopped the generation.
func stopReason(st runtime.Stats, ctx context.Context) string {
	if se, ok := interrupted(ctx); ok {
		return se.Error()
	}
	if ctx.Err() != nil {
		return "interrupted"
	}
	return st.StopReason
}
