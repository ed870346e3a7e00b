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

	"github.com/golem-llm/golem"
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
(the templates of Llama 2, Llama 3 and 3.1-3.3, Mistral and Mixtral, Qwen2,
Qwen2.5 and Qwen3, SmolLM and SmolLM2, Phi-3, Gemma, TinyLlama-Chat (Zephyr)
and others in ChatML are recognised
and rendered as their Jinja renders them; others are refused with their name)
or --template.
Only the template's own markers become control tokens: "<|im_start|>" typed in
a message (or in --system) stays text.
When the conversation outgrows the context, its oldest turns are dropped (with
a note on stderr).
An empty line or end of input ends the chat. Ctrl-C during a reply stops the
reply; at the prompt it ends the chat (exit status 130). Lines of up to 16 MiB
are accepted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			mo, err := mf.options(cmd)
			if err != nil {
				return err
			}
			mo.ChatTemplate = template
			if err := mo.Validate(); err != nil {
				return err
			}
			gen, err := sf.generateOptions(cmd, n)
			if err != nil {
				return err
			}
			m, err := mf.open(cmd.Context(), cmd, mo)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, m.Close()) }()
			s, err := m.NewSession(golem.SessionOptions{System: system})
			if errors.Is(err, golem.ErrNoChatTemplate) {
				return fmt.Errorf("chat: %w; pass --template", err)
			}
			if err != nil {
				return err
			}
			defer s.Close()
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
				if err := chatTurn(cmd, m, s, text, gen, verbose); err != nil {
					return err
				}
			}
		},
	}
	mf.register(cmd)
	sf.register(cmd)
	cmd.Flags().StringVar(&system, "system", "", "system message")
	cmd.Flags().StringVar(&template, "template", "", "chat template when the model has none: "+strings.Join(golem.ChatTemplates(), ", "))
	cmd.Flags().IntVarP(&n, "n-predict", "n", 512, "most tokens per reply")
	registerVerbosePrompt(cmd, &verbose)
	return cmd
}

// chatTurn sends one message and streams the reply. Ctrl-C stops the
// reply (which stays in the conversation as far as it got); SIGTERM ends
// the chat.
func chatTurn(cmd *cobra.Command, m *golem.Model, s *golem.Session, text string, o golem.GenerateOptions, verbose bool) error {
	ctx, done := interruptScope(cmd.Context())
	defer done()
	if verbose {
		o.OnPrompt = func(ids []int32) { fmt.Fprintf(cmd.ErrOrStderr(), "prompt tokens: %v\n", ids) }
	}
	out := cmd.OutOrStdout()
	var end *golem.Stats
	var genErr error
	for tok, err := range s.Chat(ctx, text, o) {
		fmt.Fprint(out, tok.Text)
		if err != nil {
			genErr = err
		}
		end = tok.End
	}
	fmt.Fprintln(out)
	if end != nil && end.Dropped > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "chat: dropped the %d oldest messages to fit the context of %d tokens (-c raises it)\n", end.Dropped, m.Info().Context)
	}
	if genErr != nil && ctx.Err() == nil {
		if errors.Is(genErr, golem.ErrContextFull) {
			return fmt.Errorf("chat: %w (-c raises the context)", genErr)
		}
		return m.LocateNonFinite(ctx, genErr)
	}
	return cmd.Context().Err() // SIGTERM: the whole chat ends
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
