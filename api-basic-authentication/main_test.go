package main

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
)

func TestAPI(t *testing.T) {
	apiservertest.Run(t, apiservertest.Sample{
		Name:        "api-basic-authentication",
		Run:         run,
		Credentials: []string{"API_CLIENT_ID", "API_CLIENT_SECRET"},
		BreakCredentials: func(_ *testing.T, env map[string]string) {
			env["API_CLIENT_SECRET"] = "not-the-secret"
		},
	})
}
