package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// newTestInterrupts returns the root context of an interrupts whose
// signals are delivered by the test, and the exit codes it asked for.
func newTestInterrupts(t *testing.T) (context.Context, *interrupts, *[]int) {
	t.Helper()
	var exits []int
	ctx, stop := watchSignals(context.Background(), func(code int) { exits = append(exits, code) })
	t.Cleanup(stop)
	return ctx, ctx.Value(interruptsKey{}).(*interrupts), &exits
}

func TestInterruptScopes(t *testing.T) {
	t.Run("SIGINT cancels the innermost scope only", func(t *testing.T) {
		root, in, exits := newTestInterrupts(t)
		reply, done := interruptScope(root)
		in.deliver(syscall.SIGINT)
		require.Error(t, reply.Err())
		require.NoError(t, root.Err(), "the chat goes on")
		done()
		// The next SIGINT, at the prompt, ends the command.
		in.deliver(syscall.SIGINT)
		require.ErrorIs(t, root.Err(), context.Canceled)
		se, ok := interrupted(root)
		require.True(t, ok)
		require.Equal(t, 130, se.ExitCode())
		require.Empty(t, *exits)
		// A third one finds the command still running: exit at once.
		in.deliver(syscall.SIGINT)
		require.Equal(t, []int{130}, *exits)
	})
	t.Run("SIGTERM cancels everything", func(t *testing.T) {
		root, in, exits := newTestInterrupts(t)
		reply, done := interruptScope(root)
		defer done()
		in.deliver(syscall.SIGTERM)
		require.Error(t, reply.Err())
		require.Error(t, root.Err())
		se, ok := interrupted(reply)
		require.True(t, ok, "the scope's cause is the signal too")
		require.Equal(t, 143, se.ExitCode())
		require.Equal(t, "terminated", se.Error())
		require.Empty(t, *exits)
	})
	t.Run("a cancelled scope passes the next SIGINT outwards", func(t *testing.T) {
		root, in, _ := newTestInterrupts(t)
		reply, done := interruptScope(root)
		defer done()
		in.deliver(syscall.SIGINT)
		in.deliver(syscall.SIGINT) // the reply is still stopping: the user means the chat
		require.Error(t, reply.Err())
		require.Error(t, root.Err())
	})
	t.Run("without watchSignals", func(t *testing.T) {
		ctx, done := interruptScope(context.Background())
		done()
		require.Error(t, ctx.Err())
		_, ok := interrupted(ctx)
		require.False(t, ok)
	})
}

func TestRunRootExitCodes(t *testing.T) {
	cmdReturning := func(err error) *cobra.Command {
		return &cobra.Command{Use: "x", SilenceErrors: true, SilenceUsage: true,
			RunE: func(*cobra.Command, []string) error { return err }}
	}
	tests := []struct {
		name   string
		signal syscall.Signal // 0: none
		err    error
		code   int
		stderr string
	}{
		{"success", 0, nil, 0, ""},
		{"failure", 0, errors.New("boom"), 1, "golem: boom\n"},
		{"already reported", 0, fmt.Errorf("x: %w", errReported), 1, ""},
		{"ctrl-c while working", syscall.SIGINT, fmt.Errorf("load: %w", context.Canceled), 130, "golem: interrupted\n"},
		{"ctrl-c after a summary", syscall.SIGINT, nil, 130, ""},
		{"sigterm", syscall.SIGTERM, context.Canceled, 143, "golem: terminated\n"},
		{"another error after a signal", syscall.SIGINT, errors.New("disk full"), 130, "golem: disk full\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, in, _ := newTestInterrupts(t)
			if tt.signal != 0 {
				in.deliver(tt.signal)
			}
			var stderr strings.Builder
			root := cmdReturning(tt.err)
			root.SetArgs(nil)
			require.Equal(t, tt.code, runRoot(ctx, root, &stderr))
			require.Equal(t, tt.stderr, stderr.String())
		})
	}
}
