package apiserver

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
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

// MethodNotAllowed also sends the Allow header a 405 must carry (RFC 9110
// §15.5.6): the methods the router has for the path, and HEAD beside GET,
// which a router with chi's middleware.GetHead answers as net/http does.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	allowed := allowedMethods(r)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	WriteError(w, http.StatusMethodNotAllowed, "method_not_allowed", "The route answers "+strings.Join(allowed, ", ")+" only.")
}

func allowedMethods(r *http.Request) []string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || rctx.Routes == nil {
		return []string{http.MethodGet, http.MethodHead}
	}
	path := rctx.RoutePath
	if path == "" {
		path = r.URL.Path
	}
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		if rctx.Routes.Match(chi.NewRouteContext(), m, path) || m == http.MethodHead && slices.Contains(allowed, http.MethodGet) {
			allowed = append(allowed, m)
		}
	}
	return allowed
}

// LogRequests logs one line per request: method, path, status, duration,
// and what the handler added with AddToLog. Never the query or header
// values, which may carry a token.
func LogRequests(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
			// The line's own four attributes come first, filled in once the
			// request is answered; AddToLog appends after them, into the
			// array in sw while four more fit: no allocation of their own.
			sw.attrs = sw.buf[:4]
			next.ServeHTTP(sw, r)
			sw.attrs[0] = slog.String("method", r.Method)
			sw.attrs[1] = slog.String("path", r.URL.Path)
			sw.attrs[2] = slog.Int("status", sw.status)
			sw.attrs[3] = slog.Duration("duration", time.Since(start))
			logger.LogAttrs(r.Context(), slog.LevelInfo, "request", sw.attrs...)
		})
	}
}

// AddToLog adds attrs to the line LogRequests logs for this request, e.g.
// who called: one line per request, not a second one from the handler.
// Outside LogRequests it does nothing.
func AddToLog(w http.ResponseWriter, attrs ...slog.Attr) {
	for {
		if sw, ok := w.(*statusWriter); ok {
			sw.attrs = append(sw.attrs, attrs...)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	attrs  []slog.Attr // the log line's: its own four, then AddToLog's
	buf    [8]slog.Attr
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
