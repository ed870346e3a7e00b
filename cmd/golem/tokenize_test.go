package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
)

// TestTokenizeVocabSuites runs golem tokenize --no-bos on the first inputs
// of llama.cpp's tokenizer suites (vocab-only GGUFs) and compares the line
// it prints with the expected ids in llama-tokenize --ids' format.
func TestTokenizeVocabSuites(t *testing.T) {
	for _, name := range []string{"llama-spm", "gpt-2", "bert-bge", "phi-3"} {
		t.Run(name, func(t *testing.T) {
			base := sharedtest.SharedPath(t, "testdata", "vocab", "ggml-vocab-"+name+".gguf")
			inp, err := os.ReadFile(base + ".inp")
			require.NoError(t, err)
			out, err := os.ReadFile(base + ".out")
			require.NoError(t, err)
			texts := strings.Split(string(inp), "\n__ggml_vocab_test__\n")
			lines := strings.Split(string(out), "\n")
			checked := 0
			for i, text := range texts[:min(len(texts), 24)] {
				if strings.TrimSpace(text) == "" {
					continue // an argument of blanks only: covered by the tokenizer's own suite
				}
				stdout, _, err := execute(t, "tokenize", "-m", base, "--no-bos", "--", text)
				require.NoError(t, err)
				want := "[" + strings.Join(strings.Fields(lines[i]), ", ") + "]\n"
				require.Equal(t, want, stdout, "input %d %q", i, text)
				checked++
			}
			require.Greater(t, checked, 10)
		})
	}
}

func TestTokenizeAndDetokenize(t *testing.T) {
	model := sharedtest.SharedPath(t, "models", "stories260K.gguf")
	out, _, err := execute(t, "tokenize", "-m", model, "Hello world")
	require.NoError(t, err)
	require.Equal(t, "[1, 346, 306, 414, 263, 304, 341]\n", out)
	ids, _, err := execute(t, "tokenize", "-m", model, "--ids", "Hello world")
	require.NoError(t, err)
	require.Equal(t, out, ids)

	out, _, err = execute(t, "tokenize", "-m", model, "--pieces", "--no-bos", "Hello")
	require.NoError(t, err)
	require.Equal(t, "   346 -> ' He'\n   306 -> 'll'\n   414 -> 'o'\n", out)
	out, _, err = execute(t, "tokenize", "-m", model, "--pieces", "Hi")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "     1 -> '<s>'\n"), out)

	// Control-token texts stay text unless --special.
	out, _, err = execute(t, "tokenize", "-m", model, "--special", "<s>Hi</s>")
	require.NoError(t, err)
	require.Equal(t, "[1, 1, 320, 417, 2]\n", out)
	out, _, err = execute(t, "tokenize", "-m", model, "<s>Hi</s>")
	require.NoError(t, err)
	require.NotContains(t, out, " 2]")

	// Text from stdin, ids back to the text.
	root := newRootCmd()
	var stdout strings.Builder
	root.SetOut(&stdout)
	root.SetIn(strings.NewReader("Once upon a time"))
	root.SetArgs([]string{"tokenize", "-m", model, "-"})
	require.NoError(t, root.Execute())
	require.Equal(t, "[1, 403, 407, 261, 378]\n", stdout.String())
	for _, args := range [][]string{{"[1, 403, 407, 261, 378]"}, {"1", "403", "407", "261", "378"}} {
		out, _, err = execute(t, append([]string{"detokenize", "-m", model}, args...)...)
		require.NoError(t, err)
		require.Equal(t, "Once upon a time\n", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tokenize", "-m", model, "--ids", "--pieces", "x"}, "choose one"},
		{[]string{"tokenize", "-m", model}, "accepts 1 arg"},
		{[]string{"tokenize", "x"}, `required flag(s) "model" not set`},
		{[]string{"tokenize", "-m", "missing.gguf", "x"}, "missing.gguf"},
		{[]string{"detokenize", "-m", model, "1", "512"}, "token 512 outside the vocabulary of 512"},
		{[]string{"detokenize", "-m", model, "1", "x"}, `"x" is not a token id`},
	} {
		_, _, err := execute(t, tc.args...)
		require.ErrorContains(t, err, tc.want, "%v", tc.args)
	}
}
