package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// WordPiece as BERT's tokenizers do it. Vocabularies follow llama.cpp's GGUF
// convention: a token that starts a word carries a leading "▁", a
// continuation token ("##x" in BERT's vocab.txt) is stored bare, and
// bracketed special tokens ("[CLS]") are stored unchanged.

// maxWordChars is the longest word WordPiece splits; longer words become
// the unknown token (BERT's max_input_chars_per_word).
const maxWordChars = 100

// isCJK reports whether r is a CJK ideograph, which BERT splits off as a word
// of its own (the ranges of Hugging Face's BertNormalizer).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// bertWhitespace is BERT's notion of whitespace: space, tab, line feed,
// carriage return and the space separators (Zs).
func bertWhitespace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r':
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

// bertControl reports the characters BERT's normalizer deletes: control,
// format, private-use and unassigned code points other than tab and line
// breaks.
func bertControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	case 0, utf8.RuneError:
		return true
	}
	if unicode.In(r, unicode.C) {
		return true
	}
	return classOf(r)&^(cDefined|cSpace) == 0 && !unicode.Is(unicode.Z, r) // unassigned
}

// bertPunct is BERT's punctuation: Unicode P* and the ASCII symbols.
func bertPunct(r rune) bool {
	return isPunct(r) || (r < 0x7F && unicode.IsSymbol(r))
}

// wpmWords normalizes text as BERT does (clean, isolate CJK, strip accents,
// lower-case) and splits it into words and punctuation.
func (t *Tokenizer) wpmWords(text string) []string {
	var clean strings.Builder
	clean.Grow(len(text))
	for _, r := range text {
		switch {
		case bertControl(r):
		case bertWhitespace(r):
			clean.WriteByte(' ')
		case isCJK(r):
			clean.WriteByte(' ')
			clean.WriteRune(r)
			clean.WriteByte(' ')
		default:
			clean.WriteRune(r)
		}
	}
	s := clean.String()
	if t.stripAccents {
		s = norm.NFD.String(s)
	}
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
		if t.stripAccents && unicode.Is(unicode.Mn, r) {
			continue
		}
		if t.lowercase {
			r = unicode.ToLower(r)
		}
		switch {
		case r == ' ':
			flush()
		case bertPunct(r):
			flush()
			words = append(words, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return words
}

// encodeWPM appends the WordPiece tokens of text to out.
func (t *Tokenizer) encodeWPM(text string, out []int32) []int32 {
	var buf []byte
	for _, word := range t.wpmWords(text) {
		if utf8.RuneCountInString(word) > maxWordChars {
			out = append(out, t.unk)
			continue
		}
		n0 := len(out)
		ok := true
		for start := 0; start < len(word); {
			found := false
			for end := len(word); end > start; {
				buf = buf[:0]
				if start == 0 {
					buf = append(buf, spaceMark...)
				}
				buf = append(buf, word[start:end]...)
				if id, hit := t.toID[string(buf)]; hit {
					out = append(out, id)
					start = end
					found = true
					break
				}
				_, n := utf8.DecodeLastRuneInString(word[start:end])
				end -= n
			}
			if !found {
				ok = false
				break
			}
		}
		if !ok {
			out = append(out[:n0], t.unk)
		}
	}
	return out
}
