package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// answer stands in for ZITADEL's introspection: every token gets the same answer.
type answer struct {
	result *introspect.Result
	err    error
	calls  atomic.Int64
}

func (a *answer) Introspect(context.Context, string) (*introspect.Result, error) {
	a.calls.Add(1)
	return a.result, a.err
}

// testGuard is a guard that asks a instead of ZITADEL, without a cache.
func testGuard(a *answer, logs io.Writer) *Guard {
	logger := slog.New(slog.NewTextHandler(logs, nil))
	return &Guard{realm: "test-api", hint: "API_CLIENT_SECRET", logger: logger, introspect: a.Introspect, bound: newBound(DefaultMaxInFlight, logger)}
}

func serve(t *testing.T, a *answer, logs io.Writer, header http.Header) (*http.Response, map[string]string) {
	t.Helper()
	g := testGuard(a, logs)
	req := httptest.NewRequest(http.MethodGet, "/api/private-scoped", nil)
	req.Header = header
	rec := httptest.NewRecorder()
	scopedRoute(g).ServeHTTP(rec, req)
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	return rec.Result(), body
}

// scopedRoute is a ServeMux with the samples' scoped route: the guard is
// plain net/http middleware.
func scopedRoute(g *Guard) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/private-scoped", g.RequireRole("read:messages")(http.HandlerFunc(
		func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]string{"message": scopedMessage})
		})))
	return mux
}

// metadataParam ends every challenge: where the metadata of the route's URL
// is (RFC 9728 §3.1, §5.1), at the host the request was sent to.
const metadataParam = `, resource_metadata="http://example.com/.well-known/oauth-protected-resource/api/private-scoped"`

const scopedMessage = "Private, scoped route - You need to be authenticated and have the role read:messages to see this."

func TestMalformedAuthorizationNeverReachesZitadel(t *testing.T) {
	tests := []struct {
		name   string
		values []string
	}{
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}},
		{"no scheme", []string{"abc.def"}},
		{"bearer without token", []string{"Bearer"}},
		{"bearer with spaces only", []string{"Bearer    "}},
		{"two tokens", []string{"Bearer abc def"}},
		{"two headers", []string{"Bearer abc", "Bearer def"}},
		{"not a b64token", []string{`Bearer abc"def`}},
		{"over 8 KiB", []string{"Bearer " + strings.Repeat("a", MaxAuthorization)}},
		{"empty value", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &answer{result: &introspect.Result{Active: true}}
			resp, body := serve(t, a, io.Discard, http.Header{"Authorization": tt.values})
			if resp.StatusCode != http.StatusBadRequest || body["code"] != "invalid_request" {
				t.Fatalf("got %d %v, want 400 invalid_request", resp.StatusCode, body)
			}
			want := `Bearer realm="test-api", error="invalid_request", error_description="` + body["description"] + `"` + metadataParam
			if got := resp.Header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("WWW-Authenticate = %s, want %s", got, want)
			}
			if a.calls.Load() != 0 {
				t.Fatal("malformed header was introspected")
			}
		})
	}
}

func TestAnswers(t *testing.T) {
	reader := &introspect.Result{Active: true, Caller: introspect.Caller{Roles: []string{"read:messages"}}}
	tests := []struct {
		name      string
		header    string
		answer    *answer
		status    int
		code      string
		challenge string // WWW-Authenticate after the realm
		retry     string
		log       string
	}{
		{name: "missing", answer: &answer{}, status: 401, code: "missing_token", challenge: metadataParam},
		{name: "lower-case scheme", header: "bearer t0k.en", answer: &answer{result: reader}, status: 200},
		{name: "inactive", header: "Bearer t0k.en", answer: &answer{result: &introspect.Result{}},
			status: 401, code: "invalid_token", challenge: `, error="invalid_token"`},
		{name: "no role", header: "Bearer t0k.en", answer: &answer{result: &introspect.Result{Active: true, Caller: introspect.Caller{Roles: []string{"other"}}}},
			status: 403, code: "insufficient_scope", challenge: `, error="insufficient_scope"`},
		{name: "unavailable", header: "Bearer t0k.en", answer: &answer{err: &introspect.UnavailableError{Reason: "down"}},
			status: 503, code: "temporarily_unavailable", retry: "5", log: "unavailable"},
		{name: "credentials rejected", header: "Bearer t0k.en", answer: &answer{err: &introspect.RejectedError{Status: 400, Code: "unauthorized_client"}},
			status: 500, code: "server_error", log: "check API_CLIENT_SECRET"},
		{name: "wrong URL", header: "Bearer t0k.en", answer: &answer{err: &introspect.RejectedError{Status: 404}},
			status: 500, code: "server_error", log: "check ZITADEL_DOMAIN and ZITADEL_INTROSPECTION_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.header != "" {
				header.Set("Authorization", tt.header)
			}
			var logs strings.Builder
			resp, body := serve(t, tt.answer, &logs, header)
			if resp.StatusCode != tt.status || body["code"] != tt.code && tt.status != 200 {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
			if tt.status == 200 && body["message"] != scopedMessage {
				t.Fatalf("message = %q", body["message"])
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			switch {
			case tt.status == 401 || tt.status == 403:
				prefix := `Bearer realm="test-api"` + tt.challenge
				if !strings.HasPrefix(challenge, prefix) || !strings.HasSuffix(challenge, metadataParam) {
					t.Fatalf("WWW-Authenticate = %s, want %s…%s", challenge, prefix, metadataParam)
				}
			case challenge != "":
				t.Fatalf("WWW-Authenticate = %s on %d", challenge, tt.status)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retry {
				t.Fatalf("Retry-After = %q, want %q", got, tt.retry)
			}
			if !strings.Contains(logs.String(), tt.log) || strings.Contains(logs.String(), "t0k.en") {
				t.Fatalf("log %q, want %q and no token", logs.String(), tt.log)
			}
		})
	}
}

func TestFromContext(t *testing.T) {
	g := testGuard(&answer{result: &introspect.Result{Active: true, Caller: introspect.Caller{Subject: "u1", Roles: []string{"read:messages"}}}}, io.Discard)
	var got *Caller
	h := g.RequireToken(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got, _ = FromContext(r.Context()) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer abc")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got == nil || got.Subject != "u1" || !got.HasRole("read:messages") {
		t.Fatalf("FromContext = %+v", got)
	}
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("FromContext without a caller reports ok")
	}
}

// TestRequireRoleChecksTheToken: RequireRole alone guards a route.
func TestRequireRoleChecksTheToken(t *testing.T) {
	a := &answer{result: &introspect.Result{Active: true}}
	rec := httptest.NewRecorder()
	testGuard(a, io.Discard).RequireRole("read:messages")(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized || a.calls.Load() != 0 {
		t.Fatalf("RequireRole without a token: status %d, %d introspections; want 401, 0", rec.Code, a.calls.Load())
	}
}

// b64token is RFC 6750 §2.1's b64token, written independently of isB64Token.
var b64token = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)

// FuzzAuthorization sends any Authorization header to the scoped route. The
// guard either refuses it with 400 without asking ZITADEL, or asks about
// exactly the b64token the header carries after "Bearer"; no answer shows
// what was sent.
func FuzzAuthorization(f *testing.F) {
	for _, seed := range []string{
		"Bearer V1StGXR8_Z5jdHi6B-myTV1StGXR8", "bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "BEARER abc==", "  Bearer \t tok+/~en  ",
		"Bearer", "Bearer ", "Bearer a b", "Bearer\tabc", "Basic dXNlcjpwYXNz", `Bearer a"b`, "Bearer ===", "Bearer é", "Bearerabc", "",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		var asked []string
		g := testGuard(&answer{}, io.Discard)
		g.introspect = func(_ context.Context, token string) (*introspect.Result, error) {
			asked = append(asked, token)
			return &introspect.Result{Active: true, Caller: introspect.Caller{Roles: []string{"read:messages"}}}, nil
		}
		req := httptest.NewRequest(http.MethodGet, "/api/private-scoped", nil)
		req.Header["Authorization"] = []string{value}
		rec := httptest.NewRecorder()
		scopedRoute(g).ServeHTTP(rec, req)

		fields := strings.Fields(value)
		switch {
		case len(asked) == 0 && rec.Code == http.StatusBadRequest:
		case len(asked) != 1 || rec.Code != http.StatusOK:
			t.Fatalf("%q: %d introspections, status %d", value, len(asked), rec.Code)
		case len(fields) != 2 || !strings.EqualFold(fields[0], "Bearer") || fields[1] != asked[0]:
			t.Fatalf("%q: introspected %q", value, asked[0])
		case !b64token.MatchString(asked[0]) || len(asked[0]) > MaxAuthorization:
			t.Fatalf("%q: introspected %q, not a b64token", value, asked[0])
		}

		sent := value
		if len(fields) > 0 {
			sent = fields[len(fields)-1]
		}
		if len(sent) >= 16 && strings.Contains(rec.Body.String()+fmt.Sprint(rec.Header()), sent) {
			t.Fatalf("the answer shows %q: %v %s", sent, rec.Header(), rec.Body)
		}
	})
}
