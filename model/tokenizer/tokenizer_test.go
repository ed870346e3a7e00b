package tokenizer

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/golem-llm/golem/internal/sharedtest"
)

func suiteTokenizer(t testing.TB, name string) *Tokenizer {
	t.Helper()
	return loadGGUF(t, filepath.Join(vocabDir(t), "ggml-vocab-"+name+".gguf"))
}

// TestStories260K checks the vocabulary of the TinyStories 260K model.
func TestStories260K(t *testing.T) {
	tok := loadGGUF(t, sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	require.Equal(t, "llama", tok.Model())
	require.Equal(t, 512, tok.VocabSize())

	ids := tok.Encode("Once upon a time", true, false)
	require.Equal(t, []int32{1, 403, 407, 261, 378}, ids)
	require.Equal(t, []string{"<s>", "▁Once", "▁upon", "▁a", "▁time"}, pieces(tok, ids))
	require.Equal(t, "Once upon a time", tok.Decode(ids))
	require.True(t, tok.IsEOG(2))
	require.False(t, tok.IsEOG(1))
}

// llama2cVocab is the tokenizer of llama2.c's tokenizer.bin format.
type llama2cVocab struct {
	pieces []string
	scores []float32
	ids    map[string]int32
}

func readLlama2cVocab(t testing.TB, path string, n int) *llama2cVocab {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	v := &llama2cVocab{ids: make(map[string]int32)}
	off := 4 // max_token_length
	for i := range n {
		require.LessOrEqual(t, off+8, len(data))
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		l := int(binary.LittleEndian.Uint32(data[off+4:]))
		off += 8
		require.LessOrEqual(t, off+l, len(data))
		s := string(data[off : off+l])
		off += l
		v.pieces = append(v.pieces, s)
		v.scores = append(v.scores, score)
		if _, dup := v.ids[s]; !dup {
			v.ids[s] = int32(i)
		}
	}
	return v
}

// encode is llama2.c's encoder (run.c): a dummy space prefix, code points or
// byte fallback (byte + 3), then repeatedly merge the adjacent pair whose
// concatenation has the highest score.
func (v *llama2cVocab) encode(text string, bos bool) []int32 {
	var toks []int32
	if bos {
		toks = append(toks, 1)
	}
	if text != "" {
		toks = append(toks, v.ids[" "])
	}
	for _, r := range text {
		s := string(r)
		if id, ok := v.ids[s]; ok {
			toks = append(toks, id)
			continue
		}
		for _, b := range []byte(s) {
			toks = append(toks, int32(b)+3)
		}
	}
	for {
		best, bestID, bestIdx := float32(-1e10), int32(-1), -1
		for i := 0; i+1 < len(toks); i++ {
			id, ok := v.ids[v.pieces[toks[i]]+v.pieces[toks[i+1]]]
			if ok && v.scores[id] > best {
				best, bestID, bestIdx = v.scores[id], id, i
			}
		}
		if bestIdx < 0 {
			break
		}
		toks[bestIdx] = bestID
		toks = append(toks[:bestIdx+1], toks[bestIdx+2:]...)
	}
	return toks
}

// TestStories260KMatchesLlama2c compares the SentencePiece encoder on the
// GGUF vocabulary with llama2.c's own encoder on tok512.bin.
func TestStories260KMatchesLlama2c(t *testing.T) {
	tok := loadGGUF(t, sharedtest.SharedPath(t, "models", "stories260K.gguf"))
	ref := readLlama2cVocab(t, sharedtest.SharedPath(t, "models", "tok512.bin"), tok.VocabSize())
	texts := []string{
		"Once upon a time",
		"Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
		"One day, she saw a big, red ball!",
		"  two  spaces and\ttabs\nand lines\n\n",
		"Zürich, 東京, 🦙 and numbers 12345",
		"",
	}
	for _, s := range texts {
		require.Equal(t, ref.encode(s, true), tok.Encode(s, true, false), "text %q", s)
	}
}

// TestDecodeRoundTrip checks Decode(Encode(s)) == s for the lossless
// vocabularies over the suites' texts.
func TestDecodeRoundTrip(t *testing.T) {
	dir := vocabDir(t)
	for _, name := range []string{"llama-spm", "phi-3", "gpt-2", "falcon", "mpt", "starcoder", "refact", "deepseek-coder", "deepseek-llm"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, "ggml-vocab-"+name+".gguf")
			tok := loadGGUF(t, path)
			for _, c := range readSuite(t, path) {
				require.Equal(t, c.text, tok.Decode(tok.Encode(c.text, false, false)), "text %q", c.text)
				require.Equal(t, c.text, tok.Decode(tok.Encode(c.text, true, false)), "text %q with special tokens", c.text)
			}
		})
	}
}

func TestDecodeBERT(t *testing.T) {
	tok := suiteTokenizer(t, "bert-bge")
	ids := tok.Encode("Hello, World! Tokenization", true, false)
	require.Equal(t, int32(101), ids[0])
	require.Equal(t, int32(102), ids[len(ids)-1])
	require.Equal(t, "hello , world ! tokenization", tok.Decode(ids))
}

// TestDecoderUTF8 streams tokens whose bytes split characters and checks that
// only complete characters come out.
func TestDecoderUTF8(t *testing.T) {
	for _, tc := range []struct {
		vocab string
		text  string
	}{
		{"llama-spm", " this is 🦙.cpp"},
		{"llama-spm", "ied 4 ½ months, Führer, кириллица, 我想在apple工作 🚀"},
		{"gpt-2", "🚀 (normal) 😶‍🌫️ ✅ 我想在apple工作1314151天～"},
		{"deepseek-llm", "កាន់តែពិសេសអាចខលចេញ"},
	} {
		t.Run(tc.vocab, func(t *testing.T) {
			tok := suiteTokenizer(t, tc.vocab)
			ids := tok.Encode(tc.text, false, false)
			d := tok.NewDecoder()
			var sb strings.Builder
			split := false
			for _, id := range ids {
				s := d.Next(id)
				require.True(t, utf8.ValidString(s), "chunk %q", s)
				if s == "" {
					split = true
				}
				sb.WriteString(s)
			}
			require.Empty(t, d.Flush())
			require.True(t, split, "no token split a character")
			want := tc.text
			if tok.Model() == "llama" {
				want = " " + want // the stream keeps the space prefix
			}
			require.Equal(t, want, sb.String())
		})
	}
}

func TestDecoderInvalid(t *testing.T) {
	tok := suiteTokenizer(t, "llama-spm")
	b0, ok := tok.TokenID("<0xF0>")
	require.True(t, ok)
	b1, ok := tok.TokenID("<0x9F>")
	require.True(t, ok)
	hello, ok := tok.TokenID("▁Hello")
	require.True(t, ok)

	d := tok.NewDecoder()
	require.Empty(t, d.Next(b0))
	require.Empty(t, d.Next(b1))
	require.Equal(t, "\uFFFD\uFFFD Hello", d.Next(hello))
	require.Empty(t, d.Next(b0))
	require.Equal(t, "\uFFFD", d.Flush())
	require.Empty(t, d.Flush())
	require.Empty(t, d.Next(1)) // BOS is a control token
}

func TestSpecialTokens(t *testing.T) {
	tests := []struct {
		vocab        string
		text         string
		parseSpecial bool
		want         []string
	}{
		{"llama-spm", "<s>Hello</s>", true, []string{"<s>", "▁Hello", "</s>"}},
		{"llama-spm", "<s>", false, []string{"▁<", "s", ">"}},
		// Phi-3's special tokens eat the spaces after them.
		{"phi-3", "<|user|>\nHello<|end|>\n<|assistant|>", true,
			[]string{"<|user|>", "▁Hello", "<|end|>", "<|assistant|>"}},
		// User-defined tokens are matched even without parseSpecial.
		{"deepseek-coder", "aõb", false, []string{"a", "õ", "b"}},
		{"mpt", "a   b", false, []string{"a", "   ", "b"}},
		// Phi-3's </s> is user-defined, but llama.cpp makes it a control
		// token, as it ends generation.
		{"phi-3", "a</s>b", false, []string{"▁a", "</", "s", ">", "b"}},
		{"phi-3", "a</s> b", true, []string{"▁a", "</s>", "▁b"}},
		{"gpt-2", "Hello<|endoftext|>", true, []string{"Hello", "<|endoftext|>"}},
		{"gpt-2", "<|endoftext|>", false, []string{"<", "|", "end", "of", "text", "|", ">"}},
		{"deepseek-coder", "<｜fim▁begin｜>def f():<｜fim▁hole｜>", true,
			[]string{"<｜fim▁begin｜>", "def", "Ġf", "():", "<｜fim▁hole｜>"}},
		{"bert-bge", "[CLS] hello [SEP]", true, []string{"[CLS]", "▁hello", "[SEP]"}},
		{"bert-bge", "[CLS]", false, []string{"▁[", "▁cl", "s", "▁]"}},
	}
	for _, tc := range tests {
		tok := suiteTokenizer(t, tc.vocab)
		got := pieces(tok, tok.Encode(tc.text, false, tc.parseSpecial))
		require.Equal(t, tc.want, got, "%s: %q parseSpecial=%v", tc.vocab, tc.text, tc.parseSpecial)
	}
}

func TestAddSpecial(t *testing.T) {
	tests := []struct {
		vocab string
		text  string
		want  []string
	}{
		{"llama-spm", "Hello", []string{"<s>", "▁Hello"}},
		{"llama-spm", "", []string{"<s>"}},
		{"phi-3", "Hello", []string{"<s>", "▁Hello"}},
		{"deepseek-coder", "Hello", []string{"<｜begin▁of▁sentence｜>", "Hello"}},
		{"deepseek-llm", "Hello", []string{"<｜begin▁of▁sentence｜>", "Hello"}},
		{"gpt-2", "Hello", []string{"Hello"}},
		{"bert-bge", "Hello", []string{"[CLS]", "▁hello", "[SEP]"}},
	}
	for _, tc := range tests {
		tok := suiteTokenizer(t, tc.vocab)
		require.Equal(t, tc.want, pieces(tok, tok.Encode(tc.text, true, false)), "%s: %q", tc.vocab, tc.text)
	}
}

func TestSpecialIDs(t *testing.T) {
	tests := []struct {
		vocab    string
		bos, eos int32
		eog      []string
		notEOG   []string
	}{
		{"llama-spm", 1, 2, []string{"</s>"}, []string{"<s>", "▁Hello"}},
		{"phi-3", 1, 32000, []string{"<|endoftext|>", "<|end|>", "</s>"}, []string{"<|user|>", "<s>"}},
		{"gpt-2", 50256, 50256, []string{"<|endoftext|>"}, []string{"Hello"}},
		{"deepseek-coder", 32013, 32014, []string{"<｜end▁of▁sentence｜>"}, []string{"<｜begin▁of▁sentence｜>"}},
		{"starcoder", 0, 0, []string{"<|endoftext|>", "<fim_pad>"}, []string{"<fim_prefix>", "<file_sep>"}},
		{"bert-bge", 101, -1, nil, []string{"[SEP]"}},
	}
	for _, tc := range tests {
		tok := suiteTokenizer(t, tc.vocab)
		require.Equal(t, tc.bos, tok.BOS(), tc.vocab)
		require.Equal(t, tc.eos, tok.EOS(), tc.vocab)
		for _, s := range tc.eog {
			id, ok := tok.TokenID(s)
			require.True(t, ok, "%s: %q", tc.vocab, s)
			require.True(t, tok.IsEOG(id), "%s: %q should end generation", tc.vocab, s)
		}
		for _, s := range tc.notEOG {
			id, ok := tok.TokenID(s)
			require.True(t, ok, "%s: %q", tc.vocab, s)
			require.False(t, tok.IsEOG(id), "%s: %q should not end generation", tc.vocab, s)
		}
		require.False(t, tok.IsEOG(-1))
	}
}

func TestPieceAndTokenID(t *testing.T) {
	tok := suiteTokenizer(t, "llama-spm")
	require.Equal(t, "<0x0A>", tok.Piece(13))
	require.Equal(t, "", tok.Piece(-1))
	require.Equal(t, "", tok.Piece(int32(tok.VocabSize())))
	id, ok := tok.TokenID("▁Hello")
	require.True(t, ok)
	require.Equal(t, "▁Hello", tok.Piece(id))
	_, ok = tok.TokenID("no such token")
	require.False(t, ok)
}

func TestNewErrors(t *testing.T) {
	base := func() *Vocab {
		return &Vocab{Model: "llama", Tokens: []string{"<unk>", "a", "b", "ab"},
			BOS: -1, EOS: -1, EOT: -1, EOM: -1, UNK: 0, PAD: -1, SEP: -1, Mask: -1}
	}
	tests := []struct {
		name string
		edit func(v *Vocab) *Vocab
		err  string
	}{
		{"nil", func(*Vocab) *Vocab { return nil }, "nil vocabulary"},
		{"empty", func(v *Vocab) *Vocab { v.Tokens = nil; return v }, "empty vocabulary"},
		{"model", func(v *Vocab) *Vocab { v.Model = "t5"; return v }, `unsupported tokenizer model "t5"`},
		{"pre", func(v *Vocab) *Vocab { v.Model, v.Pre, v.Merges = "gpt2", "nope", []string{"a b"}; return v }, `unsupported pre-tokenizer "nope"`},
		{"merges", func(v *Vocab) *Vocab { v.Model = "gpt2"; return v }, "without merges"},
		{"scores", func(v *Vocab) *Vocab { v.Scores = []float32{1}; return v }, "1 scores for 4 tokens"},
		{"types", func(v *Vocab) *Vocab { v.Types = []int32{1, 1}; return v }, "2 token types for 4 tokens"},
		{"bos", func(v *Vocab) *Vocab { v.BOS = 4; return v }, "BOS token id 4 out of range"},
		{"unk", func(v *Vocab) *Vocab { v.UNK = -2; return v }, "UNK token id -2 out of range"},
		{"bert", func(v *Vocab) *Vocab { v.Model, v.UNK = "bert", -1; return v }, "without an unknown token"},
	}
	for _, tc := range tests {
		_, err := New(tc.edit(base()))
		require.ErrorContains(t, err, tc.err, tc.name)
	}
	tok, err := New(base())
	require.NoError(t, err)
	require.Equal(t, []string{"ab"}, pieces(tok, tok.Encode("ab", false, false))) // no scores: all 0
}

// TestHandBuiltVocab checks the merge order of both BPE flavours on a tiny
// vocabulary.
func TestHandBuiltVocab(t *testing.T) {
	spm, err := New(&Vocab{
		Model:  "llama",
		Tokens: []string{"<unk>", "▁", "a", "b", "c", "▁a", "ab", "bc", "▁ab", "abc"},
		Scores: []float32{0, -1, -1, -1, -1, -5, -2, -3, -4, -0.5},
		Types:  []int32{TypeUnknown, 1, 1, 1, 1, 1, 1, 1, 1, 1},
		BOS:    -1, EOS: -1, EOT: -1, EOM: -1, UNK: 0, PAD: -1, SEP: -1, Mask: -1,
		AddSpacePrefix: true,
	})
	require.NoError(t, err)
	// "▁abc": ab (-2) first, then abc (-0.5) beats ▁ab (-4).
	require.Equal(t, []string{"▁", "abc"}, pieces(spm, spm.Encode("abc", false, false)))
	// Unknown characters without byte tokens become <unk>, one per byte.
	require.Equal(t, []string{"▁a", "<unk>", "<unk>"}, pieces(spm, spm.Encode("aé", false, false)))

	bpe, err := New(&Vocab{
		Model:  "gpt2",
		Pre:    "gpt-2",
		Tokens: []string{"a", "b", "c", "ab", "bc", "abc", "Ġ", "Ġa"},
		Merges: []string{"b c", "a b", "a bc", "Ġ a"},
		BOS:    -1, EOS: -1, EOT: -1, EOM: -1, UNK: -1, PAD: -1, SEP: -1, Mask: -1,
	})
	require.NoError(t, err)
	require.Equal(t, []string{"abc"}, pieces(bpe, bpe.Encode("abc", false, false)))
	require.Equal(t, []string{"ab", "Ġa"}, pieces(bpe, bpe.Encode("ab a", false, false)))
	// Bytes without a token are dropped (no unknown token).
	require.Equal(t, []string{"a"}, pieces(bpe, bpe.Encode("a!", false, false)))
}

// TestPreTokenizers checks the splits of the pre-tokenizers on tricky
// input.
func TestPreTokenizers(t *testing.T) {
	tests := []struct {
		pre  string
		text string
		want []string
	}{
		{"gpt-2", "Hello world's  end\n\n  x", []string{"Hello", " world", "'s", " ", " end", "\n\n ", " x"}},
		{"gpt-2", "a  ", []string{"a", "  "}},
		{"llama-bpe", "Hello WORLD'S 12345 ??\n\n  x\t", []string{"Hello", " WORLD", "'S", " ", "123", "45", " ??\n\n", " ", " x", "\t"}},
		{"llama-bpe", " \n \n x", []string{" \n \n", " x"}},
		{"qwen2", "a123", []string{"a", "1", "2", "3"}},
		{"starcoder", "x=12 34", []string{"x", "=", "1", "2", " ", "3", "4"}},
		{"falcon", "a==b 12345", []string{"a", "==", "b", " ", "123", "45"}},
		{"deepseek-coder", "  Hi!!\n12", []string{" ", " Hi", "!!", "\n", "1", "2"}},
		{"deepseek-llm", "Hi 世界12  ", []string{"Hi", " ", "世界", "12", "  "}},
		{"default", "a.b 1234", []string{"a", ".", "b", " ", "123", "4"}},
		{"bloom", "Hi, there", []string{"Hi", ",", " there"}},
	}
	for _, tc := range tests {
		splits, err := preTokenizer(tc.pre)
		require.NoError(t, err)
		runes := []rune(tc.text)
		var got []string
		lo := 0
		for _, e := range preTokenize(runes, splits) {
			got = append(got, string(runes[lo:e]))
			lo = e
		}
		require.Equal(t, tc.want, got, "%s: %q", tc.pre, tc.text)
	}
}

// TestLongInputs checks that long and repetitive inputs, the worst cases of
// naive BPE, are handled.
func TestLongInputs(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, name := range []string{"llama-spm", "gpt-2", "bert-bge"} {
		tok := suiteTokenizer(t, name)
		for _, s := range []string{strings.Repeat("a", n), strings.Repeat(" ", n), strings.Repeat("ab ", n)} {
			ids := tok.Encode(s, false, false)
			if name == "bert-bge" {
				require.Equal(t, strings.TrimSpace(s) == "", len(ids) == 0)
				continue
			}
			require.Equal(t, s, tok.Decode(ids))
		}
	}
}

// TestInvalidUTF8 checks that invalid UTF-8 does not break encoding.
func TestInvalidUTF8(t *testing.T) {
	for _, name := range []string{"llama-spm", "gpt-2", "bert-bge", "deepseek-llm"} {
		tok := suiteTokenizer(t, name)
		ids := tok.Encode("a\xffb\xe2\x82", true, true)
		require.NotEmpty(t, ids, name)
	}
	tok := suiteTokenizer(t, "llama-spm")
	require.Equal(t, "a\xffb", tok.Decode(tok.Encode("a\xffb", false, false)))
}

// TestConcurrentEncode uses one tokenizer from several goroutines (run with
// -race).
func TestConcurrentEncode(t *testing.T) {
	tok := suiteTokenizer(t, "gpt-2")
	cases := readSuite(t, filepath.Join(vocabDir(t), "ggml-vocab-gpt-2.gguf"))
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			for _, c := range cases {
				if !equalIDs(tok.Encode(c.text, false, false), c.want) {
					errs <- c.text
					return
				}
			}
			errs <- ""
		}()
	}
	for range 4 {
		require.Empty(t, <-errs)
	}
}

// FuzzRoundTrip checks that encoding never fails and that byte-level BPE and
// SentencePiece decode what they encoded.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", " ", "Hello world", "\n\n\t 3333 'll", "🦙 Führer 我想", "a\xffb", "<s></s><|endoftext|>"} {
		f.Add(s)
	}
	gpt2 := suiteTokenizer(f, "gpt-2")
	spm := suiteTokenizer(f, "llama-spm")
	bert := suiteTokenizer(f, "bert-bge")
	f.Fuzz(func(t *testing.T, s string) {
		bert.Encode(s, true, true)
		for _, tok := range []*Tokenizer{gpt2, spm} {
			ids := tok.Encode(s, true, true)
			for _, id := range ids {
				require.True(t, id >= 0 && int(id) < tok.VocabSize())
			}
			if !utf8.ValidString(s) || strings.Contains(s, spaceMark) {
				continue
			}
			require.Equal(t, s, tok.Decode(tok.Encode(s, false, false)))
		}
	})
}
