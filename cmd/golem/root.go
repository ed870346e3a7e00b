package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/golem-llm/golem/backend"
	"github.com/spf13/cobra"
)

// newRootCmd builds the whole command tree. Every call returns a fresh tree,
// so tests can run commands in-process without shared flag state.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "golem",
		Short: "Run transformer language models on " + runnableSummary(),
		Long: `golem runs transformer language models with the backends linked into this
binary, chosen at run time:

` + backendTable() + `
A model is expressed once as a compute graph; every backend runs the same
graph, and the CPU reference (cpu:ref) checks the others.

It serves three kinds of work:
  - benchmarking attention and matmul kernels across devices against each
    device's measured roofline (bench);
  - running generation with real GGUF and safetensors models (run, chat), and
    serving them over an OpenAI-compatible HTTP API (serve);
  - validating that every backend agrees with the CPU reference, op by op and
    layer by layer (parity).

Start with "golem devices" to see what this machine offers and why a backend
is unavailable.`,
		SilenceUsage:  true, // a failing command prints its error, not the usage
		SilenceErrors: true, // main prints the error once
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.PersistentFlags().String("log-level", "warn", "diagnostics on stderr: debug, info, warn or error")
	root.AddCommand(newVersionCmd(), newDevicesCmd(), newRunCmd(), newChatCmd(), newInfoCmd(), newGenModelCmd(), newParityCmd(), newBenchCmd(), newConvertCmd(), newTokenizeCmd(), newDetokenizeCmd(), newServeCmd())
	nameFlagsInErrors(root)
	return root
}

// logger returns a logger writing to the command's stderr at the level given
// by --log-level.
func logger(cmd *cobra.Command) (*slog.Logger, error) {
	name, err := cmd.Flags().GetString("log-level")
	if err != nil {
		return nil, err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToLower(name))); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", name)
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})), nil
}

// backendTable lists the registered drivers and what each runs on, one
// indented line each.
func backendTable() string {
	var b strings.Builder
	for _, d := range backend.Descriptions() {
		fmt.Fprintf(&b, "  %-7s %s\n", d.Name, d.Summary)
	}
	return b.String()
}

// deviceForms lists the device strings the registered drivers open, after
// "auto": "auto, cpu, cpu:ref, vulkan:N".
func deviceForms() string {
	forms := []string{"auto"}
	for _, d := range backend.Descriptions() {
		forms = append(forms, d.Forms...)
	}
	return strings.Join(forms, ", ")
}

// runnableSummary names the drivers that can open devices in this build:
// "CPU and Vulkan".
func runnableSummary() string {
	var names []string
	for _, d := range backend.Descriptions() {
		if len(d.Forms) > 0 {
			names = append(names, displayName(d.Name))
		}
	}
	switch len(names) {
	case 0:
		return "no device"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// displayName is a driver's name as prose writes it.
func displayName(driver string) string {
	switch driver {
	case "cpu":
		return "CPU"
	case "cuda":
		return "CUDA"
	case "vulkan":
		return "Vulkan"
	}
	return driver
}
