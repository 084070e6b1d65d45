package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

func TestEndToEnd(t *testing.T) {
	clienttest.Test(t, clienttest.Client{
		Name:            "service-user-jwt",
		Run:             run,
		Required:        []string{"ZITADEL_DOMAIN", "PROJECT_ID", "CLIENT_PRIVATE_KEY_FILE_PATH"},
		Grant:           true,
		ServerErrorHint: "check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance, not deleted or expired) and ZITADEL_DOMAIN (the assertion's audience",
		Cases: []clienttest.Case{
			{Name: "key file of the API application, not of a service user", Code: 2,
				Prepare: func(_ *testing.T, w *clienttest.World, env map[string]string) {
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = w.Zitadel.JWTAPI.KeyFile
				},
				Stderr: []string{`config: CLIENT_PRIVATE_KEY_FILE_PATH: key file `, `field "type" is "application", want "serviceaccount"`}},
			// The APIs' name pattern: the originals name this setting with _PATH.
			{Name: "CLIENT_PRIVATE_KEY_FILE for CLIENT_PRIVATE_KEY_FILE_PATH", Code: 2,
				Prepare: func(_ *testing.T, _ *clienttest.World, env map[string]string) {
					env["CLIENT_PRIVATE_KEY_FILE"] = env["CLIENT_PRIVATE_KEY_FILE_PATH"]
					delete(env, "CLIENT_PRIVATE_KEY_FILE_PATH")
				},
				Stderr: []string{"config: CLIENT_PRIVATE_KEY_FILE_PATH is not set: ",
					"config: CLIENT_PRIVATE_KEY_FILE in ", " is not a setting: did you mean CLIENT_PRIVATE_KEY_FILE_PATH?\n"}},
			{Name: "key file missing", Code: 2,
				Prepare: func(t *testing.T, _ *clienttest.World, env map[string]string) {
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = filepath.Join(t.TempDir(), "key.json")
				},
				Stderr: []string{"config: CLIENT_PRIVATE_KEY_FILE_PATH: key file ", "key.json does not exist"}},
			// Current ZITADEL answers an assertion it cannot verify with 500
			// server_error "Errors.Internal"; older versions with 400
			// invalid_grant. Both point at the key file.
			{Name: "key ZITADEL does not know", Code: 1, Tokens: 1,
				Prepare: func(t *testing.T, w *clienttest.World, env map[string]string) {
					// The Reader's ids with another private key, as a key of another instance.
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = apiservertest.ForeignKeyFile(t, w.Zitadel.Reader.KeyFile)
				},
				Stderr: []string{"error: ZITADEL refused the token request: server_error: Errors.Internal",
					"hint: check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance, not deleted or expired) and ZITADEL_DOMAIN (the assertion's audience"}},
			{Name: "key ZITADEL does not know, older ZITADEL", Code: 1, Tokens: 1,
				Options: localzitadel.Options{LegacyJWTGrantErrors: true},
				Prepare: func(t *testing.T, w *clienttest.World, env map[string]string) {
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = apiservertest.ForeignKeyFile(t, w.Zitadel.Reader.KeyFile)
				},
				Stderr: []string{"error: ZITADEL refused the token request: invalid_grant",
					"hint: check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance, not deleted or expired) and ZITADEL_DOMAIN (the assertion's audience"}},
			{Name: "ZITADEL_DOMAIN not exactly the issuer", Code: 1, Tokens: 1,
				Prepare: func(_ *testing.T, w *clienttest.World, env map[string]string) {
					// localhost for 127.0.0.1: the same server, another audience.
					env["ZITADEL_DOMAIN"] = strings.Replace(w.Zitadel.Issuer, "127.0.0.1", "localhost", 1)
				},
				Stderr: []string{"error: ZITADEL refused the token request: ",
					"hint: check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance, not deleted or expired) and ZITADEL_DOMAIN (the assertion's audience: the instance's URL exactly as its issuer"}},
		},
	})
}

// A refused grant names the settings behind its usual cause, for current
// ZITADEL (500 server_error) as for older versions (400 invalid_grant).
func TestRefusedGrantNamesTheSettings(t *testing.T) {
	key, err := keyfile.LoadServiceAccount(writeKeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		status       int
		answer, hint string
	}{
		{500, `{"error":"server_error","error_description":"Errors.Internal"}`, "check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance"},
		{400, `{"error":"invalid_grant","error_description":"assertion invalid"}`, "check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance"},
		{400, `{"error":"invalid_grant","error_description":"a\u001b[2Jb\nc"}`, "check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance"},
		{400, `{"error":"invalid_client","error_description":"assertion invalid"}`, "check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance"},
		{400, `{"error":"invalid_scope","error_description":"project not found"}`, "check PROJECT_ID"},
		{400, `{"error":"unsupported_grant_type"}`, ""},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tt.status)
			io.WriteString(w, tt.answer)
		}))
		grant := tokensource.Grant{Issuer: srv.URL, TokenURL: srv.URL + "/oauth/v2/token", Scopes: tokensource.Scopes("1")}
		_, err := jwtBearerTokens(t.Context(), key, grant).Token()
		srv.Close()
		var refused *tokensource.Error
		if !errors.As(err, &refused) || !strings.HasPrefix(refused.UserHint(), tt.hint) || (tt.hint == "") != (refused.UserHint() == "") {
			t.Errorf("%d %s: got %v, hint %q; want a hint %q…", tt.status, tt.answer, err, refused.UserHint(), tt.hint)
		}
		if strings.ContainsAny(refused.Error(), "\n\x1b") {
			t.Errorf("the error is not one printable line: %q", refused.Error())
		}
	}
}

// writeKeyFile writes a service-user key file of ZITADEL's format with a new key.
func writeKeyFile(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(map[string]string{
		"type": "serviceaccount", "keyId": "k1", "userId": "u1",
		"key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The token request is ZITADEL's JWT bearer grant: the scope in the form,
// not in the assertion (which x/oauth2/jwt would do), and no client
// credentials besides the assertion.
func TestJWTBearerGrantForm(t *testing.T) {
	key, err := keyfile.LoadServiceAccount(writeKeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if got := r.PostForm.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			t.Errorf("grant_type %q", got)
		}
		if got, want := r.PostForm.Get("scope"), strings.Join(tokensource.Scopes("p1"), " "); got != want {
			t.Errorf("scope %q, want %q", got, want)
		}
		if r.Header.Get("Authorization") != "" || r.PostForm.Has("client_id") || r.PostForm.Has("client_secret") {
			t.Errorf("client credentials sent: %q %v", r.Header.Get("Authorization"), r.PostForm)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(r.PostForm.Get("assertion"), claims); err != nil {
			t.Errorf("assertion: %v", err)
		}
		if claims["iss"] != "u1" || claims["sub"] != "u1" || claims["scope"] != nil {
			t.Errorf("assertion claims %v", claims)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"at-1","token_type":"Bearer","expires_in":43199}`)
	}))
	defer srv.Close()
	grant := tokensource.Grant{Issuer: srv.URL, TokenURL: srv.URL + "/oauth/v2/token", Scopes: tokensource.Scopes("p1")}
	tok, err := jwtBearerTokens(t.Context(), key, grant).Token()
	if err != nil || tok.AccessToken != "at-1" {
		t.Fatalf("got %v, %v", tok, err)
	}
}
