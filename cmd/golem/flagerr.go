package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/internal/optcheck"
)

// optionFlags maps the option-struct fields that flags set (the
// optcheck.FieldError path) to those flags. The libraries validate their
// options (each rule lives in their Validate methods); the command line
// only renames the field in the message.
var optionFlags = map[string]string{
	"golem.GenerateOptions.Temperature":      "temp",
	"golem.GenerateOptions.TopK":             "top-k",
	"golem.GenerateOptions.TopP":             "top-p",
	"golem.GenerateOptions.MinP":             "min-p",
	"golem.GenerateOptions.RepeatPenalty":    "repeat-penalty",
	"golem.GenerateOptions.RepeatLastN":      "repeat-last-n",
	"golem.GenerateOptions.PresencePenalty":  "presence-penalty",
	"golem.GenerateOptions.FrequencyPenalty": "frequency-penalty",
	"golem.GenerateOptions.MaxTokens":        "n-predict",
	"golem.Options.Context":                  "ctx-size",
	"golem.Options.KVType":                   "kv-type",
	"golem.Options.Threads":                  "threads",
	"golem.Options.Parallel":                 "parallel",
	"golem.Options.Queue":                    "queue",
	"golem.Options.ChatTemplate":             "template",
	"backend.Options.Threads":                "threads",
	"parity.ModelOptions.MaxMeanKL":          "max-kl",
	"parity.ModelOptions.KVType":             "kv-type",
	"parity.ModelTableOptions.Positions":     "positions",
	"bench.Options.Reps":                     "reps",
	"bench.Options.MinTime":                  "min-time",
	"bench.Options.Threads":                  "threads",
	"bench.ModelOptions.KVType":              "kv-type",
	"bench.ModelOptions.Parallel":            "parallel",
	"bench.ModelOptions.Depth":               "n-depth",
}

// flagError rewrites an option error whose field a flag of cmd sets as
// "--top-p 2: want a value in [0, 1]": the flag, the value as given, and
// the accepted range. Other errors are returned unchanged.
func flagError(cmd *cobra.Command, err error) error {
	var fe *optcheck.FieldError
	if err == nil || !errors.As(err, &fe) {
		return err
	}
	name, ok := optionFlags[fe.Path()]
	if !ok {
		return err
	}
	f := cmd.Flags().Lookup(name)
	if f == nil || !f.Changed {
		return err
	}
	return fmt.Errorf("--%s %s: want %s", name, f.Value.String(), fe.Want)
}

// nameFlagsInErrors makes every command of the tree report option errors
// by flag (flagError).
func nameFlagsInErrors(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error { return flagError(c, run(c, args)) }
	}
	for _, sub := range cmd.Commands() {
		nameFlagsInErrors(sub)
	}
}
