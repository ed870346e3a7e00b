package server

import (
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/golem-llm/golem"
)

// tokenizeRequest is llama-server's POST /tokenize body.
type tokenizeRequest struct {
	Content      *string `json:"content"`
	AddSpecial   bool    `json:"add_special"`   // add BOS (default false, as llama-server)
	ParseSpecial *bool   `json:"parse_special"` // control-token texts become tokens (default true)
	WithPieces   bool    `json:"with_pieces"`
}

// tokenize answers POST /tokenize: {"tokens": [ids]}, or with
// "with_pieces" {"tokens": [{"id", "piece"}]} where a piece that is not
// valid UTF-8 is given as its bytes.
func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) error {
	var req tokenizeRequest
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	if req.Content == nil {
		return badRequest("content", "content: missing")
	}
	parse := req.ParseSpecial == nil || *req.ParseSpecial
	ids := s.m.Tokenize(*req.Content, golem.TokenizeOptions{NoBOS: !req.AddSpecial, ParseSpecial: parse})
	if ids == nil {
		ids = []int32{}
	}
	if !req.WithPieces {
		return writeJSON(w, map[string]any{"tokens": ids})
	}
	type withPiece struct {
		ID    int32 `json:"id"`
		Piece any   `json:"piece"`
	}
	out := make([]withPiece, len(ids))
	for i, id := range ids {
		p := s.m.Tokenizer().Piece(id)
		var piece any = p
		if !utf8.ValidString(p) {
			piece = intBytes([]byte(p))
		}
		out[i] = withPiece{ID: id, Piece: piece}
	}
	return writeJSON(w, map[string]any{"tokens": out})
}

// detokenize answers POST /detokenize {"tokens": [ids]} with
// {"content": text}.
func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Tokens []int32 `json:"tokens"`
	}
	if err := s.decode(w, r, &req); err != nil {
		return err
	}
	vocab := s.m.Tokenizer().VocabSize()
	for i, id := range req.Tokens {
		if id < 0 || int(id) >= vocab {
			return badRequest("tokens", "tokens[%d] %d: outside the vocabulary of %d tokens", i, id, vocab)
		}
	}
	return writeJSON(w, map[string]string{"content": s.m.Detokenize(req.Tokens)})
}

// modelObject is the model as /v1/models lists it.
func (s *Server) modelObject() map[string]any {
	info := s.m.Info()
	return map[string]any{"id": s.name, "object": "model", "created": s.started.Unix(), "owned_by": "golem",
		"meta": map[string]any{"arch": info.Arch, "params": info.Params, "vocab": info.VocabSize, "context": info.Context,
			"parallel": info.Parallel, "device": info.Device, "chat_template": info.ChatTemplate}}
}

// models answers GET /v1/models.
func (s *Server) models(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, map[string]any{"object": "list", "data": []any{s.modelObject()}})
}

// model answers GET /v1/models/{id}.
func (s *Server) model(w http.ResponseWriter, r *http.Request) error {
	if id := r.PathValue("id"); id != s.name {
		return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: "model", code: "model_not_found",
			msg: fmt.Sprintf("the model %q does not exist: this server serves %q", id, s.name)}
	}
	return writeJSON(w, s.modelObject())
}
