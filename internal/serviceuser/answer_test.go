package serviceuser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// The samples' end-to-end tests run the clients against the real API
// server; these cover what it never answers.

func callWith(ctx context.Context, baseURL, route, token string) Result {
	settings := Settings{Timeout: defaultTimeout}
	return call(ctx, settings.HTTPClient(), baseURL, route, &oauth2.Token{AccessToken: token})
}

func TestLine(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Route: routePublic, Status: 200, Message: "Public route"}, "/api/public          200  Public route"},
		{Result{Route: routePrivateScoped, Status: 403, Code: "insufficient_scope", Description: "no role", OK: true},
			"/api/private-scoped  403  insufficient_scope: the service user lacks the role read:messages"},
		{Result{Route: routePrivate, Status: 403, Code: "insufficient_scope", Description: "no role"},
			"/api/private         403  insufficient_scope: no role"},
		{Result{Route: routePrivate, Status: 401, Code: "invalid_token"}, "/api/private         401  invalid_token"},
		{Result{Route: routePrivate, Status: 404}, "/api/private         404  Not Found"},
		{Result{Route: routePrivate, Error: "connection refused"}, "/api/private         ---  no answer: connection refused"},
	}
	for _, tt := range tests {
		if got := tt.r.Line(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// TestErrorNotJSON: an error page of a proxy has no code; what is printed
// has no empty code and no trailing space.
func TestErrorNotJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		fmt.Fprint(w, "<html>Bad Gateway</html>")
	}))
	defer srv.Close()
	r := callWith(t.Context(), srv.URL, routePrivate, "opaque-token-1")
	if got, want := r.Line(), "/api/private         502  Bad Gateway"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if got, want := r.err.Error(), "/api/private answered 502 Bad Gateway"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestNotTheAPI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html>a web page</html>")
	}))
	defer srv.Close()
	r := callWith(t.Context(), srv.URL, routePublic, "opaque-token-1")
	if r.OK || r.Line() != "/api/public          200  not the JSON of the API samples (text/html)" {
		t.Fatalf("got %+v", r)
	}
	if h := r.hint(srv.URL, ""); !strings.Contains(h, "an API of these examples?") {
		t.Fatalf("hint %q", h)
	}
}

// An API that quotes the token back does not get it printed.
func TestTokenQuotedBackIsNotPrinted(t *testing.T) {
	const token = "quoted-token-123456"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"code":"invalid_token","description":"token %s is not active"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	defer srv.Close()
	r := callWith(t.Context(), srv.URL, routePrivate, token)
	if r.Status != http.StatusUnauthorized || strings.Contains(r.Line(), token) || !strings.Contains(r.Line(), "token [token] is not active") {
		t.Fatalf("got %q", r.Line())
	}
}

// FuzzAnswer: no answer of an API makes answer panic; what the client
// prints of it is one short printable line without the token it sent; and
// a route counts as passed only with the answer the API samples give for a
// good token.
func FuzzAnswer(f *testing.F) {
	secret := []byte("secret-token") // the token is tok_c2VjcmV0LXRva2Vu
	f.Add(uint8(0), 200, "application/json", []byte(`{"message":"Public route - You don't need to be authenticated to see this."}`), secret)
	f.Add(uint8(2), 403, "application/json", []byte(`{"code":"insufficient_scope","description":"the token lacks the role read:messages"}`), secret)
	f.Add(uint8(1), 401, "application/json", []byte(`{"code":"invalid_token","description":"token tok_c2VjcmV0LXRva2Vu is not active"}`), secret)
	f.Add(uint8(1), 200, "application/json", []byte(`{"message":"hello tok_c2VjcmV0LXRva2Vu"}`), secret)
	f.Add(uint8(1), 503, "application/json", []byte(`{"code":"temporarily_unavailable","description":"\u001b[31mred"}`), secret)
	f.Add(uint8(1), 200, "text/html", []byte(`<html>a web page</html>`), secret)
	f.Add(uint8(1), 404, "text/plain", []byte(`404 page not found`), secret)
	f.Fuzz(func(t *testing.T, routeIndex uint8, status int, contentType string, body, secret []byte) {
		route := routes[int(routeIndex)%len(routes)]
		token := "tok_" + base64.RawURLEncoding.EncodeToString(secret)
		r := answer(route, status, contentType, body, token)
		asJSON, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		printed := []string{r.Line(), r.hint("http://localhost:5000", tokensource.RejectedGrant)}
		if r.err != nil {
			printed = append(printed, r.err.Error())
		}
		for _, s := range printed {
			if len(s) > 1000 || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
				t.Fatalf("not one short printable line: %q", s)
			}
		}
		if strings.Contains(strings.Join(printed, "\n")+string(asJSON), token) {
			t.Fatalf("the output shows the token: %q %s", printed, asJSON)
		}
		passed := (r.Status == http.StatusOK && r.Message != "") ||
			(route == routePrivateScoped && r.Status == http.StatusForbidden && r.Code == "insufficient_scope")
		if r.OK != passed {
			t.Fatalf("OK is %v for %d %q on %s", r.OK, status, body, route)
		}
		if r.OK != (r.err == nil) {
			t.Fatalf("OK is %v, but the error for the report is %v", r.OK, r.err)
		}
		if !r.OK && r.hint("http://localhost:5000", tokensource.RejectedGrant) == "" {
			t.Fatalf("no hint for a failed %d on %s", status, route)
		}
	})
}
