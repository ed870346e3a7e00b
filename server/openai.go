package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golem-llm/golem"
)

// Limits on what a request may ask for.
const (
	maxStops   = 16   // stop strings
	maxStopLen = 1024 // bytes of one stop string
)

// sampling are the request fields both generation endpoints share.
type sampling struct {
	Model               string          `json:"model"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float32        `json:"temperature"`
	TopP                *float32        `json:"top_p"`
	TopK                *int            `json:"top_k"`
	MinP                *float32        `json:"min_p"`
	PresencePenalty     *float32        `json:"presence_penalty"`
	FrequencyPenalty    *float32        `json:"frequency_penalty"`
	RepeatPenalty       *float32        `json:"repeat_penalty"`
	RepeatLastN         *int            `json:"repeat_last_n"`
	Seed                *int64          `json:"seed"`
	Stop                json.RawMessage `json:"stop"`
	N                   *int            `json:"n"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	IgnoreEOS bool `json:"ignore_eos"`
}

// options turns the fields into generation options, checked by the
// library's own Validate (its errors name the field: see classify).
// Unset fields take OpenAI's defaults: temperature 1, top_p 1, no token
// limit but the context, a random seed.
func (sp *sampling) options() (golem.GenerateOptions, error) {
	o := golem.GenerateOptions{Temperature: 1, TopP: 1, IgnoreEOS: sp.IgnoreEOS}
	if sp.N != nil && *sp.N != 1 {
		return o, badRequest("n", "n %d: golem generates one choice per request", *sp.N)
	}
	setInt(&o.MaxTokens, sp.MaxTokens)
	setInt(&o.MaxTokens, sp.MaxCompletionTokens)
	setFloat(&o.Temperature, sp.Temperature)
	setFloat(&o.TopP, sp.TopP)
	setInt(&o.TopK, sp.TopK)
	setFloat(&o.MinP, sp.MinP)
	setFloat(&o.PresencePenalty, sp.PresencePenalty)
	setFloat(&o.FrequencyPenalty, sp.FrequencyPenalty)
	setFloat(&o.RepeatPenalty, sp.RepeatPenalty)
	setInt(&o.RepeatLastN, sp.RepeatLastN)
	if sp.Seed != nil && *sp.Seed != -1 {
		o.Seed = uint64(*sp.Seed)
	} else {
		o.Seed = mrand.Uint64()
	}
	stops, err := parseStop(sp.Stop)
	if err != nil {
		return o, err
	}
	o.Stop = stops
	return o, o.Validate()
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func setFloat(dst *float32, v *float32) {
	if v != nil {
		*dst = *v
	}
}

// parseStop reads "stop": null, a string or an array of strings.
func parseStop(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	var many []string
	if err := json.Unmarshal(raw, &one); err == nil {
		many = []string{one}
	} else if err := json.Unmarshal(raw, &many); err != nil {
		return nil, badRequest("stop", "stop: want a string or an array of strings")
	}
	if len(many) > maxStops {
		return nil, badRequest("stop", "stop: %d strings, at most %d", len(many), maxStops)
	}
	var out []string
	for _, s := range many {
		if len(s) > maxStopLen {
			return nil, badRequest("stop", "stop: a string of %d bytes, at most %d", len(s), maxStopLen)
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkModel accepts the server's model name (or none).
func (s *Server) checkModel(name string) error {
	if name != "" && name != s.name {
		return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: "model", code: "model_not_found",
			msg: fmt.Sprintf("the model %q does not exist: this server serves %q", name, s.name)}
	}
	return nil
}

// chatRequest is a POST /v1/chat/completions body.
type chatRequest struct {
	sampling
	Messages       []chatMessage   `json:"messages"`
	Logprobs       bool            `json:"logprobs"`
	TopLogprobs    *int            `json:"top_logprobs"`
	Tools          json.RawMessage `json:"tools"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// messages converts the request's messages: content as a string or an
// array of text parts; "developer" is the system role.
func (c *chatRequest) messages() ([]golem.Message, error) {
	if len(c.Messages) == 0 {
		return nil, badRequest("messages", "messages: want at least one message")
	}
	out := make([]golem.Message, len(c.Messages))
	for i, m := range c.Messages {
		param := fmt.Sprintf("messages[%d]", i)
		role := m.Role
		switch role {
		case "developer":
			role = "system"
		case "system", "user", "assistant":
		default:
			return nil, badRequest(param+".role", "%s.role %q: want system, user or assistant", param, m.Role)
		}
		text, err := contentText(m.Content)
		if err != nil {
			return nil, badRequest(param+".content", "%s.content: %v", param, err)
		}
		out[i] = golem.Message{Role: role, Content: text}
	}
	return out, nil
}

// contentText reads a message's content: a string, or an array of
// {"type": "text", "text": ...} parts, joined.
func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("want text")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("want a string or an array of text parts")
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("a part of type %q: golem takes text parts only", p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// chatCompletions answers POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) error {
	start := s.now()
	var req chatRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if err := s.checkModel(req.Model); err != nil {
		return err
	}
	if t := bytes.TrimSpace(req.Tools); len(t) > 0 && string(t) != "null" && string(t) != "[]" {
		return badRequest("tools", "tools: golem does not call tools")
	}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "" && rf.Type != "text" {
		return badRequest("response_format", "response_format %q: golem answers text only", rf.Type)
	}
	msgs, err := req.messages()
	if err != nil {
		return err
	}
	o, err := req.options()
	if err != nil {
		return err
	}
	if req.TopLogprobs != nil {
		if !req.Logprobs && *req.TopLogprobs > 0 {
			return badRequest("top_logprobs", "top_logprobs needs logprobs: true")
		}
		o.TopLogProbs = *req.TopLogprobs
	}
	o.LogProbs = req.Logprobs
	if err := o.Validate(); err != nil {
		return err
	}
	g := &generation{s: s, w: w, r: r, chat: true, start: start, id: "chatcmpl-" + randomID(), o: o,
		stream: req.Stream, usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	return g.run(s.m.Chat(r.Context(), msgs, o))
}

// completionRequest is a POST /v1/completions body.
type completionRequest struct {
	sampling
	Prompt   json.RawMessage `json:"prompt"`
	Logprobs *int            `json:"logprobs"`
	Echo     bool            `json:"echo"`
	Suffix   *string         `json:"suffix"`
	BestOf   *int            `json:"best_of"`
}

// prompt reads "prompt": a string, an array of one string, an array of
// token ids or an array of one such array.
func (c *completionRequest) prompt() (text string, ids []int32, isIDs bool, err error) {
	raw := bytes.TrimSpace(c.Prompt)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil, false, badRequest("prompt", "prompt: missing")
	}
	if json.Unmarshal(raw, &text) == nil {
		return text, nil, false, nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		if len(texts) != 1 {
			return "", nil, false, badRequest("prompt", "prompt: %d prompts: golem takes one per request", len(texts))
		}
		return texts[0], nil, false, nil
	}
	if json.Unmarshal(raw, &ids) == nil {
		return "", ids, true, nil
	}
	var lists [][]int32
	if json.Unmarshal(raw, &lists) == nil {
		if len(lists) != 1 {
			return "", nil, false, badRequest("prompt", "prompt: %d prompts: golem takes one per request", len(lists))
		}
		return "", lists[0], true, nil
	}
	return "", nil, false, badRequest("prompt", "prompt: want a string, an array of one string, or token ids")
}

// completions answers POST /v1/completions. A text prompt is tokenized as
// golem run does: with the BOS token the model asks for, control-token
// texts in it parsed.
func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	start := s.now()
	var req completionRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if err := s.checkModel(req.Model); err != nil {
		return err
	}
	if req.Suffix != nil && *req.Suffix != "" {
		return badRequest("suffix", "suffix: golem does not insert text")
	}
	if req.BestOf != nil && *req.BestOf != 1 {
		return badRequest("best_of", "best_of %d: golem generates one choice per request", *req.BestOf)
	}
	text, ids, isIDs, err := req.prompt()
	if err != nil {
		return err
	}
	o, err := req.options()
	if err != nil {
		return err
	}
	if req.Logprobs != nil {
		o.LogProbs = true
		o.TopLogProbs = *req.Logprobs
		if err := o.Validate(); err != nil {
			var fe *golem.FieldError
			if errors.As(err, &fe) && fe.Field == "TopLogProbs" {
				return badRequest("logprobs", "logprobs %s: want %s", fe.Value, fe.Want)
			}
			return err
		}
	}
	g := &generation{s: s, w: w, r: r, start: start, id: "cmpl-" + randomID(), o: o,
		stream: req.Stream, usage: req.StreamOptions != nil && req.StreamOptions.IncludeUsage}
	if isIDs {
		if req.Echo {
			g.echo = s.m.Detokenize(ids)
		}
		return g.run(s.m.GenerateTokens(r.Context(), ids, o))
	}
	if req.Echo {
		g.echo = text
	}
	o.ParseSpecial = true
	return g.run(s.m.Generate(r.Context(), text, o))
}

// generation streams or collects one request's tokens.
type generation struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	chat   bool // chat.completion shapes, else text_completion
	start  time.Time
	id     string
	o      golem.GenerateOptions
	stream bool
	usage  bool   // stream_options.include_usage
	echo   string // completions: the prompt text to put first

	text    strings.Builder
	chatLP  []chatLogprob
	cmplLP  completionLogprobs
	offset  int // completions text_offset
	created int64
}

// run reads the tokens of seq. An error before anything ran (options,
// prompt, queue) is returned for an HTTP error answer; later errors end
// a stream with an error event, or answer 500.
func (g *generation) run(seq iter.Seq2[golem.Token, error]) error {
	g.created = g.s.now().Unix()
	next, stop := iter.Pull2(seq)
	defer stop()
	tok, err, ok := next()
	if !ok {
		return fmt.Errorf("server: the generation yielded nothing")
	}
	if err != nil && tok.End == nil {
		return err
	}
	g.s.metrics.firstToken(g.s.now().Sub(g.start))
	if g.stream {
		return g.runStream(tok, err, next)
	}
	for {
		g.add(tok)
		if tok.End != nil {
			if err != nil {
				return err
			}
			return writeJSON(g.w, g.final(tok.End))
		}
		if tok, err, ok = next(); !ok {
			return fmt.Errorf("server: the generation ended without its last token")
		}
	}
}

// counts reports whether tok is a generated token (its log-probability
// belongs in the answer): every token but the last, and the last when a
// stop string ended generation on it.
func counts(tok golem.Token) bool {
	return tok.End == nil || (tok.End.Stop == golem.StopString && tok.ID >= 0)
}

// add records tok's text and log-probabilities.
func (g *generation) add(tok golem.Token) {
	if counts(tok) {
		g.s.metrics.generated(1)
		if g.o.LogProbs {
			g.addLogprob(tok)
		}
	}
	if tok.End != nil {
		g.s.metrics.prompt(tok.End.PromptTokens)
	}
	g.text.WriteString(tok.Text)
}

func (g *generation) addLogprob(tok golem.Token) {
	piece := g.s.m.Tokenizer().Piece(tok.ID)
	if g.chat {
		lp := chatLogprob{Token: validText(piece), Logprob: tok.LogProb, Bytes: []byte(piece), TopLogprobs: []topLogprob{}}
		for _, t := range tok.TopLogProbs {
			p := g.s.m.Tokenizer().Piece(t.ID)
			lp.TopLogprobs = append(lp.TopLogprobs, topLogprob{Token: validText(p), Logprob: t.LogProb, Bytes: []byte(p)})
		}
		g.chatLP = append(g.chatLP, lp)
		return
	}
	l := &g.cmplLP
	l.Tokens = append(l.Tokens, validText(piece))
	l.TokenLogprobs = append(l.TokenLogprobs, tok.LogProb)
	top := map[string]float32{}
	for _, t := range tok.TopLogProbs {
		top[validText(g.s.m.Tokenizer().Piece(t.ID))] = t.LogProb
	}
	l.TopLogprobs = append(l.TopLogprobs, top)
	l.TextOffset = append(l.TextOffset, len(g.echo)+g.offset)
	g.offset += len(piece)
}

// validText is s with invalid UTF-8 (a byte token's single byte) replaced
// by U+FFFD, as JSON carries it; the bytes field keeps the bytes.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// finishReason is OpenAI's name for why generation stopped.
func finishReason(st *golem.Stats) string {
	switch st.Stop {
	case golem.StopLength, golem.StopContext:
		return "length"
	}
	return "stop"
}

func usageOf(st *golem.Stats) *usage {
	return &usage{PromptTokens: st.PromptTokens, CompletionTokens: st.GenTokens, TotalTokens: st.PromptTokens + st.GenTokens}
}

// final is the non-streamed answer.
func (g *generation) final(st *golem.Stats) any {
	name := g.s.name
	if g.chat {
		var lp *chatLogprobs
		if g.o.LogProbs {
			lp = &chatLogprobs{Content: g.chatLP}
			if lp.Content == nil {
				lp.Content = []chatLogprob{}
			}
		}
		return chatCompletion{ID: g.id, Object: "chat.completion", Created: g.created, Model: name,
			Choices: []chatChoice{{Index: 0, Message: &chatDelta{Role: "assistant", Content: ptr(g.text.String())}, Logprobs: lp, FinishReason: ptr(finishReason(st))}},
			Usage:   usageOf(st)}
	}
	var lp *completionLogprobs
	if g.o.LogProbs {
		lp = &g.cmplLP
	}
	return textCompletion{ID: g.id, Object: "text_completion", Created: g.created, Model: name,
		Choices: []textChoice{{Index: 0, Text: g.echo + g.text.String(), Logprobs: lp, FinishReason: ptr(finishReason(st))}},
		Usage:   usageOf(st)}
}

func ptr[T any](v T) *T { return &v }

// runStream answers with server-sent events, one per token that releases
// text (or carries log-probabilities), a last one with finish_reason, the
// usage when asked for, and [DONE]. A client that goes away ends the
// generation: the write fails, or the request's context is cancelled.
func (g *generation) runStream(tok golem.Token, err error, next func() (golem.Token, error, bool)) error {
	h := g.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	g.w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(g.w)
	send := func(v any) bool {
		data, merr := json.Marshal(v)
		if merr != nil {
			return false
		}
		if _, werr := fmt.Fprintf(g.w, "data: %s\n\n", data); werr != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if g.chat {
		if !send(g.chunk(&chatDelta{Role: "assistant", Content: ptr("")}, nil, nil)) {
			return nil
		}
	} else if g.echo != "" {
		if !send(g.textChunk(g.echo, nil, nil)) {
			return nil
		}
	}
	for {
		n := len(g.chatLP)
		nc := len(g.cmplLP.Tokens)
		g.text.Reset()
		g.add(tok)
		text := g.text.String()
		hasLP := len(g.chatLP) > n || len(g.cmplLP.Tokens) > nc
		if text != "" || hasLP {
			var ok bool
			if g.chat {
				var lp *chatLogprobs
				if hasLP {
					lp = &chatLogprobs{Content: g.chatLP[n:]}
				}
				ok = send(g.chunk(&chatDelta{Content: &text}, lp, nil))
			} else {
				var lp *completionLogprobs
				if hasLP {
					l := g.cmplLP
					lp = &completionLogprobs{Tokens: l.Tokens[nc:], TokenLogprobs: l.TokenLogprobs[nc:], TopLogprobs: l.TopLogprobs[nc:], TextOffset: l.TextOffset[nc:]}
				}
				ok = send(g.textChunk(text, lp, nil))
			}
			if !ok {
				return nil
			}
		}
		if tok.End != nil {
			if err != nil {
				ae := g.s.classify(g.r, err)
				send(map[string]any{"error": map[string]any{"message": ae.msg, "type": ae.typ, "param": nullable(ae.param), "code": nullable(ae.code)}})
				return nil
			}
			reason := finishReason(tok.End)
			if g.chat {
				send(g.chunk(&chatDelta{}, nil, &reason))
			} else {
				send(g.textChunk("", nil, &reason))
			}
			if g.usage {
				if g.chat {
					send(chatCompletion{ID: g.id, Object: "chat.completion.chunk", Created: g.created, Model: g.s.name, Choices: []chatChoice{}, Usage: usageOf(tok.End)})
				} else {
					send(textCompletion{ID: g.id, Object: "text_completion", Created: g.created, Model: g.s.name, Choices: []textChoice{}, Usage: usageOf(tok.End)})
				}
			}
			fmt.Fprint(g.w, "data: [DONE]\n\n")
			rc.Flush()
			return nil
		}
		var ok bool
		if tok, err, ok = next(); !ok {
			return nil
		}
	}
}

func (g *generation) chunk(d *chatDelta, lp *chatLogprobs, finish *string) chatCompletion {
	return chatCompletion{ID: g.id, Object: "chat.completion.chunk", Created: g.created, Model: g.s.name,
		Choices: []chatChoice{{Index: 0, Delta: d, Logprobs: lp, FinishReason: finish}}}
}

func (g *generation) textChunk(text string, lp *completionLogprobs, finish *string) textCompletion {
	return textCompletion{ID: g.id, Object: "text_completion", Created: g.created, Model: g.s.name,
		Choices: []textChoice{{Index: 0, Text: text, Logprobs: lp, FinishReason: finish}}}
}

// The answers' shapes, as OpenAI's API gives them.
type (
	usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	chatCompletion struct {
		ID      string       `json:"id"`
		Object  string       `json:"object"`
		Created int64        `json:"created"`
		Model   string       `json:"model"`
		Choices []chatChoice `json:"choices"`
		Usage   *usage       `json:"usage,omitempty"`
	}
	chatChoice struct {
		Index        int           `json:"index"`
		Message      *chatDelta    `json:"message,omitempty"`
		Delta        *chatDelta    `json:"delta,omitempty"`
		Logprobs     *chatLogprobs `json:"logprobs"`
		FinishReason *string       `json:"finish_reason"`
	}
	chatDelta struct {
		Role    string  `json:"role,omitempty"`
		Content *string `json:"content,omitempty"`
	}
	chatLogprobs struct {
		Content []chatLogprob `json:"content"`
	}
	chatLogprob struct {
		Token       string       `json:"token"`
		Logprob     float32      `json:"logprob"`
		Bytes       []byte       `json:"bytes"`
		TopLogprobs []topLogprob `json:"top_logprobs"`
	}
	topLogprob struct {
		Token   string  `json:"token"`
		Logprob float32 `json:"logprob"`
		Bytes   []byte  `json:"bytes"`
	}
	textCompletion struct {
		ID      string       `json:"id"`
		Object  string       `json:"object"`
		Created int64        `json:"created"`
		Model   string       `json:"model"`
		Choices []textChoice `json:"choices"`
		Usage   *usage       `json:"usage,omitempty"`
	}
	textChoice struct {
		Index        int                 `json:"index"`
		Text         string              `json:"text"`
		Logprobs     *completionLogprobs `json:"logprobs"`
		FinishReason *string             `json:"finish_reason"`
	}
	completionLogprobs struct {
		Tokens        []string             `json:"tokens"`
		TokenLogprobs []float32            `json:"token_logprobs"`
		TopLogprobs   []map[string]float32 `json:"top_logprobs"`
		TextOffset    []int                `json:"text_offset"`
	}
)

// byteArray marshals as a JSON array of numbers (OpenAI's bytes), not
// base64.
func (l chatLogprob) MarshalJSON() ([]byte, error) {
	type plain chatLogprob
	return json.Marshal(struct {
		plain
		Bytes []int `json:"bytes"`
	}{plain(l), intBytes(l.Bytes)})
}

func (l topLogprob) MarshalJSON() ([]byte, error) {
	type plain topLogprob
	return json.Marshal(struct {
		plain
		Bytes []int `json:"bytes"`
	}{plain(l), intBytes(l.Bytes)})
}

func intBytes(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// randomID returns 24 hex digits.
func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
