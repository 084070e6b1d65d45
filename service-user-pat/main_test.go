package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/config"
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

// A PAT pasted with its scheme or with a space inside is a setting to fix,
// named without quoting the PAT; one pasted with a trailing newline works.
// -print-token: nothing is called.
func TestCheckPAT(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ value, want string }{
		{"abc.def-ghi_jkl", ""},
		{"  abc\n", ""}, // a trailing newline from a paste is trimmed
		{"Bearer abc", `PAT starts with "Bearer ": set the token alone, without the scheme`},
		{"bearer abc", `PAT starts with "bearer ": set the token alone, without the scheme`},
		{"abc def", "PAT has a space or line break inside: paste the token alone, on one line"},
		{"abc\ndef", "PAT has a space or line break inside: paste the token alone, on one line"},
		{"", "PAT is not set: a personal access token of the service user"},
	} {
		getenv := func(name string) string {
			if name == "PAT" {
				return tc.value
			}
			return ""
		}
		var stdout, stderr strings.Builder
		err := run(t.Context(), []string{"service-user-pat", "-env", envFile, "-print-token"}, getenv, &stdout, &stderr)
		code := config.Report(err, &stderr)
		problem := strings.TrimSuffix(strings.TrimPrefix(stderr.String(), "config: "), "\n")
		if tc.want == "" {
			if code != config.ExitOK || stdout.String() != strings.TrimSpace(tc.value)+"\n" {
				t.Errorf("PAT %q: exit code %d, stdout %q, stderr %q", tc.value, code, stdout.String(), stderr.String())
			}
			continue
		}
		if code != config.ExitConfig || problem != tc.want || stdout.Len() != 0 {
			t.Errorf("PAT %q: exit code %d, problem %q; want %d, %q", tc.value, code, problem, config.ExitConfig, tc.want)
		}
		if tc.value != "" && strings.Contains(problem, strings.TrimSpace(strings.TrimPrefix(tc.value, "Bearer"))) {
			t.Errorf("the problem quotes the token: %q", problem)
		}
	}
}
