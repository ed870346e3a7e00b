package golem

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"sync"

	"github.com/golem-llm/golem/runtime"
)

// SessionOptions configure NewSession.
type SessionOptions struct {
	// System is the conversation's system message ("" for none).
	System string
}

// Session is a conversation that keeps its KV cache between turns: each
// turn runs only the tokens after what the cache already holds (the new
// user message, mostly). A session generates one reply at a time: a Chat
// started while another one's iteration runs yields ErrBusy. Its methods
// are safe for concurrent use.
type Session struct {
	m     *Model
	cache *runtime.Cache

	mu     sync.Mutex
	msgs   []Message
	closed bool
	busy   bool // a Chat iteration is running
}

// NewSession starts a conversation with its own KV cache of
// Options.Context tokens. It fails with ErrNoChatTemplate when the model
// has no chat format (see Options.ChatTemplate).
func (m *Model) NewSession(o SessionOptions) (*Session, error) {
	if err := m.open(); err != nil {
		return nil, err
	}
	if m.chat == nil {
		return nil, m.chatEr
	}
	c, err := m.engine.NewCache()
	if err != nil {
		return nil, err
	}
	s := &Session{m: m, cache: c}
	if o.System != "" {
		s.msgs = append(s.msgs, Message{Role: "system", Content: o.System})
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		c.Close()
		return nil, fmt.Errorf("model %w", ErrClosed)
	}
	m.sessions[s] = struct{}{}
	m.mu.Unlock()
	return s, nil
}

// Messages returns a copy of the conversation so far (the system message
// first, when there is one; oldest turns dropped to fit the context are
// not in it).
func (s *Session) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Close releases the session's KV cache (a reply in progress ends first).
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.m.mu.Lock()
	delete(s.m.sessions, s)
	s.m.mu.Unlock()
	return s.cache.Close()
}

// Chat adds message as the user's turn and generates the assistant's
// reply, as Model.Chat does, reusing the KV cache of the earlier turns.
// When the conversation no longer fits the context with room left for
// the reply (MaxTokens, at most half the context), the oldest turns after
// the system message are dropped (Stats.Dropped counts the messages); a
// newest message that alone does not fit is an error wrapping
// ErrContextFull. The reply joins the conversation when generation ends,
// also when it was cancelled (with the text generated so far), but not
// after another error.
func (s *Session) Chat(ctx context.Context, message string, o GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		m := s.m
		s.mu.Lock()
		switch {
		case s.closed:
			s.mu.Unlock()
			yield(Token{}, fmt.Errorf("session %w", ErrClosed))
			return
		case s.busy:
			s.mu.Unlock()
			yield(Token{}, fmt.Errorf("session: %w", ErrBusy))
			return
		}
		s.busy = true
		msgs := append(append([]Message(nil), s.msgs...), Message{Role: "user", Content: message})
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.busy = false
			s.mu.Unlock()
		}()
		ctxLen := m.engine.Options().Context
		msgs, ids, dropped, err := s.fit(msgs, ctxLen-replyRoom(o.MaxTokens, ctxLen))
		if err != nil {
			yield(Token{}, err)
			return
		}
		o.Stop = append(append([]string(nil), o.Stop...), m.chat.Stop...)
		var reply strings.Builder
		m.run(ctx, ids, o, s.cache, func(tok Token, err error) bool {
			reply.WriteString(tok.Text)
			if tok.End != nil {
				tok.End.Dropped = dropped
				if err == nil || tok.End.Stop == StopCancelled {
					s.mu.Lock()
					s.msgs = append(msgs, Message{Role: "assistant", Content: strings.TrimSpace(reply.String())})
					s.mu.Unlock()
				}
			}
			return yield(tok, err)
		})
	}
}

// replyRoom is how many tokens of the context a turn keeps free for the
// reply: MaxTokens, but at most half the context.
func replyRoom(maxTokens, context int) int {
	room := context / 2
	if maxTokens > 0 {
		room = min(room, maxTokens)
	}
	return max(room, 1)
}

// fit drops the oldest messages after the system message (a user message
// with the reply that followed it) until the rendered conversation takes
// at most limit tokens; it returns the messages kept, their tokens and how
// many were dropped.
func (s *Session) fit(msgs []Message, limit int) ([]Message, []int32, int, error) {
	t, tok := s.m.chat, s.m.rm.Tokenizer
	first := 0
	if len(msgs) > 0 && msgs[0].Role == "system" {
		first = 1
	}
	dropped := 0
	for {
		ids, err := t.Encode(tok, runtimeMessages(msgs), true)
		if err != nil {
			return nil, nil, 0, err
		}
		if len(ids) <= limit {
			if len(ids) == 0 {
				return nil, nil, 0, fmt.Errorf("chat template %s gave no tokens", t.Name)
			}
			return msgs, ids, dropped, nil
		}
		if len(msgs)-first <= 1 {
			return nil, nil, 0, fmt.Errorf("%w: the conversation takes %d tokens, more than the %d the context leaves for it", ErrContextFull, len(ids), limit)
		}
		k := 1
		if len(msgs)-first > 2 && msgs[first+1].Role == "assistant" {
			k = 2
		}
		msgs = append(msgs[:first:first], msgs[first+k:]...)
		dropped += k
	}
}
