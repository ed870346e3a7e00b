package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/golem-llm/golem"
	"github.com/golem-llm/golem/server"
)

func newServeCmd() *cobra.Command {
	var (
		mf       modelFlags
		addr     string
		parallel int
		queue    int
		apiKey   string
		template string
		alias    string
		grace    time.Duration
		maxBody  int64
	)
	cmd := &cobra.Command{
		Use:   "serve -m MODEL [--addr 127.0.0.1:8080] [--parallel N]",
		Short: "Serve a model over an OpenAI-compatible HTTP API",
		Long: `serve loads a model and answers HTTP requests on --addr:

  POST /v1/chat/completions, /v1/completions   OpenAI's API, streamed (server-sent
                                               events) or not
  GET  /v1/models
  POST /tokenize, /detokenize                  llama-server's shapes
  GET  /health, /metrics                       status; Prometheus text
  GET  /                                       a chat page

Up to --parallel requests are decoded together, one batched step per token; a
new request joins between two steps. Up to --queue more wait for a sequence;
beyond that requests are answered 429. A client that disconnects cancels its
request.

Chat requests are rendered with the model's chat template (see golem chat);
a model whose template golem does not know answers 400 on
/v1/chat/completions unless --template names one, and still serves
/v1/completions. Text prompts of /v1/completions are tokenized as golem run
tokenizes -p.

With --api-key (or GOLEM_API_KEY in the environment) every endpoint but
/health and the chat page requires "Authorization: Bearer KEY".

SIGINT or SIGTERM stops accepting connections, lets the requests in flight
finish for --shutdown-timeout, cancels those still running, and exits with
status 130 (143 for SIGTERM).`,
		Example: `  golem serve -m ../shared/models/stories260K.gguf --parallel 4
  curl -s localhost:8080/v1/completions -d '{"prompt": "Once upon a time", "max_tokens": 32, "temperature": 0}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			ctx := cmd.Context()
			mo, err := mf.options(cmd)
			if err != nil {
				return err
			}
			mo.Parallel, mo.Queue, mo.ChatTemplate = parallel, queue, template
			if err := mo.Validate(); err != nil {
				return err
			}
			if apiKey == "" {
				apiKey = os.Getenv("GOLEM_API_KEY")
			}
			if grace < 0 {
				return fmt.Errorf("--shutdown-timeout %v: want 0 or more", grace)
			}
			if maxBody <= 0 {
				return fmt.Errorf("--max-body %d: want 1 or more bytes", maxBody)
			}
			log, err := logger(cmd)
			if err != nil {
				return err
			}
			m, err := mf.open(ctx, cmd, mo)
			if err != nil {
				return err
			}
			defer func() { err = errors.Join(err, m.Close()) }()
			srv, err := server.New(server.Config{Model: m, ModelName: alias, APIKey: apiKey, MaxBodyBytes: maxBody,
				ShutdownTimeout: max(grace, time.Nanosecond), Logger: log})
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			info := m.Info()
			chat := info.ChatTemplate
			if chat == "" {
				chat = "none (/v1/chat/completions answers 400; --template names one)"
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "serving %s on http://%s (device %s, %d parallel, context %d, chat template %s)\n",
				srv.ModelName(), l.Addr(), info.Device, info.Parallel, info.Context, chat)
			if err := srv.Serve(ctx, l); err != nil {
				return err
			}
			if ctx.Err() != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "serve: shut down")
			}
			return nil
		},
	}
	mf.register(cmd)
	// --ctx is --ctx-size's other name.
	cmd.Flags().SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "ctx" {
			name = "ctx-size"
		}
		return pflag.NormalizedName(name)
	})
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on, host:port (port 0: any free port)")
	cmd.Flags().IntVar(&parallel, "parallel", 1, "requests decoded together, each with a KV cache of --ctx-size tokens")
	cmd.Flags().IntVar(&queue, "queue", golem.DefaultQueue, "requests that may wait for a sequence; more are answered 429")
	cmd.Flags().StringVar(&apiKey, "api-key", "", "require this key (Authorization: Bearer KEY); default $GOLEM_API_KEY")
	cmd.Flags().StringVar(&template, "template", "", "chat template when the model has none golem renders: "+strings.Join(golem.ChatTemplates(), ", "))
	cmd.Flags().StringVar(&alias, "alias", "", "the model's name in the API (default: the file name without its extension)")
	cmd.Flags().DurationVar(&grace, "shutdown-timeout", server.DefaultShutdownTimeout, "on SIGINT/SIGTERM, how long requests in flight may finish before they are cancelled")
	cmd.Flags().Int64Var(&maxBody, "max-body", server.DefaultMaxBodyBytes, "largest request body in bytes; larger ones are answered 413")
	return cmd
}
