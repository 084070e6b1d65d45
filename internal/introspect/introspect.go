// Package introspect asks ZITADEL whether an access token is active (RFC 7662)
// and reads the answer the way an API should: active first, roles from
// ZITADEL's role claims for the API's own project, never from scope (blog
// section 3.3).
//
// The Client is the same for every API sample; what differs is how the API
// authenticates itself to ZITADEL, its Authenticate: a signed client
// assertion (private_key_jwt, api-jwt) or Basic credentials
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

	"github.com/zitadel/go-introspection-examples/internal/config"
)

// DefaultTimeout bounds one introspection round trip when Client.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// maxAnswer caps the bytes read from ZITADEL: an introspection answer is a
// few KiB, so anything larger is not one.
const maxAnswer = 1 << 20

// Authenticate adds the API's credentials to an introspection request: form
// fields (client_assertion) or headers (Basic). The form is encoded after it
// returns. Each API sample has one.
type Authenticate func(req *http.Request, form url.Values) error

// Client calls ZITADEL's introspection endpoint.
type Client struct {
	// URL of the introspection endpoint, e.g. https://my-instance.zitadel.cloud/oauth/v2/introspect.
	URL string
	// Authenticate adds the API's credentials to the request.
	Authenticate Authenticate
	// ProjectID is the API's project. Roles count only for it: the generic
	// role claim always, the claim of a project id only for this one. Empty:
	// the generic claim only.
	ProjectID string
	// HTTP sends the request; nil means a client that keeps connections to
	// ZITADEL open and does not follow redirects.
	HTTP *http.Client
	// Timeout of one introspection; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Result is ZITADEL's answer about a token: the members every API needs,
// typed, and all of them raw in Claims.
type Result struct {
	Active         bool
	Subject        string    // sub: the user id
	Username       string    // username: the user's login name
	ClientID       string    // client_id: the client the token was issued to; none for a PAT
	OrganizationID string    // urn:zitadel:iam:user:resourceowner:id: the user's organisation, if the token's scope asked for it
	Expiry         time.Time // exp; zero when ZITADEL sent none
	Roles          []string  // role names in the API's own project, sorted
	// Claims is every member of the answer as ZITADEL sent it, e.g. "scope",
	// "aud" or "urn:zitadel:iam:user:metadata"; nil when inactive.
	Claims map[string]json.RawMessage
}

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

// LogAttrs are the log attributes of a refusal: its status, and the OAuth
// error and description when ZITADEL sent them (a 404 page or a redirect has
// none, and an empty attribute reads like a missing value).
func (e *RejectedError) LogAttrs() []any {
	attrs := []any{"status", e.Status}
	if e.Code != "" {
		attrs = append(attrs, "error", e.Code)
	}
	if e.Description != "" {
		attrs = append(attrs, "error_description", e.Description)
	}
	return attrs
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
		return parse(raw, c.ProjectID)
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
	return &RejectedError{Status: status, Code: config.Printable(oauth.Error, 64), Description: config.Printable(oauth.Description, 200)}
}

// parse reads an introspection answer for an API of project projectID. It
// looks at "active" before anything else: an inactive answer carries no
// other member (RFC 7662 §2.2), and the original Python samples failed by
// reading exp first.
func parse(raw []byte, projectID string) (*Result, error) {
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

	r := &Result{Active: true, Claims: claims}
	var exp *float64
	var err error
	if err = cmp.Or(member(claims, "sub", &r.Subject), member(claims, "client_id", &r.ClientID),
		member(claims, "username", &r.Username), member(claims, organizationClaim, &r.OrganizationID),
		member(claims, "exp", &exp)); err != nil {
		return nil, err
	}
	if exp != nil {
		// Converting a float beyond int64 gives an arbitrary time.
		if !(*exp >= math.MinInt64 && *exp < math.MaxInt64) {
			return nil, &UnavailableError{Reason: "answer has a malformed exp"}
		}
		r.Expiry = time.Unix(int64(*exp), 0)
	}

	// ZITADEL fills the generic role claim for the introspecting API's
	// project; a role under another project's claim is not a role here, nor
	// one of urn:zitadel:iam:org:projects:roles, which merges the roles of
	// several projects (docs/zitadel-on-the-wire.md, "Roles in a JWT").
	names := []string{RoleClaim}
	if projectID != "" {
		names = append(names, ProjectRoleClaim(projectID))
	}
	if r.Roles, err = Roles(claims, names...); err != nil {
		return nil, &UnavailableError{Reason: "answer has a malformed role claim"}
	}
	return r, nil
}

// Role claims (docs/zitadel-on-the-wire.md, "Role claims"): RoleClaim holds
// the roles in the project of the API that introspects, or, in a JWT, of
// the app that asked for the token; ProjectRoleClaim(id) those in project
// id. A claim that merges the roles of several projects never counts.
const (
	RoleClaim         = "urn:zitadel:iam:org:project:roles"
	organizationClaim = "urn:zitadel:iam:user:resourceowner:id"
)

// ProjectRoleClaim is the role claim of project projectID.
func ProjectRoleClaim(projectID string) string {
	return "urn:zitadel:iam:org:project:" + projectID + ":roles"
}

// Roles returns the role names of the claims named, sorted. A role claim is
// {"read:messages": {"<orgId>": "<org domain>"}}: the role names are its keys.
func Roles(claims map[string]json.RawMessage, names ...string) ([]string, error) {
	var roles []string
	for _, name := range names {
		v, ok := claims[name]
		if !ok {
			continue
		}
		var grants map[string]json.RawMessage
		if err := json.Unmarshal(v, &grants); err != nil {
			return nil, fmt.Errorf("malformed role claim %s: %w", name, err)
		}
		for role := range grants {
			if !slices.Contains(roles, role) {
				roles = append(roles, role)
			}
		}
	}
	slices.Sort(roles)
	return roles, nil
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
