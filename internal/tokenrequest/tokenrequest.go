// Package tokenrequest asks ZITADEL's token endpoint for an access token
// (RFC 6749 §4; blog sections 4.1.1 and 4.1.2) and turns a refusal into one
// error with ZITADEL's own words and a hint. The grant itself (its form and
// credentials, and hints about them) is the sample's.
package tokenrequest

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
	"slices"
	"strings"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/safetext"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// maxAnswer bounds what is read of an answer: a token response is a few KiB.
const maxAnswer = 1 << 20

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
	case e.ContentType != "":
		return fmt.Sprintf("token endpoint answered HTTP %d (%s), not a token response", e.Status, e.ContentType)
	default:
		return fmt.Sprintf("token endpoint answered HTTP %d, not a token response", e.Status)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// UserHint is the hint to print with the error.
func (e *Error) UserHint() string { return e.Hint }

// WithHint sets hint on err when it is an *Error with one of the OAuth error
// codes: how a sample names its own settings for the refusals its grant
// causes. It returns err.
func WithHint(err error, hint string, codes ...string) error {
	var e *Error
	if errors.As(err, &e) && slices.Contains(codes, e.Code) {
		e.Hint = hint
	}
	return err
}

// Post posts a token request (RFC 6749 §4) to tokenURL and returns the
// token from its answer. authenticate, if not nil, adds the client's
// credentials to the request, e.g. HTTP Basic for client_credentials.
//
// ZITADEL answers {"access_token","token_type","expires_in","id_token"}
// without a "scope" field; the id_token is not needed to call an API and is
// dropped here.
func Post(ctx context.Context, client *http.Client, tokenURL string, form url.Values, authenticate func(*http.Request)) (*tokensource.Token, error) {
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
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, noAnswer(fmt.Errorf("read the answer of %s: %w", tokenURL, err))
	}
	return parseAnswer(resp.StatusCode, resp.Header.Get("Content-Type"), body, started)
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

// parseAnswer turns the token endpoint's answer to a request sent at sent
// into a token or an *Error.
func parseAnswer(status int, contentType string, body []byte, sent time.Time) (*tokensource.Token, error) {
	notToken := &Error{Status: status, ContentType: safetext.Printable(contentType, 100), Hint: hintTokenURL}
	if status >= 500 {
		// A gateway's error page, or ZITADEL failing before it could say why.
		notToken.Hint = hintUnavailable
	}
	if len(body) > maxAnswer {
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
			Hint:        hint(oauthErr.Code),
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
	tok := &tokensource.Token{AccessToken: answer.AccessToken, TokenType: "Bearer"}
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
// that does not depend on the grant (docs/zitadel-on-the-wire.md, "Token
// endpoint"). Each grant adds its own with WithHint.
func hint(code string) string {
	switch code {
	case "invalid_scope":
		return "check PROJECT_ID: the scope urn:zitadel:iam:org:project:id:{PROJECT_ID}:aud needs the id of a project of this instance"
	case "server_error", "temporarily_unavailable":
		return "ZITADEL has a problem of its own; try again later"
	}
	return ""
}
