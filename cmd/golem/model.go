package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem"
)

// modelFlags are the flags of the commands that load a model to generate
// (run, chat).
type modelFlags struct {
	path    string
	device  string
	threads int
	ctx     int
	kvType  string
	profile bool // --profile (run): the device times every op
}

func (f *modelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.path, "model", "m", "", "model: a GGUF file or a Hugging Face folder (config.json + safetensors)")
	cmd.Flags().StringVar(&f.device, "device", "auto", "device: "+deviceForms()+" (see golem devices)")
	cmd.Flags().IntVarP(&f.threads, "threads", "t", 0, "CPU threads (0: all cores)")
	cmd.Flags().IntVarP(&f.ctx, "ctx-size", "c", 0, fmt.Sprintf("context length in tokens (0: the model's trained context, at most %d)", golem.DefaultContext))
	cmd.Flags().StringVar(&f.kvType, "kv-type", golem.DefaultKVType, "KV cache element type: f16, f32 or bf16")
	_ = cmd.MarkFlagRequired("model")
}

// options returns the golem options of the flags, checked, so that every
// flag is checked before the model loads.
func (f *modelFlags) options(cmd *cobra.Command) (golem.Options, error) {
	log, err := logger(cmd)
	if err != nil {
		return golem.Options{}, err
	}
	o := golem.Options{Device: f.device, Threads: f.threads, Context: f.ctx, KVType: f.kvType, Logger: log, Profile: f.profile}
	return o, o.Validate()
}

// open loads the model of the flags with o, drawing a progress bar on a
// terminal, and warns on stderr when -c goes past the trained context.
func (f *modelFlags) open(ctx context.Context, cmd *cobra.Command, o golem.Options) (*golem.Model, error) {
	o.Progress = progressBar(cmd.ErrOrStderr(), "loading "+f.path)
	m, err := golem.Open(ctx, f.path, o)
	if err != nil {
		return nil, err
	}
	if trained := m.Info().TrainedContext; trained > 0 && f.ctx > trained {
		// On stderr whatever --log-level says: text past the trained
		// context is often garbage, and nothing else would say why.
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: --ctx-size %d exceeds the %d tokens %s was trained on; text past them may be garbage\n",
			f.ctx, trained, f.path)
	}
	return m, nil
}
