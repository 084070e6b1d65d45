package apiserver

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
	"github.com/zitadel/go-introspection-examples/internal/jwtverify"
)

// TestJWTFirst: with a JWT verifier the guard asks ZITADEL only about what it
// cannot verify, and about roles a JWT does not carry.
func TestJWTFirst(t *testing.T) {
	reader := &introspect.Result{Active: true, Roles: []string{"read:messages"}}
	unknownRoles := &introspect.Result{Active: true, RolesUnknown: true}
	notJWT := fmt.Errorf("%w: five parts", jwtverify.ErrNotJWT)
	tests := []struct {
		name           string
		jwt, zitadel   *answer
		status         int
		introspections int64
	}{
		{"JWT with the role", &answer{result: reader}, &answer{}, 200, 0},
		{"JWT the issuer signed, expired", &answer{result: &introspect.Result{}}, &answer{result: reader}, 401, 0},
		{"JWT without role claims, ZITADEL has the role", &answer{result: unknownRoles}, &answer{result: reader}, 200, 1},
		{"JWT without role claims, ZITADEL has none", &answer{result: unknownRoles}, &answer{result: &introspect.Result{Active: true}}, 403, 1},
		{"JWT without role claims, revoked in ZITADEL", &answer{result: unknownRoles}, &answer{result: &introspect.Result{}}, 401, 1},
		{"JWT without role claims, ZITADEL down", &answer{result: unknownRoles}, &answer{err: &introspect.UnavailableError{Reason: "down"}}, 503, 1},
		{"not a JWT: introspected", &answer{err: notJWT}, &answer{result: reader}, 200, 1},
		{"not a JWT, inactive", &answer{err: notJWT}, &answer{result: &introspect.Result{}}, 401, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &Guard{Introspector: tt.zitadel, JWT: tt.jwt, Realm: "test-api", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/api/private-scoped", nil)
			req.Header.Set("Authorization", "Bearer a.b.c")
			scopedRoute(g).ServeHTTP(rec, req)
			if rec.Code != tt.status || tt.zitadel.calls.Load() != tt.introspections || tt.jwt.calls.Load() != 1 {
				t.Fatalf("%d with %d introspections, %d verifications; want %d, %d, 1",
					rec.Code, tt.zitadel.calls.Load(), tt.jwt.calls.Load(), tt.status, tt.introspections)
			}
		})
	}
}

// TestRequestsTurnedAwayAreNotLogged: the bound on introspections in flight
// logs on its own, once in a while; the guard adds no line per request.
func TestRequestsTurnedAwayAreNotLogged(t *testing.T) {
	var logs strings.Builder
	busy := &answer{err: &introspect.UnavailableError{Reason: "bound reached", Err: introspect.ErrBusy}}
	resp, body := serve(t, busy, &logs, http.Header{"Authorization": {"Bearer t0k.en"}})
	if resp.StatusCode != 503 || body["code"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") != "5" {
		t.Fatalf("got %d %v, Retry-After %q; want 503 temporarily_unavailable, 5", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if logs.Len() != 0 {
		t.Fatalf("logged %q", logs.String())
	}
}
