package main

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
)

func TestEndToEnd(t *testing.T) {
	apiservertest.Test(t, apiservertest.API{
		Name:               "api-jwt",
		Run:                run,
		CredentialSettings: []string{"API_PRIVATE_KEY_FILE"},
		BreakCredentials: func(t *testing.T, env map[string]string) {
			env["API_PRIVATE_KEY_FILE"] = apiservertest.ForeignKeyFile(t, env["API_PRIVATE_KEY_FILE"])
		},
	})
}
