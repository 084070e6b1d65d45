package serviceuser

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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
		{Result{Route: RouteScoped, Status: 403, Code: "insufficient_scope", Description: "no role"},
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
	src, _ := tokens("t")
	r := (&API{BaseURL: srv.URL, Client: tokensource.HTTPClient(tokensource.DefaultTimeout), Tokens: src}).Get(t.Context(), RoutePublic)
	if r.OK || r.Line() != "/api/public          200  not the JSON of the API samples (text/html)" {
		t.Fatalf("got %+v", r)
	}
	if h := r.hint(srv.URL, ""); !strings.Contains(h, "an API of these examples?") {
		t.Fatalf("hint %q", h)
	}
}
