// Package server is golem's HTTP server: an OpenAI-compatible API
// (/v1/chat/completions, /v1/completions, /v1/models), llama-server's
// /tokenize and /detokenize, /health, Prometheus /metrics and a small
// chat page at /, over one golem.Model.
//
// Requests become generations of the model (Model.Generate, Model.Chat):
// the model's engine decodes them together, a new one joining the batch
// between two decode steps, and refuses them when its queue is full (429
// here). A client that goes away cancels its request: the engine frees
// its sequence before the next step. The package uses the golem API alone.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golem-llm/golem"
)

// DefaultMaxBodyBytes is the largest request body accepted when
// Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 8 << 20

// DefaultShutdownTimeout is how long Serve lets requests in flight finish
// when Config.ShutdownTimeout is 0.
const DefaultShutdownTimeout = 10 * time.Second

// Config configures a Server.
type Config struct {
	// Model serves every request. The caller opens and closes it.
	Model *golem.Model
	// ModelName is the model's id in /v1/models and the name requests
	// must give ("" or the id); "" means the model file's name without
	// its extension.
	ModelName string
	// APIKey, when set, is required as "Authorization: Bearer KEY" on
	// every endpoint but /health and the chat page.
	APIKey string
	// MaxBodyBytes bounds request bodies (0: DefaultMaxBodyBytes); a
	// larger one is answered 413.
	MaxBodyBytes int64
	// ShutdownTimeout is how long Serve lets requests in flight finish
	// once its context is done before cancelling them (0:
	// DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	// Logger receives one line per request and the server's events (nil:
	// discarded).
	Logger *slog.Logger
	// Now is the clock of timestamps and metrics (nil: time.Now).
	Now func() time.Time
}

// Server answers the HTTP API. Its methods are safe for concurrent use.
type Server struct {
	m       *golem.Model
	name    string
	key     string
	maxBody int64
	grace   time.Duration
	log     *slog.Logger
	now     func() time.Time
	started time.Time
	mux     *http.ServeMux
	metrics *metrics

	// reqCtx is the parent of every request's context: cancelled when a
	// shutdown's grace period is over.
	reqCtx    context.Context
	cancelReq context.CancelFunc
	draining  atomic.Bool
	handlers  sync.WaitGroup
}

// New returns a server for c.Model.
func New(c Config) (*Server, error) {
	if c.Model == nil {
		return nil, errors.New("server: Config.Model is nil")
	}
	if c.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("server: Config.MaxBodyBytes %d: want 0 or more", c.MaxBodyBytes)
	}
	if c.ShutdownTimeout < 0 {
		return nil, fmt.Errorf("server: Config.ShutdownTimeout %v: want 0 or more", c.ShutdownTimeout)
	}
	s := &Server{m: c.Model, name: c.ModelName, key: c.APIKey, maxBody: c.MaxBodyBytes, grace: c.ShutdownTimeout,
		log: c.Logger, now: c.Now}
	if s.name == "" {
		base := filepath.Base(c.Model.Info().Path)
		s.name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.grace == 0 {
		s.grace = DefaultShutdownTimeout
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.started = s.now()
	s.metrics = newMetrics(s.now)
	s.reqCtx, s.cancelReq = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// ModelName returns the model's id in the API.
func (s *Server) ModelName() string { return s.name }

// routes registers the endpoints.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	api := func(pattern, endpoint string, h func(http.ResponseWriter, *http.Request) error) {
		s.mux.Handle(pattern, s.wrap(endpoint, true, h))
	}
	api("POST /v1/chat/completions", "chat", s.chatCompletions)
	api("POST /v1/completions", "completions", s.completions)
	api("GET /v1/models", "models", s.models)
	api("GET /v1/models/{id...}", "models", s.model)
	api("POST /tokenize", "tokenize", s.tokenize)
	api("POST /detokenize", "detokenize", s.detokenize)
	api("GET /metrics", "metrics", s.serveMetrics)
	s.mux.Handle("GET /health", s.wrap("health", false, s.health))
	s.mux.Handle("GET /{$}", s.wrap("page", false, s.page))
	s.mux.Handle("GET /static/{file}", s.wrap("page", false, s.static))
	s.mux.Handle("/", s.wrap("other", false, s.notFound))
}

// Handler returns the server's HTTP handler (for tests and for callers
// with their own http.Server; Serve adds the graceful shutdown).
func (s *Server) Handler() http.Handler { return s.mux }

// Serve answers requests on l until ctx is done, then shuts down
// gracefully: it stops accepting connections, lets the requests in flight
// finish for Config.ShutdownTimeout, then cancels those still running
// (their generations end at the engine's next step) and returns once
// their handlers have. It returns nil after a shutdown, or the error that
// stopped it serving.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	hs := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.reqCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	select {
	case err := <-served:
		s.cancelReq()
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down", "grace", s.grace)
	graceCtx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	err := hs.Shutdown(graceCtx) // closes the listener, waits for the requests
	if err != nil {
		s.log.Info("cancelling the requests still running")
		s.cancelReq()
		hs.Close()
		s.handlers.Wait()
	}
	s.cancelReq()
	<-served
	return nil
}

// wrap adds the request's accounting, its log line, the API key check
// (auth) and the error responses of h's errors.
func (s *Server) wrap(endpoint string, auth bool, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.handlers.Add(1)
		defer s.handlers.Done()
		start := s.now()
		// Counted as the status is written: before the client can read
		// the answer.
		rec := &recorder{ResponseWriter: w, onStatus: func(status int) { s.metrics.request(endpoint, status) }}
		var err error
		if auth && !s.authorized(r) {
			err = &apiError{status: http.StatusUnauthorized, typ: "authentication_error", code: "invalid_api_key",
				msg: "missing or wrong API key: send the header Authorization: Bearer KEY"}
		} else {
			err = h(rec, r)
		}
		if err != nil {
			s.writeError(rec, r, err)
		}
		if rec.status == 0 {
			rec.WriteHeader(http.StatusOK)
		}
		status := rec.status
		s.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", status, "duration", s.now().Sub(start), "remote", r.RemoteAddr)
	})
}

// authorized reports whether r carries the API key (or none is needed).
func (s *Server) authorized(r *http.Request) bool {
	if s.key == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.key)) == 1
}

// recorder remembers the status a handler wrote, and tells onStatus of
// it once.
type recorder struct {
	http.ResponseWriter
	status   int
	onStatus func(status int)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		r.onStatus(code)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the writer underneath (Flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// apiError is an error answered in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}}.
type apiError struct {
	status int
	typ    string // invalid_request_error, authentication_error, ...
	param  string // the request field at fault, or ""
	code   string // a machine-readable code, or ""
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// badRequest is a 400 about param.
func badRequest(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, msg: fmt.Sprintf(format, args...)}
}

// writeError answers err in OpenAI's shape, unless the response has begun
// (a stream reports its errors in the stream).
func (s *Server) writeError(w *recorder, r *http.Request, err error) {
	if w.status != 0 {
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = s.classify(r, err)
	}
	if ae.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	body := map[string]any{"error": map[string]any{"message": ae.msg, "type": ae.typ, "param": nullable(ae.param), "code": nullable(ae.code)}}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.status)
	json.NewEncoder(w).Encode(body)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// classify maps an error of the golem API to its HTTP answer.
func (s *Server) classify(r *http.Request, err error) *apiError {
	var fe *golem.FieldError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error", code: "request_too_large",
			msg: fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit)}
	case errors.As(err, &fe):
		param := paramOf(fe.Field)
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param,
			msg: fmt.Sprintf("%s %s: want %s", param, fe.Value, fe.Want)}
	case errors.Is(err, golem.ErrQueueFull):
		return &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "queue_full",
			msg: "the server is busy: every sequence is taken and the queue is full; retry later"}
	case errors.Is(err, golem.ErrContextFull):
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "context_length_exceeded", msg: err.Error()}
	case errors.Is(err, golem.ErrEmptyPrompt):
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: "prompt", msg: err.Error()}
	case errors.Is(err, golem.ErrNoChatTemplate):
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "chat_template_unsupported",
			msg: fmt.Sprintf("the model has no chat template golem renders: %v; /v1/completions still works, or start the server with --template", err)}
	case errors.Is(err, golem.ErrChatMessages):
		return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: "messages", msg: err.Error()}
	case errors.Is(err, golem.ErrClosed):
		return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", msg: "the server is shutting down"}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		if s.reqCtx.Err() != nil {
			return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", msg: "the server is shutting down: the request was cancelled"}
		}
		// The client went away: nobody reads this.
		return &apiError{status: 499, typ: "invalid_request_error", msg: "request cancelled"}
	}
	s.log.Error("request failed", "path", r.URL.Path, "err", err)
	return &apiError{status: http.StatusInternalServerError, typ: "server_error", msg: err.Error()}
}

// paramOf is the request field that sets a golem.GenerateOptions field.
func paramOf(field string) string {
	switch field {
	case "MaxTokens":
		return "max_tokens"
	case "Temperature":
		return "temperature"
	case "TopK":
		return "top_k"
	case "TopP":
		return "top_p"
	case "MinP":
		return "min_p"
	case "RepeatPenalty":
		return "repeat_penalty"
	case "RepeatLastN":
		return "repeat_last_n"
	case "PresencePenalty":
		return "presence_penalty"
	case "FrequencyPenalty":
		return "frequency_penalty"
	case "TopLogProbs":
		return "top_logprobs"
	}
	return field
}

// decode reads r's JSON body into v, within the size limit.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.maxBody)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return badRequest("", "malformed JSON: data after the request object")
	}
	return nil
}

// jsonError is a body that does not decode: too large (413), of the wrong
// type (400 naming the field) or not JSON (400).
func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &te):
		field := strings.TrimPrefix(te.Field, "sampling.")
		if field == "" {
			return badRequest("", "malformed JSON: want an object, not %s", te.Value)
		}
		return badRequest(field, "%s: want %s, not %s", field, jsonType(te.Type.String()), te.Value)
	case errors.As(err, &se):
		return badRequest("", "malformed JSON at byte %d: %v", se.Offset, err)
	}
	return badRequest("", "malformed JSON: %v", err)
}

// jsonType names a Go type as JSON does.
func jsonType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "*"):
		return jsonType(goType[1:])
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	}
	return "an object"
}

// writeJSON answers v with status 200.
func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// notFound answers paths the API does not have.
func (s *Server) notFound(_ http.ResponseWriter, r *http.Request) error {
	switch r.URL.Path {
	case "/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize", "/health", "/metrics", "/v1/models":
		return &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
			msg: fmt.Sprintf("%s does not take %s", r.URL.Path, r.Method)}
	}
	return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "not_found", msg: fmt.Sprintf("no endpoint %s", r.URL.Path)}
}

// health answers {"status": "ok"}, or 503 while the server shuts down.
func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	if s.draining.Load() {
		return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", msg: "the server is shutting down"}
	}
	return writeJSON(w, map[string]string{"status": "ok"})
}
