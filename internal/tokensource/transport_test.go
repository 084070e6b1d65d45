package tokensource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// The samples' end-to-end tests run the client against the real API server;
// these cover what is hard to provoke there: concurrent 401s, a source that
// has nothing new, a request body sent twice.

// fakeAPI accepts only the tokens in good and counts the requests per token.
func fakeAPI(t *testing.T, good ...string) (*httptest.Server, *sync.Map) {
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		n, _ := seen.LoadOrStore(tok, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		body, _ := io.ReadAll(r.Body)
		for _, g := range good {
			if tok == g {
				fmt.Fprintf(w, "ok %s", body)
				return
			}
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// handingOut returns a client whose source hands out the given tokens in
// order, the last one forever, and counts them.
func handingOut(list ...string) (*http.Client, *tokensource.Source, *atomic.Int32) {
	var calls atomic.Int32
	src := tokensource.New(func(context.Context) (*tokensource.Token, error) {
		n := int(calls.Add(1))
		return &tokensource.Token{AccessToken: list[min(n, len(list))-1], TokenType: "Bearer"}, nil
	})
	return tokensource.NewClient(src, tokensource.HTTPClient(tokensource.DefaultTimeout)), src, &calls
}

func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestConcurrent401sCostOneNewToken(t *testing.T) {
	srv, _ := fakeAPI(t, "fresh")
	client, src, calls := handingOut("revoked", "fresh", "unexpected")
	if _, err := src.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if status, _ := get(t, client, srv.URL+"/api/private"); status != http.StatusOK {
				t.Errorf("status %d", status)
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
		wantCalls  map[string]int32 // requests per token, over three calls
	}{
		// A PAT: the source has nothing new to give.
		{"same token again", []string{"pat"}, 2, map[string]int32{"pat": 3}},
		// A new token was rejected too: stop asking for more.
		{"new token rejected too", []string{"first", "second", "third"}, 2, map[string]int32{"first": 1, "second": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := fakeAPI(t)
			client, _, calls := handingOut(tt.tokens...)
			for range 3 {
				if status, _ := get(t, client, srv.URL+"/api/private"); status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", status)
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

// A POST to an endpoint of one's own is sent again, body and all, with the
// new token; the caller's request is left as it was.
func TestRetryResendsTheBody(t *testing.T) {
	srv, _ := fakeAPI(t, "fresh")
	client, _, _ := handingOut("stale", "fresh")
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/orders", strings.NewReader("order 42"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok order 42" {
		t.Fatalf("got %d %q, want 200 with the body", resp.StatusCode, body)
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("the caller's request got a header")
	}
}

func TestTokenErrorReachesTheCaller(t *testing.T) {
	refused := errors.New("refused")
	src := tokensource.New(func(context.Context) (*tokensource.Token, error) { return nil, refused })
	client := tokensource.NewClient(src, tokensource.HTTPClient(tokensource.DefaultTimeout))
	srv, seen := fakeAPI(t)
	_, err := client.Get(srv.URL)
	if !errors.Is(err, refused) {
		t.Fatalf("err = %v, want %v", err, refused)
	}
	seen.Range(func(k, _ any) bool { t.Errorf("a request reached the API with %q", k); return true })
}
