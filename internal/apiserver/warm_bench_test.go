package apiserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/api"
	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// BenchmarkWarmPath measures the API's own work for one request whose token
// is in the cache, without the network: router, request log, guard, cache
// lookup and answer. Profile it with
//
//	go test -run '^$' -bench WarmPath -benchmem -cpuprofile cpu.out -memprofile mem.out ./internal/apiserver/
//	go tool pprof -top cpu.out
func BenchmarkWarmPath(b *testing.B) {
	reader := &introspect.Result{Active: true, Subject: "u1", Username: "reader", Expiry: time.Now().Add(time.Hour), Roles: []string{api.RoleReadMessages}}
	g := &apiserver.Guard{
		Introspector: introspect.NewCache(fixedAnswer{reader}, time.Minute),
		Realm:        "bench",
		Logger:       slog.New(slog.DiscardHandler),
	}
	// The samples' route table; the log writes to a handler that formats, as theirs does.
	h := apiservertest.Routes(g, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// As long as ZITADEL's tokens: an opaque one (compact-JWE-shaped) and a
	// JWT access token. The cache keys them by their hash either way.
	tokens := map[string]string{"opaque": strings.Repeat("x", 220), "JWT": strings.Repeat("y", 720)}

	for _, route := range []string{"public", "private", "private-scoped"} {
		for _, kind := range []string{"opaque", "JWT"} {
			b.Run(route+"/"+kind, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/api/"+route, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[kind])
				w := &discardWriter{header: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.header)
					w.status = 0
					h.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		}
	}
}

// fixedAnswer is an Introspector that gives every token the same answer.
type fixedAnswer struct{ result *introspect.Result }

func (a fixedAnswer) Introspect(context.Context, string) (*introspect.Result, error) {
	return a.result, nil
}

// discardWriter is a ResponseWriter that costs nothing, so the benchmark
// counts only the handler's allocations.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) WriteHeader(status int) { w.status = status }
