package main

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

var sample = apiservertest.API{
	Name:               "api-basic-authentication",
	Run:                run,
	CredentialSettings: []string{"API_CLIENT_ID", "API_CLIENT_SECRET"},
	BreakCredentials: func(_ *testing.T, env map[string]string) {
		env["API_CLIENT_SECRET"] = "not-the-secret"
	},
	// ZITADEL's secrets are letters and digits; one with ':+%&=/' and
	// 'ä' passes only when url-encoded (RFC 6749 §2.3.1).
	AwkwardCredentials: func(inst *localzitadel.Instance, env map[string]string) {
		env["API_CLIENT_ID"], env["API_CLIENT_SECRET"] = inst.AwkwardAPI.ClientID, inst.AwkwardAPI.ClientSecret
	},
}

func TestEndToEnd(t *testing.T) {
	apiservertest.Test(t, sample)
}

// TestLoad sends thousands of requests of every kind at once, with and
// without the cache: no wrong answer. api-jwt runs the guard's other tests.
func TestLoad(t *testing.T) {
	apiservertest.Load(t, sample, 4000)
}
