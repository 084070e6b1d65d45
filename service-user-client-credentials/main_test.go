package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

func TestEndToEnd(t *testing.T) {
	clienttest.Test(t, clienttest.Client{
		Name:            "service-user-client-credentials",
		Run:             run,
		Required:        []string{"ZITADEL_DOMAIN", "PROJECT_ID", "CLIENT_ID", "CLIENT_SECRET"},
		Grant:           true,
		ServerErrorHint: "ZITADEL has a problem of its own; try again later",
		Cases: []clienttest.Case{
			// ZITADEL's secrets are letters and digits; a secret with
			// ':+%&=/' and 'ä' passes only when url-encoded (RFC 6749 §2.3.1).
			{Name: "secret that must be url-encoded", Code: 0, Tokens: 1,
				User: func(z *localzitadel.Instance) *localzitadel.ServiceUser { return z.Awkward }},
			{Name: "wrong secret", Code: 1, Tokens: 1,
				Prepare: func(_ *testing.T, _ *clienttest.World, env map[string]string) {
					env["CLIENT_SECRET"] = "wrong-secret-of-the-test"
				},
				Stderr: []string{"error: ZITADEL refused the token request: ",
					"hint: check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET"}},
			{Name: "user id instead of user name", Code: 1, Tokens: 1,
				Prepare: func(_ *testing.T, w *clienttest.World, env map[string]string) {
					env["CLIENT_ID"] = w.Zitadel.Reader.UserID
				},
				Stderr: []string{"error: ZITADEL refused the token request: invalid_client",
					"hint: check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET"}},
		},
	})
}

// A refused grant names the settings behind its usual cause; the answers are
// ZITADEL's shapes (docs/zitadel-on-the-wire.md, "Token endpoint").
func TestRefusedGrantNamesTheSettings(t *testing.T) {
	tests := []struct{ status, answer, hint string }{
		{"400", `{"error":"invalid_request","error_description":"Errors.User.Machine.Secret.Invalid"}`, "check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET"},
		{"400", `{"error":"invalid_client","error_description":"client authentication failed"}`, "check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET"},
		{"401", `{"error":"unauthorized_client"}`, "check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET"},
		{"400", `{"error":"invalid_scope","error_description":"project not found"}`, "check PROJECT_ID"},
		{"500", `{"error":"server_error","error_description":"Errors.Internal"}`, "ZITADEL has a problem of its own; try again later"},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			status, _ := strconv.Atoi(tt.status)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, tt.answer)
		}))
		grant := tokensource.Grant{Issuer: srv.URL, TokenURL: srv.URL + "/oauth/v2/token", Scopes: tokensource.Scopes("1")}
		_, err := clientCredentialsTokens(t.Context(), "reader", "not-the-secret", grant).Token()
		srv.Close()
		var refused *tokensource.Error
		if !errors.As(err, &refused) || !strings.HasPrefix(refused.UserHint(), tt.hint) {
			t.Errorf("%s %s: got %v, hint %q; want a hint %q…", tt.status, tt.answer, err, refused.UserHint(), tt.hint)
		}
	}
}

// The secret goes in HTTP Basic, both parts form-url-encoded first (RFC 6749
// §2.3.1), once: a refusal is not retried with the secret in the form.
func TestClientCredentialsInBasicOnce(t *testing.T) {
	const id, secret = "reader:1", "s3cr:t+%&=/ä"
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests++
		user, pass, ok := r.BasicAuth()
		if !ok || user != url.QueryEscape(id) || pass != url.QueryEscape(secret) || r.FormValue("client_secret") != "" {
			t.Errorf("Basic %q %q %v, form %v", user, pass, ok, r.PostForm)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_client","error_description":"client not found"}`)
	}))
	defer srv.Close()
	grant := tokensource.Grant{Issuer: srv.URL, TokenURL: srv.URL + "/oauth/v2/token", Scopes: tokensource.Scopes("1")}
	if _, err := clientCredentialsTokens(t.Context(), id, secret, grant).Token(); err == nil || requests != 1 {
		t.Fatalf("got %v after %d requests, want a refusal after 1", err, requests)
	}
}
