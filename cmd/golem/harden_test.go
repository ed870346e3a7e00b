//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/golem-llm/golem/internal/sharedtest"
)

// result is what one run of the golem binary did.
type result struct {
	stdout, stderr string
	code           int
}

// golemRun runs the shared binary with args in dir, bounded by a deadline,
// and returns its output and exit status.
func golemRun(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, golemBinary(t), args...)
	cmd.Dir = dir
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "golem %s did not finish: %s", strings.Join(args, " "), errb.String())
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return r
}

// names lists dir's entries.
func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestOutputFilesAreSafe runs every command that writes a file against
// targets it must not replace: an existing file (without --force), a
// read-only file, a symbolic link, a FIFO, a directory and an empty path.
// Nothing may be replaced and no temporary file may be left behind.
func TestOutputFilesAreSafe(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.gguf")
	require.NoError(t, os.WriteFile(existing, []byte("precious"), 0o644))
	readonly := filepath.Join(dir, "readonly.gguf")
	require.NoError(t, os.WriteFile(readonly, []byte("precious"), 0o444))
	link := filepath.Join(dir, "link.gguf")
	require.NoError(t, os.Symlink(existing, link))
	fifo := filepath.Join(dir, "fifo.gguf")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	sub := filepath.Join(dir, "sub.gguf")
	require.NoError(t, os.Mkdir(sub, 0o755))

	genModel := func(out string, extra ...string) []string {
		return append([]string{"gen-model", "--shape", "tiny", "-o", out}, extra...)
	}
	benchOut := func(flag, out string, extra ...string) []string {
		return append([]string{"bench", "attention", "--device", "cpu", "--shapes", "decode:b1,h2,kv1,d32,kv16", "--reps", "1", flag, out}, extra...)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"gen-model existing", genModel(existing), "already exists (pass --force to replace it)"},
		{"gen-model read-only", genModel(readonly, "--force"), "read-only"},
		{"gen-model symlink", genModel(link, "--force"), "a symbolic link"},
		{"gen-model fifo", genModel(fifo, "--force"), "a named pipe (FIFO)"},
		{"gen-model directory", genModel(sub, "--force"), "a directory"},
		{"gen-model empty path", genModel("", "--force"), "empty output path"},
		{"gen-model missing directory", genModel(filepath.Join(dir, "no", "m.gguf")), "no such file or directory"},
		{"convert existing", []string{"convert", dir, existing}, "already exists"},
		{"convert fifo", []string{"convert", dir, fifo, "--force"}, "a named pipe (FIFO)"},
		{"convert device", []string{"convert", dir, "/dev/full", "--force"}, "a character device"},
		{"gen-model device", genModel("/dev/null", "--force"), "a character device"},
		{"bench -o existing", benchOut("-o", existing), "-o: create " + existing + ": already exists"},
		{"bench --plot symlink", benchOut("--plot", link+".png"), "--plot"},
		{"bench -o fifo", benchOut("-o", fifo, "--force"), "a named pipe (FIFO)"},
	}
	require.NoError(t, os.Symlink(existing, link+".png"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := golemRun(t, dir, tt.args...)
			require.Equal(t, 1, r.code, "stderr: %s", r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.Empty(t, r.stdout, "the check comes before any work")
		})
	}
	for _, p := range []string{existing, readonly} {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, "precious", string(data), p)
	}
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.True(t, st.Mode()&fs.ModeSymlink != 0, "the link is still a link")
	st, err = os.Lstat(fifo)
	require.NoError(t, err)
	require.True(t, st.Mode()&fs.ModeNamedPipe != 0, "the FIFO is still a FIFO")
	for _, dev := range []string{"/dev/full", "/dev/null"} {
		st, err = os.Lstat(dev)
		require.NoError(t, err)
		require.True(t, st.Mode()&fs.ModeCharDevice != 0, "%s is still a character device", dev)
	}
	require.ElementsMatch(t, []string{"existing.gguf", "readonly.gguf", "link.gguf", "link.gguf.png", "fifo.gguf", "sub.gguf"}, names(t, dir))

	// --force replaces an existing regular file, and only that.
	r := golemRun(t, dir, genModel(existing, "--force")...)
	require.Equal(t, 0, r.code, r.stderr)
	data, err := os.ReadFile(existing)
	require.NoError(t, err)
	require.Equal(t, "GGUF", string(data[:4]))
}

// TestInputFIFO checks that a FIFO given as a model is refused at once
// (it used to block in open(2) forever, deaf to Ctrl-C).
func TestInputFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "model.gguf")
	require.NoError(t, unix.Mkfifo(fifo, 0o644))
	for _, args := range [][]string{
		{"run", "-m", fifo, "-p", "x"},
		{"info", "-m", fifo},
		{"parity", "model", "-m", fifo, "--device", "cpu", "--device", "cpu:ref"},
		{"bench", "model", "-m", fifo, "--device", "cpu"},
	} {
		r := golemRun(t, dir, args...)
		require.Equal(t, 1, r.code, "golem %s: %s", strings.Join(args, " "), r.stderr)
		require.Contains(t, r.stderr, "a named pipe (FIFO)", strings.Join(args, " "))
		require.Contains(t, r.stderr, fifo)
	}
}

// TestResourceLimits checks that sizes too large for the machine are
// refused with the numbers before anything is allocated or written.
func TestResourceLimits(t *testing.T) {
	dir := t.TempDir()
	type limitCase struct {
		name string
		args []string
		want string
	}
	tests := []limitCase{
		{"gen-model larger than the disk", []string{"gen-model", "--shape", "dim=65536,layers=4096,heads=512,ffn=262144", "-o", "m.gguf"},
			"needs "},
		{"bench model larger than memory", []string{"bench", "model", "--device", "cpu", "--shape", "dim=16384,layers=4096,heads=32,ffn=16777216"},
			"of memory"},
		{"bench attention size overflow", []string{"bench", "attention", "--device", "cpu", "--shapes", "decode:b99999999,h99999,kv1,d999999,kv1"},
			"overflows 64 bits"},
	}
	// The shapes of the issue (each on a 110m-like shape): refused by the
	// shape's ranges or by the size, before anything is allocated.
	const base = "dim=768,layers=12,heads=12,ffn=2048"
	for _, c := range []struct{ shape, want string }{
		{"dim=999999936,layers=12,heads=12,ffn=2048", "dim = 999999936: want 1..1048576"},
		{"dim=768,layers=999999999,heads=12,ffn=2048", "layers = 999999999: want 1..4096"},
		{base + ",vocab=2000000000", "needs 11.4 TiB"},
		{"dim=768,layers=12,heads=12,ffn=999999999999", "ffn = 999999999999: want 1..16777216"},
	} {
		tests = append(tests,
			limitCase{"bench model " + c.shape, []string{"bench", "model", "--device", "cpu", "--shape", c.shape}, c.want},
			limitCase{"gen-model " + c.shape, []string{"gen-model", "--shape", c.shape, "-o", "m.gguf"}, c.want})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := golemRun(t, dir, tt.args...)
			require.Equal(t, 1, r.code, r.stderr)
			require.Contains(t, r.stderr, tt.want)
			require.Empty(t, names(t, dir), "nothing was written")
		})
	}
}

// startGolem starts the shared binary and returns it with a reader of its
// stdout.
func startGolem(t *testing.T, dir string, args ...string) (*exec.Cmd, *bufio.Reader, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(golemBinary(t), args...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var errb strings.Builder
	cmd.Stderr = &errb
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, bufio.NewReader(stdout), &errb
}

// TestRunSignals interrupts a long generation with SIGINT and SIGTERM: both
// print the text so far and the summary, and exit with the shell's codes.
func TestRunSignals(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tests := []struct {
		sig  syscall.Signal
		code int
		stop string
	}{
		{syscall.SIGINT, 130, "stop: interrupted"},
		{syscall.SIGTERM, 143, "stop: terminated"},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			cmd, out, errb := startGolem(t, t.TempDir(), "run", "-m", model, "-p", "Once upon a time", "-n", "0",
				"-c", "60000", "--temp", "0", "--device", "cpu")
			first, err := out.ReadString(' ') // the generation has started
			require.NoError(t, err, errb.String())
			require.NoError(t, cmd.Process.Signal(tt.sig))
			rest, err := io.ReadAll(out)
			require.NoError(t, err)
			err = cmd.Wait()
			var ee *exec.ExitError
			require.ErrorAs(t, err, &ee, errb.String())
			require.Equal(t, tt.code, ee.ExitCode(), errb.String())
			require.True(t, strings.HasPrefix(first+string(rest), "Once upon a time"))
			require.Contains(t, errb.String(), tt.stop)
			require.Regexp(t, `generation: [0-9]+ tokens`, errb.String())
		})
	}
}

// TestInterruptRemovesTemporaryFiles interrupts gen-model while it writes
// and checks that the exit status is 130 and nothing is left behind.
func TestInterruptRemovesTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	cmd, _, errb := startGolem(t, dir, "gen-model", "--shape", "110m", "-o", "m.gguf")
	deadline := time.Now().Add(time.Minute)
	for len(names(t, dir)) == 0 {
		require.True(t, time.Now().Before(deadline), "no temporary file appeared: %s", errb.String())
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	err := cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, errb.String())
	require.Equal(t, 130, ee.ExitCode(), errb.String())
	require.Contains(t, errb.String(), "golem: interrupted")
	require.Empty(t, names(t, dir), "the temporary file is removed")
}

// TestChatLongLine checks that a line over the input limit gets a message
// naming the limit instead of bufio's "token too long".
func TestChatLongLine(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	cmd := exec.Command(golemBinary(t), "chat", "-m", model, "--template", "chatml", "--device", "cpu")
	cmd.Stdin = strings.NewReader(strings.Repeat("a", maxChatLine+10) + "\n")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, string(out))
	require.Contains(t, string(out), "chat: an input line is longer than the limit of 16 MiB")
}
