package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/runtime"
)

// modelFlags are the flags of every command that loads a model.
type modelFlags struct {
	path    string
	device  string
	threads int
	ctx     int
	kvType  string
	profile bool // --profile (run): the backend times every node
}

func (f *modelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.path, "model", "m", "", "model: a GGUF file or a Hugging Face folder (config.json + safetensors)")
	cmd.Flags().StringVar(&f.device, "device", "auto", "device: "+deviceForms()+" (see golem devices)")
	cmd.Flags().IntVarP(&f.threads, "threads", "t", 0, "CPU threads (0: all cores)")
	cmd.Flags().IntVarP(&f.ctx, "ctx-size", "c", 0, fmt.Sprintf("context length in tokens (0: the model's trained context, at most %d)", runtime.DefaultContext))
	cmd.Flags().StringVar(&f.kvType, "kv-type", "f32", "KV cache element type: f32 or f16")
	_ = cmd.MarkFlagRequired("model")
}

// backendOptions returns the options of the backend the flags choose.
func (f *modelFlags) backendOptions(log *slog.Logger) backend.Options {
	return backend.Options{Threads: f.threads, Logger: log, Profile: f.profile}
}

// loaded is a model on a backend and what must be closed after it.
type loaded struct {
	src     runtime.Source
	be      backend.Backend
	model   *runtime.Model
	profile bool // the backend was opened with Profile
}

// Close releases the model, the backend and the source, in that order, and
// returns what went wrong (a backend reporting buffers still in use is a
// bug worth an exit status).
func (l *loaded) Close() error {
	var errs []error
	if l.model != nil {
		errs = append(errs, l.model.Close())
	}
	if l.be != nil {
		errs = append(errs, l.be.Close())
	}
	if l.src != nil {
		errs = append(errs, l.src.Close())
	}
	return errors.Join(errs...)
}

// load opens the model and uploads it, drawing a progress bar on a terminal.
func (f *modelFlags) load(ctx context.Context, cmd *cobra.Command) (*loaded, error) {
	log, err := logger(cmd)
	if err != nil {
		return nil, err
	}
	l := &loaded{profile: f.profile}
	if l.src, err = runtime.OpenSource(f.path); err != nil {
		return nil, err
	}
	if l.be, err = backend.Open(f.device, f.backendOptions(log)); err != nil {
		l.Close()
		return nil, err
	}
	log.Info("device", "name", l.be.Name(), "device", l.be.Device().Name)
	if trained := l.src.Config().ContextLen; trained > 0 && f.ctx > trained {
		// On stderr whatever --log-level says: text past the trained
		// context is often garbage, and nothing else would say why.
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: --ctx-size %d exceeds the %d tokens %s was trained on; text past them may be garbage\n",
			f.ctx, trained, f.path)
	}
	progress := progressBar(cmd.ErrOrStderr(), "loading "+f.path)
	l.model, err = runtime.Load(ctx, l.src, l.be, runtime.LoadOptions{Progress: progress})
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}
