// Package apiserver is what the two API samples share: the three routes of
// the blog post, the middleware that protects them with ZITADEL token
// introspection, the settings, and the HTTP server (blog sections 3.1-3.3).
//
// A sample brings only its way of authenticating to ZITADEL.
package apiserver

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// The answers of the three routes, word for word those of the original samples.
const (
	PublicMessage  = "Public route - You don't need to be authenticated to see this."
	PrivateMessage = "Private route - You need to be authenticated to see this."
	ScopedMessage  = "Private, scoped route - You need to be authenticated and have the role read:messages to see this."
)

// ReadMessages is the project role /api/private-scoped requires.
const ReadMessages = "read:messages"

// NewHandler returns the API: every route it serves, in one place.
func NewHandler(g *Guard, logger *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(logRequests(logger))
	r.NotFound(replyMessage(http.StatusNotFound, "not_found", "There is no such route."))
	r.MethodNotAllowed(replyMessage(http.StatusMethodNotAllowed, "method_not_allowed", "The route answers GET only."))

	r.Get("/api/public", message(PublicMessage))
	r.With(g.RequireToken).Get("/api/private", message(PrivateMessage))
	r.With(g.RequireToken, g.RequireRole(ReadMessages)).Get("/api/private-scoped", message(ScopedMessage))
	return r
}

func message(text string) http.HandlerFunc {
	return replyJSON(http.StatusOK, map[string]string{"message": text})
}

func replyMessage(status int, code, description string) http.HandlerFunc {
	return replyJSON(status, map[string]string{"code": code, "description": description})
}

func replyJSON(status int, v map[string]string) http.HandlerFunc {
	body := encodeJSON(v)
	return func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, status, body)
	}
}

// logRequests logs one line per request: method, path, status and duration.
// Never the query or header values, which may carry a token.
func logRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(sw, r)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", sw.status),
				slog.Duration("duration", time.Since(start)))
		})
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
