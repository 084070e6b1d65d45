package apiservertest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// testBound checks what reaches ZITADEL and the log when it is slow: one
// log line per failed introspection, however many requests shared it; no
// more introspections in flight than INTROSPECTION_MAX_IN_FLIGHT, the rest
// answered 503 after a brief wait; a cached token unaffected.
func (h *harness) testBound(t *testing.T) {
	inst := h.inst
	defer inst.SetFault(localzitadel.Fault{})

	t.Run("one log line per failed introspection, not one per waiter", func(t *testing.T) {
		api := h.start(t)
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.SetFault(localzitadel.Fault{Status: 500, Delay: time.Second})
		answers := concurrentGets(t, api, 20, func(int) string { return token })
		inst.SetFault(localzitadel.Fault{})
		for _, a := range answers {
			h.expect(t, a, 503, "temporarily_unavailable")
		}
		if n := strings.Count(api.Logs(), "ZITADEL introspection unavailable"); n != 1 {
			t.Fatalf("%d log lines for one failed introspection shared by 20 requests:\n%s", n, api.Logs())
		}
	})

	t.Run("introspections in flight stay within the bound", func(t *testing.T) {
		api := h.start(t, "INTROSPECTION_MAX_IN_FLIGHT", "2")
		cached := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		h.expect(t, api.Get(t, "/api/private", bearer(cached)), 200, privateMessage)
		inst.ResetStats()
		inst.SetFault(localzitadel.Fault{Delay: 1500 * time.Millisecond})
		var answers []Answer
		done := make(chan struct{})
		go func() {
			defer close(done)
			answers = concurrentGets(t, api, 10, func(i int) string { return fmt.Sprintf("unknown-token-%d", i) })
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		h.expect(t, api.Get(t, "/api/private", bearer(cached)), 200, privateMessage)
		if d := time.Since(start); d >= 400*time.Millisecond { // a request that waited for a slot takes 500ms at least
			t.Errorf("a cached token waited %s behind the bound", d)
		}
		<-done
		inst.SetFault(localzitadel.Fault{})
		busy := 0
		for _, a := range answers {
			if a.Status == 503 {
				h.expect(t, a, 503, "temporarily_unavailable")
				busy++
			} else {
				h.expect(t, a, 401, "invalid_token")
			}
		}
		if got := inst.Stats().Introspect; got != 2 || busy != 8 {
			t.Fatalf("ZITADEL saw %d introspections and %d requests got 503; want 2 and 8", got, busy)
		}
		if n := strings.Count(api.Logs(), "at their bound"); n != 1 {
			t.Fatalf("%d log lines about the bound, want 1:\n%s", n, api.Logs())
		}
	})
}

// concurrentGets sends n requests to /api/private at once, request i with
// the token token(i), and returns the answers.
func concurrentGets(t *testing.T, api *Server, n int, token func(i int) string) []Answer {
	t.Helper()
	answers := make([]Answer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { answers[i], errs[i] = api.Do("/api/private", bearer(token(i))) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return answers
}
