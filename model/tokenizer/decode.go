package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// appendToken appends the bytes that token id stands for to dst: control
// and unknown tokens give nothing, user-defined tokens their raw text, byte
// tokens their byte, and normal tokens their text with "▁" turned back into
// spaces (SentencePiece, WordPiece) or the byte-level alphabet turned back
// into bytes (GPT-2 style BPE).
func (t *Tokenizer) appendToken(dst []byte, id int32) []byte {
	if id < 0 || int(id) >= len(t.tokens) {
		return dst
	}
	a := t.attrs[id]
	text := t.tokens[id]
	switch {
	case a&(attrControl|attrUnknown) != 0:
		return dst
	case a&attrUserDefined != 0:
		return append(dst, text...)
	case a&attrByte != 0:
		if b, ok := parseByteToken(text); ok {
			return append(dst, b)
		}
		return dst
	case a&attrNormal != 0:
		if t.byteLevel != nil {
			return t.byteLevel.decode(dst, text)
		}
		return append(dst, strings.ReplaceAll(text, spaceMark, " ")...)
	}
	return dst
}

// parseByteToken parses "<0xNN>".
func parseByteToken(s string) (byte, bool) {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return 0, false
	}
	var b byte
	for _, c := range []byte(s[3:5]) {
		switch {
		case c >= '0' && c <= '9':
			b = b<<4 | (c - '0')
		case c >= 'A' && c <= 'F':
			b = b<<4 | (c - 'A' + 10)
		case c >= 'a' && c <= 'f':
			b = b<<4 | (c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}

// stripsLeadingSpace reports whether decoding drops the space that encoding
// put before the first word (SentencePiece's space prefix, WordPiece's word
// marker).
func (t *Tokenizer) stripsLeadingSpace() bool {
	return t.kind == kindWPM || (t.byteLevel == nil && t.addSpacePrefix)
}

// Decode converts token ids to text. Control tokens (BOS, EOS, ...) are
// skipped, byte tokens are joined into UTF-8, and the space that
// SentencePiece puts before the text (and WordPiece before each word) is
// removed from the start, so that Decode(Encode(s, true, false)) == s for
// text a vocabulary can represent losslessly. The result may hold invalid
// UTF-8 if ids ends inside a character.
func (t *Tokenizer) Decode(ids []int32) string {
	var out []byte
	first := true
	for _, id := range ids {
		n := len(out)
		out = t.appendToken(out, id)
		if first && len(out) > n {
			first = false
			if t.stripsLeadingSpace() && out[n] == ' ' {
				out = append(out[:n], out[n+1:]...)
			}
		}
	}
	return string(out)
}

// Decoder decodes a stream of tokens, such as a model's output, into text
// that is always valid UTF-8: bytes of a character that is split over
// several tokens are held back until the character is complete. Leading
// spaces are kept, since a stream usually continues earlier text.
type Decoder struct {
	t       *Tokenizer
	pending []byte
}

// NewDecoder returns a streaming decoder.
func (t *Tokenizer) NewDecoder() *Decoder { return &Decoder{t: t} }

// Next adds token id and returns the text completed so far that was not
// returned before.
func (d *Decoder) Next(id int32) string {
	d.pending = d.t.appendToken(d.pending, id)
	cut := completePrefix(d.pending)
	if cut == 0 {
		return ""
	}
	s := validString(d.pending[:cut])
	d.pending = append(d.pending[:0], d.pending[cut:]...)
	return s
}

// Flush returns whatever is held back, with incomplete characters replaced
// by U+FFFD, and resets the decoder.
func (d *Decoder) Flush() string {
	s := validString(d.pending)
	d.pending = d.pending[:0]
	return s
}

// completePrefix returns the length of b without a trailing, still
// incomplete UTF-8 sequence.
func completePrefix(b []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return len(b) // ASCII: nothing pending
		}
		if c >= 0xC0 { // lead byte
			if need := utf8Len(c); need > k && !utf8.FullRune(b[len(b)-k:]) {
				return len(b) - k
			}
			return len(b)
		}
	}
	return len(b)
}

// validString converts b to a string, replacing each invalid byte with
// U+FFFD.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.Write(b[:n])
		}
		b = b[n:]
	}
	return sb.String()
}

// TokenText returns the bytes token id stands for, as Decode would give
// them inside a text: a leading space kept, a byte token's single byte
// (which may be part of a UTF-8 character), nothing for control tokens
// and for an id out of range.
func (t *Tokenizer) TokenText(id int32) string {
	return string(t.appendToken(nil, id))
}
