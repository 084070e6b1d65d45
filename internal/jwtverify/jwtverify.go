// Package jwtverify verifies ZITADEL's JWT access tokens in the API, without
// a round trip to ZITADEL: signature against the instance's JSON Web Key Set
// (/oauth/v2/keys), issuer, audience (the API's project), expiry.
//
// What it cannot verify it reports as ErrNotJWT, and the caller introspects:
// opaque tokens (on current ZITADEL compact-JWE-shaped, five dot-separated
// parts), personal access tokens, anything that is not a JWS signed by a key
// of the set. An opaque token is never told from a JWT by its dots or prefix
// alone: a JWT is what verifies (docs/zitadel-on-the-wire.md).
//
// The trade-off: ZITADEL is not asked, so a token revoked there still
// verifies until its exp (ZITADEL's default access token lifetime is 12 h).
package jwtverify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

const (
	// leeway is the clock skew allowed on exp and nbf.
	leeway = 30 * time.Second
	// minRefresh is the least time between two fetches of the key set for
	// an unknown kid. Until then a token with an unknown kid is
	// introspected, so a key rotation costs introspections, not failures.
	minRefresh = 30 * time.Second
	// refreshInterval is how often the key set is fetched in the
	// background, so a key ZITADEL removed stops verifying within it (while
	// the key set can be fetched: a failed fetch keeps the keys known).
	refreshInterval = 5 * time.Minute
	// fetchTimeout bounds one fetch of the key set, and so the wait of a
	// request whose token names an unknown kid.
	fetchTimeout = 5 * time.Second
)

// ErrNotJWT reports a token that is not a JWT signed by a key of the
// issuer's key set: the caller should introspect it.
var ErrNotJWT = errors.New("not a JWT of this issuer")

// InvalidError reports a JWT the issuer signed that this API must not
// accept: expired, not yet valid, for another audience or issuer, or not an
// access token. Introspection would not accept it either.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid JWT access token: " + e.Reason }

// Verifier verifies JWT access tokens. It is safe for concurrent use.
type Verifier struct {
	projectID string
	parser    *jwt.Parser
	keys      func(context.Context) jwt.Keyfunc
	now       func() time.Time
}

// Token is what a verified access token says: its caller, with the roles of
// the API's project. RoleClaims reports whether the token carries the role
// claim of the API's project: ZITADEL puts role claims into JWT access
// tokens only when role scopes were asked for, and only for the projects the
// user has roles in, so without it the roles are unknown, not none.
type Token struct {
	introspect.Caller
	RoleClaims bool
}

// Algorithms a key may sign with; never "none", never HMAC.
var algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// New returns a Verifier of the tokens that issuer (the instance URL, e.g.
// https://my-instance.zitadel.cloud) signs for project projectID (which the
// token's aud must contain, from the scope
// urn:zitadel:iam:org:project:id:{projectID}:aud). It fetches the key set
// once here, waiting at most fetchTimeout: an API that starts while ZITADEL
// cannot be reached introspects JWTs until a fetch succeeds. Cancelling ctx
// ends the background refresh of the key set: pass the API's lifetime.
// logger gets one line per failed fetch.
func New(ctx context.Context, issuer, projectID string, logger *slog.Logger) (*Verifier, error) {
	return newVerifier(ctx, issuer, projectID, strings.TrimSuffix(issuer, "/")+"/oauth/v2/keys", keySetHTTP, logger)
}

func newVerifier(ctx context.Context, issuer, projectID, keysURL string, client *http.Client, logger *slog.Logger) (*Verifier, error) {
	keys, err := newKeys(ctx, keysURL, client, logger)
	if err != nil {
		return nil, fmt.Errorf("jwtverify: %w", err)
	}
	v := &Verifier{projectID: projectID, keys: keys, now: time.Now}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(projectID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	)
	return v, nil
}

// Verify verifies token. Errors: ErrNotJWT (wrapped: introspect the token),
// or *InvalidError (reject it: 401 invalid_token).
func (v *Verifier) Verify(ctx context.Context, token string) (*Token, error) {
	// A JWS has three parts. Anything else (a JWE-shaped opaque token, a
	// dot-less PAT) is not for us, and must not cost a JWKS fetch.
	if strings.Count(token, ".") != 2 {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrNotJWT)
	}
	c := claims{}
	signed := false
	keyOf := v.keys(ctx)
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		key, err := keyOf(t)
		signed = err == nil
		return key, err
	})
	switch {
	case err == nil:
	case signed && errors.Is(err, jwt.ErrTokenInvalidClaims) && !errors.Is(err, errMalformed):
		return nil, &InvalidError{Reason: strings.TrimPrefix(err.Error(), jwt.ErrTokenInvalidClaims.Error()+": ")}
	default:
		// Malformed, unknown kid, wrong alg, crit, bad signature: not ours.
		return nil, fmt.Errorf("%w: %w", ErrNotJWT, err)
	}
	// In a JWT only the role claim of the API's own project counts
	// (docs/zitadel-on-the-wire.md, "Roles in a JWT"). The generic
	// urn:zitadel:iam:org:project:roles holds the roles in the project of the
	// app that asked for the token, which may be another project whose app
	// asked for this API's aud scope; urn:zitadel:iam:org:projects:roles
	// merges the roles of several projects. Neither says anything about this API.
	own := introspect.ProjectRoleClaim(v.projectID)
	caller, err := introspect.CallerFrom(c, "preferred_username", own)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotJWT, err)
	}
	// Every access token ZITADEL signs has a jti (its token id); an ID token
	// has none, and must not be taken for an access token.
	jti, err := c.string("jti")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotJWT, err)
	}
	if jti == "" {
		return nil, &InvalidError{Reason: "no jti: not an access token"}
	}
	_, roleClaims := c[own]
	return &Token{Caller: caller, RoleClaims: roleClaims}, nil
}

// claims are a token's claims as it was signed, by their exact names:
// golang-jwt decodes the token into this map, and its validator reads exp,
// nbf, iss and aud through the methods below. A struct would also take
// "ISS" for "iss", as encoding/json matches field names case-insensitively.
type claims map[string]json.RawMessage

// errMalformed marks a claim of the wrong JSON type.
var errMalformed = errors.New("malformed claim")

func (c claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.date("exp") }
func (c claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.date("nbf") }
func (c claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.date("iat") }
func (c claims) GetIssuer() (string, error)                   { return c.string("iss") }
func (c claims) GetSubject() (string, error)                  { return c.string("sub") }

func (c claims) GetAudience() (jwt.ClaimStrings, error) {
	var aud jwt.ClaimStrings
	if v, ok := c["aud"]; ok {
		if err := aud.UnmarshalJSON(v); err != nil {
			return nil, fmt.Errorf("%w aud: %w", errMalformed, err)
		}
	}
	return aud, nil
}

// string returns the string claim name, "" when the token has none.
func (c claims) string(name string) (string, error) {
	s, err := introspect.StringClaim(c, name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errMalformed, err)
	}
	return s, nil
}

// date returns the NumericDate claim name, nil when the token has none
// (or null, as a struct field would take it).
func (c claims) date(name string) (*jwt.NumericDate, error) {
	v, ok := c[name]
	if !ok || string(v) == "null" {
		return nil, nil
	}
	d := new(jwt.NumericDate)
	if err := d.UnmarshalJSON(v); err != nil {
		return nil, fmt.Errorf("%w %s: %w", errMalformed, name, err)
	}
	return d, nil
}
