// Package apiserver is what the two API samples call to protect their routes
// with ZITADEL (blog sections 3.1-3.3): the Guard middleware, with its cache
// and its bound on introspections, and FromContext; the answers it writes;
// the settings every API reads; and the HTTP server. Each sample holds its
// own route table and its own way to authenticate to ZITADEL.
package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
	"github.com/zitadel/go-introspection-examples/internal/jwtverify"
)

// MaxAuthorization is the longest Authorization header the API reads. ZITADEL
// tokens are far shorter; a longer header is a mistake or an attack, and
// must not be sent on to ZITADEL.
const MaxAuthorization = 8 << 10

// retryAfter is the Retry-After of a 503, in seconds: about the time ZITADEL
// or the network usually needs to recover (errors are never cached, so the
// next request asks again anyway).
const retryAfter = "5"

// inactiveWarnAfter is how many inactive tokens in a row, with no active one
// since the start, make the guard say that its set-up may be wrong.
const inactiveWarnAfter = 10

// Caller is who sent a request with an active token: what ZITADEL's
// introspection answer, or a JWT verified in the API, says about the token.
// A Caller may be shared between requests: read it, never change it.
type Caller = introspect.Caller

type callerKey struct{}

// FromContext returns the caller of a request that passed RequireToken or
// RequireRole; ok is false on a route without them.
func FromContext(ctx context.Context) (caller *Caller, ok bool) {
	caller, ok = ctx.Value(callerKey{}).(*Caller)
	return caller, ok
}

// Guard protects routes: RequireToken and RequireRole are ordinary
// func(http.Handler) http.Handler middleware, for chi's r.With as for
// net/http's ServeMux. It asks ZITADEL about each token (introspection),
// through a cache; with TOKEN_VALIDATION=jwt it verifies JWT access tokens
// itself and asks ZITADEL only about the rest.
type Guard struct {
	realm     string // names the API in WWW-Authenticate (RFC 6750 §3)
	issuer    string
	resource  string // RESOURCE_URL; empty: each request's scheme and Host
	projectID string
	hint      string // the settings to check when ZITADEL rejects the API
	logger    *slog.Logger

	introspect func(ctx context.Context, token string) (*introspect.Result, error)
	verify     func(ctx context.Context, token string) (*jwtverify.Token, error) // nil: introspection only
	cache      *cache                                                            // nil: INTROSPECTION_CACHE_TTL=0
	bound      *bound

	// Inactive tokens in a row since the start, while none was active yet:
	// see warnEveryTokenInactive.
	inactiveRun atomic.Int64
	sawActive   atomic.Bool
}

// NewGuard returns the guard of an API with settings s that authenticates to
// ZITADEL with authenticate. credentialsHint names the settings to check
// when ZITADEL rejects them, e.g. "API_PRIVATE_KEY_FILE". With
// TOKEN_VALIDATION=jwt, ZITADEL's keys are refreshed in the background
// until ctx ends. logger is required, here as everywhere in the API: what it
// logs is what the API's operator must act on.
func NewGuard(ctx context.Context, s Settings, authenticate introspect.Authenticate, credentialsHint string, logger *slog.Logger) (*Guard, error) {
	client := &introspect.Client{URL: s.IntrospectionURL, Authenticate: authenticate, ProjectID: s.ProjectID, Timeout: s.Timeout}
	g := &Guard{
		realm: s.Name, issuer: s.Issuer, resource: s.ResourceURL, projectID: s.ProjectID,
		hint: credentialsHint, logger: logger,
		introspect: client.Introspect,
		bound:      newBound(s.MaxInFlight, logger),
	}
	if s.CacheTTL > 0 {
		g.cache = newCache(s.CacheTTL)
	}
	if s.TokenValidation == ValidateJWTLocally {
		v, err := jwtverify.New(ctx, s.Issuer, s.ProjectID, logger)
		if err != nil {
			return nil, err
		}
		g.verify = v.Verify
	}
	return g, nil
}

// RequireToken lets a request through only with an active access token, and
// puts its caller into the request's context for FromContext.
func (g *Guard) RequireToken(next http.Handler) http.Handler { return g.require("", next) }

// RequireRole lets a request through only with an active access token whose
// user has role in the API's project (403 insufficient_scope otherwise). It
// reads roles from ZITADEL's role claims, never from "scope": ZITADEL drops
// custom scopes such as read:messages.
func (g *Guard) RequireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return g.require(role, next) }
}

func (g *Guard) require(role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := g.bearerToken(w, r)
		if !ok {
			return
		}
		v, err := g.check(r.Context(), token, role != "")
		switch {
		case err != nil:
			g.checkFailed(w, r, err)
			return
		case v.caller == nil:
			g.warnEveryTokenInactive(r)
			g.challenge(w, r, http.StatusUnauthorized, "invalid_token",
				"The access token is not active: it is unknown, expired or revoked, or was issued for another project.")
			return
		}
		g.sawActive.Store(true)
		if role != "" && !v.caller.HasRole(role) {
			g.challenge(w, r, http.StatusForbidden, "insufficient_scope",
				"The token's user does not have the role "+role+" in this API's project.")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, v.caller)))
	})
}

// The questions the cache keeps answers to, apart: what the guard decided
// about a token, and what ZITADEL's introspection said about it.
const (
	askGuard      = 'g'
	askIntrospect = 'i'
)

// check judges token, from the cache when it can. A JWT verified in the API
// that does not say the user's roles in this project is introspected (once,
// cached) when the route needs a role.
func (g *Guard) check(ctx context.Context, token string, needRoles bool) (verdict, error) {
	v, err := g.cached(ctx, askGuard, token, g.judge)
	if err != nil || v.caller == nil || v.rolesKnown || !needRoles {
		return v, err
	}
	return g.cached(ctx, askIntrospect, token, g.introspected)
}

func (g *Guard) cached(ctx context.Context, q byte, token string, judge func(context.Context, string) (verdict, error)) (verdict, error) {
	if g.cache == nil {
		return judge(ctx, token)
	}
	return g.cache.get(ctx, key(q, token), func(ctx context.Context) (verdict, error) { return judge(ctx, token) })
}

// judge verifies a JWT access token in the API when it can (TOKEN_VALIDATION=jwt)
// and asks ZITADEL otherwise: about opaque tokens and PATs, and about a JWT
// it cannot verify (not signed by a key of the issuer), which ZITADEL then
// answers, mostly inactive.
func (g *Guard) judge(ctx context.Context, token string) (verdict, error) {
	if g.verify == nil {
		return g.introspected(ctx, token)
	}
	t, err := g.verify(ctx, token)
	var invalid *jwtverify.InvalidError
	switch {
	case errors.As(err, &invalid):
		return verdict{}, nil // signed by ZITADEL, but expired or for another project
	case err != nil:
		return g.introspected(ctx, token)
	}
	return verdict{caller: &t.Caller, rolesKnown: t.RoleClaims}, nil
}

// introspected asks ZITADEL, within the bound on introspections in flight.
func (g *Guard) introspected(ctx context.Context, token string) (verdict, error) {
	if err := g.bound.acquire(ctx); err != nil {
		if errors.Is(err, errBusy) {
			return verdict{}, &introspect.UnavailableError{Reason: "the API's bound on introspections in flight is reached", Err: err}
		}
		return verdict{}, err
	}
	defer g.bound.release()
	r, err := g.introspect(ctx, token)
	if err != nil || !r.Active {
		return verdict{}, err
	}
	return verdict{caller: &r.Caller, rolesKnown: true}, nil
}

// warnEveryTokenInactive logs once when every token so far was inactive.
// ZITADEL answers {"active":false}, not an error, for a token whose audience
// lacks the API's project, and for a client assertion it cannot parse
// (docs/zitadel-on-the-wire.md, "Introspection"): a set-up mistake then
// looks like clients sending bad tokens, and the log is the place to say so.
func (g *Guard) warnEveryTokenInactive(r *http.Request) {
	if g.sawActive.Load() || g.inactiveRun.Add(1) != inactiveWarnAfter {
		return
	}
	g.logger.WarnContext(r.Context(), "every token so far was inactive",
		"inactive", inactiveWarnAfter,
		"hint", "if these tokens should be active, check that the clients ask for the scope urn:zitadel:iam:org:project:id:{projectId}:aud "+
			"with this API's project, and that the API's application is in that project: "+g.hint)
}

// bearerToken reads the token of "Authorization: Bearer <token>" (RFC 6750
// §2.1), or answers the request itself.
func (g *Guard) bearerToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		// No error attribute: the client may not know it needs a token (RFC 6750 §3.1).
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+g.realm+`", resource_metadata="`+g.metadataURL(r)+`"`)
		WriteError(w, http.StatusUnauthorized, "missing_token", "This route needs an access token: send Authorization: Bearer <token>.")
		return "", false
	case len(values) > 1:
		return g.invalidRequest(w, r, "Send one Authorization header, not several.")
	case len(values[0]) > MaxAuthorization:
		return g.invalidRequest(w, r, "The Authorization header is longer than 8 KiB.")
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return g.invalidRequest(w, r, "The Authorization header must use the Bearer scheme.")
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return g.invalidRequest(w, r, "The Authorization header has no token after Bearer.")
	case isB64Token(token):
		return token, true
	case strings.ContainsAny(token, " \t"):
		return g.invalidRequest(w, r, "The Authorization header must hold exactly one token.")
	default:
		return g.invalidRequest(w, r, "The token has characters that a bearer token cannot have.")
	}
}

func (g *Guard) invalidRequest(w http.ResponseWriter, r *http.Request, description string) (string, bool) {
	g.challenge(w, r, http.StatusBadRequest, "invalid_request", description)
	return "", false
}

// isB64Token checks the b64token syntax of RFC 6750 §2.1:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// It runs on every request, over tokens of up to a kilobyte (a JWT), so it
// looks each byte up in a table.
func isB64Token(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for i := range len(s) {
		if !b64TokenByte[s[i]] {
			return false
		}
	}
	return true
}

var b64TokenByte = func() (table [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		table[c] = true
	}
	return table
}()

// checkFailed answers a request whose token could not be judged, and logs
// why. The log names the cause; the client learns only what it can act on.
// One failed introspection is one log line: requests that shared it, or
// were turned away by the bound (which logs on its own), add none.
func (g *Guard) checkFailed(w http.ResponseWriter, r *http.Request, err error) {
	ctx, logger := r.Context(), g.logger
	var shared *sharedError
	if errors.As(err, &shared) || errors.Is(err, errBusy) {
		logger = slog.New(slog.DiscardHandler)
	}
	var unavailable *introspect.UnavailableError
	var rejected *introspect.RejectedError
	switch {
	case errors.As(err, &unavailable):
		logger.WarnContext(ctx, "ZITADEL introspection unavailable", "error", err)
		w.Header().Set("Retry-After", retryAfter)
		WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The API cannot check the token right now. Try again later.")
		return
	case errors.As(err, &rejected) && rejected.Credentials():
		logger.ErrorContext(ctx, "ZITADEL rejected the API's credentials: check "+g.hint, "error", err)
	case errors.As(err, &rejected):
		logger.ErrorContext(ctx, "ZITADEL refused the introspection request: check ZITADEL_DOMAIN and ZITADEL_INTROSPECTION_URL", "error", err)
	case ctx.Err() != nil:
		// The client went away while waiting; nobody reads this answer.
		w.Header().Set("Retry-After", retryAfter)
		WriteError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The request was cancelled.")
		return
	default:
		logger.ErrorContext(ctx, "introspection failed", "error", err)
	}
	WriteError(w, http.StatusInternalServerError, "server_error", "The API could not check the token. Its log says why.")
}

// challenge writes an error with the WWW-Authenticate challenge of RFC 6750
// §3, which points to the route's resource metadata (RFC 9728 §5.1).
func (g *Guard) challenge(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s", error="%s", error_description="%s", resource_metadata="%s"`,
		g.realm, code, description, g.metadataURL(r)))
	WriteError(w, status, code, description)
}
