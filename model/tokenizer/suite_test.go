package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
	"github.com/golem-llm/golem/model/gguf"
)

// suiteCase is one test of llama.cpp's tokenizer suites.
type suiteCase struct {
	text string
	want []int32
}

// readSuite reads NAME.gguf.inp and NAME.gguf.out the way llama.cpp's
// test-tokenizer-0 does: inputs are separated by "\n__ggml_vocab_test__\n",
// outputs are one line of space-separated ids per input.
func readSuite(t testing.TB, base string) []suiteCase {
	t.Helper()
	inp, err := os.ReadFile(base + ".inp")
	require.NoError(t, err)
	outb, err := os.ReadFile(base + ".out")
	require.NoError(t, err)

	const sep = "\n__ggml_vocab_test__\n"
	raw := string(inp)
	var texts []string
	for pos := 0; pos < len(raw); {
		i := strings.Index(raw[pos:], sep)
		if i < 0 {
			texts = append(texts, raw[pos:])
			break
		}
		texts = append(texts, raw[pos:pos+i])
		pos += i + len(sep)
	}
	lines := strings.Split(string(outb), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	require.Equal(t, len(texts), len(lines), "%s: inputs and outputs differ in number", base)

	cases := make([]suiteCase, len(texts))
	for i, s := range texts {
		ids := []int32{}
		for _, f := range strings.Fields(lines[i]) {
			x, err := strconv.ParseInt(f, 10, 32)
			require.NoError(t, err)
			ids = append(ids, int32(x))
		}
		cases[i] = suiteCase{text: s, want: ids}
	}
	return cases
}

func loadGGUF(t testing.TB, path string) *Tokenizer {
	t.Helper()
	f, err := gguf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tok, err := FromGGUF(f)
	require.NoError(t, err)
	return tok
}

func vocabDir(t testing.TB) string {
	return sharedtest.SharedPath(t, "testdata", "vocab")
}

// TestVocabSuites runs every case of every suite in testdata/vocab.
func TestVocabSuites(t *testing.T) {
	dir := vocabDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.gguf"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "ggml-vocab-"), ".gguf")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok := loadGGUF(t, path)
			cases := readSuite(t, path)
			pass := 0
			var fails []string
			for _, c := range cases {
				got := tok.Encode(c.text, false, false)
				if equalIDs(got, c.want) {
					pass++
					continue
				}
				if len(fails) < 5 {
					fails = append(fails, fmt.Sprintf("input %q\n  want %v\n  got  %v\n  want pieces %q\n  got  pieces %q",
						c.text, c.want, got, pieces(tok, c.want), pieces(tok, got)))
				}
			}
			t.Logf("%s: %d/%d cases pass", name, pass, len(cases))
			if len(fails) > 0 {
				t.Errorf("%s: %d failures, first ones:\n%s", name, len(cases)-pass, strings.Join(fails, "\n"))
			}
		})
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func pieces(t *Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.Piece(id)
	}
	return out
}
