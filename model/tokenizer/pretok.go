package tokenizer

import "fmt"

// A pre-tokenizer is a sequence of splits. Each split partitions every piece
// produced so far; the matches of its pattern and the text between them both
// become pieces, as in Hugging Face's Split pre-tokenizer with the "Isolated"
// behaviour and in llama.cpp's unicode_regex_split. The patterns are written
// by hand as scanners over code points, because Go's regexp has neither
// lookahead nor Unicode-aware \s semantics matching the originals.

// splitFn partitions r[lo:hi] and appends the end offset of each piece to out.
type splitFn func(r []rune, lo, hi int, out []int) []int

// finder returns the leftmost match of a pattern in r[from:hi], or -1, -1.
// Matches are never empty.
type finder func(r []rune, from, hi int) (int, int)

// findSplit turns a finder into a split: matches and the gaps between them
// are pieces.
func findSplit(find finder) splitFn {
	return func(r []rune, lo, hi int, out []int) []int {
		pos := lo
		for pos < hi {
			ms, me := find(r, pos, hi)
			if ms < 0 {
				break
			}
			if ms > pos {
				out = append(out, ms)
			}
			out = append(out, me)
			pos = me
		}
		if pos < hi {
			out = append(out, hi)
		}
		return out
	}
}

// runOf matches [class]+.
func runOf(in func(rune) bool) finder {
	return func(r []rune, from, hi int) (int, int) {
		for i := from; i < hi; i++ {
			if in(r[i]) {
				j := i + 1
				for j < hi && in(r[j]) {
					j++
				}
				return i, j
			}
		}
		return -1, -1
	}
}

// eachOf matches [class]: every character of the class is its own piece.
func eachOf(in func(rune) bool) finder {
	return func(r []rune, from, hi int) (int, int) {
		for i := from; i < hi; i++ {
			if in(r[i]) {
				return i, i + 1
			}
		}
		return -1, -1
	}
}

// spaceRunOf matches \s?[class]+ (with space = true) or ' ?[class]+'.
func spaceRunOf(in func(rune) bool, anySpace bool) finder {
	return func(r []rune, from, hi int) (int, int) {
		for i := from; i < hi; i++ {
			start := i
			lead := r[i] == ' ' || (anySpace && isSpace(r[i]))
			switch {
			case lead && i+1 < hi && in(r[i+1]):
				i++
			case in(r[i]):
			default:
				continue
			}
			j := i + 1
			for j < hi && in(r[j]) {
				j++
			}
			return start, j
		}
		return -1, -1
	}
}

// trailingSpace matches \s+$.
func trailingSpace(r []rune, from, hi int) (int, int) {
	j := hi
	for j > from && isSpace(r[j-1]) {
		j--
	}
	if j == hi {
		return -1, -1
	}
	return j, hi
}

// threeDigits matches [0-9][0-9][0-9].
func threeDigits(r []rune, from, hi int) (int, int) {
	n := 0
	for i := from; i < hi; i++ {
		if r[i] >= '0' && r[i] <= '9' {
			n++
			if n == 3 {
				return i - 2, i + 1
			}
		} else {
			n = 0
		}
	}
	return -1, -1
}

// scanSplit turns a scanner, which returns the end of the piece that starts
// at pos, into a split.
func scanSplit(scan func(r []rune, pos, hi int) int) splitFn {
	return func(r []rune, lo, hi int, out []int) []int {
		for pos := lo; pos < hi; {
			pos = scan(r, pos, hi)
			out = append(out, pos)
		}
		return out
	}
}

// classAt returns the classes of r[i], or 0 outside [.., hi).
func classAt(r []rune, i, hi int) uint8 {
	if i < hi {
		return classOf(r[i])
	}
	return 0
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at pos (ASCII case-insensitive
// when fold is set) and returns its end, or -1.
func contraction(r []rune, pos, hi int, fold bool) int {
	if r[pos] != '\'' || pos+1 >= hi {
		return -1
	}
	low := func(c rune) rune {
		if fold && c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	switch c := low(r[pos+1]); c {
	case 's', 't', 'm', 'd':
		return pos + 2
	case 'r', 'v', 'l':
		if pos+2 < hi {
			c2 := low(r[pos+2])
			if (c == 'r' && c2 == 'e') || (c == 'v' && c2 == 'e') || (c == 'l' && c2 == 'l') {
				return pos + 3
			}
		}
	}
	return -1
}

// spaceRun handles \s+(?!\S)|\s+ at pos: a run of n spaces followed by more
// text gives up its last space to the next piece.
func spaceRun(r []rune, pos, hi int) int {
	n := 0
	for pos+n < hi && isSpace(r[pos+n]) {
		n++
	}
	switch {
	case n > 1 && pos+n < hi:
		return pos + n - 1
	case n > 0:
		return pos + n
	}
	return pos + 1
}

// scanGPT2 implements GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func scanGPT2(r []rune, pos, hi int) int {
	if e := contraction(r, pos, hi, false); e >= 0 {
		return e
	}
	c := classOf(r[pos])
	start := pos
	if r[pos] == ' ' {
		c = classAt(r, pos+1, hi)
		start = pos + 1
	}
	var same func(uint8) bool
	switch {
	case c&cLetter != 0:
		same = func(k uint8) bool { return k&cLetter != 0 }
	case c&cNumber != 0:
		same = func(k uint8) bool { return k&cNumber != 0 }
	case c != 0 && c&(cSpace|cLetter|cNumber) == 0:
		same = func(k uint8) bool { return k != 0 && k&(cSpace|cLetter|cNumber) == 0 }
	default:
		return spaceRun(r, pos, hi)
	}
	e := start + 1
	for same(classAt(r, e, hi)) {
		e++
	}
	return e
}

// scanLlama3 implements the pattern of Llama 3 (digits = 3) and Qwen 2
// (digits = 1):
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func scanLlama3(digits int) func(r []rune, pos, hi int) int {
	return func(r []rune, pos, hi int) int {
		if e := contraction(r, pos, hi, true); e >= 0 {
			return e
		}
		ch := r[pos]
		c := classOf(ch)
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if ch != '\r' && ch != '\n' && c&cNumber == 0 {
			if c&cLetter != 0 || classAt(r, pos+1, hi)&cLetter != 0 {
				e := pos + 1
				for classAt(r, e, hi)&cLetter != 0 {
					e++
				}
				return e
			}
		}
		// \p{N}{1,digits}
		if c&cNumber != 0 {
			e := pos + 1
			for e-pos < digits && classAt(r, e, hi)&cNumber != 0 {
				e++
			}
			return e
		}
		// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
		other := func(k uint8) bool { return k != 0 && k&(cSpace|cLetter|cNumber) == 0 }
		start := pos
		if ch == ' ' {
			start = pos + 1
		}
		if other(classAt(r, start, hi)) {
			e := start + 1
			for other(classAt(r, e, hi)) {
				e++
			}
			for e < hi && (r[e] == '\r' || r[e] == '\n') {
				e++
			}
			return e
		}
		// \s*[\r\n]+ : up to the last line break of the run of spaces.
		n, lastNL := 0, -1
		for pos+n < hi && isSpace(r[pos+n]) {
			if r[pos+n] == '\r' || r[pos+n] == '\n' {
				lastNL = pos + n + 1
			}
			n++
		}
		if lastNL >= 0 {
			return lastNL
		}
		return spaceRun(r, pos, hi)
	}
}

// Character classes from the tokenizer.json files of DeepSeek's models.
var (
	// [A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]
	deepseekLetters = []runeRange{
		{0x41, 0x5A}, {0x61, 0x7A}, {0xB5, 0xB5}, {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x1BA},
		{0x1BC, 0x1BF}, {0x1C4, 0x293}, {0x295, 0x2AF}, {0x370, 0x373}, {0x376, 0x377},
		{0x37B, 0x37D}, {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C},
		{0x38E, 0x3A1}, {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556},
		{0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF},
		{0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
		{0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
		{0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
		{0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
		{0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113},
		{0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128},
		{0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F}, {0x2145, 0x2149},
		{0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
		{0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787},
		{0xA78B, 0xA78E}, {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A},
		{0xFF41, 0xFF5A}, {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
		{0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
	}
	// [!-/:-~！-／：-～‘-‟　-。]
	deepseekPunct = []runeRange{
		{'!', '/'}, {':', '~'}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
	}
	// [一-龥ࠀ-一가-퟿]
	deepseekCJK = []runeRange{{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}}
)

func isLineBreak(r rune) bool { return r == '\r' || r == '\n' }

// isFalconPunct is [\p{P}\$\+<=>\^~\|`].
func isFalconPunct(r rune) bool {
	switch r {
	case '$', '+', '<', '=', '>', '^', '~', '|', '`':
		return true
	}
	return isPunct(r)
}

// isDefaultPunct is [\p{P}\$\+<=>\^~\|].
func isDefaultPunct(r rune) bool { return r != '`' && isFalconPunct(r) }

// isBloomWord is [^(\s|.,!?…。，、।۔،)].
func isBloomWord(r rune) bool {
	switch r {
	case '(', '|', '.', ',', '!', '?', '…', '。', '，', '、', '।', '۔', '،', ')':
		return false
	}
	return !isSpace(r)
}

// preTokenizer returns the splits for a value of tokenizer.ggml.pre, as
// llama.cpp's llama-vocab.cpp selects them.
func preTokenizer(pre string) ([]splitFn, error) {
	gpt2 := scanSplit(scanGPT2)
	llama3 := scanSplit(scanLlama3(3))
	switch pre {
	case "", "default":
		return []splitFn{
			findSplit(runOf(isDefaultPunct)),
			gpt2,
			findSplit(runOf(isNumber)),
			findSplit(threeDigits),
		}, nil
	case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
		"dbrx", "smaug-bpe", "chatglm-bpe", "glm4":
		return []splitFn{llama3}, nil
	case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "kormo":
		return []splitFn{scanSplit(scanLlama3(1))}, nil
	case "deepseek-llm":
		return []splitFn{
			findSplit(eachOf(isLineBreak)),
			findSplit(spaceRunOf(func(r rune) bool { return inRanges(r, deepseekLetters) }, true)),
			findSplit(spaceRunOf(func(r rune) bool { return inRanges(r, deepseekPunct) }, true)),
			findSplit(trailingSpace),
			findSplit(runOf(func(r rune) bool { return inRanges(r, deepseekCJK) })),
			findSplit(runOf(isNumber)),
		}, nil
	case "deepseek-coder":
		return []splitFn{
			findSplit(eachOf(isLineBreak)),
			findSplit(spaceRunOf(isLetter, true)),
			findSplit(spaceRunOf(isPunct, true)),
			findSplit(runOf(func(r rune) bool { return inRanges(r, deepseekCJK) })),
			findSplit(eachOf(isNumber)),
		}, nil
	case "falcon":
		return []splitFn{
			findSplit(runOf(isFalconPunct)),
			gpt2,
			findSplit(threeDigits),
		}, nil
	case "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b":
		return []splitFn{findSplit(eachOf(isNumber)), gpt2}, nil
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "jina-v1-en",
		"jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais", "exaone4", "trillion", "a.x-4.0", "mellum",
		"granite-docling", "modern-bert":
		return []splitFn{gpt2}, nil
	case "bloom", "poro-chat", "gpt3-finnish":
		return []splitFn{findSplit(spaceRunOf(isBloomWord, false))}, nil
	}
	return nil, fmt.Errorf("unsupported pre-tokenizer %q", pre)
}

// preTokenize splits text into pieces with the given splits. The pieces
// are returned as rune offsets: piece i is runes[ends[i-1]:ends[i]].
func preTokenize(runes []rune, splits []splitFn) []int {
	ends := []int{len(runes)}
	if len(runes) == 0 {
		return nil
	}
	var next []int
	for _, s := range splits {
		next = next[:0]
		lo := 0
		for _, e := range ends {
			next = s(runes, lo, e, next)
			lo = e
		}
		ends, next = next, ends
	}
	return ends
}
