package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/api"
	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// TestLoad sends thousands of concurrent requests of every kind to an API,
// with and without its cache, and counts the wrong answers, which must be
// none. Once the APIs and the issuer have stopped, every goroutine they
// started must be gone.
func TestLoad(t *testing.T) {
	const requests, workers = 4000, 32
	baseline := runtime.NumGoroutine()

	inst, err := localzitadel.Start(context.Background(), localzitadel.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	secrets := &apiservertest.Secrets{}
	secrets.Add(inst.BasicAPI.ClientSecret)
	mint := func(u *localzitadel.ServiceUser, o localzitadel.TokenOptions) string {
		token, err := inst.MintToken(u, o)
		if err != nil {
			t.Fatal(err)
		}
		secrets.Add(token)
		return token
	}
	reader := mint(inst.Reader, localzitadel.TokenOptions{})
	jwtReader := mint(inst.JWTReader, localzitadel.TokenOptions{})
	noRole := mint(inst.NoRole, localzitadel.TokenOptions{})
	expired := mint(inst.Reader, localzitadel.TokenOptions{Lifetime: -time.Minute})
	revoked := mint(inst.Reader, localzitadel.TokenOptions{})
	inst.Revoke(revoked)
	secrets.Add(inst.Reader.PAT, inst.NoRole.PAT)

	const garbage = "(a new garbage token for each request)"
	cases := []struct {
		path   string
		token  string // "" sends no Authorization header
		status int
		want   string
	}{
		{"/api/public", "", 200, api.PublicMessage},
		{"/api/private", reader, 200, api.PrivateMessage},
		{"/api/private-scoped", reader, 200, api.PrivateScopedMessage},
		{"/api/private-scoped", jwtReader, 200, api.PrivateScopedMessage},
		{"/api/private-scoped", inst.Reader.PAT, 200, api.PrivateScopedMessage},
		{"/api/private", noRole, 200, api.PrivateMessage},
		{"/api/private-scoped", noRole, 403, "insufficient_scope"},
		{"/api/private-scoped", inst.NoRole.PAT, 403, "insufficient_scope"},
		{"/api/private", revoked, 401, "invalid_token"},
		{"/api/private-scoped", revoked, 401, "invalid_token"},
		{"/api/private", expired, 401, "invalid_token"},
		{"/api/private", garbage, 401, "invalid_token"},
		{"/api/private-scoped", garbage, 401, "invalid_token"},
		{"/api/private", "", 401, "missing_token"},
	}

	for _, ttl := range []string{"30s", "0"} {
		t.Run("INTROSPECTION_CACHE_TTL="+ttl, func(t *testing.T) {
			env := inst.Env(nil, "")
			env["INTROSPECTION_CACHE_TTL"] = ttl
			// Under -race on a busy machine an introspection may take
			// longer than the default 5 s: that would be a 503, not the
			// wrong answer this test looks for.
			env["INTROSPECTION_TIMEOUT"] = "30s"
			server := apiservertest.Start(t, apiservertest.Reference, env, secrets)

			var wrong apiservertest.Tally
			apiservertest.Concurrently(requests, workers, func(i int) {
				c := cases[i%len(cases)]
				var authorization []string
				switch c.token {
				case "":
				case garbage:
					authorization = []string{fmt.Sprintf("Bearer garbage-%d", i)}
				default:
					authorization = []string{"Bearer " + c.token}
				}
				got, err := server.Do(c.path, authorization...)
				if err == nil {
					err = got.Check(apiservertest.Reference.Name, c.status, c.want)
				}
				if err != nil {
					wrong.Add(fmt.Errorf("request %d to %s: %w", i, c.path, err))
				}
			})
			wrong.Report(t, requests)
		})
	}

	if err := inst.Close(); err != nil {
		t.Fatal(err)
	}
	// Goroutines of closed connections end a moment after the close.
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > baseline && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	if n > baseline {
		var stacks bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
		t.Fatalf("%d goroutines after the load, %d before:\n%s", n, baseline, stacks.String())
	}
}
