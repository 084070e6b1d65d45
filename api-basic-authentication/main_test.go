package main

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

func TestEndToEnd(t *testing.T) {
	apiservertest.Test(t, apiservertest.API{
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
	})
}
