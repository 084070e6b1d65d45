package serviceuser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode"

	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// The samples' end-to-end tests run API against the real API server; these
// cover what is hard to provoke there: concurrent 401s, and the lines.

// fakeAPI accepts only the tokens in good and counts the requests per token.
func fakeAPI(t *testing.T, good ...string) (*httptest.Server, *sync.Map) {
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		n, _ := seen.LoadOrStore(tok, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		w.Header().Set("Content-Type", "application/json")
		for _, g := range good {
			if tok == g {
				fmt.Fprint(w, `{"message":"ok"}`)
				return
			}
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"invalid_token","description":"not active"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// tokens hands out the given tokens in order, the last one forever.
func tokens(list ...string) (*tokensource.Source, *atomic.Int32) {
	var calls atomic.Int32
	return tokensource.New(func(context.Context) (*tokensource.Token, error) {
		n := int(calls.Add(1))
		return &tokensource.Token{AccessToken: list[min(n, len(list))-1], TokenType: "Bearer"}, nil
	}), &calls
}

func TestConcurrent401sCostOneNewToken(t *testing.T) {
	srv, _ := fakeAPI(t, "fresh")
	src, calls := tokens("revoked", "fresh", "unexpected")
	api := &API{BaseURL: srv.URL, Client: tokensource.HTTPClient(tokensource.DefaultTimeout), Tokens: src}
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := api.Get(t.Context(), RoutePrivate); !r.OK {
				t.Errorf("got %+v", r)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d tokens fetched, want 2", n)
	}
}

func TestNoRetryWithoutANewToken(t *testing.T) {
	tests := []struct {
		name       string
		tokens     []string
		wantTokens int32
		wantCalls  map[string]int32 // requests per token, over three routes
	}{
		// A PAT: the source has nothing new to give.
		{"same token again", []string{"pat"}, 2, map[string]int32{"pat": 3}},
		// A new token was rejected too: stop asking for more.
		{"new token rejected too", []string{"first", "second", "third"}, 2, map[string]int32{"first": 1, "second": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := fakeAPI(t)
			src, calls := tokens(tt.tokens...)
			api := &API{BaseURL: srv.URL, Client: tokensource.HTTPClient(tokensource.DefaultTimeout), Tokens: src}
			for _, route := range Routes {
				if r := api.Get(t.Context(), route); r.Status != http.StatusUnauthorized || r.OK {
					t.Fatalf("got %+v, want a failed 401", r)
				}
			}
			if n := calls.Load(); n != tt.wantTokens {
				t.Errorf("%d tokens fetched, want %d", n, tt.wantTokens)
			}
			for tok, want := range tt.wantCalls {
				n, _ := seen.Load(tok)
				if got := n.(*atomic.Int32).Load(); got != want {
					t.Errorf("%d requests with %s, want %d", got, tok, want)
				}
			}
		})
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Route: RoutePublic, Status: 200, Message: "Public route"}, "/api/public          200  Public route"},
		{Result{Route: RouteScoped, Status: 403, Code: "insufficient_scope", Description: "no role", OK: true},
			"/api/private-scoped  403  insufficient_scope: the service user lacks the role read:messages"},
		{Result{Route: RoutePrivate, Status: 403, Code: "insufficient_scope", Description: "no role"},
			"/api/private         403  insufficient_scope: no role"},
		{Result{Route: RoutePrivate, Status: 401, Code: "invalid_token"}, "/api/private         401  invalid_token"},
		{Result{Route: RoutePrivate, Status: 404}, "/api/private         404  Not Found"},
		{Result{Route: RoutePrivate, Error: "connection refused"}, "/api/private         ---  no answer: connection refused"},
	}
	for _, tt := range tests {
		if got := tt.r.Line(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

func TestNotTheAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>a web page</html>")
	}))
	defer srv.Close()
	src, _ := tokens("opaque-token-1")
	r := (&API{BaseURL: srv.URL, Client: tokensource.HTTPClient(tokensource.DefaultTimeout), Tokens: src}).Get(t.Context(), RoutePublic)
	if r.OK || r.Line() != "/api/public          200  not the JSON of the API samples (text/html)" {
		t.Fatalf("got %+v", r)
	}
	if h := r.hint(srv.URL, ""); !strings.Contains(h, "an API of these examples?") {
		t.Fatalf("hint %q", h)
	}
}

// FuzzAnswer: no answer of an API makes answer panic; what the client
// prints of it is one short printable line without the token it sent; and
// a route counts as passed only with the answer the API samples give for a
// good token.
func FuzzAnswer(f *testing.F) {
	secret := []byte("secret-token") // the token is tok_c2VjcmV0LXRva2Vu
	f.Add(uint8(0), 200, "application/json", []byte(`{"message":"Public route - You don't need to be authenticated to see this."}`), secret)
	f.Add(uint8(2), 403, "application/json", []byte(`{"code":"insufficient_scope","description":"the token lacks the role read:messages"}`), secret)
	f.Add(uint8(1), 401, "application/json", []byte(`{"code":"invalid_token","description":"token tok_c2VjcmV0LXRva2Vu is not active"}`), secret)
	f.Add(uint8(1), 200, "application/json", []byte(`{"message":"hello tok_c2VjcmV0LXRva2Vu"}`), secret)
	f.Add(uint8(1), 503, "application/json", []byte(`{"code":"temporarily_unavailable","description":"\u001b[31mred"}`), secret)
	f.Add(uint8(1), 200, "text/html", []byte(`<html>a web page</html>`), secret)
	f.Add(uint8(1), 404, "text/plain", []byte(`404 page not found`), secret)
	f.Fuzz(func(t *testing.T, routeIndex uint8, status int, contentType string, body, secret []byte) {
		route := Routes[int(routeIndex)%len(Routes)]
		token := "tok_" + base64.RawURLEncoding.EncodeToString(secret)
		r := answer(route, status, contentType, body, token)
		asJSON, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		printed := []string{r.Line(), r.hint("http://localhost:5000", RejectedGrant)}
		if r.err != nil {
			printed = append(printed, r.err.Error())
		}
		for _, s := range printed {
			if len(s) > 1000 || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
				t.Fatalf("not one short printable line: %q", s)
			}
		}
		if strings.Contains(strings.Join(printed, "\n")+string(asJSON), token) {
			t.Fatalf("the output shows the token: %q %s", printed, asJSON)
		}
		passed := (r.Status == http.StatusOK && r.Message != "") ||
			(route == RouteScoped && r.Status == http.StatusForbidden && r.Code == "insufficient_scope")
		if r.OK != passed {
			t.Fatalf("OK is %v for %d %q on %s", r.OK, status, body, route)
		}
		if r.OK != (r.err == nil) {
			t.Fatalf("OK is %v, but the error for the report is %v", r.OK, r.err)
		}
		if !r.OK && r.hint("http://localhost:5000", RejectedGrant) == "" {
			t.Fatalf("no hint for a failed %d on %s", status, route)
		}
	})
}
