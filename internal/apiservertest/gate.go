package apiservertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// gate stands between an API and ZITADEL's introspection endpoint and
// passes introspections on to ZITADEL; after Hold it holds them until Open.
// A test learns from its events, not from a delay, that an introspection is
// under way while other requests come in.
type gate struct {
	// URL is the API's ZITADEL_INTROSPECTION_URL.
	URL     string
	arrived chan struct{} // one value per introspection held

	mu     sync.Mutex
	closed chan struct{} // nil while open
}

// newGate returns an open gate in front of inst. It opens at the end of the
// test at the latest, after the API has stopped.
func newGate(t *testing.T, inst *localzitadel.Instance) *gate {
	t.Helper()
	issuer, err := url.Parse(inst.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(issuer) }}
	g := &gate{arrived: make(chan struct{}, 1024)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		closed := g.closed
		g.mu.Unlock()
		if closed != nil {
			g.arrived <- struct{}{}
			select {
			case <-closed:
			case <-r.Context().Done(): // the API gave up
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.Open()
		srv.Close()
	})
	g.URL = srv.URL + "/oauth/v2/introspect"
	return g
}

// Hold makes the gate hold every introspection that reaches it from now on.
func (g *gate) Hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed == nil {
		g.closed = make(chan struct{})
	}
}

// Open lets every introspection held, and every later one, through.
func (g *gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed != nil {
		close(g.closed)
		g.closed = nil
	}
}

// waitHeld waits until n introspections in all have reached the gate.
func (g *gate) waitHeld(t *testing.T, n int) {
	t.Helper()
	waitFor(t, g.arrived, n, "introspections reached the gate")
}

// inFlight is requests sent at once, each in a goroutine of its own.
type inFlight struct {
	n       int
	written chan struct{} // one value per request written to the API in full
	replies chan reply
}

type reply struct {
	Answer
	err error
}

// sendAll sends n requests to path at once, request i with the token
// token(i), and returns before any answer.
func sendAll(api *Server, path string, n int, token func(i int) string) *inFlight {
	f := &inFlight{n: n, written: make(chan struct{}, n), replies: make(chan reply, n)}
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { f.written <- struct{}{} },
	})
	for i := range n {
		go func() {
			a, err := api.DoContext(ctx, path, bearer(token(i)))
			f.replies <- reply{a, err}
		}()
	}
	return f
}

// waitSent waits until the API has every request in full.
func (f *inFlight) waitSent(t *testing.T) {
	t.Helper()
	waitFor(t, f.written, f.n, "requests written")
}

// answers waits for n answers and returns them.
func (f *inFlight) answers(t *testing.T, n int) []Answer {
	t.Helper()
	var answers []Answer
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case r := <-f.replies:
			if r.err != nil {
				t.Fatal(r.err)
			}
			answers = append(answers, r.Answer)
		case <-timeout:
			t.Fatalf("%d of %d answers within 30s", len(answers), n)
		}
	}
	return answers
}

// waitFor receives n values from c, or fails the test after 10 s.
func waitFor(t *testing.T, c <-chan struct{}, n int, what string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i := range n {
		select {
		case <-c:
		case <-timeout:
			t.Fatalf("%d of %d %s within 10s", i, n, what)
		}
	}
}

// overlapping starts the sample with a gate in front of ZITADEL and sends
// it n requests to /api/private with one new token at once. ZITADEL's answer
// is held until the API has every request in full, so that they come while
// the first introspection is under way; a request the API reads only after
// the answer finds it in the cache, or (an error) introspects again.
func (h *harness) overlapping(t *testing.T, n int) (*Server, []Answer) {
	t.Helper()
	gate := newGate(t, h.inst)
	api := h.start(t, "ZITADEL_INTROSPECTION_URL", gate.URL)
	token := h.mint(t, h.inst.Reader, localzitadel.TokenOptions{})
	gate.Hold()
	requests := sendAll(api, "/api/private", n, func(int) string { return token })
	requests.waitSent(t)
	gate.waitHeld(t, 1)
	gate.Open()
	return api, requests.answers(t, n)
}
