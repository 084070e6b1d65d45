package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// MaxAuthorization is the longest Authorization header the API reads. ZITADEL
// tokens are far shorter; a longer header is a mistake or an attack, and
// must not be sent on to ZITADEL.
const MaxAuthorization = 8 << 10

// retryAfter is the Retry-After of a 503, in seconds: about the time ZITADEL
// or the network usually needs to recover, and longer than a cached failure
// would be (errors are never cached, so the next request asks again anyway).
const retryAfter = 5

// Guard protects routes with ZITADEL token introspection (blog section 3.3).
type Guard struct {
	Introspector introspect.Introspector
	// Realm names the protected API in WWW-Authenticate (RFC 6750 §3).
	Realm string
	// CredentialsHint names the settings to check when ZITADEL rejects the
	// API's own credentials, e.g. "API_PRIVATE_KEY_FILE".
	CredentialsHint string
	Logger          *slog.Logger
}

type resultKey struct{}

// FromContext returns the introspection result RequireToken stored for the request.
func FromContext(ctx context.Context) (*introspect.Result, bool) {
	r, ok := ctx.Value(resultKey{}).(*introspect.Result)
	return r, ok
}

// RequireToken lets a request through only with an active access token, and
// puts the introspection result into its context for FromContext.
func (g *Guard) RequireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, fail := bearerToken(r)
		if fail != nil {
			g.reply(w, fail)
			return
		}
		result, err := g.Introspector.Introspect(r.Context(), token)
		if err != nil {
			g.reply(w, g.introspectionFailed(r.Context(), err))
			return
		}
		// Only "active" decides: an inactive answer has no other member to read.
		if !result.Active {
			g.reply(w, inactiveToken)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), resultKey{}, result)))
	})
}

// RequireRole lets a request through only when the token's user has role in
// the API's project. It reads the role claims of the introspection answer,
// never "scope": ZITADEL drops custom scopes such as read:messages.
// It must run after RequireToken.
func (g *Guard) RequireRole(role string) func(http.Handler) http.Handler {
	forbidden := newFailure(http.StatusForbidden, "insufficient_scope",
		"The token's user does not have the role "+role+" in this API's project.")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			result, ok := FromContext(r.Context())
			if !ok {
				g.Logger.Error("RequireRole runs without RequireToken", "path", r.URL.Path)
				g.reply(w, serverError)
				return
			}
			if !result.HasRole(role) {
				g.reply(w, forbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// failure is an error answer. Code is the RFC 6750 error code; with a missing
// token there is none (RFC 6750 §3.1), and the body gets "missing_token".
type failure struct {
	Status      int
	Code        string
	Description string
	body        []byte // {"code","description"}
}

// newFailure encodes the body once: a client that repeats a bad request
// should not cost a JSON encoding each time.
func newFailure(status int, code, description string) *failure {
	bodyCode := code
	if bodyCode == "" {
		bodyCode = "missing_token"
	}
	return &failure{status, code, description, encodeJSON(map[string]string{"code": bodyCode, "description": description})}
}

func invalidRequest(description string) *failure {
	return newFailure(http.StatusBadRequest, "invalid_request", description)
}

var (
	missingToken  = newFailure(http.StatusUnauthorized, "", "This route needs an access token: send Authorization: Bearer <token>.")
	severalHeader = invalidRequest("Send one Authorization header, not several.")
	longHeader    = invalidRequest("The Authorization header is longer than 8 KiB.")
	notBearer     = invalidRequest("The Authorization header must use the Bearer scheme.")
	noToken       = invalidRequest("The Authorization header has no token after Bearer.")
	severalTokens = invalidRequest("The Authorization header must hold exactly one token.")
	notB64Token   = invalidRequest("The token has characters that a bearer token cannot have.")

	inactiveToken = newFailure(http.StatusUnauthorized, "invalid_token",
		"The access token is not active: it is unknown, expired or revoked, or was issued for another project.")
	zitadelUnavailable = newFailure(http.StatusServiceUnavailable, "temporarily_unavailable",
		"The API cannot check the token right now. Try again later.")
	requestCancelled = newFailure(http.StatusServiceUnavailable, "temporarily_unavailable", "The request was cancelled.")
	serverError      = newFailure(http.StatusInternalServerError, "server_error",
		"The API could not check the token. Its log says why.")
)

// bearerToken reads the token of "Authorization: Bearer <token>" (RFC 6750 §2.1).
func bearerToken(r *http.Request) (string, *failure) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", missingToken
	case len(values) > 1:
		return "", severalHeader
	case len(values[0]) > MaxAuthorization:
		return "", longHeader
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", notBearer
	}
	token = strings.TrimSpace(token)
	switch {
	case token == "":
		return "", noToken
	case strings.ContainsAny(token, " \t"):
		return "", severalTokens
	case !isB64Token(token):
		return "", notB64Token
	}
	return token, nil
}

// isB64Token checks the b64token syntax of RFC 6750 §2.1:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~+/", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// introspectionFailed maps an introspection error to an answer and logs it.
// The log names the cause; the client learns only what it can act on.
func (g *Guard) introspectionFailed(ctx context.Context, err error) *failure {
	var unavailable *introspect.UnavailableError
	var rejected *introspect.RejectedError
	switch {
	case errors.As(err, &unavailable):
		g.Logger.WarnContext(ctx, "ZITADEL introspection unavailable", "error", err)
		return zitadelUnavailable
	case errors.As(err, &rejected) && rejected.Credentials():
		g.Logger.ErrorContext(ctx, "ZITADEL rejected the API's credentials: check "+g.CredentialsHint,
			"status", rejected.Status, "error", rejected.Code, "error_description", rejected.Description)
	case errors.As(err, &rejected):
		g.Logger.ErrorContext(ctx, "ZITADEL refused the introspection request: check ZITADEL_DOMAIN and ZITADEL_INTROSPECTION_URL",
			"status", rejected.Status, "error", rejected.Code, "error_description", rejected.Description)
	case ctx.Err() != nil:
		// The client went away while waiting; nobody reads this answer.
		return requestCancelled
	default:
		g.Logger.ErrorContext(ctx, "introspection failed", "error", err)
	}
	return serverError
}

// reply writes f as JSON {"code","description"} with the challenge of RFC 6750 §3.
func (g *Guard) reply(w http.ResponseWriter, f *failure) {
	h := w.Header()
	switch f.Status {
	case http.StatusUnauthorized, http.StatusBadRequest, http.StatusForbidden:
		challenge := `Bearer realm="` + g.Realm + `"`
		if f.Code != "" {
			challenge += `, error="` + f.Code + `", error_description="` + f.Description + `"`
		}
		h.Set("WWW-Authenticate", challenge)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	writeJSON(w, f.Status, f.body)
}

// encodeJSON encodes an answer that never changes, once, when the handler
// is built.
func encodeJSON(v map[string]string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // a map of strings always encodes
	}
	return b.Bytes()
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
