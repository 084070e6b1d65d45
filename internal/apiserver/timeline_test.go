package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// The tests here run the guard, the cache, the bound and the introspection
// client against the local ZITADEL's handler in memory, inside a
// testing/synctest bubble: the guard, its cache and the issuer all read the
// bubble's fake clock, which a test moves on with time.Sleep at no cost.
// What happens over the network, through a sample's run, is tested in
// internal/apiservertest.

// inMemory serves a client's requests with a handler, in the caller's
// goroutine, without a connection.
type inMemory struct{ h http.Handler }

func (m inMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.RequestURI = r.URL.RequestURI()
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// guarded is /api/private behind a guard that introspects at inst with
// Basic credentials, as api-basic-authentication does, through a cache
// with ttl (0: none) and the bound.
func guarded(inst *localzitadel.Instance, ttl time.Duration) http.Handler {
	app := inst.BasicAPI
	client := &introspect.Client{
		URL: inst.IntrospectionURL,
		Authenticate: func(req *http.Request, _ url.Values) error {
			req.SetBasicAuth(url.QueryEscape(app.ClientID), url.QueryEscape(app.ClientSecret))
			return nil
		},
		HTTP: &http.Client{Transport: inMemory{inst.Handler()}},
	}
	logger := slog.New(slog.DiscardHandler)
	g := &Guard{realm: "timeline", logger: logger, introspect: client.Introspect, bound: newBound(DefaultMaxInFlight, logger)}
	if ttl > 0 {
		g.cache = newCache(ttl)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/private", g.RequireToken(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"message": "private"})
	})))
	return mux
}

func get(h http.Handler, token string) int {
	req := httptest.NewRequest(http.MethodGet, "/api/private", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func startZitadel(t *testing.T) *localzitadel.Instance {
	t.Helper()
	inst, err := localzitadel.Start(context.Background(), localzitadel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	return inst
}

// mint issues a token in the bubble: its exp counts from the fake clock.
func mint(t *testing.T, inst *localzitadel.Instance, lifetime time.Duration) string {
	t.Helper()
	token, err := inst.MintToken(inst.Reader, localzitadel.TokenOptions{Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestCacheTimeline: with a cache, a token revoked in ZITADEL passes until
// its entry is INTROSPECTION_CACHE_TTL old, not a moment longer; and an
// entry never outlives the token's exp, however long the TTL.
func TestCacheTimeline(t *testing.T) {
	inst := startZitadel(t)
	want := func(t *testing.T, h http.Handler, token string, status int, when string) {
		t.Helper()
		if got := get(h, token); got != status {
			t.Fatalf("%s: status %d, want %d", when, got, status)
		}
	}

	t.Run("a revoked token passes until its entry expires", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const ttl = 30 * time.Second
			api := guarded(inst, ttl)
			token := mint(t, inst, time.Hour)
			want(t, api, token, 200, "before the revocation")
			inst.Revoke(token)
			want(t, api, token, 200, "just after the revocation")
			time.Sleep(ttl - time.Millisecond)
			want(t, api, token, 200, "just before the TTL")
			time.Sleep(time.Millisecond)
			want(t, api, token, 401, "at the TTL")
		})
	})

	t.Run("an entry never outlives the token, even with a long TTL", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const lifetime = 2 * time.Minute
			api := guarded(inst, time.Hour)
			token := mint(t, inst, lifetime)
			inst.ResetStats()
			want(t, api, token, 200, "when issued")
			time.Sleep(lifetime - time.Millisecond)
			want(t, api, token, 200, "just before exp")
			if n := inst.Stats().Introspect; n != 1 {
				t.Fatalf("%d introspections before exp, want 1", n)
			}
			time.Sleep(time.Millisecond)
			want(t, api, token, 401, "at exp")
		})
	})
}

// TestGuardLeavesNothingRunning sends concurrent requests of every kind
// through the guard, with and without the cache. When they have been
// answered, nothing the guard, the cache or the
// bound started may still run: synctest.Test fails on a goroutine of the
// bubble that is left blocked.
func TestGuardLeavesNothingRunning(t *testing.T) {
	inst := startZitadel(t)
	for _, ttl := range []time.Duration{DefaultCacheTTL, 0} {
		t.Run(fmt.Sprintf("TTL %s", ttl), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := guarded(inst, ttl)
				reader := mint(t, inst, time.Hour)
				revoked := mint(t, inst, time.Hour)
				inst.Revoke(revoked)
				tokens := []string{reader, revoked, "", "garbage", reader}
				var wg sync.WaitGroup
				for i := range 200 {
					wg.Go(func() {
						token, want := tokens[i%len(tokens)], 401
						switch token {
						case reader:
							want = 200
						case "garbage":
							token = fmt.Sprintf("garbage-%d", i)
						}
						if got := get(api, token); got != want {
							t.Errorf("request %d: status %d, want %d", i, got, want)
						}
					})
				}
				wg.Wait()
			})
		})
	}
}
