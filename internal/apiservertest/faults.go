package apiservertest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// request is one request to the API and its right answer while ZITADEL works.
type request struct {
	path   string
	token  string // "" sends no Authorization header
	status int
	want   string // message or error code
}

func (r request) String() string { return fmt.Sprintf("%d %s", r.status, r.want) }

func (r request) authorization() []string {
	if r.token == "" {
		return nil
	}
	return []string{bearer(r.token)}
}

// unavailable is the answer to any protected request while ZITADEL cannot answer.
var unavailable = request{status: http.StatusServiceUnavailable, want: "temporarily_unavailable"}

// mix is a request of each kind whose answer ZITADEL decides, and one it does not.
func (h *harness) mix(t *testing.T, inst *localzitadel.Instance) []request {
	reader := h.mintAt(t, inst, inst.Reader, localzitadel.TokenOptions{})
	noRole := h.mintAt(t, inst, inst.NoRole, localzitadel.TokenOptions{})
	return []request{
		{"/api/public", "", 200, publicMessage},
		{"/api/private", reader, 200, privateMessage},
		{"/api/private-scoped", reader, 200, scopedMessage},
		{"/api/private-scoped", noRole, 403, "insufficient_scope"},
		{"/api/private", "garbage", 401, "invalid_token"},
	}
}

// oneOf returns an error unless got is the answer to one of want.
func (h *harness) oneOf(got Answer, want ...request) error {
	for _, w := range want {
		if got.Check(h.sample.Name, w.status, w.want) == nil {
			return nil
		}
	}
	return fmt.Errorf("got %d %v, want one of %v", got.Status, got.Body, want)
}

func (h *harness) testFaults(t *testing.T) {
	inst := h.inst
	// No cache, so that every request meets the fault; a short timeout keeps
	// the case of a ZITADEL that never answers fast.
	api := h.start(t, "INTROSPECTION_CACHE_TTL", "0", "INTROSPECTION_TIMEOUT", "300ms")
	token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
	const json = "application/json"
	tests := []struct {
		name  string
		fault localzitadel.Fault
	}{
		{"500", localzitadel.Fault{Status: 500, ContentType: json, Body: `{"error":"server_error"}`}},
		{"502 HTML", localzitadel.Fault{Status: 502, ContentType: "text/html", Body: "<html>Bad Gateway</html>"}},
		{"200 HTML", localzitadel.Fault{Status: 200, ContentType: "text/html", Body: "<html>Sign in</html>"}},
		{"200 empty", localzitadel.Fault{Status: 200, ContentType: json}},
		{"200 JSON without active", localzitadel.Fault{Status: 200, ContentType: json, Body: `{"sub":"x"}`}},
		{"200 truncated JSON", localzitadel.Fault{Status: 200, ContentType: json, Body: `{"active":true,"sub":"3`}},
		{`200 "active" as a string`, localzitadel.Fault{Status: 200, ContentType: json, Body: `{"active":"true","sub":"x"}`}},
		// Only the API's own timeout can end this one: the test's client
		// gives up after 30 s, and the answer is a 503, not an error.
		{"never answers", localzitadel.Fault{Delay: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst.SetFault(tt.fault)
			h.expect(t, api.Get(t, "/api/private", bearer(token)), 503, "temporarily_unavailable")
			// Errors are not cached: once ZITADEL is back, so is the API.
			inst.SetFault(localzitadel.Fault{})
			h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		})
	}
	if !strings.Contains(api.Logs(), "unavailable") {
		t.Fatalf("no log line about the unavailable introspection:\n%s", api.Logs())
	}
}

// testRogueAnswers points the API at a server that answers introspection
// as no ZITADEL would. The API must give up after a bounded read, in
// bounded time and memory, and answer 503.
func (h *harness) testRogueAnswers(t *testing.T) {
	token := h.mint(t, h.inst.Reader, localzitadel.TokenOptions{})
	tests := []struct {
		name   string
		answer http.HandlerFunc
	}{
		{"a body without end", endlessAnswer},
		{"connection cut mid-answer", cutAnswer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rogue := httptest.NewServer(tt.answer)
			t.Cleanup(rogue.Close) // after the API has stopped
			// A timeout far beyond the test client's 30 s: the cap on the
			// answer, or noticing the cut, must end the read, not the timeout.
			api := h.start(t, "ZITADEL_INTROSPECTION_URL", rogue.URL+"/oauth/v2/introspect", "INTROSPECTION_TIMEOUT", "1h")

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got := api.Get(t, "/api/private", bearer(token))
			runtime.ReadMemStats(&after)

			h.expect(t, got, 503, "temporarily_unavailable")
			// Reading a 1 MiB answer allocates a few MiB; reading on to
			// the end of the endless one would allocate a gigabyte.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
				t.Errorf("the request allocated %d MiB", grew>>20)
			}
		})
	}
}

// endlessAnswer starts an introspection answer and never finishes it, up
// to 1 GiB, should the API not hang up.
func endlessAnswer(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"active":true,"sub":"`))
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for range (1 << 30) / len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return // the API hung up
		}
	}
}

// cutAnswer promises 1,000 bytes, sends a few and closes the connection.
func cutAnswer(w http.ResponseWriter, _ *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n" + `{"active":true,"sub":"3`)
	_ = buf.Flush()
}

// testOutage makes ZITADEL fail while requests keep coming, then heals it.
// Every answer is the right one or, for a protected route while ZITADEL
// fails, 503; once ZITADEL is back, every answer is right again without
// any restart.
func (h *harness) testOutage(t *testing.T) {
	inst := h.inst
	// No cache: every protected request needs ZITADEL.
	api := h.start(t, "INTROSPECTION_CACHE_TTL", "0")
	requests := h.mix(t, inst)

	const n, workers = 600, 16
	// The outage may affect requests sent or answered in phase 1, which
	// begins before the fault is set and ends after it is cleared.
	var phase atomic.Int32
	var failed, healed atomic.Int64
	var wrong Tally
	Concurrently(n, workers, func(i int) {
		switch i {
		case n / 3:
			phase.Store(1)
			inst.SetFault(localzitadel.Fault{Status: 502, ContentType: "text/html", Body: "<html>Bad Gateway</html>"})
		case 2 * n / 3:
			inst.SetFault(localzitadel.Fault{})
			phase.Store(2)
		}
		r := requests[i%len(requests)]
		sent := phase.Load()
		got, err := api.Do(r.path, r.authorization()...)
		want := []request{r}
		if r.token != "" && sent <= 1 && phase.Load() >= 1 {
			want = append(want, unavailable)
		}
		if err == nil {
			err = h.oneOf(got, want...)
		}
		switch {
		case err != nil:
			wrong.Add(fmt.Errorf("request %d to %s, phase %d: %w", i, r.path, sent, err))
		case got.Status == http.StatusServiceUnavailable:
			failed.Add(1)
		case sent == 2:
			healed.Add(1)
		}
	})
	inst.SetFault(localzitadel.Fault{})
	wrong.Report(t, n)
	if failed.Load() == 0 || healed.Load() == 0 {
		t.Fatalf("%d answers 503 during the outage, %d right ones after it; want some of each", failed.Load(), healed.Load())
	}
}

// testIssuerStopped stops ZITADEL while requests keep coming. Until it has
// stopped, each answer is the right one or 503; after, each protected
// request gets 503, and the public route still answers.
func (h *harness) testIssuerStopped(t *testing.T) {
	other := newInstance(t, h.secrets, "")
	requests := h.mix(t, other)
	api := Start(t, h.sample, h.env(other, "INTROSPECTION_CACHE_TTL", "0"), h.secrets)

	const n, workers = 400, 16
	var stopped atomic.Bool
	var afterwards atomic.Int64
	var wrong Tally
	Concurrently(n, workers, func(i int) {
		if i == n/4 {
			if err := other.Close(); err != nil {
				wrong.Add(err)
			}
			stopped.Store(true)
		}
		r := requests[i%len(requests)]
		want := []request{r, unavailable}
		switch {
		case r.token == "":
			want = want[:1]
		case stopped.Load():
			want = want[1:]
			afterwards.Add(1)
		}
		got, err := api.Do(r.path, r.authorization()...)
		if err == nil {
			err = h.oneOf(got, want...)
		}
		if err != nil {
			wrong.Add(fmt.Errorf("request %d to %s: %w", i, r.path, err))
		}
	})
	wrong.Report(t, n)
	if afterwards.Load() == 0 {
		t.Fatal("no protected request was sent after ZITADEL had stopped")
	}

	// Another instance on the same address is another ZITADEL: it knows
	// neither the API's credentials nor the token. That the API now gets
	// its answer, a rejection of its credentials, shows it asks the address
	// again instead of holding on to what it knew of the stopped one.
	back := newInstance(t, h.secrets, strings.TrimPrefix(other.Issuer, "http://"))
	h.expect(t, api.Get(t, "/api/private", bearer(requests[1].token)), 500, "server_error")
	if n := back.Stats().Introspect; n != 1 {
		t.Fatalf("the new instance saw %d introspections, want 1", n)
	}
}
