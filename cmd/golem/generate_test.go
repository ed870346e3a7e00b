package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/backend"
	"github.com/golem-llm/golem/internal/sharedtest"
)

// llama2cText is what llama2.c prints for stories260K at temperature 0 with
// -n 200: 200 positions after BOS, the 4 prompt tokens included.
const llama2cText = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n" +
	"Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\n" +
	"Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\n" +
	"Lily didn't want to help her mom, so she"

func TestRunStories260K(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tests := []struct {
		name string
		args []string
		want string // exact stdout (minus the final newline) or prefix
		full bool
	}{
		// 201 positions: past the 128 the model was trained on (llama2.c runs
		// the same checkpoint with a context of 512).
		{"llama2c text", []string{"-n", "196", "--temp", "0", "-c", "256"}, llama2cText, true},
		{"n 200 continues it", []string{"-n", "200", "--temp", "0", "-c", "256"}, llama2cText + " said", false},
		{"cpu ref", []string{"-n", "20", "--temp", "0", "--device", "cpu:ref"}, "Once upon a time, there was a little girl named Lily.", false},
		{"f16 kv cache", []string{"-n", "20", "--temp", "0", "--kv-type", "f16"}, "Once upon a time, there was a little girl named Lily.", false},
		{"bf16 kv cache", []string{"-n", "20", "--temp", "0", "--kv-type", "bf16"}, "Once upon a time, there was a little girl named Lily.", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "-m", model, "-p", "Once upon a time", "--device", "cpu"}, tc.args...)
			out, errOut, err := execute(t, args...)
			require.NoError(t, err, errOut)
			if tc.full {
				require.Equal(t, tc.want+"\n", out)
			} else {
				require.True(t, strings.HasPrefix(out, tc.want), "stdout %q", out)
			}
			require.Regexp(t, `prompt: 5 tokens, [0-9.]+ tok/s \| generation: [0-9]+ tokens, [0-9.]+ tok/s`, errOut)
		})
	}
}

func TestRunSeedReproducible(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	gen := func(seed string) string {
		out, errOut, err := execute(t, "run", "-m", model, "-p", "Once upon a time", "-n", "40", "--temp", "1", "--seed", seed, "--device", "cpu")
		require.NoError(t, err, errOut)
		return out
	}
	a, b, c := gen("11"), gen("11"), gen("12")
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
}

func TestRunErrors(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "-p", "x"}, `required flag(s) "model" not set`},
		{[]string{"run", "-m", filepath.Join(t.TempDir(), "missing.gguf"), "-p", "x"}, "missing.gguf"},
		{[]string{"run", "-m", model, "-p", "x", "--device", "nope"}, `no driver "nope"`},
		{[]string{"run", "-m", model, "-p", "x", "--kv-type", "q4_0"}, "--kv-type"},
		{[]string{"run", "-m", model, "-p", "x", "-c", "4", "-n", "10", "--device", "cpu"}, ""},
	}
	for _, tc := range tests {
		_, _, err := execute(t, tc.args...)
		if tc.want == "" {
			require.NoError(t, err, "a full context ends generation, it is not an error")
			continue
		}
		require.ErrorContains(t, err, tc.want)
	}
}

func TestChatKeepsHistory(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader("Tell me a story\nAnd then?\n\n"))
	// -c 512: chatml's markers are many tokens in this 512-token vocabulary.
	root.SetArgs([]string{"chat", "-m", model, "--template", "chatml", "--temp", "0", "-n", "12", "-c", "512", "--device", "cpu", "--kv-type", "bf16", "--system", "You tell stories."})
	require.NoError(t, root.Execute(), errb.String())
	require.Equal(t, 3, strings.Count(out.String(), "> "), out.String())
	replies := strings.Split(out.String(), "> ")
	require.NotEmpty(t, strings.TrimSpace(replies[1]))
	require.NotEmpty(t, strings.TrimSpace(replies[2]))
	_, _, err := execute(t, "chat", "-m", model)
	require.ErrorContains(t, err, "pass --template")
}

// TestChatOutgrowsContext chats past a small context: the oldest turns are
// dropped with a note instead of the chat ending with "context full".
func TestChatOutgrowsContext(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(strings.Repeat("Tell me a story about a cat\n", 8)))
	root.SetArgs([]string{"chat", "-m", model, "--template", "chatml", "--temp", "0", "-n", "24", "-c", "256", "--device", "cpu", "--system", "You tell stories."})
	require.NoError(t, root.Execute(), errb.String())
	require.Equal(t, 9, strings.Count(out.String(), "> "), out.String())
	require.Contains(t, errb.String(), "oldest messages to fit the context")

	// A single message longer than the context is refused with the sizes.
	root = newRootCmd()
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader(strings.Repeat("story ", 400) + "\n"))
	root.SetArgs([]string{"chat", "-m", model, "--template", "chatml", "-c", "128", "--device", "cpu"})
	require.ErrorContains(t, root.Execute(), "more than the")
}

func TestInfoStories260K(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	out, _, err := execute(t, "info", "-m", model, "--metadata")
	require.NoError(t, err)
	for _, want := range []string{"architecture: llama", "parameters:   292.8K", "heads 8 (kv 4, head dim 8)", "tokenizer llama, bos 1, eos 2",
		"48 tensors", "blk.4.ffn_down.weight", "llama.block_count = 5"} {
		require.Contains(t, out, want)
	}
}

func TestGenModelAndConvertCommands(t *testing.T) {
	vocab := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	stdout, _, err := execute(t, "gen-model", "--shape", "tiny", "--type", "q8_0", "--vocab", vocab, "--seed", "3", "-o", out)
	require.NoError(t, err)
	require.Contains(t, stdout, "wrote "+out)
	info, _, err := execute(t, "info", "-m", out)
	require.NoError(t, err)
	require.Contains(t, info, "q8_0")
	gen, errOut, err := execute(t, "run", "-m", out, "-p", "Once", "-n", "4", "--temp", "0", "--device", "cpu")
	require.NoError(t, err, errOut)
	require.True(t, strings.HasPrefix(gen, "Once"))
	_, _, err = execute(t, "gen-model", "--shape", "nope", "-o", out)
	require.ErrorContains(t, err, "tiny")
	_, _, err = execute(t, "convert", t.TempDir(), filepath.Join(t.TempDir(), "x.gguf"))
	require.ErrorContains(t, err, "config.json")
}

func TestRunVulkan(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	be, err := backend.Open("vulkan", backend.Options{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Vulkan device under CI (lavapipe is installed by make deps): %v", err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	be.Close()
	out, errOut, err := execute(t, "run", "-m", model, "-p", "Once upon a time", "-n", "196", "--temp", "0", "-c", "256", "--device", "vulkan")
	require.NoError(t, err, errOut)
	require.Equal(t, llama2cText+"\n", out)
	require.Contains(t, errOut, "device: vulkan:0")
}

// TestRunProfile: --profile prints a per-op table for the prefill and the
// decode step; on Vulkan the decode step of stories260K takes at most half
// of the 104 dispatches of its unfused graph, and the text is unchanged.
func TestRunProfile(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	be, err := backend.Open("vulkan", backend.Options{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Vulkan device under CI (lavapipe is installed by make deps): %v", err)
		}
		t.Skipf("no Vulkan device: %v", err)
	}
	be.Close()
	out, errOut, err := execute(t, "run", "-m", model, "-p", "Once upon a time", "-n", "30", "--temp", "0", "--device", "vulkan", "--profile")
	require.NoError(t, err, errOut)
	require.True(t, strings.HasPrefix(llama2cText, strings.TrimSuffix(out, "\n")), "stdout %q", out)
	m := regexp.MustCompile(`profile: decode step, last run on vulkan:0: \d+ ops, (\d+) kernel launches, [0-9.]+ ms device time`).FindStringSubmatch(errOut)
	require.NotNil(t, m, errOut)
	launches, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	require.LessOrEqual(t, launches, 52, errOut)
	require.Contains(t, errOut, "profile: prefill of 4 tokens", "the engine prefills in power-of-two pieces: 4 + 1")
	require.Regexp(t, `(?m)^ +matmul_fused +\d+ +\d+ +[0-9.]+ +[0-9.]+%$`, errOut)

	// The CPU backend times its nodes too (on the host; no kernel launches).
	_, errOut, err = execute(t, "run", "-m", model, "-p", "Once", "-n", "2", "--temp", "0", "--device", "cpu:ref", "--profile")
	require.NoError(t, err, errOut)
	require.Regexp(t, `profile: decode step, last run on cpu:ref: \d+ ops, 0 kernel launches`, errOut)
}
