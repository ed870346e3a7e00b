package tokenizer

import "strings"

// SentencePiece-style BPE driven by token scores, as llama.cpp's
// llm_tokenizer_spm does it: start from UTF-8 characters, repeatedly merge
// the adjacent pair whose concatenation is the vocabulary token with the
// highest score (leftmost first on ties), then emit the symbols, falling back
// to <0xNN> byte tokens for symbols that are not tokens.

const spaceMark = "\u2581" // ▁, SentencePiece's escaped space

type spmSymbol struct {
	prev, next int32
	start, n   int32 // byte span in the text; n == 0 once merged away
}

type spmBigram struct {
	left, right int32
	score       float32
	size        int32
}

// spmQueue is a binary max-heap of bigrams: highest score first, leftmost
// first among equal scores.
type spmQueue = minHeap[spmBigram, *spmBigram]

func (a *spmBigram) before(b *spmBigram) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.left < b.left
}

type spmState struct {
	syms  []spmSymbol
	queue spmQueue
}

// spmToken returns the token for text if it may be produced by the merges:
// control, unknown, byte and unused tokens are never produced from text.
func (t *Tokenizer) spmToken(text string) (int32, bool) {
	id, ok := t.toID[text]
	if !ok {
		return -1, false
	}
	if t.attrs[id]&(attrControl|attrUnknown|attrByte|attrUnused) != 0 {
		return -1, false
	}
	return id, true
}

func (t *Tokenizer) spmAddBigram(st *spmState, text string, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := st.syms[left], st.syms[right]
	s := text[l.start : l.start+l.n+r.n]
	id, ok := t.spmToken(s)
	if !ok {
		return
	}
	st.queue.push(spmBigram{left: left, right: right, score: t.scores[id], size: int32(len(s))})
}

// escapeSpaces replaces spaces with ▁.
func escapeSpaces(s string) string { return strings.ReplaceAll(s, " ", spaceMark) }

// encodeSPM appends the tokens of text (already escaped) to out.
func (t *Tokenizer) encodeSPM(st *spmState, text string, out []int32) []int32 {
	st.syms = st.syms[:0]
	st.queue = st.queue[:0]
	for off := 0; off < len(text); {
		n := utf8Len(text[off])
		n = min(n, len(text)-off)
		st.syms = append(st.syms, spmSymbol{prev: int32(len(st.syms) - 1), next: int32(len(st.syms) + 1), start: int32(off), n: int32(n)})
		off += n
	}
	if len(st.syms) == 0 {
		return out
	}
	st.syms[len(st.syms)-1].next = -1
	for i := 1; i < len(st.syms); i++ {
		t.spmAddBigram(st, text, int32(i-1), int32(i))
	}
	for len(st.queue) > 0 {
		bg := st.queue.pop()
		ls, rs := &st.syms[bg.left], &st.syms[bg.right]
		if ls.n == 0 || rs.n == 0 || ls.n+rs.n != bg.size {
			continue
		}
		ls.n += rs.n
		rs.n = 0
		ls.next = rs.next
		if rs.next >= 0 {
			st.syms[rs.next].prev = bg.left
		}
		t.spmAddBigram(st, text, ls.prev, bg.left)
		t.spmAddBigram(st, text, bg.left, ls.next)
	}
	for i := int32(0); i >= 0; i = st.syms[i].next {
		s := st.syms[i]
		piece := text[s.start : s.start+s.n]
		if id, ok := t.spmToken(piece); ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(piece); j++ {
			if id := t.byteTok[piece[j]]; id >= 0 {
				out = append(out, id)
			} else if t.unk >= 0 {
				out = append(out, t.unk)
			}
		}
	}
	return out
}

// utf8Len is the length of the UTF-8 sequence that starts with byte b,
// judged from its high bits as llama.cpp does (a stray continuation byte
// counts as one).
func utf8Len(b byte) int {
	switch {
	case b < 0xC0:
		return 1
	case b < 0xE0:
		return 2
	case b < 0xF0:
		return 3
	}
	return 4
}
