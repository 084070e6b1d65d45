package main

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
)

func TestEndToEnd(t *testing.T) {
	apiservertest.Test(t, apiservertest.API{
		Name:               "api-basic-authentication",
		Run:                run,
		CredentialSettings: []string{"API_CLIENT_ID", "API_CLIENT_SECRET"},
		BreakCredentials: func(_ *testing.T, env map[string]string) {
			env["API_CLIENT_SECRET"] = "not-the-secret"
		},
	})
}
