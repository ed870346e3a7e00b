package server

import (
	"embed"
	"net/http"
	"path"
)

// staticFiles holds the chat page: plain HTML and JavaScript, no build step,
// nothing loaded from elsewhere.
//
//go:embed static/index.html static/app.js
var staticFiles embed.FS

// page answers GET / with the chat page.
func (s *Server) page(w http.ResponseWriter, r *http.Request) error {
	return s.serveFile(w, r, "index.html")
}

// static answers GET /static/{file}.
func (s *Server) static(w http.ResponseWriter, r *http.Request) error {
	return s.serveFile(w, r, r.PathValue("file"))
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string) error {
	data, err := staticFiles.ReadFile(path.Join("static", name))
	if err != nil {
		return s.notFound(w, r)
	}
	switch path.Ext(name) {
	case ".html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
	_, err = w.Write(data)
	return err
}
