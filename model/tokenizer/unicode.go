package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Character classes used by the pre-tokenizers. They follow the Unicode
// general categories, as the regular expressions of Hugging Face tokenizers
// and llama.cpp's unicode tables do.
const (
	cDefined uint8 = 1 << iota // any code point inside the text being scanned
	cLetter                    // \p{L}
	cNumber                    // \p{N}
	cPunct                     // \p{P}
	cSymbol                    // \p{S}
	cMark                      // \p{M}
	cControl                   // \p{C} (Cc, Cf, Co, Cs)
	cSpace                     // \s: the White_Space property
)

// asciiClass holds the classes of the ASCII code points; it is computed once
// and never written afterwards.
var asciiClass = func() (t [128]uint8) {
	for r := range rune(128) {
		t[r] = classOfSlow(r)
	}
	return t
}()

func classOfSlow(r rune) uint8 {
	c := cDefined
	switch {
	case unicode.IsLetter(r):
		c |= cLetter
	case unicode.IsNumber(r):
		c |= cNumber
	case unicode.IsPunct(r):
		c |= cPunct
	case unicode.IsSymbol(r):
		c |= cSymbol
	case unicode.IsMark(r):
		c |= cMark
	case unicode.In(r, unicode.C):
		c |= cControl
	}
	if unicode.IsSpace(r) {
		c |= cSpace
	}
	return c
}

// classOf returns the character classes of r.
func classOf(r rune) uint8 {
	if r >= 0 && r < 128 {
		return asciiClass[r]
	}
	return classOfSlow(r)
}

func isLetter(r rune) bool { return classOf(r)&cLetter != 0 }
func isNumber(r rune) bool { return classOf(r)&cNumber != 0 }
func isPunct(r rune) bool  { return classOf(r)&cPunct != 0 }
func isSpace(r rune) bool  { return classOf(r)&cSpace != 0 }

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

// inRanges reports whether r lies in one of the ranges.
func inRanges(r rune, rs []runeRange) bool {
	for _, x := range rs {
		if r >= x.lo && r <= x.hi {
			return true
		}
	}
	return false
}

// byteLevel maps bytes to the printable code points of GPT-2's byte-level
// BPE and back.
type byteLevel struct {
	enc [256]rune
	dec map[rune]byte
}

func newByteLevel() *byteLevel {
	b := &byteLevel{dec: make(map[rune]byte, 256)}
	n := rune(0)
	for c := range 256 {
		if (c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF) {
			b.enc[c] = rune(c)
		} else {
			b.enc[c] = 256 + n
			n++
		}
		b.dec[b.enc[c]] = byte(c)
	}
	return b
}

// encode appends the byte-level form of s to dst.
func (b *byteLevel) encode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = utf8.AppendRune(dst, b.enc[s[i]])
	}
	return dst
}

// decode appends the bytes that the byte-level string s stands for to dst.
// Code points outside the byte alphabet are copied as UTF-8.
func (b *byteLevel) decode(dst []byte, s string) []byte {
	for _, r := range s {
		if c, ok := b.dec[r]; ok {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}
