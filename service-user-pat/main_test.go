package main

import (
	"net/http"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

func TestEndToEnd(t *testing.T) {
	rejected := "hint: the API does not accept the PAT: it was deleted, has expired, or is of another ZITADEL instance"
	clienttest.Test(t, clienttest.Client{
		Name:     "service-user-pat",
		Run:      run,
		Required: []string{"PAT"},
		Cases: []clienttest.Case{
			// A PAT cannot be renewed: one call per route, no retry.
			{Name: "revoked PAT", Code: 1,
				Prepare: func(_ *testing.T, w *clienttest.World, env map[string]string) { w.Zitadel.Revoke(env["PAT"]) },
				Stdout:  []string{"/api/public          200  ", "/api/private         401  invalid_token: ", "/api/private-scoped  401  invalid_token: "},
				Stderr:  []string{"error: /api/private answered 401 invalid_token", rejected}},
			{Name: "PAT of another instance", Code: 1,
				Prepare: func(_ *testing.T, _ *clienttest.World, env map[string]string) {
					env["PAT"] = "dGhpcyBpcyBub3QgYSB2YWxpZCBQQVQ"
				},
				Stderr: []string{"error: /api/private answered 401 invalid_token", rejected}},
			{Name: "PAT pasted with its scheme", Code: 2,
				Prepare: func(_ *testing.T, _ *clienttest.World, env map[string]string) { env["PAT"] = "Bearer " + env["PAT"] },
				Stderr:  []string{`config: PAT starts with "Bearer ": set the token alone, without the scheme`}},
			{Name: "PAT with a space inside", Code: 2,
				Prepare: func(_ *testing.T, _ *clienttest.World, env map[string]string) {
					env["PAT"] = env["PAT"][:8] + " " + env["PAT"][8:]
				},
				Stderr: []string{"config: PAT has a space or line break inside: paste the token alone, on one line"}},
			{Name: "ZITADEL unavailable for the API's introspection", Code: 1,
				Prepare: func(_ *testing.T, w *clienttest.World, _ map[string]string) {
					w.Zitadel.SetFault(localzitadel.Fault{Status: http.StatusServiceUnavailable})
				},
				Stdout: []string{"/api/private         503  temporarily_unavailable: "},
				Stderr: []string{"error: /api/private answered 503 temporarily_unavailable", "hint: the API cannot reach ZITADEL to introspect the token"}},
		},
	})
}
