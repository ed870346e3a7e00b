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
An empty line or end of input ends the chat; Ctrl-C stops a reply.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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

// chatTurn renders the conversation, feeds only the tokens the cache does
// not already hold, and streams the reply.
func chatTurn(cmd *cobra.Command, l *loaded, s *runtime.Session, t *runtime.ChatTemplate, msgs []runtime.Message, o runtime.GenerateOptions, verbose bool) (string, error) {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
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
	return strings.TrimSpace(reply), nil
}
