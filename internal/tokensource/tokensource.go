// Package tokensource is how a service user gets its access token from
// ZITADEL (blog sections 4.1.1 and 4.1.2), built on golang.org/x/oauth2: the
// settings of a token request, a source that reuses the token and renews it
// after the API rejected it, and a refused token request explained in
// ZITADEL's own words with a hint for the usual cause.
//
// The token request itself is the sample's: clientcredentials.Config's with a
// secret, or a small one of its own for the JWT bearer grant with a key file.
package tokensource

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

// Grant is where a sample asks ZITADEL for a token, and for what.
type Grant struct {
	// Issuer is ZITADEL_DOMAIN, the instance URL: also the audience of a
	// grant assertion (RFC 7523 §3).
	Issuer   string
	TokenURL string   // ZITADEL_TOKEN_URL, default Issuer + "/oauth/v2/token"
	Scopes   []string // Scopes(PROJECT_ID)
}

// ReadGrant reads the settings of a token request, recording problems on
// env. A ZITADEL_TOKEN_URL on another host than ZITADEL_DOMAIN is usually
// left from another instance or an example: it says so on stderr.
func ReadGrant(env *config.Env, stderr io.Writer) Grant {
	g := Grant{Issuer: env.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")}
	g.TokenURL = env.OptionalURL("ZITADEL_TOKEN_URL", g.Issuer+"/oauth/v2/token", "https://my-instance.zitadel.cloud/oauth/v2/token")
	g.Scopes = Scopes(env.Required("PROJECT_ID", "the id of the API's project, from the project's page in the console"))
	issuer, _ := url.Parse(g.Issuer) // both checked by env, or ""
	token, _ := url.Parse(g.TokenURL)
	if issuer.Host != "" && token.Host != "" && !strings.EqualFold(issuer.Host, token.Host) {
		// Hosts only: a URL may hold user info.
		fmt.Fprintf(stderr, "warning: ZITADEL_TOKEN_URL is on %s, not on ZITADEL_DOMAIN's host %s: unset ZITADEL_TOKEN_URL unless ZITADEL answers there on purpose\n", token.Host, issuer.Host)
	}
	return g
}

// Scopes are the scopes of the original samples. The last one puts the
// project into the token's audience; without it the API's introspection
// answers active:false. There is no read:messages: ZITADEL drops custom
// scopes (since v2.53), and the role reaches the API as a role claim of the
// introspection answer, from the service user's grant.
func Scopes(projectID string) []string {
	return []string{"openid", "profile", "email", "urn:zitadel:iam:org:project:id:" + projectID + ":aud"}
}

// RejectedGrant is the hint when the API rejects a token that ZITADEL has
// just issued: the token request worked, so the usual cause is the audience.
const RejectedGrant = "ZITADEL issued a token but the API does not accept it: is PROJECT_ID the id of the API's project (the scope urn:zitadel:iam:org:project:id:{PROJECT_ID}:aud puts it into the token's audience), and do the API and this client use the same ZITADEL instance?"

// Source hands out the token of a token request until shortly before it
// expires (oauth2.ReuseTokenSource: N calls cost one token request), and a
// new one after Renew. Make it with New; it is safe for concurrent use.
type Source struct {
	request oauth2.TokenSource // one token request per call, its errors explained

	mu    sync.Mutex
	reuse oauth2.TokenSource
}

// New returns a Source of the tokens of request, which asks ZITADEL for a
// new token each time it is called (like clientcredentials.Config.Token).
// When ZITADEL refuses it with one of the OAuth error codes, the error's
// hint is hint: how a sample names its own settings for the refusals its
// grant causes.
func New(request func() (*oauth2.Token, error), hint string, codes ...string) *Source {
	explained := tokenFunc(func() (*oauth2.Token, error) {
		tok, err := request()
		if err != nil {
			return nil, explain(err, hint, codes)
		}
		// The token goes into "Authorization: Bearer" (RFC 6750), and
		// -print-token must print one word for curl: another type, or a
		// token with a space inside, would only fail later.
		if tok.Type() != "Bearer" || strings.ContainsFunc(tok.AccessToken, notInToken) {
			return nil, &Error{Status: 200, Hint: hintTokenURL}
		}
		return tok, nil
	})
	return &Source{request: explained, reuse: oauth2.ReuseTokenSource(nil, explained)}
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

// notInToken is what a bearer token never holds (RFC 6750 §2.1): anything
// but printable ASCII, and the space.
func notInToken(r rune) bool { return r <= ' ' || r > '~' }

// Token returns the current token, or a new one when there is none or it
// is about to expire. Its error is an *Error.
func (s *Source) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	reuse := s.reuse
	s.mu.Unlock()
	return reuse.Token()
}

// Renew drops rejected, a token the API answered with 401 (revoked, or
// ended early), so that Token gets a new one. When the source holds another
// token already (a caller renewed first), it keeps that one: many requests
// rejected with one token cost one new token.
func (s *Source) Renew(rejected *oauth2.Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if current, err := s.reuse.Token(); err == nil && current.AccessToken != rejected.AccessToken {
		return
	}
	s.reuse = oauth2.ReuseTokenSource(nil, s.request)
}

// Error is a failed token request. It carries ZITADEL's own words and one hint
// for the usual cause; it never holds the form or headers that were sent.
type Error struct {
	Status      int    // HTTP status; 0 when there was no answer x/oauth2 could read
	ContentType string // of an answer that is not an OAuth error
	Code        string // OAuth error code, e.g. invalid_grant (RFC 6749 §5.2)
	Description string // ZITADEL's error_description
	Hint        string // what to check, naming the setting; may be empty
	Err         error  // why there was no answer, when Status is 0
}

func (e *Error) Error() string {
	switch {
	case e.Status == 0:
		return fmt.Sprintf("token request failed: %v", e.Err)
	case e.Code != "" && e.Description != "":
		return fmt.Sprintf("ZITADEL refused the token request: %s: %s", e.Code, e.Description)
	case e.Code != "":
		return "ZITADEL refused the token request: " + e.Code
	case e.ContentType != "":
		return fmt.Sprintf("token endpoint answered HTTP %d (%s), not a token response", e.Status, e.ContentType)
	default:
		return fmt.Sprintf("token endpoint answered HTTP %d, not a token response", e.Status)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// UserHint is the hint to print with the error.
func (e *Error) UserHint() string { return e.Hint }

// explain turns an error of x/oauth2 into an *Error. Its own text is not
// shown: for an answer that is not an OAuth error it quotes the body. The
// grant's hint goes with its codes, the general one with the others.
func explain(err error, grantHint string, grantCodes []string) *Error {
	var answer *oauth2.RetrieveError
	var noAnswer *url.Error
	switch {
	case errors.As(err, &answer) && answer.ErrorCode != "":
		e := &Error{
			Status:      answer.Response.StatusCode,
			Code:        config.Printable(answer.ErrorCode, 64),
			Description: config.Printable(answer.ErrorDescription, 300),
			Hint:        hint(answer.ErrorCode),
		}
		if slices.Contains(grantCodes, answer.ErrorCode) {
			e.Hint = grantHint
		}
		return e
	case errors.As(err, &answer):
		e := &Error{Status: answer.Response.StatusCode, ContentType: config.Printable(answer.Response.Header.Get("Content-Type"), 100), Hint: hintTokenURL}
		if e.Status >= 500 {
			// A gateway's error page, or ZITADEL failing before it could say why.
			e.Hint = hintUnavailable
		}
		return e
	case errors.As(err, &noAnswer) && noAnswer.Timeout():
		return &Error{Err: err, Hint: hintTimeout}
	default:
		// No answer, or a 200 that x/oauth2 found no token in.
		return &Error{Err: err, Hint: hintTokenURL}
	}
}

const (
	hintTokenURL    = "check ZITADEL_DOMAIN (and ZITADEL_TOKEN_URL, if set): the token endpoint is https://<your instance>/oauth/v2/token"
	hintTimeout     = "ZITADEL did not answer in time: is ZITADEL_DOMAIN (and ZITADEL_TOKEN_URL, if set) reachable from here? A slow connection needs a longer -timeout"
	hintUnavailable = "ZITADEL, or a proxy in front of it, failed: try again later; if it persists, check ZITADEL_DOMAIN (and ZITADEL_TOKEN_URL, if set)"
)

// hint names the setting behind the usual cause of a token endpoint error
// that does not depend on the grant (docs/zitadel-on-the-wire.md, "Token
// endpoint"). Each grant names its own settings for its codes (New).
func hint(code string) string {
	switch code {
	case "invalid_scope":
		return "check PROJECT_ID: the scope urn:zitadel:iam:org:project:id:{PROJECT_ID}:aud needs the id of a project of this instance"
	case "server_error", "temporarily_unavailable":
		return "ZITADEL has a problem of its own; try again later"
	}
	return ""
}
