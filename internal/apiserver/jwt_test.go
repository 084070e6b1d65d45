package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
	"github.com/zitadel/go-introspection-examples/internal/jwtverify"
)

// verification stands in for jwtverify: every token gets the same answer.
type verification struct {
	token *jwtverify.Token
	err   error
	calls atomic.Int64
}

func (v *verification) Verify(context.Context, string) (*jwtverify.Token, error) {
	v.calls.Add(1)
	return v.token, v.err
}

// TestJWTFirst: with TOKEN_VALIDATION=jwt the guard asks ZITADEL only about
// what it cannot verify, and about roles a JWT does not say for this project.
func TestJWTFirst(t *testing.T) {
	reader := &introspect.Result{Active: true, Caller: introspect.Caller{Roles: []string{"read:messages"}}}
	withRole := &jwtverify.Token{Caller: introspect.Caller{Roles: []string{"read:messages"}}, RoleClaims: true}
	withoutRoleClaim := &jwtverify.Token{}
	notJWT := fmt.Errorf("%w: five parts", jwtverify.ErrNotJWT)
	tests := []struct {
		name           string
		jwt            *verification
		zitadel        *answer
		status         int
		introspections int64
	}{
		{"JWT with the role", &verification{token: withRole}, &answer{}, 200, 0},
		{"JWT with the project's role claim, without the role", &verification{token: &jwtverify.Token{RoleClaims: true}}, &answer{result: reader}, 403, 0},
		{"JWT the issuer signed, expired", &verification{err: &jwtverify.InvalidError{Reason: "expired"}}, &answer{result: reader}, 401, 0},
		{"JWT without the project's role claim, ZITADEL has the role", &verification{token: withoutRoleClaim}, &answer{result: reader}, 200, 1},
		{"JWT without the project's role claim, ZITADEL has none", &verification{token: withoutRoleClaim}, &answer{result: &introspect.Result{Active: true}}, 403, 1},
		{"JWT without the project's role claim, revoked in ZITADEL", &verification{token: withoutRoleClaim}, &answer{result: &introspect.Result{}}, 401, 1},
		{"JWT without the project's role claim, ZITADEL down", &verification{token: withoutRoleClaim}, &answer{err: &introspect.UnavailableError{Reason: "down"}}, 503, 1},
		{"not a JWT: introspected", &verification{err: notJWT}, &answer{result: reader}, 200, 1},
		{"not a JWT, inactive", &verification{err: notJWT}, &answer{result: &introspect.Result{}}, 401, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testGuard(tt.zitadel, io.Discard)
			g.verify = tt.jwt.Verify
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
	g := testGuard(&answer{result: &introspect.Result{Active: true}}, &logs)
	g.bound = newBound(1, g.logger)
	g.bound.maxWait = 0
	g.bound.slots <- struct{}{}    // the one slot is taken
	g.bound.lastLog.Store(1 << 62) // and the bound has just logged
	req := httptest.NewRequest(http.MethodGet, "/api/private-scoped", nil)
	req.Header.Set("Authorization", "Bearer t0k.en")
	rec := httptest.NewRecorder()
	scopedRoute(g).ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "5" || !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Fatalf("got %d %s, Retry-After %q; want 503 temporarily_unavailable, 5", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	if logs.Len() != 0 {
		t.Fatalf("logged %q", logs.String())
	}
}
