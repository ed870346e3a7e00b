package golem

import (
	"github.com/golem-llm/golem/model/tokenizer"
	"github.com/golem-llm/golem/runtime"
)

// Tokenizer converts text to a model's token ids and back. It is safe for
// concurrent use.
type Tokenizer struct {
	t *tokenizer.Tokenizer
}

// OpenTokenizer reads only the tokenizer of a model: a GGUF file (one
// without weights too, as llama.cpp's vocab-only files) or a Hugging Face
// folder. Nothing is loaded onto a device.
func OpenTokenizer(path string) (*Tokenizer, error) {
	t, err := runtime.OpenTokenizer(path)
	if err != nil {
		return nil, err
	}
	return &Tokenizer{t: t}, nil
}

// TokenizeOptions configure Tokenize.
type TokenizeOptions struct {
	// NoBOS leaves out the tokens the vocabulary asks for around a text
	// (BOS; for BERT-style vocabularies CLS and SEP).
	NoBOS bool
	// ParseSpecial turns the texts of control tokens ("<s>",
	// "<|im_start|>") into those tokens; otherwise they stay text.
	// User-defined tokens are always matched.
	ParseSpecial bool
}

// Tokenize converts text to token ids.
func (t *Tokenizer) Tokenize(text string, o TokenizeOptions) []int32 {
	return t.t.Encode(text, !o.NoBOS, o.ParseSpecial)
}

// Detokenize converts token ids to text: control tokens are skipped, byte
// tokens joined into UTF-8, and the space a SentencePiece vocabulary puts
// before the text removed, so that Detokenize(Tokenize(s)) is s for text
// the vocabulary represents. Invalid UTF-8 (ids ending inside a
// character) is kept as it is.
func (t *Tokenizer) Detokenize(ids []int32) string { return t.t.Decode(ids) }

// Piece returns the text of token id as llama.cpp's token_to_piece gives
// it: what the token stands for inside a text (a leading space kept, a
// byte token's single byte, possibly part of a UTF-8 character), and for
// control and unknown tokens their own text ("<s>"); "" for an id outside
// the vocabulary.
func (t *Tokenizer) Piece(id int32) string {
	if text := t.t.TokenText(id); text != "" {
		return text
	}
	return t.t.Piece(id)
}

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return t.t.VocabSize() }

// BOS returns the beginning-of-sequence token, or -1.
func (t *Tokenizer) BOS() int32 { return t.t.BOS() }

// EOS returns the end-of-sequence token, or -1.
func (t *Tokenizer) EOS() int32 { return t.t.EOS() }

// IsEOG reports whether id ends generation (EOS, end of turn, ...).
func (t *Tokenizer) IsEOG(id int32) bool {
	return id >= 0 && int(id) < t.t.VocabSize() && t.t.IsEOG(id)
}
