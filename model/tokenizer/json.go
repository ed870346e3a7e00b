package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Hugging Face tokenizer.json support. The common configurations map onto
// the tokenizers of this package:
//
//   - BPE with a ByteLevel pre-tokenizer (GPT-2), optionally after a Split
//     with the Llama 3 or Qwen 2 pattern, or after individual Digits
//     (StarCoder): byte-level BPE ("gpt2").
//   - BPE over characters with byte_fallback, "▁" for spaces (a Metaspace
//     pre-tokenizer or Prepend/Replace normalizers): SentencePiece-style BPE
//     ("llama" with merges).
//   - WordPiece with the BERT normalizer and pre-tokenizer ("bert").
//
// Other configurations give an error naming what is not supported.

type hfJSON struct {
	AddedTokens   []hfAddedToken  `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         hfModel         `json:"model"`
}

type hfAddedToken struct {
	ID      int32  `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

type hfModel struct {
	Type                    string            `json:"type"`
	Vocab                   map[string]int32  `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	UnkToken                *string           `json:"unk_token"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
}

// hfComponent is a normalizer, pre-tokenizer or post-processor; only the
// fields this package reads are declared.
type hfComponent struct {
	Type          string            `json:"type"`
	Normalizers   []json.RawMessage `json:"normalizers"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`

	// Split / Replace
	Pattern  *hfPattern `json:"pattern"`
	Behavior string     `json:"behavior"`
	Invert   bool       `json:"invert"`
	Content  string     `json:"content"`
	// Prepend
	Prepend string `json:"prepend"`
	// ByteLevel
	AddPrefixSpace *bool `json:"add_prefix_space"`
	UseRegex       *bool `json:"use_regex"`
	// Metaspace
	Replacement   string `json:"replacement"`
	PrependScheme string `json:"prepend_scheme"`
	Split         *bool  `json:"split"`
	// Digits
	IndividualDigits bool `json:"individual_digits"`
	// BertNormalizer
	Lowercase    *bool `json:"lowercase"`
	StripAccents *bool `json:"strip_accents"`
	// TemplateProcessing
	Single []map[string]json.RawMessage `json:"single"`
	// BertProcessing / RobertaProcessing: [text, id]
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

type hfPattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

const (
	hfLlama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	hfQwen2Regex  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	hfGPT2Regex   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// hfEOSTexts are texts taken as the end-of-sequence token when the
// post-processor does not name one.
var hfEOSTexts = []string{"</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<｜end▁of▁sentence｜>", "<|im_end|>"}

func parseComponent(raw json.RawMessage) (*hfComponent, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// flatten expands Sequence components.
func flatten(raw json.RawMessage) ([]*hfComponent, error) {
	c, err := parseComponent(raw)
	if err != nil || c == nil {
		return nil, err
	}
	if c.Type != "Sequence" {
		return []*hfComponent{c}, nil
	}
	var out []*hfComponent
	for _, list := range [][]json.RawMessage{c.Normalizers, c.Pretokenizers, c.Processors} {
		for _, r := range list {
			sub, err := flatten(r)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

// FromJSON builds a tokenizer from the contents of a Hugging Face
// tokenizer.json file.
func FromJSON(data []byte) (*Tokenizer, error) {
	v, err := VocabFromJSON(data)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// VocabFromJSON converts a Hugging Face tokenizer.json to a Vocab.
func VocabFromJSON(data []byte) (*Vocab, error) {
	var hf hfJSON
	if err := json.Unmarshal(data, &hf); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	errf := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer: tokenizer.json: "+format, args...)
	}
	norms, err := flatten(hf.Normalizer)
	if err != nil {
		return nil, errf("normalizer: %w", err)
	}
	pres, err := flatten(hf.PreTokenizer)
	if err != nil {
		return nil, errf("pre_tokenizer: %w", err)
	}
	posts, err := flatten(hf.PostProcessor)
	if err != nil {
		return nil, errf("post_processor: %w", err)
	}

	v := &Vocab{BOS: -1, EOS: -1, EOT: -1, EOM: -1, UNK: -1, PAD: -1, SEP: -1, Mask: -1}

	// The vocabulary: the model's tokens plus the added tokens.
	const maxID = 1 << 24
	n := int32(0)
	for s, id := range hf.Model.Vocab {
		if id < 0 || id >= maxID {
			return nil, errf("token %q: id %d out of range", s, id)
		}
		n = max(n, id+1)
	}
	for _, a := range hf.AddedTokens {
		if a.ID < 0 || a.ID >= maxID {
			return nil, errf("added token %q: id %d out of range", a.Content, a.ID)
		}
		n = max(n, a.ID+1)
	}
	if n == 0 {
		return nil, errf("empty vocabulary")
	}
	v.Tokens = make([]string, n)
	v.Types = make([]int32, n)
	for s, id := range hf.Model.Vocab {
		v.Tokens[id] = s
		v.Types[id] = TypeNormal
	}
	for _, a := range hf.AddedTokens {
		v.Tokens[a.ID] = a.Content
		v.Types[a.ID] = TypeUserDefined
		if a.Special {
			v.Types[a.ID] = TypeControl
		}
	}
	for i := range v.Tokens {
		if v.Types[i] == 0 {
			v.Tokens[i] = fmt.Sprintf("[PAD%d]", i)
			v.Types[i] = TypeUnused
		}
	}
	id := func(s string) int32 {
		for i, t := range v.Tokens {
			if t == s {
				return int32(i)
			}
		}
		return -1
	}

	switch hf.Model.Type {
	case "BPE":
		if err := hfBPE(&hf, v, norms, pres); err != nil {
			return nil, errf("%w", err)
		}
	case "WordPiece":
		if err := hfWordPiece(&hf, v, norms, pres); err != nil {
			return nil, errf("%w", err)
		}
	default:
		return nil, errf("unsupported model type %q", hf.Model.Type)
	}
	if hf.Model.UnkToken != nil {
		v.UNK = id(*hf.Model.UnkToken)
	}

	// Special tokens added around the text.
	for _, p := range posts {
		switch p.Type {
		case "TemplateProcessing":
			seenA := false
			for _, item := range p.Single {
				if _, ok := item["Sequence"]; ok {
					seenA = true
					continue
				}
				raw, ok := item["SpecialToken"]
				if !ok {
					continue
				}
				var st struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(raw, &st); err != nil {
					return nil, errf("post_processor: %w", err)
				}
				tid := id(st.ID)
				if tid < 0 {
					return nil, errf("post_processor: unknown special token %q", st.ID)
				}
				if !seenA {
					v.BOS, v.AddBOS = tid, true
				} else if v.Model == "bert" {
					v.SEP, v.AddSEP = tid, true
				} else {
					v.EOS, v.AddEOS = tid, true
				}
			}
		case "BertProcessing", "RobertaProcessing":
			if s, ok := rawString(p.Cls); ok {
				v.BOS, v.AddBOS = id(s), id(s) >= 0
			}
			if s, ok := rawString(p.Sep); ok {
				if v.Model == "bert" {
					v.SEP, v.AddSEP = id(s), id(s) >= 0
				} else {
					v.EOS, v.AddEOS = id(s), id(s) >= 0
				}
			}
		case "ByteLevel":
		default:
			return nil, errf("unsupported post_processor %q", p.Type)
		}
	}
	if v.EOS < 0 {
		for _, s := range hfEOSTexts {
			if tid := id(s); tid >= 0 && v.Types[tid] == TypeControl {
				v.EOS = tid
				break
			}
		}
	}
	if v.Model == "bert" {
		for _, s := range []string{"[PAD]", "[MASK]", "[SEP]", "[CLS]"} {
			tid := id(s)
			switch s {
			case "[PAD]":
				v.PAD = tid
			case "[MASK]":
				v.Mask = tid
			case "[SEP]":
				if v.SEP < 0 {
					v.SEP = tid
				}
			case "[CLS]":
				if v.BOS < 0 {
					v.BOS = tid
				}
			}
		}
	}
	return v, nil
}

// rawString returns the first element of a [text, id] pair.
func rawString(pair []json.RawMessage) (string, bool) {
	if len(pair) == 0 {
		return "", false
	}
	var s string
	if json.Unmarshal(pair[0], &s) != nil {
		return "", false
	}
	return s, true
}

// hfMerges reads merges written as "a b" or as ["a", "b"].
func hfMerges(raw []json.RawMessage) ([]string, error) {
	out := make([]string, 0, len(raw))
	for i, r := range raw {
		var s string
		if json.Unmarshal(r, &s) == nil {
			out = append(out, s)
			continue
		}
		var pair []string
		if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("merge %d: want \"a b\" or [\"a\", \"b\"]", i)
		}
		if pair[0] == "" || strings.Contains(pair[0][1:], " ") || strings.Contains(pair[1], " ") {
			return nil, fmt.Errorf("merge %d: parts with spaces are not supported", i)
		}
		out = append(out, pair[0]+" "+pair[1])
	}
	return out, nil
}

func hfBPE(hf *hfJSON, v *Vocab, norms, pres []*hfComponent) error {
	m := &hf.Model
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return fmt.Errorf("BPE with a continuing_subword_prefix is not supported")
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return fmt.Errorf("BPE with an end_of_word_suffix is not supported")
	}
	merges, err := hfMerges(m.Merges)
	if err != nil {
		return err
	}
	v.Merges = merges
	v.IgnoreMerges = m.IgnoreMerges

	byteLevel := false
	for _, p := range pres {
		if p.Type == "ByteLevel" {
			byteLevel = true
		}
	}
	if byteLevel {
		v.Model = "gpt2"
		for _, nm := range norms {
			if nm.Type != "NFC" {
				return fmt.Errorf("normalizer %q with a byte-level BPE is not supported", nm.Type)
			}
			v.NFC = true
		}
		pre, err := hfBytePre(pres)
		if err != nil {
			return err
		}
		v.Pre = pre
		return nil
	}

	// SentencePiece-style BPE: "▁" for spaces, <0xNN> byte fallback.
	v.Model = "llama"
	escaped := false
	for _, nm := range norms {
		switch {
		case nm.Type == "Prepend" && nm.Prepend == spaceMark:
			v.AddSpacePrefix = true
		case nm.Type == "Replace" && nm.Pattern != nil && nm.Pattern.String != nil && *nm.Pattern.String == " " && nm.Content == spaceMark:
			escaped = true
		case nm.Type == "NFC":
			v.NFC = true
		default:
			return fmt.Errorf("normalizer %q is not supported", nm.Type)
		}
	}
	for _, p := range pres {
		switch {
		case p.Type == "Metaspace" && (p.Replacement == "" || p.Replacement == spaceMark) && (p.Split == nil || !*p.Split):
			escaped = true
			if p.PrependScheme == "always" || p.PrependScheme == "first" || (p.PrependScheme == "" && (p.AddPrefixSpace == nil || *p.AddPrefixSpace)) {
				v.AddSpacePrefix = true
			}
		default:
			return fmt.Errorf("pre_tokenizer %q with a SentencePiece-style BPE is not supported", p.Type)
		}
	}
	if !escaped {
		return fmt.Errorf("BPE without a ByteLevel pre-tokenizer or \"▁\" space escaping is not supported")
	}
	for i, s := range v.Tokens {
		if _, ok := parseByteToken(s); ok && v.Types[i] == TypeNormal {
			v.Types[i] = TypeByte
		}
	}
	return nil
}

// hfBytePre maps the pre-tokenizers in front of a ByteLevel one to the name
// of a pre-tokenizer of this package.
func hfBytePre(pres []*hfComponent) (string, error) {
	var before []*hfComponent
	var bl *hfComponent
	for _, p := range pres {
		if p.Type == "ByteLevel" {
			bl = p
			continue
		}
		if bl != nil {
			return "", fmt.Errorf("pre_tokenizer %q after ByteLevel is not supported", p.Type)
		}
		before = append(before, p)
	}
	if bl.AddPrefixSpace != nil && *bl.AddPrefixSpace {
		return "", fmt.Errorf("ByteLevel with add_prefix_space is not supported")
	}
	useRegex := bl.UseRegex == nil || *bl.UseRegex
	switch {
	case len(before) == 0 && useRegex:
		return "gpt-2", nil
	case len(before) == 1 && !useRegex && before[0].Type == "Split":
		p := before[0]
		if p.Pattern == nil || p.Pattern.Regex == nil || p.Invert || (p.Behavior != "Isolated" && p.Behavior != "") {
			break
		}
		switch *p.Pattern.Regex {
		case hfLlama3Regex:
			return "llama-bpe", nil
		case hfQwen2Regex:
			return "qwen2", nil
		case hfGPT2Regex:
			return "gpt-2", nil
		}
		return "", fmt.Errorf("Split pre-tokenizer with pattern %q is not supported", *p.Pattern.Regex)
	case len(before) == 1 && useRegex && before[0].Type == "Digits" && before[0].IndividualDigits:
		return "starcoder", nil
	}
	types := make([]string, len(before))
	for i, p := range before {
		types[i] = p.Type
	}
	return "", fmt.Errorf("pre_tokenizer %v before ByteLevel (use_regex %v) is not supported", types, useRegex)
}

func hfWordPiece(hf *hfJSON, v *Vocab, norms, pres []*hfComponent) error {
	m := &hf.Model
	prefix := "##"
	if m.ContinuingSubwordPrefix != nil {
		prefix = *m.ContinuingSubwordPrefix
	}
	v.Model = "bert"
	v.Lowercase, v.StripAccents = false, false
	for _, nm := range norms {
		if nm.Type != "BertNormalizer" {
			return fmt.Errorf("normalizer %q with WordPiece is not supported", nm.Type)
		}
		v.Lowercase = nm.Lowercase == nil || *nm.Lowercase
		v.StripAccents = v.Lowercase
		if nm.StripAccents != nil {
			v.StripAccents = *nm.StripAccents
		}
	}
	for _, p := range pres {
		if p.Type != "BertPreTokenizer" {
			return fmt.Errorf("pre_tokenizer %q with WordPiece is not supported", p.Type)
		}
	}
	// Convert to llama.cpp's convention: "▁" starts a word, continuation
	// pieces are bare, bracketed tokens stay as they are.
	seen := make(map[string]bool, len(v.Tokens))
	for i, s := range v.Tokens {
		if v.Types[i] != TypeNormal {
			continue
		}
		switch {
		case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		case strings.HasPrefix(s, prefix) && len(s) > len(prefix):
			s = s[len(prefix):]
		default:
			s = spaceMark + s
		}
		if seen[s] {
			continue // keep the first of two pieces that now collide
		}
		seen[s] = true
		v.Tokens[i] = s
	}
	return nil
}
