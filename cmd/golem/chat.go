package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/golem-llm/golem/runtime"
)

func newChatCmd() *cobra.Command {
	var (
		mf       modelFlags
		sf       samplingFlags
		system   string
		template string
		n        int
	)
	cmd := &cobra.Command{
		Use:   "chat -m MODEL",
		Short: "Chat with a model interactively",
		Long: `chat reads your messages from stdin, one per line, and streams the model's
replies. The conversation stays in the KV cache: each turn feeds only the new
tokens. The prompt format comes from the model's tokenizer.chat_template
(llama-2, llama-3, chatml, mistral, phi-3 and gemma are recognised) or --template.
An empty line or end of input ends the chat; Ctrl-C stops a reply.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			so, err := sessionOptions(&mf)
			if err != nil {
				return err
			}
			l, err := mf.load(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			defer l.Close()
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
			in := bufio.NewScanner(cmd.InOrStdin())
			in.Buffer(make([]byte, 1<<20), 1<<20)
			out := cmd.OutOrStdout()
			sampler := sf.config(cmd)
			for {
				fmt.Fprint(out, "> ")
				if !in.Scan() {
					fmt.Fprintln(out)
					return in.Err()
				}
				line := strings.TrimSpace(in.Text())
				if line == "" {
					return nil
				}
				msgs = append(msgs, runtime.Message{Role: "user", Content: line})
				reply, err := chatTurn(cmd, l.model, s, tmpl, msgs, sampler, n)
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
	return cmd
}

// chatTurn renders the conversation, feeds only the tokens the cache does
// not already hold, and streams the reply.
func chatTurn(cmd *cobra.Command, m *runtime.Model, s *runtime.Session, t *runtime.ChatTemplate, msgs []runtime.Message, sc runtime.SamplerConfig, n int) (string, error) {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	ids := m.Tokenizer.Encode(t.Render(msgs, true), false, true)
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
	reply, _, err := runtime.Generate(ctx, s, ids[common:], runtime.GenerateOptions{
		MaxTokens: n, Sampler: sc, Stop: t.Stop,
		OnText: func(text string) error { _, err := fmt.Fprint(out, text); return err },
	})
	fmt.Fprintln(out)
	if err != nil && ctx.Err() == nil {
		return "", err
	}
	return strings.TrimSpace(reply), nil
}
