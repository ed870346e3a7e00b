// Command golem runs transformer language models on CUDA, Vulkan or pure-Go
// CPU kernels. Run "golem help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	// Signals are caught before anything else runs, so Ctrl-C or SIGTERM at
	// any point stops through the commands' normal return paths.
	ctx, stop := watchSignals(context.Background(), os.Exit)
	code := runRoot(ctx, newRootCmd(), os.Stderr)
	stop()
	os.Exit(code)
}

// errReported marks an error the command has already shown the user; main
// only sets the exit status for it.
var errReported = errors.New("reported")

// runRoot executes root and returns the process's exit status: 0, 1 for an
// error, or 128 + the signal number when a signal stopped the command (130
// for Ctrl-C, 143 for SIGTERM), as shells expect.
func runRoot(ctx context.Context, root *cobra.Command, stderr io.Writer) int {
	err := root.ExecuteContext(ctx)
	se, stopped := interrupted(ctx)
	if err != nil && !errors.Is(err, errReported) {
		if stopped && errors.Is(err, context.Canceled) {
			fmt.Fprintln(stderr, "golem:", se)
		} else {
			fmt.Fprintln(stderr, "golem:", err)
		}
	}
	switch {
	case stopped:
		return se.ExitCode()
	case err != nil:
		return 1
	}
	return 0
}
