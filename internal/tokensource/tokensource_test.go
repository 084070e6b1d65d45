package tokensource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unicode"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// The samples' end-to-end tests run the grants against the local ZITADEL,
// and internal/serviceuser's run the renewal after a 401 against the API.

// counting is a grant that hands out token-1, token-2, … valid for lifetime
// (0: no expiry) and counts its token requests.
type counting struct {
	lifetime time.Duration
	calls    atomic.Int32
}

func (c *counting) Token() (*oauth2.Token, error) {
	tok := &oauth2.Token{AccessToken: fmt.Sprintf("token-%d", c.calls.Add(1)), TokenType: "Bearer"}
	if c.lifetime > 0 {
		tok.Expiry = time.Now().Add(c.lifetime)
	}
	return tok, nil
}

// x/oauth2 renews a token 10 s before it expires; time is the bubble's.
func TestSourceReusesTheTokenUntilShortlyBeforeItExpires(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		reuseFor time.Duration // still the first token after this long
		renewBy  time.Duration // a new token after this long; 0: never
	}{
		{"ZITADEL default 12h", 12 * time.Hour, 12*time.Hour - 11*time.Second, 12*time.Hour - 9*time.Second},
		{"no expiry", 0, 1000 * time.Hour, 0},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			grant := &counting{lifetime: tt.lifetime}
			s := New(grant.Token, "")
			first, err := s.Token()
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(tt.reuseFor)
			if tok, _ := s.Token(); tok != first || grant.calls.Load() != 1 {
				t.Fatalf("%s, after %v: %d token requests, want the first token", tt.name, tt.reuseFor, grant.calls.Load())
			}
			if tt.renewBy == 0 {
				return
			}
			time.Sleep(tt.renewBy - tt.reuseFor)
			if tok, _ := s.Token(); tok == first || grant.calls.Load() != 2 {
				t.Fatalf("%s, after %v: %d token requests, want a second token", tt.name, tt.renewBy, grant.calls.Load())
			}
		})
	}
}

// Twenty requests rejected with one token: the first Renew drops it, the
// others find it replaced. A stale Renew changes nothing.
func TestRenewAfterConcurrent401sCostsOneNewToken(t *testing.T) {
	grant := &counting{lifetime: time.Hour}
	s := New(grant.Token, "")
	rejected, _ := s.Token()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			s.Renew(rejected)
			if tok, err := s.Token(); err != nil || tok.AccessToken != "token-2" {
				t.Errorf("got %v, %v; want token-2", tok, err)
			}
		})
	}
	wg.Wait()
	s.Renew(rejected)
	if tok, _ := s.Token(); tok.AccessToken != "token-2" || grant.calls.Load() != 2 {
		t.Fatalf("%d token requests, want 2", grant.calls.Load())
	}
}

// Callers that come while a token request runs wait for its token; x/oauth2
// holds a mutex for it.
func TestConcurrentCallersShareOneTokenRequest(t *testing.T) {
	var calls atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	s := New(func() (*oauth2.Token, error) {
		calls.Add(1)
		close(started)
		<-release
		return &oauth2.Token{AccessToken: "shared", Expiry: time.Now().Add(time.Hour)}, nil
	}, "")
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if tok, err := s.Token(); err != nil || tok.AccessToken != "shared" {
				t.Errorf("got %v, %v", tok, err)
			}
		})
	}
	<-started
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d token requests for 100 concurrent callers, want 1", n)
	}
}

func TestFailedTokenRequestIsNotCached(t *testing.T) {
	var calls int
	s := New(func() (*oauth2.Token, error) {
		if calls++; calls == 1 {
			return nil, errors.New("token endpoint down")
		}
		return &oauth2.Token{AccessToken: "ok"}, nil
	}, "")
	if _, err := s.Token(); err == nil {
		t.Fatal("no error")
	}
	if tok, err := s.Token(); err != nil || tok.AccessToken != "ok" {
		t.Fatalf("got %v, %v after a failed request, want a new token", tok, err)
	}
}

const secret = "form-secret-value"

// tokenEndpoint answers every request with status, contentType and body.
func tokenEndpoint(t *testing.T, status int, contentType, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// request is a client credentials grant to tokenURL with a client that
// does not follow redirects, as the samples' does.
func request(t *testing.T, tokenURL string, timeout time.Duration) *Source {
	client := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cfg := clientcredentials.Config{ClientID: "id", ClientSecret: secret, TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, client)
	return New(func() (*oauth2.Token, error) { return cfg.Token(ctx) }, "check the secret", "invalid_client")
}

func TestRefusalsAndOtherAnswersAreErrorsWithAHint(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     string // in Error()
		wantHint    string // in Hint
	}{
		{"refused grant: no hint of its own", 400, "application/json", `{"error":"invalid_grant","error_description":"assertion invalid"}`,
			"ZITADEL refused the token request: invalid_grant: assertion invalid", ""},
		{"refused grant: the grant's hint", 400, "application/json", `{"error":"invalid_client","error_description":"client not found"}`,
			"ZITADEL refused the token request: invalid_client: client not found", "check the secret"},
		{"bad project", 400, "application/json", `{"error":"invalid_scope","error_description":"project not found"}`,
			"invalid_scope", "PROJECT_ID"},
		{"server error", 500, "application/json", `{"error":"server_error"}`, "server_error", "ZITADEL has a problem of its own; try again later"},
		{"other code: no hint", 400, "application/json", `{"error":"unsupported_grant_type"}`, "unsupported_grant_type", ""},
		{"HTML error page", 502, "text/html", `<html>Bad Gateway</html>`,
			"token endpoint answered HTTP 502 (text/html), not a token response", "ZITADEL, or a proxy in front of it, failed: try again later"},
		{"not the token endpoint", 200, "text/html", `<html>console</html>`, "token request failed: oauth2: cannot parse json", "ZITADEL_TOKEN_URL"},
		{"no access_token", 200, "application/json", `{"token_type":"Bearer"}`, "token request failed: oauth2: server response missing access_token", "ZITADEL_TOKEN_URL"},
		{"not a bearer token", 200, "application/json", `{"access_token":"x","token_type":"mac"}`, "token endpoint answered HTTP 200, not a token response", "ZITADEL_TOKEN_URL"},
		{"a token with a space", 200, "application/json", `{"access_token":"x y","token_type":"Bearer"}`, "not a token response", "ZITADEL_TOKEN_URL"},
		{"no content type", 502, "", ``, "token endpoint answered HTTP 502, not a token response", "ZITADEL, or a proxy in front of it, failed"},
		{"redirect is not followed", 302, "text/html", ``, "HTTP 302", "ZITADEL_TOKEN_URL"},
		{"oversized answer", 200, "application/json", `{"access_token":"` + strings.Repeat("x", 2<<20) + `"}`, "oauth2: cannot parse json", "ZITADEL_TOKEN_URL"},
		{"control characters in description", 400, "application/json", `{"error":"invalid_grant","error_description":"a\u001b[2Jb\nc"}`,
			"invalid_grant: a [2Jb c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := request(t, tokenEndpoint(t, tt.status, tt.contentType, tt.body), time.Second).Token()
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
		io.ReadAll(r.Body)   // then net/http notices when the client hangs up
		<-r.Context().Done() // no answer at all
	}))
	defer silent.Close()
	slowBody := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the body never comes
	}))
	defer slowBody.Close()

	tests := []struct {
		name     string
		url      string
		wantErr  string
		wantHint string
	}{
		{"nothing listens", closed.URL, "connection refused", "check ZITADEL_DOMAIN"},
		{"silence", silent.URL, "Client.Timeout exceeded", "ZITADEL did not answer in time"},
		// x/oauth2 does not wrap a failed read of the body: the error says
		// it was the timeout, the hint is the general one.
		{"headers, then silence", slowBody.URL, "Client.Timeout or context cancellation while reading body", "check ZITADEL_DOMAIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := request(t, tt.url+"/oauth/v2/token", 200*time.Millisecond).Token()
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

// FuzzTokenEndpoint: no answer of a token endpoint makes the source panic.
// A token it returns can be sent as "Authorization: Bearer" and printed as
// one word; an error is one short printable line that quotes no access
// token of the answer.
func FuzzTokenEndpoint(f *testing.F) {
	f.Add(200, "application/json", []byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":43199,"id_token":"ey.x.y"}`))
	f.Add(200, "application/json;charset=UTF-8", []byte(`{"access_token":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln","token_type":"bearer","expires_in":1}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant","error_description":"assertion invalid"}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_request","error_description":"Errors.User.Machine.Secret.Invalid"}`))
	f.Add(500, "application/json", []byte(`{"error":"server_error","error_description":"Errors.Internal"}`))
	f.Add(502, "text/html", []byte(`<html>Bad Gateway</html>`))
	f.Add(200, "application/json", []byte(`{"access_token":"at-1","token_type":"Bearer","expires_in":9223372036854775807}`))
	f.Add(200, "application/json", []byte(`{"access_token":"at-1","token_ty`))
	f.Add(200, "text/plain", []byte(`access_token=at-1&token_type=bearer`))
	f.Add(200, "application/json", []byte(`{"access_token":"secret-token-value","token_type":"mac"}`))
	f.Add(400, "application/json", []byte(`{"error":"invalid_grant","error_description":"a\u001b[2Jb\nc","access_token":"secret-token-value"}`))
	f.Add(200, "0", []byte(`{"ACCess_token":" "}`))
	f.Add(502, "\x7f", []byte("0"))
	var answer struct {
		status      int
		contentType string
		body        []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", answer.contentType)
		w.WriteHeader(answer.status)
		w.Write(answer.body)
	}))
	defer srv.Close()
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		if status < 200 || status > 599 || strings.ContainsAny(contentType, "\r\n") {
			t.Skip("not an answer net/http sends")
		}
		answer.status, answer.contentType, answer.body = status, contentType, body
		tok, err := request(t, srv.URL, 5*time.Second).Token()
		if err == nil {
			if tok.Type() != "Bearer" || tok.AccessToken == "" || strings.ContainsFunc(tok.AccessToken, unicode.IsSpace) {
				t.Fatalf("accepted a %q token that cannot be sent as a bearer token: %q", tok.Type(), tok.AccessToken)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("got %T, want an *Error", err)
		}
		for _, s := range []string{e.Error(), e.Hint} {
			if len(s) > 600 || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
				t.Fatalf("not one short printable line: %q", s)
			}
		}
		// Only what ZITADEL says (code, description) and the content type
		// are quoted, never the rest of the answer.
		var sent struct {
			AccessToken string `json:"access_token"`
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &sent) == nil && len(sent.AccessToken) >= 8 &&
			!strings.Contains(contentType+sent.Code+sent.Description, sent.AccessToken) &&
			strings.Contains(e.Error(), sent.AccessToken) {
			t.Fatalf("the error quotes the answer's access token: %q", e.Error())
		}
	})
}
