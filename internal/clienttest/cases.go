package clienttest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// The answers of the API's three routes (blog section 3).
const (
	publicMessage        = "Public route - You don't need to be authenticated to see this."
	privateMessage       = "Private route - You need to be authenticated to see this."
	privateScopedMessage = "Private, scoped route - You need to be authenticated and have the role read:messages to see this."
)

// The lines of a successful run.
var (
	publicOK  = "/api/public          200  " + publicMessage
	privateOK = "/api/private         200  " + privateMessage
	scopedOK  = "/api/private-scoped  200  " + privateScopedMessage
	noRole    = "/api/private-scoped  403  insufficient_scope: the service user lacks the role read:messages"
)

func noRoleUser(z *localzitadel.Instance) *localzitadel.ServiceUser    { return z.NoRole }
func jwtReaderUser(z *localzitadel.Instance) *localzitadel.ServiceUser { return z.JWTReader }

// sharedCases are the cases every service-user sample passes.
func sharedCases(s Client) []Case {
	missing := make([]string, len(s.Required))
	for i, name := range s.Required {
		missing[i] = "config: " + name + " is not set"
	}
	cases := []Case{
		{Name: "user with role", Code: 0, Tokens: 1, Stdout: []string{publicOK, privateOK, scopedOK}},
		{Name: "user with role and JWT access tokens", User: jwtReaderUser, Code: 0, Tokens: 1, Stdout: []string{publicOK, privateOK, scopedOK}},
		{Name: "user without role: 403 on the scoped route is the right answer", User: noRoleUser, Code: 0, Tokens: 1,
			Stdout: []string{publicOK, privateOK, noRole}},
		{Name: "-json", User: noRoleUser, Args: []string{"-json"}, Code: 0, Tokens: 1, Stdout: []string{
			`{"route":"/api/public","status":200,"message":"` + publicMessage + `","ok":true}` + "\n",
			`{"route":"/api/private","status":200,"message":"` + privateMessage + `","ok":true}` + "\n",
			`{"route":"/api/private-scoped","status":403,"code":"insufficient_scope","description":`,
			`,"ok":true}` + "\n",
		}},
		{Name: "-print-token", Args: []string{"-print-token"}, Code: 0, Tokens: 1, PrintsToken: true},
		{Name: "-print-token with -json", Args: []string{"-print-token", "-json"}, Code: 2,
			Stderr: []string{"usage: -print-token and -json exclude each other"}},
		{Name: "unknown flag", Args: []string{"-token"}, Code: 2,
			Stderr: []string{"flag provided but not defined: -token", "usage: " + s.Name + " [-env FILE] [-timeout DURATION] [-print-token | -json]", "-print-token"}},
		{Name: "-h", Args: []string{"-h"}, Code: 0, Stderr: []string{"usage: " + s.Name + " [-env FILE]",
			"\nIt calls /api/public, /api/private and /api/private-scoped of API_BASE_URL with it, one line per route.\n",
			"give up on a request after DURATION"}},
		{Name: "-timeout 0", Args: []string{"-timeout", "0"}, Code: 2, Stderr: []string{"usage: -timeout must be more than 0, e.g. 30s"}},
		{Name: "API not running", Code: 1, Tokens: 1,
			Prepare: func(_ *testing.T, _ *World, env map[string]string) { env["API_BASE_URL"] = apiURLNotRunning },
			Stdout:  []string{"/api/public          ---  no answer: ", "connection refused"},
			Stderr:  []string{"error: ", "connection refused", "hint: is the API running at API_BASE_URL=" + apiURLNotRunning + "? start it, or set API_BASE_URL to where it runs"}},
		{Name: "no settings", Code: 2, Prepare: func(_ *testing.T, _ *World, env map[string]string) { clear(env) }, Stderr: missing},
		{Name: "env file missing", Args: []string{"-env", "/nonexistent/.env"}, Code: 2, Stderr: []string{"config: env file /nonexistent/.env does not exist"}},
		// RFC 6750 §3.1 says 403 for a missing permission; an API that
		// answers 401 insufficient_scope gets a hint about the permission,
		// not about the token's audience.
		{Name: "API answers 401 insufficient_scope", Code: 1, Tokens: 2,
			Prepare: func(t *testing.T, _ *World, env map[string]string) { env["API_BASE_URL"] = insufficientScopeAPI(t) },
			Stdout:  []string{publicOK, "/api/private         401  insufficient_scope: the token lacks the scope api:read"},
			Stderr: []string{"error: /api/private answered 401 insufficient_scope",
				"hint: the API says the token lacks a permission this route needs (insufficient_scope), not that it is invalid: grant the service user the route's role in the API's project\n"}},
		{Name: "API_BASE_URL without scheme", Code: 2, Prepare: func(_ *testing.T, _ *World, env map[string]string) { env["API_BASE_URL"] = "localhost:5000" },
			Stderr: []string{"config: API_BASE_URL must be a URL with scheme, like http://localhost:5000"}},
	}
	if !s.Grant {
		return cases
	}
	cases = append(cases,
		Case{Name: "token endpoint not reachable", Code: 1, Tokens: 0,
			Prepare: func(_ *testing.T, _ *World, env map[string]string) { env["ZITADEL_TOKEN_URL"] = tokenURLNotRunning },
			Stderr: []string{"warning: ZITADEL_TOKEN_URL is on 127.0.0.1:9, not on ZITADEL_DOMAIN's host 127.0.0.1:",
				"error: token request failed: ", "connection refused",
				"hint: check ZITADEL_DOMAIN (and ZITADEL_TOKEN_URL, if set)"}},
		// The same server under another name: the token request works, and
		// the run says that the two settings name different hosts.
		Case{Name: "ZITADEL_TOKEN_URL on another host than ZITADEL_DOMAIN", Code: 0, Tokens: 1,
			Prepare: func(_ *testing.T, w *World, env map[string]string) {
				env["ZITADEL_TOKEN_URL"] = strings.Replace(w.Zitadel.TokenURL, "127.0.0.1", "localhost", 1)
			},
			Stdout: []string{publicOK, privateOK, scopedOK},
			Stderr: []string{"warning: ZITADEL_TOKEN_URL is on localhost:", ", not on ZITADEL_DOMAIN's host 127.0.0.1:",
				": unset ZITADEL_TOKEN_URL unless ZITADEL answers there on purpose\n"}},
		Case{Name: "ZITADEL stopped", Code: 1, Tokens: 0,
			Prepare: func(t *testing.T, w *World, _ map[string]string) {
				if err := w.Zitadel.Close(); err != nil {
					t.Fatal(err)
				}
			},
			Stderr: []string{"error: token request failed: ", "connection refused", "hint: check ZITADEL_DOMAIN"}},
		Case{Name: "ZITADEL_TOKEN_URL defaults to ZITADEL_DOMAIN/oauth/v2/token", Code: 0, Tokens: 1,
			Prepare: func(_ *testing.T, _ *World, env map[string]string) { delete(env, "ZITADEL_TOKEN_URL") },
			Stdout:  []string{publicOK, privateOK, scopedOK}},
		// The grant works, but the token is for another project: the API's
		// introspection answers active:false. One new token, then stop.
		Case{Name: "token for another project: one new token, no loop", Code: 1, Tokens: 2,
			Prepare: func(_ *testing.T, w *World, env map[string]string) { env["PROJECT_ID"] = w.Zitadel.OtherProjectID },
			Stdout:  []string{publicOK, "/api/private         401  invalid_token: ", "/api/private-scoped  401  invalid_token: "},
			Stderr:  []string{"error: /api/private answered 401 invalid_token", "hint: " + tokensource.RejectedGrant}},
	)
	return append(cases, tokenEndpointFaults(s)...)
}

// tokenEndpointFaults are the ways ZITADEL's token endpoint can fail a
// client: each must end in one error line and a hint, exit code 1, and
// neither a panic nor a secret; the answers' tokens are secrets too.
func tokenEndpointFaults(s Client) []Case {
	const notToken = "error: token endpoint answered HTTP "
	huge := `{"access_token":"` + strings.Repeat("A", 8<<20) + `"}`
	faults := []struct {
		name   string
		fault  func(w *World) localzitadel.Fault
		args   []string
		stderr []string
	}{
		{"an HTML error page", static(http.StatusBadGateway, "text/html", "<h1>Bad Gateway</h1>"), nil,
			[]string{notToken + "502 (text/html), not a token response", "hint: ZITADEL, or a proxy in front of it, failed: try again later"}},
		{"500 with an HTML page", static(http.StatusInternalServerError, "text/html; charset=utf-8", "<html><body>Internal Server Error</body></html>"), nil,
			[]string{notToken + "500 (text/html; charset=utf-8), not a token response", "hint: ZITADEL, or a proxy in front of it, failed: try again later"}},
		{"500 server_error", static(http.StatusInternalServerError, "application/json", `{"error":"server_error","error_description":"Errors.Internal"}`), nil,
			[]string{"error: ZITADEL refused the token request: server_error: Errors.Internal", "hint: " + s.ServerErrorHint}},
		{"truncated JSON", func(w *World) localzitadel.Fault {
			return localzitadel.Fault{Status: http.StatusOK, ContentType: "application/json", Body: `{"access_token":"` + w.Secret("truncated-token-") + `","token_ty`}
		}, nil, []string{"error: token request failed: oauth2: cannot parse json", "hint: check ZITADEL_DOMAIN"}},
		{"200 without access_token", static(http.StatusOK, "application/json", `{"token_type":"Bearer","expires_in":43199}`), nil,
			[]string{"error: token request failed: oauth2: server response missing access_token", "hint: check ZITADEL_DOMAIN"}},
		{"a token that is not a bearer token", func(w *World) localzitadel.Fault {
			return localzitadel.Fault{Status: http.StatusOK, ContentType: "application/json", Body: `{"access_token":"` + w.Secret("mac-token-value") + `","token_type":"mac"}`}
		}, nil, []string{notToken + "200, not a token response", "hint: check ZITADEL_DOMAIN"}},
		{"a huge answer", static(http.StatusOK, "application/json", huge), nil,
			[]string{"error: token request failed: oauth2: cannot parse json", "hint: check ZITADEL_DOMAIN"}},
		{"slower than -timeout", func(*World) localzitadel.Fault { return localzitadel.Fault{Delay: time.Minute} }, []string{"-timeout", "200ms"},
			[]string{"error: token request failed: ", "Client.Timeout exceeded", "hint: ZITADEL did not answer in time"}},
	}
	cases := make([]Case, len(faults))
	for i, f := range faults {
		cases[i] = Case{Name: "token endpoint answers " + f.name, Args: f.args, Code: 1, Tokens: 1, Stderr: f.stderr,
			Prepare: func(_ *testing.T, w *World, _ map[string]string) { w.Zitadel.SetFault(f.fault(w)) }}
	}
	return cases
}

// insufficientScopeAPI is an API, not one of the samples, that answers its
// private routes with 401 insufficient_scope.
func insufficientScopeAPI(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/public" {
			io.WriteString(w, `{"message":"`+publicMessage+`"}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":"insufficient_scope","description":"the token lacks the scope api:read"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func static(status int, contentType, body string) func(*World) localzitadel.Fault {
	return func(*World) localzitadel.Fault {
		return localzitadel.Fault{Status: status, ContentType: contentType, Body: body}
	}
}

// Addresses where nothing listens; port 9 (discard) is closed on test machines.
const (
	apiURLNotRunning   = "http://127.0.0.1:9"
	tokenURLNotRunning = "http://127.0.0.1:9/oauth/v2/token"
)
