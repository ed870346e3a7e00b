// Package tokenizer turns text into token ids and back for the vocabularies
// of LLMs: SentencePiece-style BPE with scores and byte fallback
// (tokenizer.ggml.model "llama"), byte-level BPE with merges and
// model-specific pre-tokenizers ("gpt2") and WordPiece ("bert"). It
// reproduces llama.cpp's tokenizers, which in turn match Hugging Face's, and
// is checked against llama.cpp's tokenizer test suites.
package tokenizer

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Token types, as stored in GGUF's tokenizer.ggml.token_type.
const (
	TypeUndefined   int32 = 0
	TypeNormal      int32 = 1
	TypeUnknown     int32 = 2
	TypeControl     int32 = 3
	TypeUserDefined int32 = 4
	TypeUnused      int32 = 5
	TypeByte        int32 = 6
)

// Vocab describes a vocabulary and the options of its tokenizer. Token ids
// that a vocabulary lacks are -1; FromGGUF and FromJSON fill in the same
// defaults as llama.cpp.
type Vocab struct {
	// Model is the tokenizer kind: "llama" (SentencePiece: BPE over UTF-8
	// characters with "▁" for spaces and <0xNN> byte fallback, merging by
	// Scores, or by Merges when Scores is empty), "gpt2" (byte-level BPE with
	// Merges and the pre-tokenizer named by Pre) or "bert" (WordPiece).
	Model string
	// Pre names the pre-tokenizer of a "gpt2" vocabulary, as in
	// tokenizer.ggml.pre ("llama-bpe", "qwen2", "gpt-2", "falcon", ...).
	Pre string
	// Name is the model's name (general.name); llama.cpp keys a few token
	// attributes on it (Phi-3's special tokens strip the spaces after them).
	Name string

	Tokens []string  // token texts, by id
	Scores []float32 // SentencePiece scores, by id (may be empty)
	Types  []int32   // token types (TypeNormal, ...), by id; empty means all normal
	Merges []string  // BPE merges, "left right", best first

	// Special token ids, -1 when absent.
	BOS, EOS, EOT, EOM, UNK, PAD, SEP, Mask int32

	AddBOS         bool // Encode with addSpecial prepends BOS (BERT: CLS)
	AddEOS         bool // Encode with addSpecial appends EOS
	AddSEP         bool // Encode with addSpecial appends SEP (WordPiece only)
	AddSpacePrefix bool // SentencePiece: prefix text with a space
	IgnoreMerges   bool // byte-level BPE: a piece that is a token is kept whole (Llama 3)
	Lowercase      bool // WordPiece: lower-case the text
	StripAccents   bool // WordPiece: drop combining marks after NFD
	NFC            bool // normalize text to NFC before tokenizing (tokenizer.json's NFC normalizer)
}

// token attributes, as llama.cpp's llama_token_attr.
type attr uint16

const (
	attrUndefined attr = 1 << iota
	attrUnknown
	attrUnused
	attrNormal
	attrControl
	attrUserDefined
	attrByte
	attrLStrip
	attrRStrip
)

type kind int

const (
	kindSPM kind = iota // SentencePiece, merging by score
	kindBPE             // BPE with merges (byte-level or over characters)
	kindWPM             // WordPiece
)

// Tokenizer encodes text to token ids and decodes ids to text. It is safe
// for concurrent use.
type Tokenizer struct {
	kind  kind
	model string
	pre   string

	tokens []string
	scores []float32
	attrs  []attr
	toID   map[string]int32

	bos, eos, eot, eom, unk, pad, sep, mask int32

	addBOS, addEOS, addSEP, addSpacePrefix bool
	ignoreMerges                           bool
	lowercase, stripAccents, nfc           bool

	eog map[int32]bool

	specials    []int32 // control, user-defined and unknown tokens, longest first
	specialTrie *trie

	byteTok [256]int32 // fallback token of each byte, -1 if none

	// BPE
	bpe       *bpeModel
	byteLevel *byteLevel
	byteSym   [256]int32 // byte-level: symbol id of each byte's character
	splits    []splitFn
}

func typeAttr(t int32) attr {
	switch t {
	case TypeNormal:
		return attrNormal
	case TypeUnknown:
		return attrUnknown
	case TypeControl:
		return attrControl
	case TypeUserDefined:
		return attrUserDefined
	case TypeUnused:
		return attrUnused
	case TypeByte:
		return attrByte
	}
	return attrUndefined
}

// eogTexts are token texts that llama.cpp treats as end of generation.
var eogTexts = map[string]bool{
	"<|eot_id|>": true, "<|im_end|>": true, "<|end|>": true, "<|return|>": true, "<|call|>": true,
	"<|flush|>": true, "<|calls|>": true, "<end_of_turn>": true, "<|endoftext|>": true, "</s>": true,
	"<|eom_id|>": true, "<EOT>": true, "_<EOT>": true, "[EOT]": true, "[EOS]": true,
	"<|end_of_text|>": true, "<end_of_utterance>": true, "<eos>": true, "<turn|>": true,
	"<|tool_response>": true, "<｜end▁of▁sentence｜>": true, "[e~[": true,
}

// eotTexts are the texts llama.cpp recognizes as the end-of-turn token when
// the vocabulary names none.
var eotTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
	"<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
}

// fimEOGTexts are fill-in-the-middle tokens (pad, repo, file separator) that
// end generation.
var fimEOGTexts = []string{
	"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]",
	"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
}

// New builds a tokenizer for v. v's slices are not modified (nor kept
// beyond what the tokenizer needs).
func New(v *Vocab) (*Tokenizer, error) {
	t, err := build(v)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

// checkTypes returns an error naming the first token whose type is not one
// of GGUF's token types (llama.cpp's LLAMA_TOKEN_TYPE_*, TypeUndefined to
// TypeByte).
func checkTypes(tokens []string, types []int32) error {
	for i, ty := range types {
		if ty < TypeUndefined || ty > TypeByte {
			text := ""
			if i < len(tokens) {
				text = fmt.Sprintf(" (%q)", tokens[i])
			}
			return fmt.Errorf("token %d%s has type %d: want %d..%d (undefined, normal, unknown, control, user-defined, unused, byte)",
				i, text, ty, TypeUndefined, TypeByte)
		}
	}
	return nil
}

// build is New without the package prefix on its errors.
func build(v *Vocab) (*Tokenizer, error) {
	if v == nil {
		return nil, fmt.Errorf("nil vocabulary")
	}
	n := len(v.Tokens)
	if n == 0 {
		return nil, fmt.Errorf("empty vocabulary")
	}
	if len(v.Scores) != 0 && len(v.Scores) < n {
		return nil, fmt.Errorf("%d scores for %d tokens", len(v.Scores), n)
	}
	if len(v.Types) != 0 && len(v.Types) < n {
		return nil, fmt.Errorf("%d token types for %d tokens", len(v.Types), n)
	}
	if err := checkTypes(v.Tokens, v.Types[:min(len(v.Types), n)]); err != nil {
		return nil, err
	}
	t := &Tokenizer{
		model:          v.Model,
		pre:            v.Pre,
		tokens:         make([]string, n),
		attrs:          make([]attr, n),
		toID:           make(map[string]int32, n),
		addBOS:         v.AddBOS,
		addEOS:         v.AddEOS,
		addSEP:         v.AddSEP,
		addSpacePrefix: v.AddSpacePrefix,
		ignoreMerges:   v.IgnoreMerges,
		lowercase:      v.Lowercase,
		stripAccents:   v.StripAccents,
		nfc:            v.NFC,
	}
	ids := []*int32{&t.bos, &t.eos, &t.eot, &t.eom, &t.unk, &t.pad, &t.sep, &t.mask}
	names := []string{"BOS", "EOS", "EOT", "EOM", "UNK", "PAD", "SEP", "mask"}
	for i, id := range []int32{v.BOS, v.EOS, v.EOT, v.EOM, v.UNK, v.PAD, v.SEP, v.Mask} {
		if id < -1 || int(id) >= n {
			return nil, fmt.Errorf("%s token id %d out of range [0, %d)", names[i], id, n)
		}
		*ids[i] = id
	}
	for i, s := range v.Tokens {
		if s == "" {
			s = fmt.Sprintf("[EMPTY_%d]", i)
		}
		t.tokens[i] = s
		t.toID[s] = int32(i) // a duplicate text maps to its last id
		t.attrs[i] = attrNormal
		if len(v.Types) != 0 {
			t.attrs[i] = typeAttr(v.Types[i])
		}
	}
	if len(v.Scores) != 0 {
		t.scores = append([]float32(nil), v.Scores[:n]...)
	}
	switch v.Model {
	case "llama":
		t.kind = kindSPM
		if len(v.Scores) == 0 && len(v.Merges) != 0 {
			t.kind = kindBPE
		}
		if t.kind == kindSPM && t.scores == nil {
			t.scores = make([]float32, n)
		}
	case "gpt2":
		t.kind = kindBPE
		if len(v.Merges) == 0 {
			return nil, fmt.Errorf("byte-level BPE vocabulary without merges")
		}
		t.byteLevel = newByteLevel()
		splits, err := preTokenizer(v.Pre)
		if err != nil {
			return nil, err
		}
		t.splits = splits
	case "bert":
		t.kind = kindWPM
		if t.unk < 0 {
			return nil, fmt.Errorf("WordPiece vocabulary without an unknown token")
		}
	default:
		return nil, fmt.Errorf("unsupported tokenizer model %q", v.Model)
	}
	if t.kind == kindBPE {
		t.bpe = newBPEModel(t.toID, n, v.Merges)
	}
	t.initBytes()
	t.initSpecial(v)
	return t, nil
}

// initBytes fills the byte fallback tables.
func (t *Tokenizer) initBytes() {
	for b := range 256 {
		t.byteTok[b] = -1
		t.byteSym[b] = -1
		if t.byteLevel != nil {
			s := string(t.byteLevel.enc[b])
			if id, ok := t.toID[s]; ok {
				t.byteTok[b] = id
			}
			if id, ok := t.bpe.symID(s); ok {
				t.byteSym[b] = id
			}
			continue
		}
		if id, ok := t.toID[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteTok[b] = id
		} else if id, ok := t.toID[string([]byte{byte(b)})]; ok && b < 0x80 {
			t.byteTok[b] = id
		}
	}
}

// initSpecial works out end-of-generation tokens and the special tokens
// that Encode matches in raw text, following llama.cpp.
func (t *Tokenizer) initSpecial(v *Vocab) {
	t.eog = make(map[int32]bool)
	promote := func(id int32) {
		if t.attrs[id]&attrControl == 0 {
			t.attrs[id] |= attrControl
		}
	}
	if t.eot < 0 {
		for _, s := range eotTexts {
			if id, ok := t.toID[s]; ok {
				t.eot = id
				promote(id)
				break
			}
		}
	}
	if t.eom < 0 {
		if id, ok := t.toID["<|eom_id|>"]; ok {
			t.eom = id
			promote(id)
		}
	}
	for _, s := range fimEOGTexts {
		if id, ok := t.toID[s]; ok {
			t.eog[id] = true
		}
	}
	for s, id := range t.toID {
		if eogTexts[s] {
			t.eog[id] = true
			promote(id)
		}
	}
	for _, id := range []int32{t.eos, t.eot, t.eom} {
		if id >= 0 {
			t.eog[id] = true
		}
	}
	// gpt-oss and Solar Open: <|end|> ends a message, not the generation.
	has := func(s string) bool { id, ok := t.toID[s]; return ok && t.eog[id] }
	if has("<|end|>") && ((has("<|return|>") && has("<|call|>")) || (has("<|calls|>") && has("<|flush|>"))) {
		id := t.toID["<|end|>"]
		delete(t.eog, id)
		t.attrs[id] = attrUserDefined
	}
	// Gemma 4: </s> is an ordinary token.
	if has("<|tool_response>") && has("</s>") {
		id := t.toID["</s>"]
		delete(t.eog, id)
		t.attrs[id] = attrNormal
	}
	for _, s := range []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"} {
		if id, ok := t.toID[s]; ok {
			t.attrs[id] = attrUserDefined
		}
	}

	for id, a := range t.attrs {
		if a&(attrControl|attrUserDefined|attrUnknown) != 0 {
			t.specials = append(t.specials, int32(id))
		}
	}
	sort.SliceStable(t.specials, func(i, j int) bool {
		return len(t.tokens[t.specials[i]]) > len(t.tokens[t.specials[j]])
	})

	name := strings.ToLower(v.Name)
	if strings.Contains(name, "phi-3") || strings.Contains(name, "phi3") {
		for _, id := range t.specials {
			t.attrs[id] |= attrRStrip
		}
		if id, ok := t.toID["</s>"]; ok {
			t.attrs[id] |= attrRStrip
		}
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			if id, ok := t.toID[s]; ok {
				t.attrs[id] &^= attrRStrip
			}
		}
	}

	t.specialTrie = newTrie()
	for _, id := range t.specials {
		t.specialTrie.insert(t.tokens[id], t.toID[t.tokens[id]])
	}
}

// Model returns the tokenizer kind: "llama", "gpt2" or "bert".
func (t *Tokenizer) Model() string { return t.model }

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token (BERT: CLS), or -1.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence token, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// IsEOG reports whether id ends generation: EOS, end of turn
// (<|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, ...), end of message and
// the other tokens that llama.cpp treats so.
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// Piece returns the raw text of token id as stored in the vocabulary
// ("▁Hello", "ĠHello", "<0x0A>"), or "" for an id out of range.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenID returns the id of the token whose raw text is piece.
func (t *Tokenizer) TokenID(piece string) (int32, bool) {
	id, ok := t.toID[piece]
	return id, ok
}

// fragment is a piece of the input: raw text or an already resolved token.
type fragment struct {
	text  string
	token int32 // -1 for text
	off   int   // text: its byte offset in the whole input
}

// Encode converts text to token ids. With addSpecial it adds the tokens the
// vocabulary asks for (BOS and/or EOS; BERT: CLS and SEP). With parseSpecial,
// the texts of control tokens ("<|im_start|>", "<s>") in text become those
// tokens; user-defined tokens are always matched, as in llama.cpp and
// Hugging Face tokenizers.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	return t.encode(text, addSpecial, func(int, int) bool { return parseSpecial })
}

// Segment is a piece of text to encode and whether the texts of control
// tokens in it become those tokens.
type Segment struct {
	Text         string
	ParseSpecial bool
}

// EncodeSegments encodes the concatenation of segs as Encode would, except
// that the text of a control token becomes that token only when it lies
// inside one segment with ParseSpecial set: a chat template's markers are
// parsed, while the messages placed between them stay text even when they
// contain "<|im_start|>". Everything else (user-defined tokens, whitespace
// stripped beside a token, the pieces text is split into) is decided on the
// whole text, so segments whose control-token texts are all in parsed
// segments give exactly Encode's tokens for their concatenation.
func (t *Tokenizer) EncodeSegments(segs []Segment, addSpecial bool) []int32 {
	var all strings.Builder
	starts := make([]int, len(segs)) // byte offset of each segment in all
	for i, sg := range segs {
		starts[i] = all.Len()
		all.WriteString(sg.Text)
	}
	text := all.String()
	control := func(lo, hi int) bool { // [lo, hi) inside one parsed segment
		// The last segment starting at or before lo holds it (an empty
		// segment never does: a later one starts at the same offset).
		i := sort.Search(len(segs), func(i int) bool { return starts[i] > lo }) - 1
		return i >= 0 && segs[i].ParseSpecial && hi <= starts[i]+len(segs[i].Text)
	}
	return t.encode(text, addSpecial, control)
}

// encode encodes text; control reports whether a control token's text at
// bytes [lo, hi) of text becomes the token.
func (t *Tokenizer) encode(text string, addSpecial bool, control func(lo, hi int) bool) []int32 {
	var frags []fragment
	if text != "" {
		frags = t.partition(text, control)
	}
	out := make([]int32, 0, len(text)/3+4)
	switch t.kind {
	case kindSPM, kindBPE:
		if addSpecial && t.addBOS && t.bos >= 0 {
			out = append(out, t.bos)
		}
		var spm spmState
		var bpe bpeState
		prevSpecial := true
		for _, f := range frags {
			if f.token >= 0 {
				out = append(out, f.token)
				prevSpecial = true
				continue
			}
			if t.nfc {
				f.text = norm.NFC.String(f.text)
			}
			switch {
			case t.kind == kindSPM:
				s := f.text
				if t.addSpacePrefix && prevSpecial {
					s = " " + s
				}
				out = t.encodeSPM(&spm, escapeSpaces(s), out)
			case t.byteLevel == nil:
				// BPE over characters (tokenizer.json of SentencePiece models).
				s := f.text
				if t.addSpacePrefix && prevSpecial {
					s = " " + s
				}
				out = t.encodeBPE(&bpe, escapeSpaces(s), out)
			default:
				out = t.encodeByteLevel(&bpe, f.text, out)
			}
			prevSpecial = false
		}
		if addSpecial && t.addEOS && t.eos >= 0 {
			out = append(out, t.eos)
		}
	case kindWPM:
		if addSpecial && t.addBOS && t.bos >= 0 {
			out = append(out, t.bos)
		}
		for _, f := range frags {
			if f.token >= 0 {
				out = append(out, f.token)
				continue
			}
			out = t.encodeWPM(f.text, out)
		}
		if addSpecial && t.addSEP && t.sep >= 0 {
			out = append(out, t.sep)
		}
	}
	return out
}

// encodeByteLevel pre-tokenizes text and byte-level-BPE-encodes each piece.
func (t *Tokenizer) encodeByteLevel(st *bpeState, text string, out []int32) []int32 {
	runes := []rune(text)
	ends := preTokenize(runes, t.splits)
	var piece []byte
	lo := 0
	for _, e := range ends {
		piece = piece[:0]
		for _, r := range runes[lo:e] {
			piece = utf8.AppendRune(piece, r)
		}
		out = t.encodeBPE(st, string(piece), out)
		lo = e
	}
	return out
}

// partition splits text at the special tokens, longest token first, as
// llama.cpp's tokenizer_st_partition does. User-defined tokens are matched
// everywhere; control and unknown tokens only where control(lo, hi) allows
// an occurrence at bytes [lo, hi) of text.
func (t *Tokenizer) partition(text string, control func(lo, hi int) bool) []fragment {
	frags := []fragment{{text: text, token: -1}}
	if len(t.specials) == 0 {
		return frags
	}
	present := t.specialTrie.present(text)
	if len(present) == 0 {
		return frags
	}
	const space = " \t\n\v\f\r"
	for _, id := range t.specials {
		tok := t.tokens[id]
		if !present[t.toID[tok]] {
			continue
		}
		a := t.attrs[id]
		isControl := a&(attrControl|attrUnknown) != 0
		var next []fragment
		changed := false
		for _, f := range frags {
			if f.token >= 0 || !strings.Contains(f.text, tok) {
				next = append(next, f)
				continue
			}
			s, off, from := f.text, f.off, 0 // what is left, its offset in text, where to look in it
			for {
				i := strings.Index(s[from:], tok)
				if i >= 0 {
					i += from
					if isControl && !control(off+i, off+i+len(tok)) {
						from = i + 1 // this occurrence stays text
						continue
					}
				}
				if i < 0 {
					if s != "" {
						next = append(next, fragment{text: s, token: -1, off: off})
					}
					break
				}
				changed = true
				left := s[:i]
				if a&attrLStrip != 0 {
					left = strings.TrimRight(left, space)
				}
				if left != "" {
					next = append(next, fragment{text: left, token: -1, off: off})
				}
				next = append(next, fragment{token: id})
				rest, restOff := s[i+len(tok):], off+i+len(tok)
				if a&attrRStrip != 0 {
					trimmed := strings.TrimLeft(rest, space)
					restOff += len(rest) - len(trimmed)
					rest = trimmed
				}
				s, off, from = rest, restOff, 0
			}
		}
		if changed {
			frags = next
		}
	}
	return frags
}

// trie finds which of a set of strings occur in a text.
type trie struct {
	next  map[byte]*trie
	value int32 // -1 when no string ends here
}

func newTrie() *trie { return &trie{value: -1} }

func (n *trie) insert(s string, id int32) {
	for i := 0; i < len(s); i++ {
		if n.next == nil {
			n.next = make(map[byte]*trie)
		}
		c, ok := n.next[s[i]]
		if !ok {
			c = newTrie()
			n.next[s[i]] = c
		}
		n = c
	}
	n.value = id
}

// present returns the ids of the strings that occur in text.
func (n *trie) present(text string) map[int32]bool {
	var found map[int32]bool
	for i := 0; i < len(text); i++ {
		c := n
		for j := i; j < len(text); j++ {
			c = c.next[text[j]]
			if c == nil {
				break
			}
			if c.value >= 0 {
				if found == nil {
					found = make(map[int32]bool)
				}
				found[c.value] = true
			}
		}
	}
	return found
}
