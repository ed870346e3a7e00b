package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// newRootCmd builds the whole command tree. Every call returns a fresh tree,
// so tests can run commands in-process without shared flag state.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "golem",
		Short: "Run transformer language models on CUDA, Vulkan or CPU",
		Long: `golem runs transformer language models on CUDA, Vulkan or pure-Go CPU kernels,
chosen at run time in one binary. A model is expressed once as a compute graph;
every backend runs the same graph, and the CPU reference checks the others.

It serves three kinds of work:
  - benchmarking attention and matmul kernels across devices against each
    device's measured roofline;
  - running generation with real GGUF and safetensors models (run, chat, and an
    OpenAI-compatible HTTP server);
  - validating that every backend agrees with the CPU reference, op by op and
    layer by layer.

GPU backends need only the driver at run time (libcuda.so.1 for CUDA, the
Vulkan loader libvulkan.so.1 for Vulkan). Start with "golem devices" to see
what this machine offers and why a backend is unavailable.`,
		SilenceUsage:  true, // a failing command prints its error, not the usage
		SilenceErrors: true, // main prints the error once
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.PersistentFlags().String("log-level", "warn", "diagnostics on stderr: debug, info, warn or error")
	root.AddCommand(newVersionCmd(), newDevicesCmd(), newRunCmd(), newChatCmd(), newInfoCmd(), newGenModelCmd(), newParityCmd(), newBenchCmd(), newConvertCmd())
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
