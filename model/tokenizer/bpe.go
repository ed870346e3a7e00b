package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// bpeModel holds the merges of a BPE vocabulary. Every string that takes
// part in a merge has a symbol id: its token id when it is in the
// vocabulary, an id from len(tokens) upwards for the few merge parts that
// are not.
type bpeModel struct {
	nTokens int32
	toID    map[string]int32 // the tokenizer's token ids (shared, read-only)
	extra   map[string]int32 // merge strings that are not tokens
	merges  map[uint64]bpeMerge
}

type bpeMerge struct {
	rank   int32
	result int32 // symbol id of the concatenation
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// symID returns the symbol id of s.
func (m *bpeModel) symID(s string) (int32, bool) {
	if id, ok := m.toID[s]; ok {
		return id, true
	}
	id, ok := m.extra[s]
	return id, ok
}

// newBPEModel indexes merges given as "left right" strings. The first
// occurrence of a pair wins, as in llama.cpp.
func newBPEModel(toID map[string]int32, nTokens int, merges []string) *bpeModel {
	m := &bpeModel{
		nTokens: int32(nTokens),
		toID:    toID,
		extra:   make(map[string]int32),
		merges:  make(map[uint64]bpeMerge, len(merges)),
	}
	sym := func(s string) int32 {
		if id, ok := m.symID(s); ok {
			return id
		}
		id := m.nTokens + int32(len(m.extra))
		m.extra[s] = id
		return id
	}
	for rank, line := range merges {
		// Split at the first space after the first byte: a merge part is
		// never empty, so a leading space belongs to the left part.
		var left, right string
		if len(line) > 1 {
			if i := strings.IndexByte(line[1:], ' '); i >= 0 {
				left, right = line[:i+1], line[i+2:]
			}
		}
		a, b := sym(left), sym(right)
		k := pairKey(a, b)
		if _, dup := m.merges[k]; dup {
			continue
		}
		m.merges[k] = bpeMerge{rank: int32(rank), result: sym(left + right)}
	}
	return m
}

// bpeSymbol is one symbol of a word being merged; start/end are byte
// offsets into the word's source bytes.
type bpeSymbol struct {
	id         int32
	prev, next int32
	start, end int32
}

type bpeBigram struct {
	left, right int32
	lid, rid    int32
	rank        int32
	result      int32
}

// bpeQueue is a binary min-heap of bigrams: lowest rank first, leftmost
// first among equal ranks (the order of llama.cpp and Hugging Face).
type bpeQueue = minHeap[bpeBigram, *bpeBigram]

func (a *bpeBigram) before(b *bpeBigram) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.left < b.left
}

// bpeState is the scratch space of one Encode call.
type bpeState struct {
	syms  []bpeSymbol
	queue bpeQueue
	buf   []byte
}

func (st *bpeState) addBigram(m *bpeModel, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := st.syms[left].id, st.syms[right].id
	if l < 0 || r < 0 {
		return
	}
	mg, ok := m.merges[pairKey(l, r)]
	if !ok {
		return
	}
	st.queue.push(bpeBigram{left: left, right: right, lid: l, rid: r, rank: mg.rank, result: mg.result})
}

// merge runs the BPE merges over st.syms (a chain 0 -> 1 -> ...), lowest
// rank first and leftmost first among equal ranks.
func (st *bpeState) merge(m *bpeModel) {
	st.queue = st.queue[:0]
	for i := 1; i < len(st.syms); i++ {
		st.addBigram(m, int32(i-1), int32(i))
	}
	for len(st.queue) > 0 {
		bg := st.queue.pop()
		ls, rs := &st.syms[bg.left], &st.syms[bg.right]
		if ls.id != bg.lid || rs.id != bg.rid || ls.end == ls.start || rs.end == rs.start {
			continue // stale
		}
		ls.id = bg.result
		ls.end = rs.end
		rs.start = rs.end // dead
		ls.next = rs.next
		if rs.next >= 0 {
			st.syms[rs.next].prev = bg.left
		}
		st.addBigram(m, ls.prev, bg.left)
		st.addBigram(m, bg.left, ls.next)
	}
}

// encodeBPE appends the tokens of one pre-tokenized piece to out.
func (t *Tokenizer) encodeBPE(st *bpeState, piece string, out []int32) []int32 {
	if piece == "" {
		return out
	}
	m := t.bpe
	st.syms = st.syms[:0]
	if t.byteLevel != nil {
		if t.ignoreMerges {
			st.buf = t.byteLevel.encode(st.buf[:0], piece)
			if id, ok := t.toID[string(st.buf)]; ok {
				return append(out, id)
			}
		}
		for i := 0; i < len(piece); i++ {
			st.syms = append(st.syms, bpeSymbol{id: t.byteSym[piece[i]], prev: int32(i - 1), next: int32(i + 1), start: int32(i), end: int32(i + 1)})
		}
	} else {
		for i := 0; i < len(piece); {
			_, n := utf8.DecodeRuneInString(piece[i:])
			id, ok := m.symID(piece[i : i+n])
			if !ok {
				id = -1
			}
			st.syms = append(st.syms, bpeSymbol{id: id, prev: int32(len(st.syms) - 1), next: int32(len(st.syms) + 1), start: int32(i), end: int32(i + n)})
			i += n
		}
	}
	st.syms[len(st.syms)-1].next = -1
	st.merge(m)
	for i := int32(0); i >= 0; i = st.syms[i].next {
		s := st.syms[i]
		if s.id >= 0 && s.id < m.nTokens {
			out = append(out, s.id)
			continue
		}
		// Not a token: fall back to the byte tokens.
		for j := s.start; j < s.end; j++ {
			if id := t.byteTok[piece[j]]; id >= 0 {
				out = append(out, id)
			} else if t.unk >= 0 {
				out = append(out, t.unk)
			}
		}
	}
	return out
}
