package apiserver

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"
)

// WriteJSON writes v as the JSON body of an answer with status. The API's
// answers are never cached: they depend on the caller's token.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // the messages are text, not HTML
	_ = enc.Encode(v)        // the client went away: nothing to do
}

// WriteError writes the API's error answer, {"code","description"}, as the
// original samples do. code is an RFC 6750 error code where one applies.
func WriteError(w http.ResponseWriter, status int, code, description string) {
	WriteJSON(w, status, errorBody{code, description})
}

type errorBody struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// NotFound and MethodNotAllowed answer what no route does, in the API's JSON.
func NotFound(w http.ResponseWriter, _ *http.Request) {
	WriteError(w, http.StatusNotFound, "not_found", "There is no such route.")
}

func MethodNotAllowed(w http.ResponseWriter, _ *http.Request) {
	WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The route answers GET only.")
}

// LogRequests logs one line per request: method, path, status and duration.
// Never the query or header values, which may carry a token.
func LogRequests(logger *slog.Logger) func(http.Handler) http.Handler {
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
