package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/golem-llm/golem/model/tokenizer"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// ChatTemplate renders conversations in one model family's prompt format.
type ChatTemplate struct {
	Name string
	// render formats msgs and, when addAssistant is set, opens the
	// assistant's turn.
	render func(b *segments, msgs []Message, addAssistant bool)
	// Stop lists strings that end an assistant turn besides end-of-generation tokens.
	Stop []string
}

// segments collects a rendered conversation: the template's own text, in
// which special-token texts are parsed, and message text, in which they
// are not.
type segments struct{ out []tokenizer.Segment }

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
func (b *segments) mark(format string, args ...any) { b.add(fmt.Sprintf(format, args...), true) }

// text adds text from a message (roles, contents): always plain text.
func (b *segments) text(s string) { b.add(s, false) }

// Segments renders msgs as Render does, split into the template's text
// (ParseSpecial set) and the messages' roles and contents (ParseSpecial
// unset), so that a user typing "<|im_start|>" cannot open a turn.
func (t *ChatTemplate) Segments(msgs []Message, addAssistant bool) []tokenizer.Segment {
	var b segments
	t.render(&b, msgs, addAssistant)
	return b.out
}

// Render formats msgs; with addAssistant the text ends where the assistant's
// reply begins. Special tokens appear as text: encode with Encode (or
// Segments), not by parsing special tokens in the whole text.
func (t *ChatTemplate) Render(msgs []Message, addAssistant bool) string {
	var s strings.Builder
	for _, sg := range t.Segments(msgs, addAssistant) {
		s.WriteString(sg.Text)
	}
	return s.String()
}

// Encode renders msgs and encodes them with tok: the template's markers
// become special tokens, the messages' text never does.
func (t *ChatTemplate) Encode(tok *tokenizer.Tokenizer, msgs []Message, addAssistant bool) []int32 {
	return tok.EncodeSegments(t.Segments(msgs, addAssistant), false)
}

var chatTemplates = map[string]*ChatTemplate{
	"chatml": {Name: "chatml", Stop: []string{"<|im_end|>"}, render: func(b *segments, msgs []Message, add bool) {
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
	}},
	"llama3": {Name: "llama3", Stop: []string{"<|eot_id|>"}, render: func(b *segments, msgs []Message, add bool) {
		b.mark("<|begin_of_text|>")
		for _, m := range msgs {
			b.mark("<|start_header_id|>")
			b.text(m.Role)
			b.mark("<|end_header_id|>\n\n")
			b.text(strings.TrimSpace(m.Content))
			b.mark("<|eot_id|>")
		}
		if add {
			b.mark("<|start_header_id|>assistant<|end_header_id|>\n\n")
		}
	}},
	"llama2": {Name: "llama2", Stop: []string{"</s>"}, render: func(b *segments, msgs []Message, _ bool) {
		renderInst(b, msgs, true)
	}},
	"mistral": {Name: "mistral", Stop: []string{"</s>"}, render: func(b *segments, msgs []Message, _ bool) {
		renderInst(b, msgs, false)
	}},
	"phi3": {Name: "phi3", Stop: []string{"<|end|>"}, render: func(b *segments, msgs []Message, add bool) {
		for _, m := range msgs {
			// The role is part of the marker: <|user|> is one special token.
			b.mark("<|%s|>\n", m.Role)
			b.text(m.Content)
			b.mark("<|end|>\n")
		}
		if add {
			b.mark("<|assistant|>\n")
		}
	}},
	"gemma": {Name: "gemma", Stop: []string{"<end_of_turn>"}, render: func(b *segments, msgs []Message, add bool) {
		b.mark("<bos>")
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
			b.text(strings.TrimSpace(content))
			b.mark("<end_of_turn>\n")
		}
		if add {
			b.mark("<start_of_turn>model\n")
		}
	}},
}

// renderInst is the [INST] format of Llama 2 (with a <<SYS>> block) and
// Mistral (system text prepended to the first user turn).
func renderInst(b *segments, msgs []Message, sysBlock bool) {
	system, sysSet := "", false
	for _, m := range msgs {
		switch m.Role {
		case "system":
			system, sysSet = m.Content, true
		case "user":
			b.mark("<s>[INST] ")
			if sysSet {
				if sysBlock {
					b.mark("<<SYS>>\n")
					b.text(system)
					b.mark("\n<</SYS>>\n\n")
				} else {
					b.text(system)
					b.mark("\n\n")
				}
				system, sysSet = "", false
			}
			b.text(strings.TrimSpace(m.Content))
			b.mark(" [/INST]")
		case "assistant":
			b.mark(" ")
			b.text(strings.TrimSpace(m.Content))
			b.mark("</s>")
		}
	}
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

// LookupChatTemplate returns a built-in template by name.
func LookupChatTemplate(name string) (*ChatTemplate, error) {
	t, ok := chatTemplates[name]
	if !ok {
		return nil, fmt.Errorf("runtime: unknown chat template %q (known: %s)", name, strings.Join(ChatTemplateNames(), ", "))
	}
	return t, nil
}

// DetectChatTemplate picks the built-in template matching a model's Jinja
// tokenizer.chat_template by its distinctive markers; an empty or unknown
// template gives fallback's template (or an error when fallback is "").
func DetectChatTemplate(jinja, fallback string) (*ChatTemplate, error) {
	markers := []struct{ marker, name string }{
		{"<|im_start|>", "chatml"},
		{"<|start_header_id|>", "llama3"},
		{"<start_of_turn>", "gemma"},
		{"<|assistant|>", "phi3"},
		{"<<SYS>>", "llama2"},
		{"[INST]", "mistral"},
	}
	for _, m := range markers {
		if strings.Contains(jinja, m.marker) {
			return chatTemplates[m.name], nil
		}
	}
	if fallback == "" {
		return nil, fmt.Errorf("runtime: chat template not recognised (known: %s)", strings.Join(ChatTemplateNames(), ", "))
	}
	return LookupChatTemplate(fallback)
}
