// Package apiserver is what the two API samples call to protect their routes
// with ZITADEL token introspection (blog sections 3.1-3.3): the Guard
// middleware and FromContext, the answers it writes, the settings every API
// reads, and the HTTP server. Each sample holds its own route table.
package apiserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
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

// Guard protects routes with ZITADEL token introspection (blog section 3.3).
// RequireToken and RequireRole are ordinary func(http.Handler) http.Handler
// middleware: they work with chi's r.With as with net/http's ServeMux.
type Guard struct {
	// Introspector answers whether a token is active and who it belongs
	// to: an *introspect.Client, usually behind an *introspect.Cache.
	Introspector introspect.Introspector
	// JWT, when set (TOKEN_VALIDATION=jwt), is asked first: it verifies JWT
	// access tokens in the API, without a round trip to ZITADEL, and reports
	// what it cannot verify (opaque tokens, PATs) as jwtverify.ErrNotJWT,
	// which then goes to Introspector. The trade-off: a revoked JWT passes
	// until its exp.
	JWT introspect.Introspector
	// Issuer is the ZITADEL instance URL, which ResourceMetadata names as
	// the authorization server of this API (RFC 9728).
	Issuer string
	// Resource is the API's URL as its clients call it, e.g.
	// https://api.example.com: the origin of the resources of its metadata
	// (RFC 9728). Empty: the scheme and Host of each request, which a forged
	// Host header changes; production sets it (RESOURCE_URL).
	Resource string
	// ProjectID is the API's project (PROJECT_ID), optional: its metadata
	// then names the aud scope a client must ask ZITADEL for.
	ProjectID string
	// Realm names the protected API in WWW-Authenticate (RFC 6750 §3).
	Realm string
	// CredentialsHint names the settings to check when ZITADEL rejects the
	// API's own credentials, e.g. "API_PRIVATE_KEY_FILE".
	CredentialsHint string
	// Logger gets a line when ZITADEL fails or rejects the API; nil means
	// slog.Default().
	Logger *slog.Logger

	// Inactive answers in a row since the start, while no token was
	// active yet: see warnEveryTokenInactive.
	inactiveRun atomic.Int64
	sawActive   atomic.Bool
}

// inactiveWarnAfter is how many inactive answers in a row, with no active
// one since the start, make the guard say that its set-up may be wrong.
const inactiveWarnAfter = 10

type callerKey struct{}

// tokenKey holds the token of a caller whose roles its JWT did not say, for
// RequireRole to introspect.
type tokenKey struct{}

// FromContext returns the introspection answer about the caller's token,
// which RequireToken put into the request's context: who called (Subject,
// Username, ClientID, OrganizationID), their Roles in this API's project,
// and every other claim. ok is false on a route without RequireToken.
func FromContext(ctx context.Context) (caller *introspect.Result, ok bool) {
	caller, ok = ctx.Value(callerKey{}).(*introspect.Result)
	return caller, ok
}

// RequireToken lets a request through only with an active access token, and
// puts ZITADEL's answer about it into its context for FromContext.
func (g *Guard) RequireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := g.bearerToken(w, r)
		if !ok {
			return
		}
		caller, err := g.check(r.Context(), token)
		if !g.active(w, r, caller, err) {
			return
		}
		g.sawActive.Store(true)
		ctx := context.WithValue(r.Context(), callerKey{}, caller)
		if caller.RolesUnknown {
			ctx = context.WithValue(ctx, tokenKey{}, token)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// check asks JWT first, when set, and ZITADEL about what JWT cannot verify.
func (g *Guard) check(ctx context.Context, token string) (*introspect.Result, error) {
	if g.JWT != nil {
		caller, err := g.JWT.Introspect(ctx, token)
		if !errors.Is(err, jwtverify.ErrNotJWT) {
			return caller, err
		}
	}
	return g.Introspector.Introspect(ctx, token)
}

// active reports whether an answer about the caller's token lets the
// request on. If not, it has answered the request: an error for a failed
// introspection, 401 for an inactive token.
func (g *Guard) active(w http.ResponseWriter, r *http.Request, answer *introspect.Result, err error) bool {
	if err != nil {
		g.introspectionFailed(w, r, err)
		return false
	}
	// Only "active" decides: an inactive answer has no other member to read.
	if !answer.Active {
		g.inactive(w, r)
		return false
	}
	return true
}

func (g *Guard) inactive(w http.ResponseWriter, r *http.Request) {
	g.warnEveryTokenInactive(r)
	g.challenge(w, r, http.StatusUnauthorized, "invalid_token",
		"The access token is not active: it is unknown, expired or revoked, or was issued for another project.")
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
	g.logger().WarnContext(r.Context(), "every token so far was inactive",
		"inactive", inactiveWarnAfter,
		"hint", "if these tokens should be active, check that the clients ask for the scope urn:zitadel:iam:org:project:id:{projectId}:aud "+
			"with this API's project, and that the API's application is in that project: "+g.CredentialsHint)
}

// RequireRole lets a request through only when the token's user has role in
// the API's project. It reads the role claims of the introspection answer,
// never "scope": ZITADEL drops custom scopes such as read:messages. A JWT
// without role claims (no role scope was asked for) says nothing about
// roles: then it introspects the token (cached) to learn them.
// It runs after RequireToken.
func (g *Guard) RequireRole(role string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			caller, ok := FromContext(r.Context())
			if !ok {
				g.logger().ErrorContext(r.Context(), "RequireRole runs without RequireToken", "path", r.URL.Path)
				WriteError(w, http.StatusInternalServerError, "server_error", "The API could not check the token. Its log says why.")
				return
			}
			if token, ok := r.Context().Value(tokenKey{}).(string); ok && caller.RolesUnknown {
				answer, err := g.Introspector.Introspect(r.Context(), token)
				if !g.active(w, r, answer, err) {
					return
				}
				caller = answer
				r = r.WithContext(context.WithValue(r.Context(), callerKey{}, caller))
			}
			if !caller.HasRole(role) {
				g.challenge(w, r, http.StatusForbidden, "insufficient_scope",
					"The token's user does not have the role "+role+" in this API's project.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearerToken reads the token of "Authorization: Bearer <token>" (RFC 6750
// §2.1), or answers the request itself.
func (g *Guard) bearerToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		// No error attribute: the client may not know it needs a token (RFC 6750 §3.1).
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+g.Realm+`", resource_metadata="`+g.metadataURL(r)+`"`)
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

// b64TokenByte says which bytes a b64token has before its "=" padding.
var b64TokenByte = func() (table [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		table[c] = true
	}
	return table
}()

// introspectionFailed answers a request whose token ZITADEL could not judge,
// and logs why. The log names the cause; the client learns only what it can
// act on. One failed introspection is one log line: requests that shared it
// (introspect.Shared) or were turned away by the bound on introspections in
// flight (introspect.ErrBusy, which logs on its own) add none.
func (g *Guard) introspectionFailed(w http.ResponseWriter, r *http.Request, err error) {
	ctx, logger := r.Context(), g.logger()
	if introspect.Shared(err) || errors.Is(err, introspect.ErrBusy) {
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
		logger.ErrorContext(ctx, "ZITADEL rejected the API's credentials: check "+g.CredentialsHint, rejectedAttrs(rejected)...)
	case errors.As(err, &rejected):
		logger.ErrorContext(ctx, "ZITADEL refused the introspection request: check ZITADEL_DOMAIN and ZITADEL_INTROSPECTION_URL", rejectedAttrs(rejected)...)
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

// rejectedAttrs are the log attributes of a refusal: its status, and the
// OAuth error and description when ZITADEL sent them (a 404 page or a
// redirect has none, and an empty attribute reads like a missing value).
func rejectedAttrs(r *introspect.RejectedError) []any {
	attrs := []any{"status", r.Status}
	if r.Code != "" {
		attrs = append(attrs, "error", r.Code)
	}
	if r.Description != "" {
		attrs = append(attrs, "error_description", r.Description)
	}
	return attrs
}

// challenge writes an error with the WWW-Authenticate challenge of RFC 6750
// §3, which points to the API's resource metadata (RFC 9728 §5.1).
func (g *Guard) challenge(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+g.Realm+`", error="`+code+`", error_description="`+description+
		`", resource_metadata="`+g.metadataURL(r)+`"`)
	WriteError(w, status, code, description)
}

func (g *Guard) logger() *slog.Logger {
	if g.Logger == nil {
		return slog.Default()
	}
	return g.Logger
}

// ResourceMetadataPath is where an API publishes its OAuth 2.0 Protected
// Resource Metadata (RFC 9728 §3): at this path for the API as a whole, and
// with a route's path appended for that route (§3.1), e.g.
// /.well-known/oauth-protected-resource/api/private for /api/private.
const ResourceMetadataPath = "/.well-known/oauth-protected-resource"

// ResourceMetadata serves the protected resource metadata (RFC 9728) of the
// route whose path follows ResourceMetadataPath in the request, or of the
// API as a whole at ResourceMetadataPath itself: the resource, the
// authorization server that issues its tokens (the ZITADEL instance), that
// tokens go in the Authorization header, and, when ProjectID is set, the
// scopes a client asks ZITADEL for, plus the scopes of roles, the roles the
// route requires. Clients such as MCP clients follow the resource_metadata
// of a 401's challenge here, and discard the answer unless its resource is
// the URL they called (§3.3): each route the guard protects gets its own.
func (g *Guard) ResourceMetadata(roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := resourceMetadata{
			Resource:               g.resource(r) + strings.TrimPrefix(r.URL.EscapedPath(), ResourceMetadataPath),
			AuthorizationServers:   []string{g.Issuer},
			BearerMethodsSupported: []string{"header"},
			ResourceName:           g.Realm,
		}
		if g.ProjectID != "" {
			// Without the aud scope ZITADEL issues tokens this API's
			// introspection answers inactive. A role scope puts the role
			// into a JWT access token; it narrows, never grants, a role.
			m.ScopesSupported = []string{"openid", "urn:zitadel:iam:org:project:id:" + g.ProjectID + ":aud"}
			for _, role := range roles {
				m.ScopesSupported = append(m.ScopesSupported, "urn:zitadel:iam:org:project:role:"+role)
			}
		}
		WriteJSON(w, http.StatusOK, m)
	}
}

type resourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// metadataURL is the URL of the metadata of the route r called (RFC 9728
// §3.1: the well-known path inserted between the origin and the path).
func (g *Guard) metadataURL(r *http.Request) string {
	return g.resource(r) + ResourceMetadataPath + r.URL.EscapedPath()
}

// resource is the API's origin: Resource, else the one the client called
// (RFC 9728 §1.2: the resource identifier is the URL its metadata is
// fetched from, minus the well-known path). Behind a proxy that terminates
// TLS, the scheme the API sees is http: set Resource there. A request
// without Host (HTTP/1.0) gets the address the API listens on, never an
// empty host.
func (g *Guard) resource(r *http.Request) string {
	if g.Resource != "" {
		return g.Resource
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = "localhost"
		if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = addr.String()
		}
	}
	return scheme + "://" + host
}
