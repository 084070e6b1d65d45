// Package introspect asks ZITADEL whether an access token is active (RFC 7662)
// and reads the answer the way an API should: active first, roles from
// ZITADEL's role claims, never from scope (blog section 3).
//
// The Client is the same for every API sample; what differs is how the API
// authenticates itself to ZITADEL, which the sample plugs in as Authenticate:
// a signed client assertion (private_key_jwt, api-jwt) or Basic credentials
// (client_secret_basic, api-basic-authentication).
package introspect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/cli"
)

// DefaultTimeout bounds one introspection round trip when Client.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// maxAnswer caps the bytes read from ZITADEL: an introspection answer is a
// few KiB, so anything larger is not one.
const maxAnswer = 1 << 20

// Role claims of ZITADEL's introspection answer: the roles the user has in the
// project of the calling API, under the generic name and under the one that
// carries the project id (urn:zitadel:iam:org:project:{projectId}:roles).
const (
	roleClaim       = "urn:zitadel:iam:org:project:roles"
	roleClaimPrefix = "urn:zitadel:iam:org:project:"
	roleClaimSuffix = ":roles"
)

// Client calls ZITADEL's introspection endpoint.
type Client struct {
	// URL of the introspection endpoint, e.g. https://my-instance.zitadel.cloud/oauth/v2/introspect.
	URL string
	// Authenticate adds the API's credentials to the request: form fields
	// (client_assertion) or headers (Basic). The form is encoded after it returns.
	Authenticate func(req *http.Request, form url.Values) error
	// HTTP sends the request; nil means a client that keeps connections to
	// ZITADEL open and does not follow redirects.
	HTTP *http.Client
	// Timeout of one introspection; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Result is what an API needs from an introspection answer.
type Result struct {
	Active   bool
	Subject  string    // sub: the user id
	ClientID string    // client_id: the client the token was issued to
	Username string    // username
	Expiry   time.Time // exp; zero when ZITADEL sent none
	Roles    []string  // role names in the calling API's project
}

// HasRole reports whether the token's user has the role in the API's project.
func (r *Result) HasRole(name string) bool { return slices.Contains(r.Roles, name) }

// UnavailableError means ZITADEL could not give an answer now: it is
// unreachable, too slow, failing (5xx), or answered something that is not
// introspection JSON. Retrying later may help; the API answers 503.
type UnavailableError struct {
	Reason string
	Err    error
}

func (e *UnavailableError) Error() string {
	if e.Err != nil {
		return "introspection unavailable: " + e.Reason + ": " + e.Err.Error()
	}
	return "introspection unavailable: " + e.Reason
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// RejectedError means ZITADEL refused the introspection request itself: most
// often the API's own credentials (unauthorized_client, invalid_client), else
// a wrong introspection URL. Retrying does not help; the API answers 500.
type RejectedError struct {
	Status      int
	Code        string // OAuth "error", if ZITADEL sent one
	Description string // OAuth "error_description", shortened
}

func (e *RejectedError) Error() string {
	msg := fmt.Sprintf("introspection rejected: ZITADEL answered %d", e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// Credentials reports whether ZITADEL rejected the API's client
// authentication, as opposed to, say, a 404 from a wrong URL. ZITADEL
// answers those with 400 or 401 and an OAuth error: unauthorized_client for
// bad credentials, invalid_client or invalid_request for missing ones (the
// API always sends a token, so that is not what invalid_request is about).
func (e *RejectedError) Credentials() bool {
	return (e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized) && e.Code != ""
}

var defaultHTTP = &http.Client{
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		// The default of 2 idle connections per host makes a busy API open and
		// close connections to ZITADEL all the time.
		t.MaxIdleConnsPerHost = 64
		return t
	}(),
	// A redirect means a wrong URL (http instead of https, a missing path);
	// following it would turn the POST into a GET. Report it instead.
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Introspect asks ZITADEL about token. A token ZITADEL does not accept is not
// an error: it gives a Result with Active false. Errors are *UnavailableError,
// *RejectedError, or an error of Authenticate.
func (c *Client) Introspect(ctx context.Context, token string) (*Result, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("introspection URL %q: %w", c.URL, err)
	}
	form := url.Values{"token": {token}}
	if c.Authenticate != nil {
		if err := c.Authenticate(req, form); err != nil {
			return nil, fmt.Errorf("authenticate introspection request: %w", err)
		}
	}
	body := form.Encode()
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err() // the caller gave up; ZITADEL is not to blame
		}
		if isTimeout(err) {
			return nil, &UnavailableError{Reason: fmt.Sprintf("no answer within %s", timeout)}
		}
		// url.Error names the URL and the cause, never the form with the token.
		return nil, &UnavailableError{Reason: "cannot reach ZITADEL", Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		if isTimeout(err) {
			return nil, &UnavailableError{Reason: fmt.Sprintf("no complete answer within %s", timeout)}
		}
		return nil, &UnavailableError{Reason: "reading the answer", Err: err}
	}
	if len(raw) > maxAnswer {
		return nil, &UnavailableError{Reason: "answer larger than 1 MiB"}
	}

	switch {
	case resp.StatusCode == http.StatusOK:
		return parse(raw)
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		return nil, &UnavailableError{Reason: fmt.Sprintf("ZITADEL answered %d", resp.StatusCode)}
	default:
		return nil, rejected(resp.StatusCode, raw)
	}
}

// isTimeout covers both our deadline and an http.Client.Timeout of a caller's client.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

func rejected(status int, raw []byte) *RejectedError {
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(raw, &oauth) // not JSON: status alone says enough
	return &RejectedError{Status: status, Code: cli.Printable(oauth.Error, 64), Description: cli.Printable(oauth.Description, 200)}
}

// parse reads an introspection answer. It looks at "active" before anything
// else: an inactive answer carries no other member (RFC 7662 §2.2), and the
// original Python samples failed by reading exp first.
func parse(raw []byte) (*Result, error) {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, &UnavailableError{Reason: "answer is not introspection JSON"}
	}
	var active *bool // a pointer, so that null is not taken for false
	if err := json.Unmarshal(claims["active"], &active); err != nil || active == nil {
		return nil, &UnavailableError{Reason: `answer has no boolean "active"`}
	}
	if !*active {
		return &Result{}, nil
	}

	r := &Result{Active: true}
	var exp *float64
	if err := cmp.Or(member(claims, "sub", &r.Subject), member(claims, "client_id", &r.ClientID),
		member(claims, "username", &r.Username), member(claims, "exp", &exp)); err != nil {
		return nil, err
	}
	if exp != nil {
		// Converting a float beyond int64 gives an arbitrary time.
		if !(*exp >= math.MinInt64 && *exp < math.MaxInt64) {
			return nil, &UnavailableError{Reason: "answer has a malformed exp"}
		}
		r.Expiry = time.Unix(int64(*exp), 0)
	}

	seen := map[string]bool{}
	for name, value := range claims {
		if !isRoleClaim(name) {
			continue
		}
		// {"read:messages": {"<orgId>": "<org domain>"}}: the role names are the keys.
		var roles map[string]json.RawMessage
		if err := json.Unmarshal(value, &roles); err != nil {
			return nil, &UnavailableError{Reason: "answer has a malformed role claim"}
		}
		for role := range roles {
			if !seen[role] {
				seen[role] = true
				r.Roles = append(r.Roles, role)
			}
		}
	}
	slices.Sort(r.Roles)
	return r, nil
}

// member decodes the member name of an answer into dst, if it is there.
// Names are matched exactly, as JSON compares them: decoding the answer
// into a struct would also take "SUB" for "sub".
func member(claims map[string]json.RawMessage, name string, dst any) error {
	v, ok := claims[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return &UnavailableError{Reason: "answer has a malformed " + name}
	}
	return nil
}

func isRoleClaim(name string) bool {
	if name == roleClaim {
		return true
	}
	projectID, ok := strings.CutPrefix(name, roleClaimPrefix)
	if !ok {
		return false
	}
	projectID, ok = strings.CutSuffix(projectID, roleClaimSuffix)
	return ok && projectID != "" && !strings.Contains(projectID, ":")
}
