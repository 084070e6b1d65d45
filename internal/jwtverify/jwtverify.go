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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// Defaults of Options.
const (
	// DefaultLeeway is the clock skew allowed on exp and nbf.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway caps Options.Leeway: a larger one would let expired tokens pass.
	MaxLeeway = time.Minute
	// DefaultMinRefresh is the least time between two fetches of the key set
	// for an unknown kid. Until then a token with an unknown kid is
	// introspected, so a key rotation costs introspections, not failures.
	DefaultMinRefresh = 30 * time.Second
	// DefaultRefreshInterval is how often the key set is fetched in the
	// background, so a key ZITADEL removed stops verifying within it (while
	// the key set can be fetched: a failed fetch keeps the keys known).
	DefaultRefreshInterval = 5 * time.Minute
	// DefaultTimeout bounds one fetch of the key set, and so the wait of a
	// request whose token names an unknown kid.
	DefaultTimeout = 5 * time.Second
)

// ErrNotJWT reports a token that is not a JWT signed by a key of the
// issuer's key set: the caller should introspect it.
var ErrNotJWT = errors.New("not a JWT of this issuer")

// InvalidError reports a JWT the issuer signed that this API must not
// accept: expired, not yet valid, for another audience or issuer, or not an
// access token. Introspection would not accept it either.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid JWT access token: " + e.Reason }

// Options configure New.
type Options struct {
	// Issuer is the instance URL, e.g. https://my-instance.zitadel.cloud:
	// the required "iss".
	Issuer string
	// ProjectID must be in the token's "aud" (the token asked for
	// urn:zitadel:iam:org:project:id:{ProjectID}:aud). Roles count only
	// for this project.
	ProjectID string
	// KeysURL of the JWKS; default Issuer + "/oauth/v2/keys".
	KeysURL string
	// HTTP fetches the key set; nil means a client that follows no redirect.
	HTTP *http.Client
	// Leeway on exp and nbf; 0 means DefaultLeeway, at most MaxLeeway.
	Leeway time.Duration
	// MinRefresh, RefreshInterval, Timeout: 0 means the Default.
	MinRefresh, RefreshInterval, Timeout time.Duration
	// Logger gets one line per failed fetch of the key set; nil discards.
	Logger *slog.Logger
}

// Verifier verifies JWT access tokens. It is safe for concurrent use.
type Verifier struct {
	issuer    string
	projectID string
	parser    *jwt.Parser
	keys      func(context.Context) jwt.Keyfunc
	now       func() time.Time
}

// Token is what a verified access token says.
type Token struct {
	Subject        string    // sub: the user id
	ClientID       string    // client_id
	Username       string    // preferred_username, when the token carries it
	OrganizationID string    // urn:zitadel:iam:user:resourceowner:id, when the token carries it
	Expiry         time.Time // exp
	// Roles in the API's project. RoleClaims reports whether the token
	// carries the role claim of the API's project: ZITADEL puts role claims
	// into JWT access tokens only when role scopes were asked for, and only
	// for the projects the user has roles in, so without it the roles are
	// unknown, not none.
	Roles      []string
	RoleClaims bool
	// Claims is every claim of the token as it was signed.
	Claims map[string]json.RawMessage
}

// HasRole reports whether the token's user has the role in the API's project.
func (t *Token) HasRole(name string) bool { return slices.Contains(t.Roles, name) }

// Algorithms a key may sign with; never "none", never HMAC.
var algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// New returns a Verifier. It fetches the key set once here, waiting at most
// Timeout: an API that starts while ZITADEL cannot be reached introspects
// JWTs until a fetch succeeds. Cancelling ctx ends the background refresh of
// the key set: pass the API's lifetime.
func New(ctx context.Context, o Options) (*Verifier, error) {
	if o.Issuer == "" || o.ProjectID == "" {
		return nil, errors.New("jwtverify: Issuer and ProjectID are required")
	}
	if o.KeysURL == "" {
		o.KeysURL = strings.TrimSuffix(o.Issuer, "/") + "/oauth/v2/keys"
	}
	if o.HTTP == nil {
		o.HTTP = defaultHTTP
	}
	if o.Leeway <= 0 {
		o.Leeway = DefaultLeeway
	}
	o.Leeway = min(o.Leeway, MaxLeeway)
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o.Timeout = cmpOr(o.Timeout, DefaultTimeout)
	o.MinRefresh = cmpOr(o.MinRefresh, DefaultMinRefresh)
	o.RefreshInterval = cmpOr(o.RefreshInterval, DefaultRefreshInterval)
	keys, err := newKeys(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("jwtverify: %w", err)
	}
	v := &Verifier{issuer: o.Issuer, projectID: o.ProjectID, keys: keys, now: time.Now}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.ProjectID),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(o.Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	)
	return v, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
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
	t, err := c.token(v.projectID)
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
	return t, nil
}

// In a JWT only the role claim of the API's own project counts
// (docs/zitadel-on-the-wire.md, "Roles in a JWT"). The generic
// urn:zitadel:iam:org:project:roles holds the roles in the project of the
// app that asked for the token, which may be another project whose app asked
// for this API's aud scope; urn:zitadel:iam:org:projects:roles merges the
// roles of several projects. Neither says anything about this API.
const orgClaim = "urn:zitadel:iam:user:resourceowner:id"

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
	v, ok := c[name]
	if !ok {
		return "", nil
	}
	s, err := jsonString(v)
	if err != nil {
		return "", fmt.Errorf("%w %s: %w", errMalformed, name, err)
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

// token reads what the API needs of the verified claims.
func (c claims) token(projectID string) (*Token, error) {
	t := &Token{Claims: c}
	var errs [6]error
	t.Subject, errs[0] = c.string("sub")
	t.ClientID, errs[1] = c.string("client_id")
	t.Username, errs[2] = c.string("preferred_username")
	t.OrganizationID, errs[3] = c.string(orgClaim)
	exp, err := c.date("exp") // required: the validator checked it
	if exp != nil {
		t.Expiry = exp.Time
	}
	errs[4] = err
	t.Roles, t.RoleClaims, errs[5] = c.roles(projectID)
	return t, errors.Join(errs[:]...)
}

// roles returns the role names of the API project's own role claim, and
// whether the token has that claim: without it the roles are unknown (the
// guard then introspects), not none.
func (c claims) roles(projectID string) (roles []string, found bool, err error) {
	name := introspect.ProjectRoleClaim(projectID)
	if _, found = c[name]; !found {
		return nil, false, nil
	}
	if roles, err = introspect.Roles(c, name); err != nil {
		return nil, false, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return roles, true, nil
}

// jsonString reads a JSON string. Most claims are plain text, without
// escapes, and need no decoder: v is a part of a valid JSON document.
func jsonString(v json.RawMessage) (string, error) {
	if len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}
