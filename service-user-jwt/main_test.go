package main

import (
	"path/filepath"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/clienttest"
)

func TestRun(t *testing.T) {
	clienttest.Test(t, clienttest.Sample{
		Name:            "service-user-jwt",
		Run:             run,
		Setup:           jwtBearerGrant,
		Required:        []string{"ZITADEL_DOMAIN", "PROJECT_ID", "CLIENT_PRIVATE_KEY_FILE_PATH"},
		Grant:           true,
		ServerErrorHint: "ZITADEL answers a grant assertion it cannot verify with server_error too: is CLIENT_PRIVATE_KEY_FILE_PATH a key of a service user of this instance",
		Cases: []clienttest.Case{
			{Name: "key file of the API application, not of a service user", Code: 2,
				Prepare: func(_ *testing.T, w *clienttest.World, env map[string]string) {
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = w.Zitadel.API.KeyFile
				},
				Stderr: []string{`config: CLIENT_PRIVATE_KEY_FILE_PATH: key file `, `field "type" is "application", want "serviceaccount"`}},
			{Name: "key file missing", Code: 2,
				Prepare: func(t *testing.T, _ *clienttest.World, env map[string]string) {
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = filepath.Join(t.TempDir(), "key.json")
				},
				Stderr: []string{"config: CLIENT_PRIVATE_KEY_FILE_PATH: key file ", "key.json does not exist"}},
			{Name: "key ZITADEL does not know", Code: 1, Tokens: 1,
				Prepare: func(t *testing.T, w *clienttest.World, env map[string]string) {
					// The Reader's ids with another private key, as a key of another instance.
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = apiservertest.ForeignKeyFile(t, w.Zitadel.Reader.KeyFile)
				},
				Stderr: []string{"error: ZITADEL refused the token request: invalid_grant",
					"hint: is CLIENT_PRIVATE_KEY_FILE_PATH a service-user key of this instance?"}},
		},
	})
}
