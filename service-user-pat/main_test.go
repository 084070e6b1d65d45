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

// -h says what this client does: no token request, nothing sent to ZITADEL.
func TestUsageSaysWhatItDoes(t *testing.T) {
	var stdout, stderr strings.Builder
	code := config.Report(run(t.Context(), []string{"service-user-pat", "-h"}, func(string) string { return "" }, &stdout, &stderr), &stderr)
	usage := stderr.String()
	if code != config.ExitOK || !strings.Contains(usage, "Uses the personal access token PAT as it is: no token request, nothing sent to ZITADEL.") {
		t.Fatalf("exit code %d, usage:\n%s", code, usage)
	}
	for _, untrue := range []string{"Gets an access token", "ZITADEL or the API"} {
		if strings.Contains(usage, untrue) {
			t.Errorf("the usage says %q:\n%s", untrue, usage)
		}
	}
}

// A setting exported in the shell with a slip is named, with the setting it
// looks like, and without its value; PATH is no slip for PAT.
func TestSlipInTheEnvironment(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAT", "")
	t.Setenv("API_BASE_URL", "")
	t.Setenv("API_BASE_ULR", "http://api.example.com:5001")
	var stdout, stderr strings.Builder
	code := config.Report(run(t.Context(), []string{"service-user-pat", "-env", envFile}, os.Getenv, &stdout, &stderr), &stderr)
	want := "config: PAT is not set: a personal access token of the service user\n" +
		"config: API_BASE_ULR in the environment is not a setting: did you mean API_BASE_URL?\n"
	if code != config.ExitConfig || stderr.String() != want {
		t.Errorf("exit code %d, stderr:\n%s\nwant %d and:\n%s", code, stderr.String(), config.ExitConfig, want)
	}
}

// Without a .env, the message says how to get one: in this repository also
// with the local ZITADEL of combos, in a copy of the sample (no combos) not.
func TestNoDotEnv(t *testing.T) {
	for _, tc := range []struct {
		name   string
		combos bool
		want   string
	}{
		{"repository", true, "cp .env.example .env and fill it in, name a settings file with -env FILE, or start a local ZITADEL with go run ./combos serve and use -env .local-zitadel/.env\n"},
		{"copy", false, "cp .env.example .env and fill it in, or name a settings file with -env FILE\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.combos {
				if err := os.Mkdir(filepath.Join(dir, "combos"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Chdir(dir)
			var stdout, stderr strings.Builder
			code := config.Report(run(t.Context(), []string{"service-user-pat"}, func(string) string { return "" }, &stdout, &stderr), &stderr)
			first, _, _ := strings.Cut(stderr.String(), "config: PAT is not set")
			if code != config.ExitConfig || first != "config: no .env file in "+dir+" or a parent directory up to the module root: "+tc.want {
				t.Errorf("exit code %d, stderr:\n%s\nwant it to start with the line ending %q", code, stderr.String(), tc.want)
			}
		})
	}
}
