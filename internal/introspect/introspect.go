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
	"bytes"
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
	"unicode/utf8"

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

// Caller is who sent a request with an active token: what ZITADEL's
// introspection answer (blog section 3.3), or a JWT verified in the API,
// says about the token. A Caller may be shared between requests: read it,
// never change it.
type Caller struct {
	Subject        string    // sub: the user id
	Username       string    // the user's login name, when the token says it
	ClientID       string    // client_id: the client the token was issued to; none for a PAT
	OrganizationID string    // urn:zitadel:iam:user:resourceowner:id, when the token's scope asked for it
	Expiry         time.Time // exp; zero when ZITADEL sent none
	Roles          []string  // the user's roles in the API's own project, sorted
	// Claims is every member of the introspection answer, or every claim of
	// the JWT, as ZITADEL sent it, e.g. "scope" or "urn:zitadel:iam:user:metadata".
	Claims map[string]json.RawMessage
}

// HasRole reports whether the caller has the role in the API's project.
func (c *Caller) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// Result is ZITADEL's answer about a token: whether it is active, and, if
// it is, who sent it.
type Result struct {
	Active bool
	Caller // zero when inactive
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
	// ZITADEL fills the generic role claim for the introspecting API's
	// project; a role under another project's claim is not a role here, nor
	// one of urn:zitadel:iam:org:projects:roles, which merges the roles of
	// several projects (docs/zitadel-on-the-wire.md, "Roles in a JWT").
	roleClaims := []string{RoleClaim}
	if projectID != "" {
		roleClaims = append(roleClaims, ProjectRoleClaim(projectID))
	}
	caller, err := CallerFrom(claims, "username", roleClaims...)
	if err != nil {
		return nil, &UnavailableError{Reason: "answer has a " + err.Error()}
	}
	return &Result{Active: true, Caller: caller}, nil
}

// Role claims (docs/zitadel-on-the-wire.md, "Role claims"): RoleClaim holds
// the roles in the project of the API that introspects, or, in a JWT, of
// the app that asked for the token; ProjectRoleClaim(id) those in project
// id. A claim that merges the roles of several projects never counts.
const RoleClaim = "urn:zitadel:iam:org:project:roles"

// ProjectRoleClaim is the role claim of project projectID.
func ProjectRoleClaim(projectID string) string {
	return "urn:zitadel:iam:org:project:" + projectID + ":roles"
}

// CallerFrom reads the caller from the claims of an introspection answer or
// of a verified JWT: its user name from usernameClaim, its roles from the
// role claims named. Claims are matched by their exact names, as JSON
// compares them: decoding into a struct would also take "SUB" for "sub".
func CallerFrom(claims map[string]json.RawMessage, usernameClaim string, roleClaims ...string) (Caller, error) {
	c := Caller{Claims: claims}
	var errs [4]error
	c.Subject, errs[0] = StringClaim(claims, "sub")
	c.ClientID, errs[1] = StringClaim(claims, "client_id")
	c.Username, errs[2] = StringClaim(claims, usernameClaim)
	c.OrganizationID, errs[3] = StringClaim(claims, "urn:zitadel:iam:user:resourceowner:id")
	if err := cmp.Or(errs[:]...); err != nil {
		return Caller{}, err
	}
	var exp *float64
	if v, ok := claims["exp"]; ok {
		// Converting a float beyond int64 gives an arbitrary time.
		if json.Unmarshal(v, &exp) != nil || exp != nil && !(*exp >= math.MinInt64 && *exp < math.MaxInt64) {
			return Caller{}, errors.New("malformed exp")
		}
		if exp != nil {
			c.Expiry = time.Unix(int64(*exp), 0)
		}
	}
	for _, name := range roleClaims {
		// A role claim is {"read:messages": {"<orgId>": "<org domain>"}}: the
		// role names are its keys.
		var grants map[string]json.RawMessage
		if v, ok := claims[name]; ok && json.Unmarshal(v, &grants) != nil {
			return Caller{}, errors.New("malformed role claim " + name)
		}
		for role := range grants {
			if !slices.Contains(c.Roles, role) {
				c.Roles = append(c.Roles, role)
			}
		}
	}
	slices.Sort(c.Roles)
	return c, nil
}

// StringClaim returns the string claim name, "" when there is none. Most
// claims are plain text, without escapes, and need no decoder: a JWT is
// verified on every request when the cache is off.
func StringClaim(claims map[string]json.RawMessage, name string) (string, error) {
	v, ok := claims[name]
	switch {
	case !ok:
		return "", nil
	case len(v) >= 2 && v[0] == '"' && bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v):
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", errors.New("malformed " + name)
	}
	return s, nil
}
