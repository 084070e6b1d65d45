package serviceuser

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// These run the calls against the local ZITADEL and the samples' API:
// reuse, and the renewal after a 401. The token comes from a client
// credentials grant (as service-user-client-credentials gets it) or a PAT.

func grant(ctx context.Context, w *clienttest.World) oauth2.TokenSource {
	z, u := w.Zitadel, w.Zitadel.Reader
	cfg := clientcredentials.Config{ClientID: u.UserName, ClientSecret: u.ClientSecret, TokenURL: z.TokenURL,
		Scopes: tokensource.Scopes(z.ProjectID), AuthStyle: oauth2.AuthStyleInHeader}
	return tokensource.New(func() (*oauth2.Token, error) { return cfg.Token(ctx) }, "")
}

func pat(_ context.Context, w *clienttest.World) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: w.Zitadel.Reader.PAT})
}

func settings(baseURL string) (Settings, *strings.Builder, *strings.Builder) {
	var stdout, stderr strings.Builder
	return Settings{BaseURL: baseURL, Timeout: defaultTimeout, Stdout: &stdout, Stderr: &stderr}, &stdout, &stderr
}

func TestThousandCallsCostOneTokenRequestAndOneIntrospection(t *testing.T) {
	for name, kind := range map[string]struct {
		tokens func(context.Context, *clienttest.World) oauth2.TokenSource
		want   int64
	}{"client credentials": {grant, 1}, "PAT": {pat, 0}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := clienttest.Start(t, localzitadel.Options{})
			s, _, _ := settings(w.APIURL)
			tokens, client := kind.tokens(t.Context(), w), s.HTTPClient()
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					for range 100 {
						tok, err := tokens.Token()
						if err != nil {
							t.Error(err)
							return
						}
						if r := call(t.Context(), client, w.APIURL, routePrivate, tok); r.Status != http.StatusOK {
							t.Errorf("got %+v, want 200", r)
						}
					}
				})
			}
			wg.Wait()
			st := w.Zitadel.Stats()
			if st.Token != kind.want || st.Introspect != 1 {
				t.Errorf("%d token requests and %d introspections, want %d and 1", st.Token, st.Introspect, kind.want)
			}
		})
	}
}

// The issuer drops a token the API has not seen yet (so no introspection
// answer is cached for it): the 401 costs one new token, and every route
// passes.
func TestRevokedOrExpiredTokenIsReplacedOnce(t *testing.T) {
	for name, drop := range map[string]func(z *localzitadel.Instance, token string){
		"revoked": (*localzitadel.Instance).Revoke,
		"expired": (*localzitadel.Instance).Expire,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := clienttest.Start(t, localzitadel.Options{})
			tokens := grant(context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient), w)
			tok, err := tokens.Token()
			if err != nil {
				t.Fatal(err)
			}
			drop(w.Zitadel, tok.AccessToken)
			s, stdout, stderr := settings(w.APIURL)
			if err := CallRoutes(t.Context(), s, tokens, "rejected"); err != nil {
				t.Fatalf("%v (%d token requests)\n%s%s", err, w.Zitadel.Stats().Token, stdout, stderr)
			}
			if n := strings.Count(stdout.String(), " 200  "); n != 3 {
				t.Errorf("%d routes passed, want 3:\n%s", n, stdout)
			}
			if n := w.Zitadel.Stats().Token; n != 2 {
				t.Errorf("%d token requests, want 2", n)
			}
		})
	}
}

// fakeAPI rejects every token and counts the requests per token: what the
// real API does not do for a new token is easy here.
func fakeAPI(t *testing.T) (*httptest.Server, *sync.Map) {
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		n, _ := seen.LoadOrStore(tok, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"invalid_token","description":"not active"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// handingOut is a grant that hands out the given tokens in order, the last
// one forever, and counts them.
type handingOut struct {
	list  []string
	calls atomic.Int32
}

func (h *handingOut) Token() (*oauth2.Token, error) {
	n := int(h.calls.Add(1))
	return &oauth2.Token{AccessToken: h.list[min(n, len(h.list))-1]}, nil
}

// After a 401 a source that can renew gets one new token and the route is
// called again; once per run. A PAT is never retried.
func TestRenewOnceAfterA401(t *testing.T) {
	renewable := &handingOut{list: []string{"first", "second", "third"}}
	tests := []struct {
		name       string
		tokens     oauth2.TokenSource
		wantTokens int32            // token requests
		wantCalls  map[string]int32 // requests per token, for the three routes
	}{
		{"a new token is rejected too: no more", tokensource.New(renewable.Token, ""), 2, map[string]int32{"first": 1, "second": 3}},
		{"PAT: nothing to renew", oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "pat"}), 0, map[string]int32{"pat": 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := fakeAPI(t)
			s, stdout, stderr := settings(srv.URL)
			if err := CallRoutes(t.Context(), s, tt.tokens, "the hint"); !errors.Is(err, config.ErrFailed) {
				t.Fatalf("got %v, want config.ErrFailed", err)
			}
			if n := strings.Count(stdout.String(), " 401  invalid_token: not active"); n != 3 || !strings.HasSuffix(stderr.String(), "hint: the hint\n") {
				t.Errorf("stdout:\n%sstderr:\n%s", stdout, stderr)
			}
			if _, renews := tt.tokens.(*tokensource.Source); renews && renewable.calls.Load() != tt.wantTokens {
				t.Errorf("%d token requests, want %d", renewable.calls.Load(), tt.wantTokens)
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

// A token that cannot be had is reported with its hint, and nothing is
// sent to the API.
func TestTokenErrorReachesTheCaller(t *testing.T) {
	srv, seen := fakeAPI(t)
	refused := &tokensource.Error{Status: 400, Code: "invalid_client", Hint: "check CLIENT_ID"}
	s, stdout, stderr := settings(srv.URL)
	err := CallRoutes(t.Context(), s, failing{refused}, "")
	if !errors.Is(err, config.ErrFailed) || stdout.Len() != 0 ||
		stderr.String() != "error: ZITADEL refused the token request: invalid_client\nhint: check CLIENT_ID\n" {
		t.Fatalf("got %v, stdout %q, stderr %q", err, stdout, stderr)
	}
	seen.Range(func(k, _ any) bool { t.Errorf("a request reached the API with %q", k); return true })
}

type failing struct{ err error }

func (f failing) Token() (*oauth2.Token, error) { return nil, f.err }
