package apiservertest

import (
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"sync"
	"testing"
	"time"
)

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
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.ResetStats()
		// A slow ZITADEL makes sure the requests overlap.
		inst.SetFault(localzitadel.Fault{Delay: 300 * time.Millisecond})
		defer inst.SetFault(localzitadel.Fault{})
		answers := make([]Answer, 50)
		errs := make([]error, 50)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() { answers[i], errs[i] = api.Do("/api/private", bearer(token)) })
		}
		wg.Wait()
		for i := range 50 {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			h.expect(t, answers[i], 200, privateMessage)
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
		const lifetime = 1500 * time.Millisecond
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: lifetime})
		minted := time.Now()
		inst.ResetStats()
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		time.Sleep(time.Until(minted.Add(lifetime + 100*time.Millisecond)))
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 401, "invalid_token")
		h.wantIntrospections(t, 2)
	})

	t.Run("with TTL, a revoked token passes until its entry expires", func(t *testing.T) {
		api := h.start(t, "INTROSPECTION_CACHE_TTL", "1s")
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		inst.Revoke(token)
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		time.Sleep(1100 * time.Millisecond)
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 401, "invalid_token")
	})
}
