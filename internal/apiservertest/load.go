package apiservertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// Load sends thousands of concurrent requests of every kind to a sample,
// with and without its cache, and counts the wrong answers, which must be
// none. It does not depend on the sample's method: api-basic-authentication's
// tests call it, api-jwt's run TestGuard. Run with -race, it also finds data
// races between requests.
func Load(t *testing.T, sample API, requests int) {
	const workers = 32
	h := newHarness(t, sample)
	inst := h.inst
	reader := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
	jwtReader := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{})
	noRole := h.mint(t, inst.NoRole, localzitadel.TokenOptions{})
	expired := h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: -time.Minute})
	revoked := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
	inst.Revoke(revoked)

	const garbage = "(a new garbage token for each request)"
	cases := []request{
		{"/api/public", "", 200, publicMessage},
		{"/api/private", reader, 200, privateMessage},
		{"/api/private-scoped", reader, 200, scopedMessage},
		{"/api/private-scoped", jwtReader, 200, scopedMessage},
		{"/api/private-scoped", inst.Reader.PAT, 200, scopedMessage},
		{"/api/private", noRole, 200, privateMessage},
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
			// Under -race on a busy machine an introspection may take
			// longer than the default 5 s: that would be a 503, not the
			// wrong answer this test looks for.
			api := h.start(t, "INTROSPECTION_CACHE_TTL", ttl, "INTROSPECTION_TIMEOUT", "30s")
			var wrong Tally
			Concurrently(requests, workers, func(i int) {
				c := cases[i%len(cases)]
				if c.token == garbage {
					c.token = fmt.Sprintf("garbage-%d", i)
				}
				got, err := api.Do(c.path, c.authorization()...)
				if err == nil {
					err = got.Check(sample.Name, c.status, c.want)
				}
				if err != nil {
					wrong.Add(fmt.Errorf("request %d to %s: %w", i, c.path, err))
				}
			})
			wrong.Report(t, requests)
		})
	}
}
