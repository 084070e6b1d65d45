package tokenrequest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// The token endpoint answers are ZITADEL's shapes (docs/zitadel-on-the-wire.md, "Token
// endpoint"); the service-user samples' end-to-end tests run the same code
// against the local ZITADEL.

const secret = "form-secret-value"

func TestPostSendsFormAndHeaderAndParsesToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		if r.FormValue("grant_type") != "client_credentials" || r.FormValue("scope") != "openid profile" {
			t.Errorf("form %v", r.PostForm)
		}
		if r.Header.Get("Authorization") != "Basic xyz" {
			t.Errorf("Authorization %q", r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":43199,"id_token":"ey.x.y"}`))
	}))
	defer srv.Close()

	before := time.Now()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid profile"}}
	tok, err := Post(context.Background(), tokensource.HTTPClient(tokensource.DefaultTimeout), srv.URL, form, func(r *http.Request) { r.Header.Set("Authorization", "Basic xyz") })
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "at-1" || tok.TokenType != "Bearer" {
		t.Fatalf("got %q %q", tok.AccessToken, tok.TokenType)
	}
	if want := before.Add(43199 * time.Second); tok.Expiry.Before(want) || tok.Expiry.After(time.Now().Add(43199*time.Second)) {
		t.Fatalf("expiry %v, want about %v", tok.Expiry, want)
	}
}

func TestRefusalsAndOtherAnswersAreErrorsWithAHint(t *testing.T) {
	big := `{"error":"invalid_grant","error_description":"` + strings.Repeat("x", maxAnswer) + `"}`
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     string // in Error()
		wantHint    string // in Hint
	}{
		{"refused grant: the grant's hint, not one here", 400, "application/json", `{"error":"invalid_grant","error_description":"assertion invalid"}`,
			"ZITADEL refused the token request: invalid_grant: assertion invalid", ""},
		{"bad project", 400, "application/json", `{"error":"invalid_scope","error_description":"project not found"}`,
			"invalid_scope", "PROJECT_ID"},
		{"server error", 500, "application/json", `{"error":"server_error"}`, "server_error", "ZITADEL has a problem of its own; try again later"},
		{"other code: no hint", 400, "application/json", `{"error":"unsupported_grant_type"}`, "unsupported_grant_type", ""},
		{"HTML error page", 502, "text/html", `<html>Bad Gateway</html>`,
			"token endpoint answered HTTP 502 (text/html), not a token response", "ZITADEL, or a proxy in front of it, failed: try again later"},
		{"not the token endpoint", 200, "text/html", `<html>console</html>`, "HTTP 200 (text/html), not a token response", "ZITADEL_TOKEN_URL"},
		{"no access_token", 200, "application/json", `{"token_type":"Bearer"}`, "not a token response", "ZITADEL_TOKEN_URL"},
		{"not a bearer token", 200, "application/json", `{"access_token":"x","token_type":"mac"}`, "not a token response", "ZITADEL_TOKEN_URL"},
		{"no content type", 502, "", ``, "token endpoint answered HTTP 502, not a token response", "ZITADEL, or a proxy in front of it, failed"},
		{"redirect is not followed", 302, "text/html", ``, "HTTP 302", "ZITADEL_TOKEN_URL"},
		{"oversized answer", 400, "application/json", big, "HTTP 400 (application/json), not a token response", "ZITADEL_TOKEN_URL"},
		{"control characters in description", 400, "application/json", `{"error":"invalid_grant","error_description":"a\u001b[2Jb\nc"}`,
			"invalid_grant: a [2Jb c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusFound {
					w.Header().Set("Location", "/elsewhere")
				}
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			form := url.Values{"grant_type": {"client_credentials"}, "assertion": {secret}}
			tok, err := Post(context.Background(), tokensource.HTTPClient(tokensource.DefaultTimeout), srv.URL, form, func(r *http.Request) { r.SetBasicAuth("id", secret) })
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, %v; want an *Error", tok, err)
			}
			if strings.Contains(e.Error(), "()") || strings.HasSuffix(e.Error(), " ") {
				t.Errorf("got %q: an empty part", e.Error())
			}
			if !strings.Contains(e.Error(), tt.wantErr) || !strings.Contains(e.Hint, tt.wantHint) || (tt.wantHint == "") != (e.Hint == "") {
				t.Errorf("got %q, hint %q; want %q, hint with %q", e.Error(), e.Hint, tt.wantErr, tt.wantHint)
			}
			if strings.Contains(e.Error()+e.Hint, secret) {
				t.Errorf("error shows what was sent: %q", e.Error())
			}
		})
	}
}

func TestRequestWithoutAnswer(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there now
	silent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the body never comes
	}))
	defer silent.Close()

	tests := []struct {
		name     string
		url      string
		wantErr  string
		wantHint string
	}{
		{"nothing listens", closed.URL, "connection refused", "check ZITADEL_DOMAIN"},
		{"headers, then silence", silent.URL, "Client.Timeout or context cancellation while reading body", "ZITADEL did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Post(context.Background(), tokensource.HTTPClient(200*time.Millisecond), tt.url+"/oauth/v2/token", url.Values{"client_secret": {secret}}, nil)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Status != 0 || !strings.Contains(e.Error(), tt.wantErr) || !strings.HasPrefix(e.Hint, tt.wantHint) {
				t.Fatalf("got %v (hint %q), want %q and a hint %q…", err, e.Hint, tt.wantErr, tt.wantHint)
			}
			if strings.Contains(e.Error(), secret) {
				t.Errorf("error shows what was sent: %q", e.Error())
			}
		})
	}
}

// An endless answer is read up to maxAnswer and no further: the request ends.
func TestRequestEndlessAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"`)
		chunk := strings.Repeat("A", 64<<10)
		for r.Context().Err() == nil {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Post(ctx, tokensource.HTTPClient(tokensource.DefaultTimeout), srv.URL, url.Values{}, nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusOK || !strings.Contains(e.Error(), "not a token response") {
		t.Fatalf("got %v, want a 200 that is not a token response", err)
	}
}

func TestWithHintSetsTheGrantsHintForItsCodes(t *testing.T) {
	refused := func(code string) error { return &Error{Status: 400, Code: code, Hint: "generic"} }
	tests := []struct {
		err  error
		want string
	}{
		{refused("invalid_grant"), "check the key"},
		{refused("server_error"), "check the key"},
		{refused("invalid_scope"), "generic"},
		{&Error{Err: errors.New("connection refused"), Hint: "generic"}, "generic"},
	}
	for _, tt := range tests {
		err := WithHint(tt.err, "check the key", "invalid_grant", "server_error")
		var e *Error
		if !errors.As(err, &e) || e.UserHint() != tt.want {
			t.Errorf("WithHint(%v) = %v, hint %q; want %q", tt.err, err, e.UserHint(), tt.want)
		}
	}
	if err := WithHint(nil, "hint", "invalid_grant"); err != nil {
		t.Errorf("WithHint(nil) = %v", err)
	}
}

// b64token is the syntax of a bearer token (RFC 6750 §2.1).
var b64token = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)

// FuzzParseAnswer: no answer of a token endpoint makes parseAnswer panic.
// A token it returns can be sent as "Authorization: Bearer" and expires
// after the request was sent; an error is one short printable line that
// quotes no access token of the answer.
func FuzzParseAnswer(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":43199,"id_token":"ey.x.y"}`), true)
	f.Add(200, "application/json;charset=UTF-8", []byte(`{"access_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","token_type":"bearer","expires_in":1}`), false)
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant","error_description":"assertion invalid"}`), true)
	f.Add(400, "application/json", []byte(`{"error":"invalid_request","error_description":"Errors.User.Machine.Secret.Invalid"}`), false)
	f.Add(500, "application/json", []byte(`{"error":"server_error","error_description":"Errors.Internal"}`), true)
	f.Add(502, "text/html", []byte(`<html>Bad Gateway</html>`), false)
	f.Add(200, "application/json", []byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":9223372036854775807}`), false)
	f.Add(200, "application/json", []byte(`{"access_token":"at-1","token_ty`), true)
	f.Add(200, "application/json", []byte(`{"token_type":"Bearer","expires_in":43199}`), true)
	f.Add(200, "application/json", []byte(`{"access_token":"secret-token-value","token_type":"mac"}`), false)
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant","error_description":"a\u001b[2Jb\nc","access_token":"secret-token-value"}`), true)
	sent := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte, grantHint bool) {
		tok, err := parseAnswer(status, contentType, body, sent)
		if grantHint { // as a sample adds the hint of its grant
			err = WithHint(err, "is CLIENT_PRIVATE_KEY_FILE_PATH a key of a service user of this instance?", "invalid_grant", "server_error")
		}
		if err == nil {
			if !b64token.MatchString(tok.AccessToken) || tok.TokenType != "Bearer" {
				t.Fatalf("accepted a %q token that cannot be sent as a bearer token: %q", tok.TokenType, tok.AccessToken)
			}
			if !tok.Expiry.IsZero() && !tok.Expiry.After(sent) {
				t.Fatalf("the token expires at %v, before the request was sent", tok.Expiry)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("got %T, want an *Error", err)
		}
		for _, s := range []string{e.Error(), e.Hint} {
			if !printableLine(s, 600) {
				t.Fatalf("not one short printable line: %q", s)
			}
		}
		var answer struct {
			AccessToken string `json:"access_token"`
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &answer) == nil && len(answer.AccessToken) >= 8 && b64token.MatchString(answer.AccessToken) &&
			!strings.Contains(contentType+answer.Code+answer.Description, answer.AccessToken) &&
			strings.Contains(e.Error(), answer.AccessToken) {
			t.Fatalf("the error quotes the answer's access token: %q", e.Error())
		}
	})
}

// printableLine reports whether s is at most limit bytes of printable
// characters: text from a server must not reach a terminal otherwise.
func printableLine(s string, limit int) bool {
	return len(s) <= limit && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}
