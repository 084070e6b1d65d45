package apiservertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// testBound checks what reaches ZITADEL and the log when it is slow: one
// log line per failed introspection, however many requests shared it; no
// more introspections in flight than INTROSPECTION_MAX_IN_FLIGHT, the rest
// answered 503 after a brief wait; a cached token unaffected. A gate holds
// ZITADEL's answers, so that what is in flight is known, not timed.
func (h *harness) testBound(t *testing.T) {
	inst := h.inst
	defer inst.SetFault(localzitadel.Fault{})

	t.Run("one log line per failed introspection, not one per waiter", func(t *testing.T) {
		inst.SetFault(localzitadel.Fault{Status: 500})
		inst.ResetStats()
		api, answers := h.overlapping(t, 20)
		for _, a := range answers {
			h.expect(t, a, 503, "temporarily_unavailable")
		}
		inst.SetFault(localzitadel.Fault{})
		// A request the API read only after the failure introspects again
		// (errors are not cached) and logs its own line; each of the others
		// waited for the first introspection and logs nothing.
		failed := inst.Stats().Introspect
		if n := int64(strings.Count(api.Logs(), "ZITADEL introspection unavailable")); n != failed || failed >= 20 {
			t.Fatalf("%d log lines for %d failed introspections shared by 20 requests, want one line each and fewer than 20 introspections:\n%s", n, failed, api.Logs())
		}
	})

	t.Run("introspections in flight stay within the bound", func(t *testing.T) {
		gate := newGate(t, inst)
		// The held introspections must outlast the requests' wait for a slot.
		api := h.start(t, "ZITADEL_INTROSPECTION_URL", gate.URL, "INTROSPECTION_MAX_IN_FLIGHT", "2", "INTROSPECTION_TIMEOUT", "30s")
		cached := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		h.expect(t, api.Get(t, "/api/private", bearer(cached)), 200, privateMessage)
		inst.ResetStats()
		gate.Hold()
		requests := sendAll(api, "/api/private", 10, func(i int) string { return fmt.Sprintf("unknown-token-%d", i) })
		gate.waitHeld(t, 2)
		// Both slots are taken and ZITADEL does not answer: a cached token
		// still passes. Had it waited for a slot, it would get 503.
		h.expect(t, api.Get(t, "/api/private", bearer(cached)), 200, privateMessage)
		// The other eight wait for a slot in vain.
		for _, a := range requests.answers(t, 8) {
			h.expect(t, a, 503, "temporarily_unavailable")
		}
		gate.Open()
		for _, a := range requests.answers(t, 2) {
			h.expect(t, a, 401, "invalid_token")
		}
		h.wantIntrospections(t, 2)
		if n := strings.Count(api.Logs(), "at their bound"); n != 1 {
			t.Fatalf("%d log lines about the bound, want 1:\n%s", n, api.Logs())
		}
	})
}
