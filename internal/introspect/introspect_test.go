package introspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const secretToken = "s3cr3t-token-value"

// answering starts a server that answers every introspection with status and body.
func answering(t *testing.T, status int, contentType, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") != secretToken {
			t.Errorf("form token = %q, %v", r.PostForm.Get("token"), err)
		}
		if strings.HasPrefix(body, "redirect:") {
			http.Redirect(w, r, strings.TrimPrefix(body, "redirect:"), status)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return &Client{URL: srv.URL, ProjectID: "123"}
}

func TestResultReadsActiveFirstAndRolesFromRoleClaims(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		active    bool
		roles     []string
		wantError bool
	}{
		{name: "inactive with malformed extras", body: `{"active":false,"exp":"soon","urn:zitadel:iam:org:project:roles":7}`},
		{name: "inactive only", body: `{"active":false}`},
		{name: "active without roles, read:messages only in scope",
			body: `{"active":true,"sub":"u1","exp":4102444800,"scope":"openid read:messages"}`, active: true},
		{name: "generic role claim",
			body:   `{"active":true,"exp":4102444800,"urn:zitadel:iam:org:project:roles":{"read:messages":{"o1":"org.localhost"}}}`,
			active: true, roles: []string{"read:messages"}},
		{name: "project role claim",
			body:   `{"active":true,"urn:zitadel:iam:org:project:123:roles":{"write:messages":{"o1":"d"},"read:messages":{"o1":"d"}}}`,
			active: true, roles: []string{"read:messages", "write:messages"}},
		{name: "role only under another project's claim does not count",
			body:   `{"active":true,"urn:zitadel:iam:org:project:456:roles":{"read:messages":{"o1":"d"}}}`,
			active: true},
		{name: "another project's claim adds nothing to this project's roles",
			body:   `{"active":true,"urn:zitadel:iam:org:project:123:roles":{"write:messages":{}},"urn:zitadel:iam:org:project:456:roles":{"read:messages":{}}}`,
			active: true, roles: []string{"write:messages"}},
		{name: "another project's claim is not even read",
			body:   `{"active":true,"urn:zitadel:iam:org:project:456:roles":["read:messages"]}`,
			active: true},
		{name: "both claims, no duplicates",
			body:   `{"active":true,"urn:zitadel:iam:org:project:roles":{"read:messages":{}},"urn:zitadel:iam:org:project:123:roles":{"read:messages":{}}}`,
			active: true, roles: []string{"read:messages"}},
		{name: "the claim that merges several projects' roles never counts",
			body:   `{"active":true,"urn:zitadel:iam:org:projects:roles":{"read:messages":{"o1":"d"}},"urn:zitadel:iam:org:project:456:roles":{"read:messages":{"o1":"d"}}}`,
			active: true},
		{name: "the merged claim adds nothing to this project's roles",
			body:   `{"active":true,"urn:zitadel:iam:org:projects:roles":{"read:messages":{},"write:messages":{}},"urn:zitadel:iam:org:project:123:roles":{"write:messages":{}}}`,
			active: true, roles: []string{"write:messages"}},
		{name: "other urn claims are not roles",
			body:   `{"active":true,"urn:zitadel:iam:org:project:roles:extra":{"x":{}},"urn:zitadel:iam:user:resourceowner:id":"o1"}`,
			active: true},
		{name: "active not boolean", body: `{"active":"true"}`, wantError: true},
		{name: "active null", body: `{"active":null}`, wantError: true},
		{name: "no active", body: `{"sub":"u1"}`, wantError: true},
		{name: "malformed project role claim", body: `{"active":true,"urn:zitadel:iam:org:project:123:roles":"read:messages"}`, wantError: true},
		{name: "malformed organisation", body: `{"active":true,"urn:zitadel:iam:user:resourceowner:id":1}`, wantError: true},
		{name: "malformed role claim", body: `{"active":true,"urn:zitadel:iam:org:project:roles":["read:messages"]}`, wantError: true},
		{name: "malformed exp", body: `{"active":true,"exp":"tomorrow"}`, wantError: true},
		{name: "exp beyond any Unix time", body: `{"active":true,"exp":1e19}`, wantError: true},
		{name: "not JSON", body: `<html>login</html>`, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := answering(t, http.StatusOK, "application/json", tt.body).Introspect(context.Background(), secretToken)
			if tt.wantError {
				var unavailable *UnavailableError
				if !errors.As(err, &unavailable) {
					t.Fatalf("err = %v, want *UnavailableError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Active != tt.active || strings.Join(r.Roles, ",") != strings.Join(tt.roles, ",") {
				t.Fatalf("got active=%v roles=%v, want %v %v", r.Active, r.Roles, tt.active, tt.roles)
			}
		})
	}
}

func TestResultHasTypedMembersAndRawClaims(t *testing.T) {
	// Member names are case-sensitive: "SUB" and the like are other members.
	c := answering(t, http.StatusOK, "application/json",
		`{"active":true,"sub":"u1","SUB":5,"client_id":"c1","Client_ID":"c2","username":"reader","USERNAME":"admin","exp":4102444800,"iat":1,`+
			`"urn:zitadel:iam:user:resourceowner:id":"o1","aud":["123","c1"]}`)
	r, err := c.Introspect(context.Background(), secretToken)
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "u1" || r.ClientID != "c1" || r.Username != "reader" || r.OrganizationID != "o1" || r.Expiry.Unix() != 4102444800 {
		t.Fatalf("got %+v", r)
	}
	if got := string(r.Claims["aud"]); got != `["123","c1"]` {
		t.Fatalf(`Claims["aud"] = %s`, got)
	}
	if got := string(r.Claims["SUB"]); got != "5" {
		t.Fatalf(`Claims["SUB"] = %s`, got)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		unavailable bool
		credentials bool
	}{
		{"500", 500, "application/json", `{"error":"server_error"}`, true, false},
		{"502 HTML", 502, "text/html", `<html>bad gateway</html>`, true, false},
		{"429", 429, "text/plain", `slow down`, true, false},
		{"200 HTML", 200, "text/html", `<html>hello</html>`, true, false},
		{"200 too large", 200, "application/json", `{"active":true,"x":"` + strings.Repeat("a", maxAnswer) + `"}`, true, false},
		{"400 unauthorized_client", 400, "application/json", `{"error":"unauthorized_client","error_description":"client assertion invalid"}`, false, true},
		{"401 invalid_client", 401, "application/json", `{"error":"invalid_client"}`, false, true},
		{"400 invalid_request", 400, "application/json", `{"error":"invalid_request","error_description":"client_id or client_assertion must be provided"}`, false, true},
		{"400 HTML", 400, "text/html", `<html>bad request</html>`, false, false},
		{"404 HTML", 404, "text/html", `<html>not found</html>`, false, false},
		{"redirect", 301, "", `redirect:/elsewhere`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := answering(t, tt.status, tt.contentType, tt.body).Introspect(context.Background(), secretToken)
			var unavailable *UnavailableError
			var rejected *RejectedError
			switch {
			case tt.unavailable && !errors.As(err, &unavailable):
				t.Fatalf("err = %v, want *UnavailableError", err)
			case !tt.unavailable && !errors.As(err, &rejected):
				t.Fatalf("err = %v, want *RejectedError", err)
			case rejected != nil && rejected.Credentials() != tt.credentials:
				t.Fatalf("Credentials() = %v for %v", rejected.Credentials(), err)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Fatalf("error shows the token: %v", err)
			}
		})
	}
}

func TestTimeoutAndUnreachable(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	c := &Client{URL: slow.URL, Timeout: 50 * time.Millisecond}
	start := time.Now()
	_, err := c.Introspect(context.Background(), secretToken)
	var unavailable *UnavailableError
	if !errors.As(err, &unavailable) || !strings.Contains(err.Error(), "50ms") {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Client{URL: slow.URL}).Introspect(cancelled, secretToken); !errors.Is(err, context.Canceled) || errors.As(err, &unavailable) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := (&Client{URL: closed.URL}).Introspect(context.Background(), secretToken); !errors.As(err, &unavailable) {
		t.Fatalf("err = %v, want *UnavailableError", err)
	}
}

func TestAuthenticateAddsCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.FormValue("client_assertion") != "signed" || user != "id" || pass != "secret" || r.FormValue("token") != secretToken {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"unauthorized_client"}`))
			return
		}
		_, _ = w.Write([]byte(`{"active":true}`))
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL, Authenticate: func(req *http.Request, form url.Values) error {
		req.SetBasicAuth("id", "secret")
		form.Set("client_assertion", "signed")
		return nil
	}}
	if r, err := c.Introspect(context.Background(), secretToken); err != nil || !r.Active {
		t.Fatalf("got %+v, %v", r, err)
	}

	failing := errors.New("no key")
	c.Authenticate = func(*http.Request, url.Values) error { return failing }
	if _, err := c.Introspect(context.Background(), secretToken); !errors.Is(err, failing) {
		t.Fatalf("err = %v, want %v", err, failing)
	}
}

// FuzzParseAnswer feeds any bytes to the parser of introspection answers
// and compares its verdict with a plain reading of RFC 7662 and
// docs/zitadel-on-the-wire.md: "active" false is inactive whatever else is
// there; "active" true with well-formed claims is active, with exactly the
// role names of the API's own role claims; anything else is an error, and no
// error shows the answer.
func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		`{"active":false}`,
		`{"active":true,"sub":"u1","client_id":"c1","username":"reader","exp":4102444800,"iat":1,"scope":"openid"}`,
		`{"active":true,"sub":null,"exp":1.5e9,"urn:zitadel:iam:user:resourceowner:id":"o1"}`,
		`{"active":true,"urn:zitadel:iam:org:project:roles":{"read:messages":{"o1":"org.localhost"}},"urn:zitadel:iam:org:project:123:roles":{"read:messages":{"o1":"d"}}}`,
		`{"active":true,"exp":253402300799,"urn:zitadel:iam:org:project:123:roles":{"write:messages":{}}}`,
		`{"active":"true"}`,
		`{"active":true,"sub":"`,
		`{"active":true,"exp":"tomorrow"}`,
		`{"active":true,"urn:zitadel:iam:org:project:roles":["read:messages"]}`,
		`<html>Sign in</html>`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := parse(raw, "123")
		want := expectAnswer(raw)
		switch {
		case err != nil && want != "error":
			t.Fatalf("parse(%q) = %v, want %s", raw, err, want)
		case err != nil:
			var unavailable *UnavailableError
			if !errors.As(err, &unavailable) {
				t.Fatalf("parse(%q): %T, want *UnavailableError", raw, err)
			}
			if len(raw) >= 8 && strings.Contains(err.Error(), string(raw)) {
				t.Fatalf("error shows the answer: %v", err)
			}
		case want == "error":
			t.Fatalf("parse(%q) = %+v, want an error", raw, r)
		case want == "inactive" && (r.Active || r.Subject != "" || r.Roles != nil):
			t.Fatalf("parse(%q) = %+v, want inactive", raw, r)
		case want == "active" && !r.Active:
			t.Fatalf("parse(%q) = %+v, want active", raw, r)
		case want == "active" && !slices.Equal(r.Roles, roleNames(raw)):
			t.Fatalf("parse(%q): roles %q, want %q", raw, r.Roles, roleNames(raw))
		}
	})
}

// expectAnswer is what parse should make of raw: "active", "inactive" or "error".
func expectAnswer(raw []byte) string {
	claims, ok := jsonObject(raw)
	if !ok {
		return "error"
	}
	switch claims["active"] {
	case false:
		return "inactive"
	case true:
	default:
		return "error"
	}
	for name, v := range claims {
		switch {
		case v == nil: // null: as if absent
		case name == "sub", name == "client_id", name == "username", name == "urn:zitadel:iam:user:resourceowner:id":
			if _, ok := v.(string); !ok {
				return "error"
			}
		case name == "exp":
			n, ok := v.(json.Number)
			if !ok {
				return "error"
			}
			if exp, err := n.Float64(); err != nil || exp < -(1<<63) || exp >= 1<<63 {
				return "error" // not a Unix time
			}
		case isOwnRoleClaim(name):
			if _, ok := v.(map[string]any); !ok {
				return "error"
			}
		}
	}
	return "active"
}

// roleNames are the member names of raw's role claims, sorted, once each.
func roleNames(raw []byte) []string {
	claims, _ := jsonObject(raw)
	var names []string
	for name, v := range claims {
		if roles, ok := v.(map[string]any); ok && isOwnRoleClaim(name) {
			for role := range roles {
				if !slices.Contains(names, role) {
					names = append(names, role)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// isOwnRoleClaim: the role claims of the fuzzed API, whose project is 123.
func isOwnRoleClaim(name string) bool {
	return name == "urn:zitadel:iam:org:project:roles" || name == "urn:zitadel:iam:org:project:123:roles"
}

func jsonObject(raw []byte) (map[string]any, bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // every number, however large, is a number
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, false
	}
	return claims, true
}
