package main

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
)

func TestAPI(t *testing.T) {
	apiservertest.Run(t, apiservertest.Sample{
		Name:        "api-jwt",
		Run:         run,
		Credentials: []string{"API_PRIVATE_KEY_FILE"},
		BreakCredentials: func(t *testing.T, env map[string]string) {
			env["API_PRIVATE_KEY_FILE"] = apiservertest.ForeignKeyFile(t, env["API_PRIVATE_KEY_FILE"])
		},
	})
}
