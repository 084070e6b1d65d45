package jwtverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// maxKeySet caps the bytes read from the JWKS endpoint: a key set is a few KiB.
const maxKeySet = 1 << 20

// newKeys returns what picks the key of a token from ZITADEL's key set,
// which keyfunc keeps: fetched here once, then in the background every
// refreshInterval (so a key ZITADEL removed stops verifying), and for a kid
// it does not know at most once per minRefresh, each fetch bounded by
// fetchTimeout. A request with a known kid reads the keys at hand and never
// waits for a fetch; one with an unknown kid waits at most fetchTimeout. A
// fetch that fails keeps the keys known. ctx ends the background refresh.
func newKeys(ctx context.Context, keysURL string, client *http.Client, logger *slog.Logger) (func(context.Context) jwt.Keyfunc, error) {
	remote, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{keysURL}, keyfunc.Override{
		Client:          client,
		HTTPTimeout:     fetchTimeout,
		RefreshInterval: refreshInterval,
		// A token for an unknown kid may wait for the limiter, and then for
		// the fetch, fetchTimeout in all; tokens with made-up kids get one
		// fetch per minRefresh, so they cannot make the API hammer ZITADEL.
		RefreshUnknownKID: rate.NewLimiter(rate.Every(minRefresh), 1),
		RateLimitWaitMax:  fetchTimeout,
		RefreshErrorHandlerFunc: func(url string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "cannot fetch ZITADEL's signing keys; verifying with the keys known, introspecting JWTs of other keys",
					"url", url, "error", err, "next_try_in", refreshInterval)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	// Signing keys only: "use" is "sig", or absent as RFC 7517 §4.2 allows.
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: remote.Storage(), UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) jwt.Keyfunc {
		return func(t *jwt.Token) (any, error) {
			// RFC 7515 §4.1.11: a JWS whose crit names an extension the
			// recipient does not understand must be rejected; this verifier
			// understands none, and ZITADEL never sends one. b64 (RFC 7797)
			// changes what is signed, so it is refused with or without crit.
			for _, name := range []string{"crit", "b64"} {
				if _, ok := t.Header[name]; ok {
					return nil, fmt.Errorf("header %q not supported", name)
				}
			}
			// ZITADEL names the key of every token; keyfunc would otherwise
			// try every key of the set.
			if kid, _ := t.Header["kid"].(string); kid == "" {
				return nil, errors.New("no kid")
			}
			key, err := kf.KeyfuncCtx(ctx)(t)
			if err != nil {
				return nil, err
			}
			// keyfunc compares the token's alg with the key's "alg" when the
			// JWK has one; the key's type must fit it in any case, so a token
			// cannot choose an algorithm the key was not made for.
			if err := algFits(t.Method.Alg(), key); err != nil {
				return nil, err
			}
			return key, nil
		}
	}, nil
}

// algFits reports whether alg is an algorithm of key: RS*/PS* for RSA keys
// of at least 2048 bits, the ES* of an EC key's curve, EdDSA for Ed25519.
// Anything else (an HMAC secret of an "oct" JWK) never verifies.
func algFits(alg string, key any) error {
	ok := false
	switch k := key.(type) {
	case *rsa.PublicKey:
		ok = (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) && k.N.BitLen() >= 2048
	case *ecdsa.PublicKey:
		ok = alg == map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[k.Curve.Params().BitSize]
	case ed25519.PublicKey:
		ok = alg == "EdDSA"
	}
	if !ok {
		return fmt.Errorf("alg %s does not fit the key (%T)", alg, key)
	}
	return nil
}

// keySetHTTP fetches the key set. A redirect means a wrong URL: it is
// reported, not followed, as internal/introspect does.
var keySetHTTP = &http.Client{
	Transport: limitBody{http.DefaultTransport},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// limitBody caps what is read of an answer at maxKeySet: keyfunc reads the
// whole body.
type limitBody struct{ next http.RoundTripper }

func (l limitBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil {
		resp.Body = http.MaxBytesReader(nil, resp.Body, maxKeySet)
	}
	return resp, err
}
