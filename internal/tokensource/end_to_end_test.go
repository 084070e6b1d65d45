package tokensource_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/api"
	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"github.com/zitadel/go-introspection-examples/internal/serviceuser"
	"github.com/zitadel/go-introspection-examples/internal/tokenrequest"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// These run the source and its client against the local ZITADEL and the
// samples' API: reuse, renewal after a 401 and before expiry. What differs
// between the samples is only the Fetch; here it is a client credentials
// grant (as service-user-client-credentials has) or a PAT.

// grant is a client credentials grant for the World's Reader.
func grant(w *clienttest.World, client *http.Client) tokensource.Fetch {
	z, u := w.Zitadel, w.Zitadel.Reader
	return func(ctx context.Context) (*tokensource.Token, error) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {serviceuser.Scope(z.ProjectID)}}
		return tokenrequest.Post(ctx, client, z.TokenURL, form, func(req *http.Request) {
			req.SetBasicAuth(url.QueryEscape(u.UserName), url.QueryEscape(u.ClientSecret))
		})
	}
}

func pat(w *clienttest.World, _ *http.Client) tokensource.Fetch {
	return func(context.Context) (*tokensource.Token, error) {
		return &tokensource.Token{AccessToken: w.Zitadel.Reader.PAT, TokenType: "Bearer"}, nil
	}
}

// clientFor returns a source of fetch and a client that sends its tokens.
func clientFor(w *clienttest.World, fetch func(*clienttest.World, *http.Client) tokensource.Fetch) (*tokensource.Source, *http.Client) {
	base := tokensource.HTTPClient(tokensource.DefaultTimeout)
	src := tokensource.New(fetch(w, base))
	return src, tokensource.NewClient(src, base)
}

func getPrivate(t *testing.T, w *clienttest.World, client *http.Client) {
	t.Helper()
	if r := serviceuser.Call(t.Context(), client, w.APIURL, api.RoutePrivate); r.Status != http.StatusOK {
		t.Errorf("got %+v, want 200", r)
	}
}

func TestThousandCallsCostOneTokenRequestAndOneIntrospection(t *testing.T) {
	for name, kind := range map[string]struct {
		fetch  func(*clienttest.World, *http.Client) tokensource.Fetch
		tokens int64
	}{"client credentials": {grant, 1}, "PAT": {pat, 0}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := clienttest.Start(t, localzitadel.Options{})
			_, client := clientFor(w, kind.fetch)
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					for range 100 {
						getPrivate(t, w, client)
					}
				})
			}
			wg.Wait()
			st := w.Zitadel.Stats()
			if st.Token != kind.tokens || st.Introspect != 1 {
				t.Errorf("%d token requests and %d introspections, want %d and 1", st.Token, st.Introspect, kind.tokens)
			}
		})
	}
}

// The issuer drops a token the API has not seen yet (so no introspection
// answer is cached for it): the 401 costs one new token, and the call passes.
func TestRevokedOrExpiredTokenIsReplacedOnce(t *testing.T) {
	for name, drop := range map[string]func(z *localzitadel.Instance, token string){
		"revoked": (*localzitadel.Instance).Revoke,
		"expired": (*localzitadel.Instance).Expire,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := clienttest.Start(t, localzitadel.Options{})
			src, client := clientFor(w, grant)
			tok, err := src.Token(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			drop(w.Zitadel, tok.AccessToken)
			for range 3 {
				getPrivate(t, w, client)
			}
			if n := w.Zitadel.Stats().Token; n != 2 {
				t.Errorf("%d token requests, want 2", n)
			}
		})
	}
}

func TestTokenIsRenewedShortlyBeforeItExpires(t *testing.T) {
	t.Parallel()
	w := clienttest.Start(t, localzitadel.Options{AccessTokenLifetime: 2 * time.Second})
	src, client := clientFor(w, grant)
	first, err := src.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if first.Expiry.IsZero() {
		t.Fatal("the token has no expiry")
	}
	time.Sleep(time.Until(first.Expiry))
	getPrivate(t, w, client)
	if n := w.Zitadel.Stats().Token; n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}
