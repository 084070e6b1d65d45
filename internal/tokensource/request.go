package tokensource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/safetext"
)

// MaxBody bounds what is read of an answer: a token response is a few KiB.
const MaxBody = 1 << 20

// DefaultTimeout bounds one request to ZITADEL or to the API: long enough
// for a cold instance far away, short enough that a silent server does not
// look like a hanging program.
const DefaultTimeout = 15 * time.Second

// HTTPClient returns the HTTP client for ZITADEL and for the API: each
// request, its answer included, is cut off after timeout, and redirects are
// not followed, so credentials are never resent to another URL (a redirect
// is reported as the answer it is).
func HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Grant types of the two token requests (blog 4.1.1 and 4.1.2), for the hints.
const (
	grantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer" // RFC 7523 §2.1
	grantClientCredentials = "client_credentials"                          // RFC 6749 §4.4
)

// Error is a failed token request. It carries ZITADEL's own words and one hint
// for the usual cause; it never holds the form or headers that were sent.
type Error struct {
	Status      int    // HTTP status; 0 when ZITADEL did not answer
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
	default:
		return fmt.Sprintf("token endpoint answered HTTP %d (%s), not a token response", e.Status, e.ContentType)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Request posts a token request (RFC 6749 §4) to tokenURL and returns the
// token from its answer. authenticate, if not nil, adds the client's
// credentials to the request, e.g. HTTP Basic for client_credentials.
//
// ZITADEL answers {"access_token","token_type","expires_in","id_token"}
// without a "scope" field; the id_token is not needed to call an API and is
// dropped here.
func Request(ctx context.Context, client *http.Client, tokenURL string, form url.Values, authenticate func(*http.Request)) (*Token, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, &Error{Err: err, Hint: hintTokenURL}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if authenticate != nil {
		authenticate(req)
	}
	started := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, noAnswer(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, noAnswer(fmt.Errorf("read the answer of %s: %w", tokenURL, err))
	}
	return parseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body, form.Get("grant_type"), started)
}

// bearerToken is the syntax of a bearer token, b64token (RFC 6750 §2.1).
var bearerToken = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)

// noAnswer is a token request that got no complete answer.
func noAnswer(err error) *Error {
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return &Error{Err: err, Hint: hintTimeout}
	}
	return &Error{Err: err, Hint: hintTokenURL}
}

// parseAnswer turns the token endpoint's answer to a request of grantType,
// sent at sent, into a token or an *Error.
func parseAnswer(status int, contentType string, body []byte, grantType string, sent time.Time) (*Token, error) {
	notToken := &Error{Status: status, ContentType: safetext.Printable(contentType, 100), Hint: hintTokenURL}
	if status >= 500 {
		// A gateway's error page, or ZITADEL failing before it could say why.
		notToken.Hint = hintUnavailable
	}
	if len(body) > MaxBody {
		return nil, notToken
	}

	if status != http.StatusOK {
		var oauthErr struct {
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &oauthErr) != nil || oauthErr.Code == "" {
			return nil, notToken
		}
		return nil, &Error{
			Status:      status,
			Code:        safetext.Printable(oauthErr.Code, 64),
			Description: safetext.Printable(oauthErr.Description, 300),
			Hint:        hint(grantType, oauthErr.Code),
		}
	}

	var answer struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"` // seconds (RFC 6749 §5.1)
	}
	// A token that cannot go into an Authorization header would only fail
	// later, and -print-token must print one word for curl.
	if json.Unmarshal(body, &answer) != nil || !bearerToken.MatchString(answer.AccessToken) {
		return nil, notToken
	}
	// The token is sent as "Authorization: Bearer" (RFC 6750), which is what
	// ZITADEL issues; another type would be rejected by the API anyway.
	if answer.TokenType != "" && !strings.EqualFold(answer.TokenType, "Bearer") {
		return nil, notToken
	}
	tok := &Token{AccessToken: answer.AccessToken, TokenType: "Bearer"}
	// A lifetime beyond what a time.Duration holds (292 years) would
	// overflow into the past: it is as good as none.
	if answer.ExpiresIn > 0 && answer.ExpiresIn <= math.MaxInt64/int64(time.Second) {
		// From when the request was sent: the token may be a little younger than that, never older.
		tok.Expiry = sent.Add(time.Duration(answer.ExpiresIn) * time.Second)
	}
	return tok, nil
}

const (
	hintTokenURL    = "check ZITADEL_DOMAIN (and ZITADEL_TOKEN_URL, if set): the token endpoint is https://<your instance>/oauth/v2/token"
	hintTimeout     = "ZITADEL did not answer in time: is ZITADEL_DOMAIN (and ZITADEL_TOKEN_URL, if set) reachable from here? A slow connection needs a longer -timeout"
	hintUnavailable = "ZITADEL, or a proxy in front of it, failed: try again later; if it persists, check ZITADEL_DOMAIN (and ZITADEL_TOKEN_URL, if set)"
)

// hint names the setting behind the usual cause of a token endpoint error
// (ZITADEL answers 400 with these codes; see ZITADEL.md, "Token endpoint").
func hint(grantType, code string) string {
	switch {
	case code == "invalid_grant" && grantType == grantJWTBearer:
		return "is CLIENT_PRIVATE_KEY_FILE_PATH a service-user key of this instance? (the user or key may have been deleted or have expired)"
	case code == "server_error" && grantType == grantJWTBearer:
		// ZITADEL answers most assertions it cannot verify (unknown or
		// deleted key, bad signature) with 500 server_error
		// "Errors.Internal" instead of invalid_grant (zitadel/zitadel
		// issues 11924 and 12692): "try again later" alone would mislead.
		return "ZITADEL answers a grant assertion it cannot verify with server_error too: is CLIENT_PRIVATE_KEY_FILE_PATH a key of a service user of this instance, not deleted or expired? If it is, try again later"
	case grantType == grantClientCredentials && (code == "invalid_client" || code == "unauthorized_client" || code == "invalid_request"):
		// ZITADEL answers a wrong service-user secret with invalid_request
		// (Errors.User.Machine.Secret.Invalid), an unknown user with invalid_client.
		return "check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET"
	case code == "invalid_scope":
		return "check PROJECT_ID: the scope urn:zitadel:iam:org:project:id:{PROJECT_ID}:aud needs the id of a project of this instance"
	case code == "server_error" || code == "temporarily_unavailable":
		return "ZITADEL has a problem of its own; try again later"
	}
	return ""
}
