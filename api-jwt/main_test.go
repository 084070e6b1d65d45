package main

import (
	"strings"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

var sample = apiservertest.API{
	Name:               "api-jwt",
	Run:                run,
	CredentialSettings: []string{"API_PRIVATE_KEY_FILE"},
	BreakCredentials: func(t *testing.T, env map[string]string) {
		env["API_PRIVATE_KEY_FILE"] = apiservertest.ForeignKeyFile(t, env["API_PRIVATE_KEY_FILE"])
	},
}

func TestEndToEnd(t *testing.T) {
	apiservertest.Test(t, sample)
}

// TestGuard runs, on this sample, what does not depend on how an API
// authenticates to ZITADEL: malformed headers, the cache, and ZITADEL
// failing, slow, rogue or stopped. api-basic-authentication runs the load.
func TestGuard(t *testing.T) {
	apiservertest.TestGuard(t, sample)
}

// TestDomainNotTheIssuer: with ZITADEL_DOMAIN not exactly the issuer
// (localhost for 127.0.0.1), the client assertion has the wrong audience
// and ZITADEL rejects it; the log names ZITADEL_DOMAIN beside the key file.
func TestDomainNotTheIssuer(t *testing.T) {
	z, err := localzitadel.Start(t.Context(), localzitadel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	env := z.Env(nil, "")
	env["ZITADEL_DOMAIN"] = strings.Replace(z.Issuer, "127.0.0.1", "localhost", 1)
	api := apiservertest.Start(t, sample, env, &apiservertest.Secrets{})
	token, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := api.Get(t, "/api/private", "Bearer "+token); a.Status != 500 {
		t.Errorf("status %d %v, want 500", a.Status, a.Body)
	}
	want := "check API_PRIVATE_KEY_FILE (the key file of this API application, not deleted or expired) and ZITADEL_DOMAIN (the client assertion's audience: the instance's URL exactly as its issuer)"
	if !strings.Contains(api.Logs(), want) {
		t.Errorf("the log does not say %q:\n%s", want, api.Logs())
	}
}
