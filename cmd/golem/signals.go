package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/golem-llm/golem/internal/safefile"
)

// signalError is the cause of a context cancelled by a signal. Its exit
// code is the shell's convention, 128 + the signal number: 130 for SIGINT
// (Ctrl-C), 143 for SIGTERM.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string {
	if e.sig == syscall.SIGTERM {
		return "terminated"
	}
	return "interrupted"
}

// ExitCode returns 128 + the signal number.
func (e signalError) ExitCode() int { return 128 + int(e.sig) }

// interrupts turns SIGINT and SIGTERM into context cancellation, so that
// every command stops through its normal return path: partial output is
// flushed, summaries are printed and temporary files removed.
//
// Cancellation goes to the innermost scope: a command may open a scope
// around work that Ctrl-C should stop without ending the command (a chat
// reply). SIGTERM always cancels the whole command. A second signal that
// arrives once the whole command is cancelled exits at once, after removing
// the temporary files still open (safefile.RemoveTemps).
type interrupts struct {
	mu     sync.Mutex
	root   context.Context
	scopes []context.CancelCauseFunc // [0] cancels root
	done   []bool
	exit   func(code int)
}

// interruptsKey finds the interrupts in a context.
type interruptsKey struct{}

// watchSignals starts catching SIGINT and SIGTERM and returns the root
// context, cancelled (with a signalError cause) by them, and a function
// that stops catching. exit is called for a second signal (os.Exit).
func watchSignals(parent context.Context, exit func(code int)) (context.Context, func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancelCause(parent)
	in := &interrupts{scopes: []context.CancelCauseFunc{cancel}, done: []bool{false}, exit: exit}
	ctx = context.WithValue(ctx, interruptsKey{}, in)
	in.root = ctx
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				in.deliver(s.(syscall.Signal))
			case <-stop:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(stop)
		cancel(nil)
	}
}

// deliver cancels the scope sig is for.
func (in *interrupts) deliver(sig syscall.Signal) {
	in.mu.Lock()
	defer in.mu.Unlock()
	cause := signalError{sig}
	if in.done[0] {
		// The command was already told to stop and has not: stop now.
		safefile.RemoveTemps()
		in.exit(cause.ExitCode())
		return
	}
	i := len(in.scopes) - 1
	if sig == syscall.SIGTERM {
		i = 0
	}
	for i > 0 && in.done[i] {
		i--
	}
	in.scopes[i](cause)
	in.done[i] = true
}

// interruptScope returns a context that the next SIGINT cancels instead of
// the whole command (SIGTERM still cancels everything), and a function that
// closes the scope. Without watchSignals in ctx's chain it returns a plain
// cancellable child.
func interruptScope(ctx context.Context) (context.Context, func()) {
	in, ok := ctx.Value(interruptsKey{}).(*interrupts)
	if !ok {
		c, cancel := context.WithCancel(ctx)
		return c, cancel
	}
	c, cancel := context.WithCancelCause(ctx)
	in.mu.Lock()
	in.scopes = append(in.scopes, cancel)
	in.done = append(in.done, false)
	n := len(in.scopes)
	in.mu.Unlock()
	return c, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if len(in.scopes) == n {
			in.scopes, in.done = in.scopes[:n-1], in.done[:n-1]
		}
		cancel(nil)
	}
}

// interrupted returns the signal error that cancelled ctx, if any.
func interrupted(ctx context.Context) (signalError, bool) {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		return se, true
	}
	return signalError{}, false
}
