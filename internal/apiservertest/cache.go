package apiservertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// testCache checks what the cache saves ZITADEL and what it costs: a
// revoked token passes while its entry lives. When an entry ends (the TTL,
// the token's exp) is proven on a fake clock by TestCacheTimeline in
// internal/apiserver and the Cache's own tests; here, through the sample,
// only what needs no waiting.
func (h *harness) testCache(t *testing.T) {
	inst := h.inst
	api := h.start(t)

	t.Run("100 sequential requests, 1 introspection", func(t *testing.T) {
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.ResetStats()
		h.repeat(t, 100, api, "/api/private-scoped", token, 200, scopedMessage)
		h.wantIntrospections(t, 1)
	})

	t.Run("50 concurrent requests with a fresh token, 1 introspection", func(t *testing.T) {
		inst.ResetStats()
		_, answers := h.overlapping(t, 50)
		for _, a := range answers {
			h.expect(t, a, 200, privateMessage)
		}
		h.wantIntrospections(t, 1)
	})

	t.Run("inactive answers are cached briefly", func(t *testing.T) {
		inst.ResetStats()
		h.repeat(t, 10, api, "/api/private", "unknown-token", 401, "invalid_token")
		h.wantIntrospections(t, 1)
	})

	t.Run("TTL 0: every request introspects", func(t *testing.T) {
		uncached := h.start(t, "INTROSPECTION_CACHE_TTL", "0")
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.ResetStats()
		h.repeat(t, 10, uncached, "/api/private", token, 200, privateMessage)
		h.wantIntrospections(t, 10)
	})

	t.Run("an entry never outlives the token, even with a long TTL", func(t *testing.T) {
		api := h.start(t, "INTROSPECTION_CACHE_TTL", "1h")
		// A token an hour from its exp is kept: one introspection.
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: time.Hour})
		inst.ResetStats()
		h.repeat(t, 3, api, "/api/private", token, 200, privateMessage)
		h.wantIntrospections(t, 1)
		// ZITADEL calls a token active whose exp has passed by the API's
		// clock (ZITADEL's clock lags a second): the answer serves its
		// request and is not kept, so each request asks again.
		expired := h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: time.Hour})
		inst.SetFault(localzitadel.Fault{Status: 200, ContentType: "application/json",
			Body: fmt.Sprintf(`{"active":true,"sub":%q,"exp":%d}`, inst.Reader.UserID, time.Now().Add(-time.Second).Unix())})
		defer inst.SetFault(localzitadel.Fault{})
		inst.ResetStats()
		h.repeat(t, 3, api, "/api/private", expired, 200, privateMessage)
		h.wantIntrospections(t, 3)
	})

	t.Run("with a TTL, a revoked token passes while its entry lives", func(t *testing.T) {
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.ResetStats()
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		inst.Revoke(token)
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		h.wantIntrospections(t, 1)
		// Without a cache the revocation counts at once: testAnswers,
		// "revoked after use, once the cache entry is gone".
	})
}
