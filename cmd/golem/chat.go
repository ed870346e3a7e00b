package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/model/tokenizer"
	"github.com/golem-llm/golem/runtime"
)

func newChatCmd() *cobra.Command {
	var (
		mf       modelFlags
		sf       samplingFlags
		system   string
		template string
		n        int
		verbose  bool
	)
	cmd := &cobra.Command{
		Use:   "chat -m MODEL",
		Short: "Chat with a model interactively",
		Long: `chat reads your messages from stdin, one per line, and streams the model's
replies. The conversation stays in the KV cache: each turn feeds only the new
tokens. The prompt format comes from the model's tokenizer.chat_template
(llama-2, llama-3, chatml, mistral, phi-3 and gemma are recognised) or --template.
Only the template's own markers become control tokens: "<|im_start|>" typed in
a message (or in --system) stays text.
An empty line or end of input ends the chat. Ctrl-C during a reply stops the
reply; at the prompt it ends the chat (exit status 130). Lines of up to 16 MiB
are accepted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			so, err := sessionOptions(&mf)
			if err != nil {
				return err
			}
			gen, err := sf.generateOptions(cmd, n)
			if err != nil {
				return err
			}
			l, err := mf.load(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, l.Close()) }()
			tmpl, err := runtime.DetectChatTemplate(l.src.ChatTemplate(), template)
			if err != nil {
				return fmt.Errorf("chat: %s: %w; pass --template", mf.path, err)
			}
			s, err := l.model.NewSession(so)
			if err != nil {
				return err
			}
			defer s.Close()
			var msgs []runtime.Message
			if system != "" {
				msgs = append(msgs, runtime.Message{Role: "system", Content: system})
			}
			readCtx, stopReading := context.WithCancel(cmd.Context())
			defer stopReading()
			lines := readLines(readCtx, cmd.InOrStdin(), maxChatLine)
			out := cmd.OutOrStdout()
			for {
				fmt.Fprint(out, "> ")
				var in line
				select {
				case <-cmd.Context().Done():
					fmt.Fprintln(out)
					return cmd.Context().Err()
				case in = <-lines:
				}
				if in.err != nil {
					fmt.Fprintln(out)
					if errors.Is(in.err, io.EOF) {
						return nil
					}
					return fmt.Errorf("chat: %w", in.err)
				}
				text := strings.TrimSpace(in.text)
				if text == "" {
					return nil
				}
				msgs = append(msgs, runtime.Message{Role: "user", Content: text})
				msgs, err = fitContext(cmd, l.model.Tokenizer, tmpl, msgs, s.Context()-replyRoom(gen.MaxTokens, s.Context()))
				if err != nil {
					return err
				}
				reply, err := chatTurn(cmd, l, s, tmpl, msgs, gen, verbose)
				if err != nil {
					return err
				}
				msgs = append(msgs, runtime.Message{Role: "assistant", Content: reply})
			}
		},
	}
	mf.register(cmd)
	sf.register(cmd)
	cmd.Flags().StringVar(&system, "system", "", "system message")
	cmd.Flags().StringVar(&template, "template", "", "chat template when the model has none: "+strings.Join(runtime.ChatTemplateNames(), ", "))
	cmd.Flags().IntVarP(&n, "n-predict", "n", 512, "most tokens per reply")
	registerVerbosePrompt(cmd, &verbose)
	return cmd
}

// replyRoom is how many tokens of the context a turn keeps free for the
// reply: -n, but at most half the context.
func replyRoom(maxTokens, context int) int {
	room := context / 2
	if maxTokens > 0 {
		room = min(room, maxTokens)
	}
	return max(room, 1)
}

// fitContext drops the oldest messages after the system message (a user
// message with the reply that followed it) until the rendered conversation
// takes at most limit tokens, and says so on stderr. A conversation whose
// newest message alone does not fit is an error naming the sizes.
func fitContext(cmd *cobra.Command, tok *tokenizer.Tokenizer, t *runtime.ChatTemplate, msgs []runtime.Message, limit int) ([]runtime.Message, error) {
	first := 0
	if len(msgs) > 0 && msgs[0].Role == "system" {
		first = 1
	}
	dropped := 0
	for {
		n := len(t.Encode(tok, msgs, true))
		if n <= limit {
			if dropped > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "chat: dropped the %d oldest messages to fit the context of %d tokens (-c raises it)\n", dropped, limit)
			}
			return msgs, nil
		}
		if len(msgs)-first <= 1 {
			return nil, fmt.Errorf("chat: the conversation takes %d tokens, more than the %d the context leaves for it (-c raises the context)", n, limit)
		}
		k := 1
		if len(msgs)-first > 2 && msgs[first+1].Role == "assistant" {
			k = 2
		}
		msgs = append(msgs[:first:first], msgs[first+k:]...)
		dropped += k
	}
}

// chatTurn renders the conversation, feeds only the tokens the cache does
// not already hold, and streams the reply.
func chatTurn(cmd *cobra.Command, l *loaded, s *runtime.Session, t *runtime.ChatTemplate, msgs []runtime.Message, o runtime.GenerateOptions, verbose bool) (string, error) {
	ctx, done := interruptScope(cmd.Context())
	defer done()
	ids := t.Encode(l.model.Tokenizer, msgs, true)
	if len(ids) == 0 {
		return "", fmt.Errorf("chat: template %s gave no tokens", t.Name)
	}
	if verbose {
		fmt.Fprintf(cmd.ErrOrStderr(), "prompt tokens: %v\n", ids)
	}
	have := s.Tokens()
	common := 0
	for common < len(have) && common < len(ids) && have[common] == ids[common] {
		common++
	}
	if common == len(ids) { // the whole prompt is cached: re-feed its last token for fresh logits
		common--
	}
	s.Rewind(common)
	out := cmd.OutOrStdout()
	o.Stop = t.Stop
	o.OnText = func(text string) error { _, err := fmt.Fprint(out, text); return err }
	reply, _, err := runtime.Generate(ctx, s, ids[common:], o)
	fmt.Fprintln(out)
	if err != nil && ctx.Err() == nil {
		return "", generationError(ctx, l, s, err)
	}
	if err := cmd.Context().Err(); err != nil {
		return "", err // SIGTERM: the whole chat ends
	}
	return strings.TrimSpace(reply), nil
}

// maxChatLine is the longest line of input chat accepts.
const maxChatLine = 16 << 20

// line is one line of input, or the error that ended the input.
type line struct {
	text string
	err  error
}

// readLines reads lines of at most limit bytes from r on a goroutine, so
// that the reader can stop waiting for input when ctx is done. The channel
// yields each line, then one line with the error that ended the input
// (io.EOF at its end).
func readLines(ctx context.Context, r io.Reader, limit int) <-chan line {
	ch := make(chan line)
	go func() {
		br := bufio.NewReader(r)
		for {
			text, err := readLine(br, limit)
			select {
			case ch <- line{text: text, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}

// readLine returns the next line of br without its line ending (a last
// line without one too), or io.EOF when the input is done. A line longer
// than limit bytes is an error naming the limit.
func readLine(br *bufio.Reader, limit int) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		b = append(b, frag...)
		if n := len(bytes.TrimSuffix(b, []byte("\n"))); n > limit {
			return "", fmt.Errorf("an input line is longer than the limit of %d MiB", limit>>20)
		}
		switch {
		case err == nil:
			return strings.TrimSuffix(string(b[:len(b)-1]), "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(b) > 0:
			return string(b), nil
		default:
			return "", err
		}
	}
}
