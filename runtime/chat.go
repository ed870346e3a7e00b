package runtime

import (
	"fmt"
	"sort"
	"strings"
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
	render func(msgs []Message, addAssistant bool) string
	// Stop lists strings that end an assistant turn besides end-of-generation tokens.
	Stop []string
}

// Render formats msgs; with addAssistant the text ends where the assistant's
// reply begins. Special tokens appear as text; encode with parseSpecial.
func (t *ChatTemplate) Render(msgs []Message, addAssistant bool) string {
	return t.render(msgs, addAssistant)
}

var chatTemplates = map[string]*ChatTemplate{
	"chatml": {Name: "chatml", Stop: []string{"<|im_end|>"}, render: func(msgs []Message, add bool) string {
		var b strings.Builder
		for _, m := range msgs {
			fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", m.Role, m.Content)
		}
		if add {
			b.WriteString("<|im_start|>assistant\n")
		}
		return b.String()
	}},
	"llama3": {Name: "llama3", Stop: []string{"<|eot_id|>"}, render: func(msgs []Message, add bool) string {
		var b strings.Builder
		b.WriteString("<|begin_of_text|>")
		for _, m := range msgs {
			fmt.Fprintf(&b, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", m.Role, strings.TrimSpace(m.Content))
		}
		if add {
			b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		}
		return b.String()
	}},
	"llama2": {Name: "llama2", Stop: []string{"</s>"}, render: func(msgs []Message, _ bool) string {
		return renderInst(msgs, true)
	}},
	"mistral": {Name: "mistral", Stop: []string{"</s>"}, render: func(msgs []Message, _ bool) string {
		return renderInst(msgs, false)
	}},
	"phi3": {Name: "phi3", Stop: []string{"<|end|>"}, render: func(msgs []Message, add bool) string {
		var b strings.Builder
		for _, m := range msgs {
			fmt.Fprintf(&b, "<|%s|>\n%s<|end|>\n", m.Role, m.Content)
		}
		if add {
			b.WriteString("<|assistant|>\n")
		}
		return b.String()
	}},
	"gemma": {Name: "gemma", Stop: []string{"<end_of_turn>"}, render: func(msgs []Message, add bool) string {
		var b strings.Builder
		b.WriteString("<bos>")
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
			fmt.Fprintf(&b, "<start_of_turn>%s\n%s<end_of_turn>\n", role, strings.TrimSpace(content))
		}
		if add {
			b.WriteString("<start_of_turn>model\n")
		}
		return b.String()
	}},
}

// renderInst is the [INST] format of Llama 2 (with a <<SYS>> block) and
// Mistral (system text prepended to the first user turn).
func renderInst(msgs []Message, sysBlock bool) string {
	var b strings.Builder
	system := ""
	for _, m := range msgs {
		switch m.Role {
		case "system":
			if sysBlock {
				system = "<<SYS>>\n" + m.Content + "\n<</SYS>>\n\n"
			} else {
				system = m.Content + "\n\n"
			}
		case "user":
			fmt.Fprintf(&b, "<s>[INST] %s%s [/INST]", system, strings.TrimSpace(m.Content))
			system = ""
		case "assistant":
			fmt.Fprintf(&b, " %s</s>", strings.TrimSpace(m.Content))
		}
	}
	return b.String()
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
