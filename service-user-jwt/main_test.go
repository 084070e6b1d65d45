package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

func TestRun(t *testing.T) {
	clienttest.Test(t, clienttest.Sample{
		Name:     "service-user-jwt",
		Run:      run,
		Setup:    jwtBearerGrant,
		Required: []string{"ZITADEL_DOMAIN", "PROJECT_ID", "CLIENT_PRIVATE_KEY_FILE_PATH"},
		Grant:    true,
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
					env["CLIENT_PRIVATE_KEY_FILE_PATH"] = foreignKey(t, w.Zitadel)
				},
				Stderr: []string{"error: ZITADEL refused the token request: invalid_grant",
					"hint: is CLIENT_PRIVATE_KEY_FILE_PATH a service-user key of this instance?"}},
		},
	})
}

// foreignKey writes a key file with the Reader's ids and another user's
// private key: what a key of another instance looks like to ZITADEL.
func foreignKey(t *testing.T, z *localzitadel.Instance) string {
	t.Helper()
	read := func(path string) map[string]any {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	key := read(z.Reader.KeyFile)
	key["key"] = read(z.NoRole.KeyFile)["key"]
	raw, _ := json.Marshal(key)
	path := filepath.Join(t.TempDir(), "foreign-key.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
