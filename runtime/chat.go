package runtime

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/golem-llm/golem/model/tokenizer"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// ErrChatMessages is matched (errors.Is) by the errors of a conversation a
// template refuses, as its Jinja original raises them: roles that do not
// alternate, a system message where the template has none, an unknown
// role.
var ErrChatMessages = errors.New("conversation not accepted by the chat template")

// SpecialTexts are the texts a template prints for the vocabulary's
// bos_token and eos_token.
type SpecialTexts struct{ BOS, EOS string }

// ChatTemplate renders conversations in one model family's prompt format,
// as the model's own Jinja template renders them (see DetectChatTemplate).
type ChatTemplate struct {
	// Name is the format: "chatml", "qwen3", "llama3.1", "mistral-v3", ...
	Name string
	// Stop lists strings that end an assistant turn besides
	// end-of-generation tokens.
	Stop []string
	// DefaultSystem is the system message the template adds when a
	// conversation has none ("" for none).
	DefaultSystem string
	// Date is the "Today Date" Llama 3.1 templates print; "" prints the
	// day of Now (templates that call strftime_now).
	Date string
	// Now is the clock of templates that print today's date (nil:
	// time.Now).
	Now func() time.Time
	// Special are the bos_token and eos_token texts when Segments and
	// Render are not given a tokenizer (Encode takes them from it).
	Special SpecialTexts

	render func(t *ChatTemplate, b *segments, msgs []Message, addAssistant bool) error
	// noSystem: the template refuses system messages (Gemma 1 and 2).
	noSystem bool
}

// segments collects a rendered conversation: the template's own text, in
// which special-token texts are parsed, and message text, in which they
// are not.
type segments struct {
	out []tokenizer.Segment
	sp  SpecialTexts
}

func (b *segments) add(s string, special bool) {
	if s == "" {
		return
	}
	if n := len(b.out); n > 0 && b.out[n-1].ParseSpecial == special {
		b.out[n-1].Text += s
		return
	}
	b.out = append(b.out, tokenizer.Segment{Text: s, ParseSpecial: special})
}

// mark adds template text (its special-token texts become those tokens).
func (b *segments) mark(s string) { b.add(s, true) }

// text adds text from a message (roles, contents): always plain text.
func (b *segments) text(s string) { b.add(s, false) }

// part is a piece of a string a template builds from its own text
// (special) and message text.
type part struct {
	s       string
	special bool
}

func mk(s string) part { return part{s, true} }
func tx(s string) part { return part{s, false} }

// stripped adds the concatenation of parts with its leading and trailing
// whitespace removed, as Jinja's trim filter (or Python's strip) does to
// a string built from them.
func (b *segments) stripped(parts ...part) {
	var all strings.Builder
	for _, p := range parts {
		all.WriteString(p.s)
	}
	whole := all.String()
	lo := len(whole) - len(strings.TrimLeft(whole, whitespace))
	hi := len(strings.TrimRight(whole, whitespace))
	at := 0
	for _, p := range parts {
		s, e := max(lo, at), min(hi, at+len(p.s))
		if s < e {
			b.add(whole[s:e], p.special)
		}
		at += len(p.s)
	}
}

// whitespace is what Python's str.strip() removes (ASCII and the Unicode
// spaces a chat message plausibly holds).
const whitespace = " \t\n\r\v\f\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1d\x1e\x1f"

func trim(s string) string { return strings.Trim(s, whitespace) }

// Segments renders msgs as Render does, split into the template's text
// (ParseSpecial set) and the messages' roles and contents (ParseSpecial
// unset), so that a user typing "<|im_start|>" cannot open a turn.
func (t *ChatTemplate) Segments(msgs []Message, addAssistant bool) ([]tokenizer.Segment, error) {
	return t.segments(msgs, addAssistant, t.Special)
}

func (t *ChatTemplate) segments(msgs []Message, addAssistant bool, sp SpecialTexts) ([]tokenizer.Segment, error) {
	b := segments{sp: sp}
	if err := t.render(t, &b, msgs, addAssistant); err != nil {
		return nil, fmt.Errorf("runtime: chat template %s: %w", t.Name, err)
	}
	return b.out, nil
}

// Render formats msgs; with addAssistant the text ends where the
// assistant's reply begins. Special tokens appear as text: encode with
// Encode (or Segments), not by parsing special tokens in the whole text.
func (t *ChatTemplate) Render(msgs []Message, addAssistant bool) (string, error) {
	segs, err := t.Segments(msgs, addAssistant)
	if err != nil {
		return "", err
	}
	var s strings.Builder
	for _, sg := range segs {
		s.WriteString(sg.Text)
	}
	return s.String(), nil
}

// Encode renders msgs and encodes them with tok, whose BOS and EOS texts
// the template prints: the template's markers become special tokens, the
// messages' text never does.
func (t *ChatTemplate) Encode(tok *tokenizer.Tokenizer, msgs []Message, addAssistant bool) ([]int32, error) {
	sp := t.Special
	if id := tok.BOS(); id >= 0 {
		sp.BOS = tok.Piece(id)
	}
	if id := tok.EOS(); id >= 0 {
		sp.EOS = tok.Piece(id)
	}
	segs, err := t.segments(msgs, addAssistant, sp)
	if err != nil {
		return nil, err
	}
	return tok.EncodeSegments(segs, false), nil
}

// messagesErr is a conversation the template refuses.
func messagesErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrChatMessages, fmt.Sprintf(format, args...))
}

// alternate checks that msgs go user, assistant, user, ... as the
// templates that raise "Conversation roles must alternate" require.
func alternate(msgs []Message) error {
	for i, m := range msgs {
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if m.Role != want {
			return messagesErr("message %d has role %q where %q is expected: roles must alternate user/assistant/user/... (after an optional first system message)", i, m.Role, want)
		}
	}
	return nil
}

// splitSystem returns the first message's content when it is a system
// message, and the messages after it.
func splitSystem(msgs []Message) (system string, ok bool, rest []Message) {
	if len(msgs) > 0 && msgs[0].Role == "system" {
		return msgs[0].Content, true, msgs[1:]
	}
	return "", false, msgs
}

// knownRoles refuses roles other than system, user and assistant.
func knownRoles(msgs []Message) error {
	for i, m := range msgs {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return messagesErr("message %d has role %q: want system, user or assistant", i, m.Role)
		}
	}
	return nil
}

// renderChatML is ChatML (<|im_start|>role\ncontent<|im_end|>\n), with the
// template's default system message when the conversation has none (Qwen2,
// Qwen2.5, SmolLM2).
func renderChatML(t *ChatTemplate, b *segments, msgs []Message, add bool) error {
	if len(msgs) > 0 && msgs[0].Role != "system" && t.DefaultSystem != "" {
		b.mark("<|im_start|>system\n" + t.DefaultSystem + "<|im_end|>\n")
	}
	for _, m := range msgs {
		b.mark("<|im_start|>")
		b.text(m.Role)
		b.mark("\n")
		b.text(m.Content)
		b.mark("<|im_end|>\n")
	}
	if add {
		b.mark("<|im_start|>assistant\n")
	}
	return nil
}

// renderQwen3 is Qwen3's ChatML: the reasoning of assistant turns before
// the last user message is dropped, that of later turns kept in a
// <think> block. With add, the assistant's turn opens without a think
// block (enable_thinking left at its default): the model thinks first.
func renderQwen3(_ *ChatTemplate, b *segments, msgs []Message, add bool) error {
	if err := knownRoles(msgs); err != nil {
		return err
	}
	if len(msgs) > 0 && msgs[0].Role == "system" {
		b.mark("<|im_start|>system\n")
		b.text(msgs[0].Content)
		b.mark("<|im_end|>\n")
	}
	lastQuery := len(msgs) - 1
	for i := len(msgs) - 1; i >= 0; i-- {
		c := msgs[i].Content
		if msgs[i].Role == "user" && !(strings.HasPrefix(c, "<tool_response>") && strings.HasSuffix(c, "</tool_response>")) {
			lastQuery = i
			break
		}
	}
	for i, m := range msgs {
		switch {
		case m.Role == "user" || (m.Role == "system" && i > 0):
			b.mark("<|im_start|>")
			b.text(m.Role)
			b.mark("\n")
			b.text(m.Content)
			b.mark("<|im_end|>\n")
		case m.Role == "assistant":
			content, reasoning := m.Content, ""
			if strings.Contains(content, "</think>") {
				parts := strings.Split(content, "</think>")
				r := strings.Split(strings.TrimRight(parts[0], "\n"), "<think>")
				reasoning = strings.TrimLeft(r[len(r)-1], "\n")
				content = strings.TrimLeft(parts[len(parts)-1], "\n")
			}
			b.mark("<|im_start|>")
			b.text(m.Role)
			if i > lastQuery && (i == len(msgs)-1 || reasoning != "") {
				b.mark("\n<think>\n")
				b.text(strings.Trim(reasoning, "\n"))
				b.mark("\n</think>\n\n")
				b.text(strings.TrimLeft(content, "\n"))
			} else {
				b.mark("\n")
				b.text(content)
			}
			b.mark("<|im_end|>\n")
		}
	}
	if add {
		b.mark("<|im_start|>assistant\n")
	}
	return nil
}

// renderLlama3 is Meta-Llama-3-Instruct's format.
func renderLlama3(_ *ChatTemplate, b *segments, msgs []Message, add bool) error {
	b.mark(b.sp.BOS)
	for _, m := range msgs {
		llama3Turn(b, m.Role, m.Content)
	}
	if add {
		b.mark("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
	return nil
}

func llama3Turn(b *segments, role, content string) {
	b.mark("<|start_header_id|>")
	b.text(role)
	b.mark("<|end_header_id|>\n\n")
	b.text(trim(content))
	b.mark("<|eot_id|>")
}

// renderLlama31 is the format of Llama 3.1, 3.2 and 3.3 Instruct without
// tools: a system turn always comes first, with the knowledge cutoff and
// the date.
func renderLlama31(t *ChatTemplate, b *segments, msgs []Message, add bool) error {
	system, _, rest := splitSystem(msgs)
	date := t.Date
	if date == "" {
		now := time.Now
		if t.Now != nil {
			now = t.Now
		}
		date = now().Format("02 Jan 2006") // strftime("%d %b %Y")
	}
	b.mark(b.sp.BOS)
	b.mark("<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n")
	b.text(trim(system))
	b.mark("<|eot_id|>")
	for _, m := range rest {
		llama3Turn(b, m.Role, m.Content)
	}
	if add {
		b.mark("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
	return nil
}

// renderZephyr is Zephyr's format (TinyLlama-1.1B-Chat): each message as
// "<|role|>\n" + content + eos_token + "\n", then "<|assistant|>\n".
func renderZephyr(_ *ChatTemplate, b *segments, msgs []Message, add bool) error {
	if err := knownRoles(msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		b.mark("<|" + m.Role + "|>\n")
		b.text(m.Content)
		b.mark(b.sp.EOS + "\n")
	}
	if add && len(msgs) > 0 {
		b.mark("<|assistant|>\n")
	}
	return nil
}

// renderLlama2 is Llama-2-chat's format: a <<SYS>> block in the first
// user turn, bos_token before every [INST].
func renderLlama2(_ *ChatTemplate, b *segments, msgs []Message, _ bool) error {
	system, hasSystem, rest := splitSystem(msgs)
	if err := alternate(rest); err != nil {
		return err
	}
	for i, m := range rest {
		content := []part{tx(m.Content)}
		if i == 0 && hasSystem {
			content = []part{mk("<<SYS>>\n"), tx(system), mk("\n<</SYS>>\n\n"), tx(m.Content)}
		}
		if m.Role == "user" {
			b.mark(b.sp.BOS + "[INST] ")
			b.stripped(content...)
			b.mark(" [/INST]")
		} else {
			b.mark(" ")
			b.stripped(content...)
			b.mark(" " + b.sp.EOS)
		}
	}
	return nil
}

// instFormat is a Mistral [INST] format.
type instFormat struct {
	userPre, userPost string // around a user message
	asstPre           string // before an assistant message
	eosPre, eosPost   string // around the eos_token after it
	trimAssistant     bool
	system            int // systemNone, systemFirst or systemLast
}

const (
	systemNone  = iota // a system message is refused
	systemFirst        // the system message goes before the first user message
	systemLast         // before the last message, when it is a user message
)

func (f instFormat) render(_ *ChatTemplate, b *segments, msgs []Message, _ bool) error {
	system, hasSystem, rest := splitSystem(msgs)
	if hasSystem && f.system == systemNone {
		return messagesErr("the template takes no system message")
	}
	if err := alternate(rest); err != nil {
		return err
	}
	b.mark(b.sp.BOS)
	for i, m := range rest {
		if m.Role == "user" {
			b.mark(f.userPre)
			if hasSystem && ((f.system == systemFirst && i == 0) || (f.system == systemLast && i == len(rest)-1)) {
				b.text(system)
				b.mark("\n\n")
			}
			b.text(m.Content)
			b.mark(f.userPost)
			continue
		}
		b.mark(f.asstPre)
		if f.trimAssistant {
			b.text(trim(m.Content))
		} else {
			b.text(m.Content)
		}
		b.mark(f.eosPre + b.sp.EOS + f.eosPost)
	}
	return nil
}

// phi3Format is a Phi-3 format.
type phi3Format struct {
	bos bool // bos_token first
	// legacy: the first Phi-3-mini and medium templates: an assistant
	// marker after every user turn, system messages dropped unless
	// legacySystem.
	legacy, legacySystem bool
	// promptUnlessAssistant: the assistant marker only when the last
	// message is not the assistant's (Phi-3-vision).
	promptUnlessAssistant bool
}

func (f phi3Format) render(_ *ChatTemplate, b *segments, msgs []Message, add bool) error {
	if err := knownRoles(msgs); err != nil {
		return err
	}
	if f.bos {
		b.mark(b.sp.BOS)
	}
	for _, m := range msgs {
		switch {
		case !f.legacy:
			b.mark("<|" + m.Role + "|>\n")
			b.text(m.Content)
			b.mark("<|end|>\n")
		case m.Role == "user":
			b.mark("<|user|>\n")
			b.text(m.Content)
			b.mark("<|end|>\n<|assistant|>\n")
		case m.Role == "assistant":
			b.text(m.Content)
			b.mark("<|end|>\n")
		case m.Role == "system" && f.legacySystem:
			b.mark("<|system|>\n")
			b.text(m.Content)
			b.mark("<|end|>\n")
		}
	}
	if add && !f.legacy && !(f.promptUnlessAssistant && len(msgs) > 0 && msgs[len(msgs)-1].Role == "assistant") {
		b.mark("<|assistant|>\n")
	}
	return nil
}

// renderGemma is Gemma's format (the system message joins the first user
// turn, as Gemma 3's template does; Gemma 1 and 2 refuse it).
func renderGemma(t *ChatTemplate, b *segments, msgs []Message, add bool) error {
	if _, ok, _ := splitSystem(msgs); ok && t.noSystem {
		return messagesErr("the template takes no system message")
	}
	b.mark(b.sp.BOS)
	system := ""
	for _, m := range msgs {
		role := m.Role
		switch role {
		case "system":
			system = m.Content + "\n\n"
			continue
		case "assistant":
			role = "model"
		}
		content := m.Content
		if role == "user" && system != "" {
			content, system = system+content, ""
		}
		b.mark("<start_of_turn>")
		b.text(role)
		b.mark("\n")
		b.text(trim(content))
		b.mark("<end_of_turn>\n")
	}
	if add {
		b.mark("<start_of_turn>model\n")
	}
	return nil
}

var (
	llamaSpecial   = SpecialTexts{BOS: "<s>", EOS: "</s>"}
	llama3Special  = SpecialTexts{BOS: "<|begin_of_text|>", EOS: "<|eot_id|>"}
	gemmaSpecial   = SpecialTexts{BOS: "<bos>", EOS: "<eos>"}
	mistralV1      = instFormat{userPre: " [INST] ", userPost: " [/INST]", asstPre: " ", system: systemFirst}
	mistralV3      = instFormat{userPre: "[INST] ", userPost: "[/INST]", asstPre: " ", trimAssistant: true, system: systemLast}
	mistralTekken  = instFormat{userPre: "[INST]", userPost: "[/INST]", system: systemLast}
	mistralV0      = instFormat{userPre: "[INST] ", userPost: " [/INST]"}
	mistralV0Space = instFormat{userPre: "[INST] ", userPost: " [/INST]", eosPost: " "}
	mixtral8x22    = instFormat{userPre: " [INST] ", userPost: " [/INST]", asstPre: " ", eosPre: " "}
)

// chatTemplates are the formats golem renders, by name: what
// Options.ChatTemplate names and DetectChatTemplate returns (with what
// the model's template adds: its default system message, its date).
var chatTemplates = map[string]ChatTemplate{
	"chatml":            {Stop: []string{"<|im_end|>"}, render: renderChatML},
	"qwen3":             {Stop: []string{"<|im_end|>"}, render: renderQwen3},
	"llama2":            {Stop: []string{"</s>"}, Special: llamaSpecial, render: renderLlama2},
	"llama3":            {Stop: []string{"<|eot_id|>"}, Special: llama3Special, render: renderLlama3},
	"llama3.1":          {Stop: []string{"<|eot_id|>"}, Special: llama3Special, Date: "26 Jul 2024", render: renderLlama31},
	"mistral":           {Stop: []string{"</s>"}, Special: llamaSpecial, render: mistralV1.render},
	"mistral-v0":        {Stop: []string{"</s>"}, Special: llamaSpecial, render: mistralV0.render},
	"mistral-v0-space":  {Stop: []string{"</s>"}, Special: llamaSpecial, render: mistralV0Space.render},
	"mistral-v3":        {Stop: []string{"</s>"}, Special: llamaSpecial, render: mistralV3.render},
	"mistral-v3-tekken": {Stop: []string{"</s>"}, Special: llamaSpecial, render: mistralTekken.render},
	"mixtral-8x22b":     {Stop: []string{"</s>"}, Special: llamaSpecial, render: mixtral8x22.render},
	"phi3":              {Stop: []string{"<|end|>"}, Special: llamaSpecial, render: phi3Format{}.render},
	"phi3-small":        {Stop: []string{"<|end|>"}, Special: SpecialTexts{BOS: "<|endoftext|>", EOS: "<|endoftext|>"}, render: phi3Format{bos: true}.render},
	"phi3-legacy":       {Stop: []string{"<|end|>"}, Special: llamaSpecial, render: phi3Format{legacy: true}.render},
	"gemma":             {Stop: []string{"<end_of_turn>"}, Special: gemmaSpecial, render: renderGemma},
	"zephyr":            {Stop: []string{"</s>"}, Special: llamaSpecial, render: renderZephyr},
}

// ChatTemplateNames lists the built-in templates.
func ChatTemplateNames() []string {
	out := make([]string, 0, len(chatTemplates))
	for n := range chatTemplates {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupChatTemplate returns a built-in template by name (a copy the
// caller may change).
func LookupChatTemplate(name string) (*ChatTemplate, error) {
	t, ok := chatTemplates[name]
	if !ok {
		return nil, fmt.Errorf("runtime: unknown chat template %q (known: %s)", name, strings.Join(ChatTemplateNames(), ", "))
	}
	t.Name = name
	return &t, nil
}
