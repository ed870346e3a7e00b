package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
)

// served is a golem serve process.
type served struct {
	cmd    *exec.Cmd
	url    string
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
}

func (s *served) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// wait returns the process's exit code once its stderr is read.
func (s *served) wait(t *testing.T) int {
	t.Helper()
	<-s.done
	err := s.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

var servingLine = regexp.MustCompile(`serving \S+ on (http://\S+) `)

// startServe runs the golem binary's serve on a free loopback port and
// returns once it listens.
func startServe(t *testing.T, env []string, args ...string) *served {
	t.Helper()
	cmd := exec.Command(golemBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0", "--device", "cpu"}, args...)...)
	cmd.Env = append(cmd.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	s := &served{cmd: cmd, done: make(chan struct{})}
	br := bufio.NewReader(stderr)
	for s.url == "" {
		line, err := br.ReadString('\n')
		s.stderr.WriteString(line)
		require.NoError(t, err, "golem serve ended before listening:\n%s", s.stderr.String())
		if m := servingLine.FindStringSubmatch(line); m != nil {
			s.url = m[1]
		}
	}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := br.Read(buf)
			s.mu.Lock()
			s.stderr.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

func (s *served) client(opts ...option.RequestOption) *openai.Client {
	c := openai.NewClient(append([]option.RequestOption{option.WithBaseURL(s.url + "/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0)}, opts...)...)
	return &c
}

// TestServeEqualsRun: greedy text from golem serve, through OpenAI's
// client, streamed and not, is golem run's for the same prompt.
func TestServeEqualsRun(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	const prompt = "Once upon a time"
	run, errOut, err := execute(t, "run", "-m", model, "-p", prompt, "-n", "120", "--temp", "0", "-c", "256", "--device", "cpu")
	require.NoError(t, err, errOut)
	require.True(t, strings.HasPrefix(run, prompt))
	want := strings.TrimSuffix(strings.TrimPrefix(run, prompt), "\n")

	s := startServe(t, []string{"GOLEM_API_KEY=k"}, "-m", model, "--ctx", "256", "--parallel", "2", "--alias", "stories")
	c := s.client()
	ctx := context.Background()
	p := openai.CompletionNewParams{Model: "stories", Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String(prompt)},
		Temperature: openai.Float(0), MaxTokens: openai.Int(120)}
	res, err := c.Completions.New(ctx, p)
	require.NoError(t, err, s.log())
	require.Equal(t, want, res.Choices[0].Text)
	stream := c.Completions.NewStreaming(ctx, p)
	var text string
	for stream.Next() {
		for _, ch := range stream.Current().Choices {
			text += ch.Text
		}
	}
	require.NoError(t, stream.Err())
	require.Equal(t, want, text)

	// The key came from $GOLEM_API_KEY.
	_, err = s.client(option.WithAPIKey("wrong")).Models.List(ctx)
	var ae *openai.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusUnauthorized, ae.StatusCode)
	require.Contains(t, s.log(), "context 256", "--ctx is --ctx-size")

	require.NoError(t, s.cmd.Process.Signal(syscall.SIGINT))
	require.Equal(t, 130, s.wait(t), s.log())
	require.Contains(t, s.log(), "serve: shut down")
}

// TestServeSignals: SIGTERM or SIGINT lets a request in flight finish
// within --shutdown-timeout, cancels one that runs longer, and exits with
// the shell's codes.
func TestServeSignals(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tests := []struct {
		name     string
		sig      syscall.Signal
		code     int
		grace    string
		tokens   string
		finishes bool
	}{
		{"SIGTERM finishes", syscall.SIGTERM, 143, "1m", "200", true},
		// 4000 tokens take seconds: far longer than the grace.
		{"SIGINT cancels after the grace", syscall.SIGINT, 130, "10ms", "4000", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, nil, "-m", model, "-c", "4096", "--shutdown-timeout", tc.grace)
			res, err := http.Post(s.url+"/v1/completions", "application/json",
				strings.NewReader(`{"prompt":"Once","max_tokens":`+tc.tokens+`,"ignore_eos":true,"stream":true,"temperature":0}`))
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, http.StatusOK, res.StatusCode)
			br := bufio.NewReader(res.Body)
			_, err = br.ReadString('\n') // the stream has begun
			require.NoError(t, err)
			require.NoError(t, s.cmd.Process.Signal(tc.sig))
			rest, err := io.ReadAll(br)
			if tc.finishes {
				require.NoError(t, err)
				require.Contains(t, string(rest), "data: [DONE]")
			} else {
				require.NotContains(t, string(rest), "data: [DONE]")
			}
			require.Equal(t, tc.code, s.wait(t), s.log())
			require.Contains(t, s.log(), "serve: shut down")
		})
	}
}

// TestServeFlagErrors: bad flags are refused before the model loads,
// named as flags.
func TestServeFlagErrors(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--parallel", "300"}, "--parallel 300: want a value in [0, 256]"},
		{[]string{"--queue", "-1"}, "--queue -1: want 0 or more"},
		{[]string{"--template", "nope"}, "--template nope"},
		{[]string{"--max-body", "0"}, "--max-body 0"},
		{[]string{"--addr", "256.0.0.1:99999"}, "serve:"},
	}
	for _, tc := range tests {
		_, errOut, err := execute(t, append([]string{"serve", "-m", model, "--device", "cpu"}, tc.args...)...)
		require.Error(t, err, tc.args)
		require.Contains(t, err.Error()+errOut, tc.want, tc.args)
	}
}
