package runtime

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrUnknownChatTemplate is matched (errors.Is) by DetectChatTemplate's
// error for a Jinja template golem does not render.
var ErrUnknownChatTemplate = errors.New("chat template not recognised")

// DetectChatTemplate returns the built-in template that renders what the
// model's Jinja tokenizer.chat_template renders for conversations of
// system, user and assistant messages. A template is recognised by the
// expressions that decide its output (compared after normalizing
// whitespace, quotes and subscripts), not by a marker it happens to
// contain: a template that differs in any of them is refused, with an
// error naming it, rather than rendered in a format the model was not
// trained on. An empty template, or one that is not recognised, gives
// fallback's template instead when fallback names one.
func DetectChatTemplate(jinja, fallback string) (*ChatTemplate, error) {
	if strings.TrimSpace(jinja) != "" {
		t, err := recogniseChatTemplate(jinja)
		if err == nil || fallback == "" {
			return t, err
		}
	} else if fallback == "" {
		return nil, fmt.Errorf("runtime: %w: the model has no chat template", ErrUnknownChatTemplate)
	}
	return LookupChatTemplate(fallback)
}

// templateForm is one recognised template: the normalized fragments it
// must contain and those it must not.
type templateForm struct {
	name    string
	require []string
	forbid  []string
	// adjust fills in what the template says besides its structure (a
	// default system message, the date, where bos_token goes).
	adjust func(t *ChatTemplate, norm string)
}

// The fragments below are in normalizeJinja's form: no whitespace outside
// string literals, literals single-quoted with \n for a newline and
// adjacent literals joined, x['y'] written x.y, .strip() written |trim.
var templateForms = []templateForm{
	{name: "qwen3", require: []string{
		`'<|im_start|>'+message.role+'\n<think>\n'+reasoning_content.strip('\n')+'\n</think>\n\n'+content.lstrip('\n')`,
		`ns.last_query_index`,
		`{%ifadd_generation_prompt%}{{'<|im_start|>assistant\n'}}{%ifenable_thinkingisdefinedandenable_thinkingisfalse%}{{'<think>\n\n</think>\n\n'}}{%endif%}{%endif%}`,
	}},
	{name: "chatml", require: []string{
		`'<|im_start|>'+message.role+'\n'+message.content+'<|im_end|>\n'`,
		`{%ifadd_generation_prompt%}{{'<|im_start|>assistant\n'}}{%endif%}`,
	}, forbid: []string{"<think>", "<|im_sep|>", "enable_thinking"}, adjust: chatmlSystem},
	{name: "llama3.1", require: []string{
		`'Cutting Knowledge Date: December 2023\n'`,
		`'Today Date: '+date_string+'\n\n'`,
		`{%ifmessages[0].role=='system'%}{%setsystem_message=messages[0].content|trim%}{%setmessages=messages[1:]%}{%else%}{%setsystem_message=''%}{%endif%}`,
		`'<|start_header_id|>'+message.role+'<|end_header_id|>\n\n'+message.content|trim+'<|eot_id|>'`,
		`{%ifadd_generation_prompt%}{{'<|start_header_id|>assistant<|end_header_id|>\n\n'}}{%endif%}`,
	}, adjust: llama31Date},
	{name: "llama3", require: []string{
		`{%setcontent='<|start_header_id|>'+message.role+'<|end_header_id|>\n\n'+message.content|trim+'<|eot_id|>'%}{%ifloop.index0==0%}{%setcontent=bos_token+content%}{%endif%}{{content}}`,
		`{{'<|start_header_id|>assistant<|end_header_id|>\n\n'}}`,
	}, forbid: []string{"system_message", "Cutting Knowledge"}},
	{name: "llama2", require: []string{
		`{%ifmessages[0].role=='system'%}{%setloop_messages=messages[1:]%}{%setsystem_message=messages[0].content%}{%else%}{%setloop_messages=messages%}{%setsystem_message=false%}{%endif%}`,
		`{%ifloop.index0==0andsystem_message!=false%}{%setcontent='<<SYS>>\n'+system_message+'\n<</SYS>>\n\n'+message.content%}`,
		`{{bos_token+'[INST] '+content|trim+' [/INST]'}}`,
		`{{' '+content|trim+' '+eos_token}}`,
	}, forbid: []string{"message.role=='system'%}{{"}},
	{name: "mistral", require: []string{
		`{{bos_token}}`,
		`{%ifloop.firstandsystem_messageisdefined%}{{' [INST] '+system_message+'\n\n'+message.content+' [/INST]'}}{%else%}{{' [INST] '+message.content+' [/INST]'}}{%endif%}`,
		`{{' '+message.content+eos_token}}`,
	}},
	{name: "mistral-v3", require: []string{
		`{{bos_token}}`,
		`{%ifloop.lastandsystem_messageisdefined%}{{'[INST] '+system_message+'\n\n'+message.content+'[/INST]'}}{%else%}{{'[INST] '+message.content+'[/INST]'}}{%endif%}`,
		`{{' '+message.content|trim+eos_token}}`,
	}},
	{name: "mistral-v3-tekken", require: []string{
		`{{bos_token}}`,
		`{%ifloop.lastandsystem_messageisdefined%}{{'[INST]'+system_message+'\n\n'+message.content+'[/INST]'}}{%else%}{{'[INST]'+message.content+'[/INST]'}}{%endif%}`,
		`{{message.content+eos_token}}`,
	}},
	{name: "mixtral-8x22b", require: []string{
		`{{bos_token}}`,
		`{%ifmessage.role=='user'%}{{' [INST] '+message.content+' [/INST]'}}{%elifmessage.role=='assistant'%}{{' '+message.content+' '+eos_token}}{%else%}`,
	}, forbid: []string{"system_message", "tools"}},
	{name: "mistral-v0", require: []string{
		`{{bos_token}}`,
		`{%ifmessage.role=='user'%}{{'[INST] '+message.content+' [/INST]'}}{%elifmessage.role=='assistant'%}{{message.content+eos_token}}{%else%}`,
	}, forbid: []string{"system_message", "tools"}},
	{name: "mistral-v0-space", require: []string{
		`{{bos_token}}`,
		`{%ifmessage.role=='user'%}{{'[INST] '+message.content+' [/INST]'}}{%elifmessage.role=='assistant'%}{{message.content+eos_token+' '}}{%else%}`,
	}, forbid: []string{"system_message", "tools"}},
	{name: "gemma", require: []string{
		`{%if(message.role=='assistant')%}{%setrole='model'%}{%else%}{%setrole=message.role%}{%endif%}{{'<start_of_turn>'+role+'\n'+message.content|trim+'<end_of_turn>\n'}}`,
		`{%ifadd_generation_prompt%}{{'<start_of_turn>model\n'}}{%endif%}`,
		`{%ifmessages[0].role=='system'%}{{raise_exception('System role not supported')}}{%endif%}`,
	}, adjust: func(t *ChatTemplate, _ string) { t.noSystem = true }},
	{name: "zephyr", require: []string{
		`{%ifmessage.role=='user'%}{{'<|user|>\n'+message.content+eos_token}}`,
		`{{'<|system|>\n'+message.content+eos_token}}`,
		`{{'<|assistant|>\n'+message.content+eos_token}}`,
		`{%ifloop.lastandadd_generation_prompt%}{{'<|assistant|>'}}{%endif%}`,
	}},
	{name: "phi3", require: []string{
		`{%ifmessage.role=='system'%}{{'<|system|>\n'+message.content+'<|end|>\n'}}{%elifmessage.role=='user'%}{{'<|user|>\n'+message.content+'<|end|>\n'}}{%elifmessage.role=='assistant'%}{{'<|assistant|>\n'+message.content+'<|end|>\n'}}{%endif%}`,
		`{%ifadd_generation_prompt%}{{'<|assistant|>\n'}}`,
	}, adjust: phi3Bos},
	{name: "phi3-small", require: []string{
		`{%formessageinmessages%}{{'<|'+message.role+'|>\n'+message.content+'<|end|>\n'}}{%endfor%}`,
		`{%ifadd_generation_prompt`,
		`{{'<|assistant|>\n'}}`,
	}, adjust: phi3Role},
	{name: "phi3-legacy", require: []string{
		`{%if(message.role=='user')%}{{'<|user|>\n'+message.content+'<|end|>\n<|assistant|>\n'}}`,
		`{%elif(message.role=='assistant')%}{{message.content+'<|end|>\n'}}{%endif%}`,
	}, forbid: []string{"add_generation_prompt"}, adjust: phi3Legacy},
}

// chatmlSystem takes the default system message of a ChatML template
// that adds one ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
// when the first message is not a system message).
func chatmlSystem(t *ChatTemplate, norm string) {
	for _, pre := range []string{
		`{%ifloop.firstandmessages[0].role!='system'%}{{'<|im_start|>system\n`,
		`{%else%}{{'<|im_start|>system\n`,
	} {
		i := strings.Index(norm, pre)
		if i < 0 {
			continue
		}
		rest := norm[i+len(pre):]
		if j := strings.Index(rest, `<|im_end|>\n'}}`); j >= 0 && !strings.Contains(rest[:j], "'") {
			t.DefaultSystem = unescapeNorm(rest[:j])
			return
		}
	}
}

// llama31Date: Llama 3.2's template prints today's date (strftime_now),
// 3.1's and 3.3's a fixed one.
func llama31Date(t *ChatTemplate, norm string) {
	if strings.Contains(norm, "strftime_now") {
		t.Date = ""
		return
	}
	const pre = `{%setdate_string='`
	if i := strings.Index(norm, pre); i >= 0 {
		if j := strings.Index(norm[i+len(pre):], "'"); j >= 0 {
			t.Date = unescapeNorm(norm[i+len(pre) : i+len(pre)+j])
		}
	}
}

func startsWithBos(norm string) bool { return strings.HasPrefix(norm, "{{bos_token}}") }

func phi3Bos(t *ChatTemplate, norm string) {
	t.render = phi3Format{bos: startsWithBos(norm)}.render
}

func phi3Role(t *ChatTemplate, norm string) {
	t.render = phi3Format{bos: startsWithBos(norm),
		promptUnlessAssistant: strings.Contains(norm, `add_generation_promptandmessages[-1].role!='assistant'`)}.render
}

func phi3Legacy(t *ChatTemplate, norm string) {
	t.render = phi3Format{legacy: true, bos: startsWithBos(norm),
		legacySystem: strings.Contains(norm, `{%if(message.role=='system')%}{{'<|system|>\n'+message.content+'<|end|>\n'}}`)}.render
}

// recogniseChatTemplate matches jinja against templateForms.
func recogniseChatTemplate(jinja string) (*ChatTemplate, error) {
	norm := normalizeJinja(jinja)
	for _, f := range templateForms {
		if !containsAll(norm, f.require) || containsAny(norm, f.forbid) {
			continue
		}
		t, err := LookupChatTemplate(f.name)
		if err != nil {
			return nil, err // not reached: every form names a template
		}
		if f.adjust != nil {
			f.adjust(t, norm)
		}
		return t, nil
	}
	return nil, fmt.Errorf("runtime: %w: %s", ErrUnknownChatTemplate, describeTemplate(jinja))
}

// describeTemplate names a template golem does not know: the family its
// markers suggest, its size and its beginning, so that a user can tell
// which one it is.
func describeTemplate(jinja string) string {
	family := ""
	for _, m := range []struct{ marker, name string }{
		{"<|im_start|>", "ChatML-like"},
		{"<|start_header_id|>", "Llama-3-like"},
		{"[INST]", "[INST] (Llama 2/Mistral-like)"},
		{"<|assistant|>", "Phi-3-like"},
		{"<start_of_turn>", "Gemma-like"},
	} {
		if strings.Contains(jinja, m.marker) {
			family = m.name + " "
			break
		}
	}
	start := strings.Join(strings.Fields(jinja), " ")
	if r := []rune(start); len(r) > 60 {
		start = string(r[:60]) + "…"
	}
	return fmt.Sprintf("the model's %stemplate of %d bytes beginning %q is not one golem renders (known: %s)",
		family, len(jinja), start, strings.Join(ChatTemplateNames(), ", "))
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}

// jinjaToken is a token of a Jinja tag: a string literal (decoded), a
// word, or one punctuation character.
type jinjaToken struct {
	text string
	lit  bool
}

// normalizeJinja rewrites a Jinja template so that templates that render
// alike compare alike: comments and whitespace-only text between tags are
// dropped, trim markers ({%- -%}) removed, whitespace outside string
// literals removed inside tags, string literals single-quoted (escapes
// decoded, then newlines, quotes and backslashes escaped again),
// adjacent literals joined ('a' + 'b' is 'ab'), x['y'] and x["y"]
// written x.y, and .strip() written |trim.
func normalizeJinja(src string) string {
	var out strings.Builder
	for len(src) > 0 {
		i := nextTag(src)
		if i < 0 {
			if strings.TrimSpace(src) != "" {
				out.WriteString(src)
			}
			break
		}
		if text := src[:i]; strings.TrimSpace(text) != "" {
			out.WriteString(text)
		}
		kind := src[i+1]
		closer := map[byte]string{'{': "}}", '%': "%}", '#': "#}"}[kind]
		body, rest, ok := cutTag(src[i+2:], closer)
		if !ok {
			out.WriteString(src[i:])
			break
		}
		src = rest
		if kind == '#' {
			continue
		}
		body = strings.TrimPrefix(strings.TrimPrefix(body, "-"), "+")
		body = strings.TrimSuffix(strings.TrimSuffix(body, "-"), "+")
		out.WriteString("{" + string(kind))
		out.WriteString(joinTokens(tokenizeTag(body)))
		out.WriteString(closer)
	}
	return out.String()
}

// nextTag returns the index of the next "{{", "{%" or "{#" in s, or -1.
func nextTag(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
			return i
		}
	}
	return -1
}

// cutTag splits s at the first closer outside a string literal.
func cutTag(s, closer string) (body, rest string, ok bool) {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
		case c == '\'' || c == '"':
			quote = c
		case strings.HasPrefix(s[i:], closer):
			// A trim marker before the closer belongs to the tag.
			return s[:i], s[i+len(closer):], true
		}
	}
	return "", "", false
}

// tokenizeTag splits a tag's body into tokens.
func tokenizeTag(body string) []jinjaToken {
	var toks []jinjaToken
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '\'' || c == '"':
			var lit strings.Builder
			j := i + 1
			for ; j < len(body) && body[j] != c; j++ {
				if body[j] == '\\' && j+1 < len(body) {
					j++
					switch body[j] {
					case 'n':
						lit.WriteByte('\n')
					case 't':
						lit.WriteByte('\t')
					case 'r':
						lit.WriteByte('\r')
					case '\\', '\'', '"':
						lit.WriteByte(body[j])
					default:
						lit.WriteByte('\\')
						lit.WriteByte(body[j])
					}
					continue
				}
				lit.WriteByte(body[j])
			}
			toks = append(toks, jinjaToken{text: lit.String(), lit: true})
			i = j + 1
		case isWordByte(c):
			j := i
			for j < len(body) && isWordByte(body[j]) {
				j++
			}
			toks = append(toks, jinjaToken{text: body[i:j]})
			i = j
		default:
			toks = append(toks, jinjaToken{text: string(c)})
			i++
		}
	}
	return toks
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// joinTokens writes tokens in the normal form.
func joinTokens(toks []jinjaToken) string {
	// x['y'] -> x.y
	var t2 []jinjaToken
	for i := 0; i < len(toks); i++ {
		if toks[i].text == "[" && !toks[i].lit && i+2 < len(toks) && toks[i+1].lit && isIdent(toks[i+1].text) &&
			toks[i+2].text == "]" && !toks[i+2].lit && len(t2) > 0 && (isIdent(t2[len(t2)-1].text) || t2[len(t2)-1].text == "]" || t2[len(t2)-1].text == ")") && !t2[len(t2)-1].lit {
			t2 = append(t2, jinjaToken{text: "."}, jinjaToken{text: toks[i+1].text})
			i += 2
			continue
		}
		t2 = append(t2, toks[i])
	}
	// .strip() -> |trim
	var t3 []jinjaToken
	for i := 0; i < len(t2); i++ {
		if t2[i].text == "." && !t2[i].lit && i+3 < len(t2) && t2[i+1].text == "strip" && !t2[i+1].lit && t2[i+2].text == "(" && t2[i+3].text == ")" {
			t3 = append(t3, jinjaToken{text: "|"}, jinjaToken{text: "trim"})
			i += 3
			continue
		}
		t3 = append(t3, t2[i])
	}
	// 'a' + 'b' -> 'ab' where neither operand binds to anything tighter.
	var t4 []jinjaToken
	for i := 0; i < len(t3); i++ {
		n := len(t4)
		if t3[i].lit && n >= 2 && t4[n-1].text == "+" && !t4[n-1].lit && t4[n-2].lit &&
			(n < 3 || (!t4[n-3].lit && strings.Contains("+({,=[", t4[n-3].text))) &&
			(i+1 >= len(t3) || (!t3[i+1].lit && strings.Contains("+)},]%", t3[i+1].text))) {
			t4[n-2].text += t3[i].text
			t4 = t4[:n-1]
			continue
		}
		t4 = append(t4, t3[i])
	}
	var b strings.Builder
	for _, t := range t4 {
		if t.lit {
			b.WriteString("'" + escapeNorm(t.text) + "'")
		} else {
			b.WriteString(t.text)
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" || unicode.IsDigit(rune(s[0])) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isWordByte(s[i]) || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var normEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "'", `\'`)

func escapeNorm(s string) string { return normEscaper.Replace(s) }

var normUnescaper = strings.NewReplacer(`\\`, `\`, `\n`, "\n", `\'`, "'")

func unescapeNorm(s string) string { return normUnescaper.Replace(s) }
