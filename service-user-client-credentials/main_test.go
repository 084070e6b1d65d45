package main

import (
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/clienttest"
)

func TestRun(t *testing.T) {
	clienttest.Test(t, clienttest.Sample{
		Name:            "service-user-client-credentials",
		Run:             run,
		Setup:           clientCredentialsGrant,
		Required:        []string{"ZITADEL_DOMAIN", "PROJECT_ID", "CLIENT_ID", "CLIENT_SECRET"},
		Grant:           true,
		ServerErrorHint: "ZITADEL has a problem of its own; try again later",
		Cases: []clienttest.Case{
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
