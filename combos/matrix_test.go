package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// TestMatrix runs every combination and negative case; a failing one fails
// the subtest of its name, e.g. TestMatrix/#4_client_credentials→Basic,....
func TestMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the five samples")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rows, err := runMatrix(ctx, "", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.num]++
		t.Run(r.name(), func(t *testing.T) {
			if r.skipped != "" {
				t.Fatalf("skipped against the local ZITADEL: %s", r.skipped)
			}
			if !r.ok {
				t.Fatalf("expected %s, got %s\n%s", r.expected, r.got, r.detail)
			}
		})
	}
	// Six combinations: JWT-profile and client-credentials grants with three
	// users (opaque with and without role, JWT with role), PAT with two, each
	// on three routes; in jwt mode, a JWT and a PAT against each API; nine
	// negative cases against each API in each mode.
	want := map[string]int{"1": 9, "2": 9, "3": 9, "4": 9, "5": 6, "6": 6, "J1": 3, "J2": 3, "J3": 3, "J4": 3,
		"N1": 4, "N2": 4, "N3": 4, "N4": 4, "N5": 4, "N6": 4, "N7": 4, "N8": 4, "N9": 4, "N10": 4}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("rows per case = %v, want %v", seen, want)
	}
}

// TestGoRunCombos runs `go run ./combos` as a user would; TestMatrix runs
// the same matrix in this process, so this one waits for E2E=1.
func TestGoRunCombos(t *testing.T) {
	requireE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", ".")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run ./combos: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if last := lines[len(lines)-1]; last != "100 passed, 0 failed" {
		t.Errorf("summary line = %q, want %q", last, "100 passed, 0 failed")
	}
	if strings.Contains(stdout.String(), "✗") {
		t.Errorf("a row is marked ✗:\n%s", stdout.String())
	}
	for _, step := range []string{"starting the local ZITADEL", "building the five samples", "starting api-jwt", "negative cases"} {
		if !strings.Contains(stderr.String(), "combos: "+step) {
			t.Errorf("progress does not say %q:\n%s", step, stderr.String())
		}
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(stderr.String(), "\n") {
		if seen[l] && l != "" {
			t.Errorf("progress line appears twice: %q", l)
		}
		seen[l] = true
	}
}

// TestWrongAPISecretFails runs combos -env against a configuration whose API
// secret is wrong: every Basic row fails, the JWT-profile rows still pass,
// the cases that need the local issuer are skipped, and the exit code is 1.
func TestWrongAPISecretFails(t *testing.T) {
	ctx, z := startForEnv(t)
	env := z.Env(z.Reader, "http://127.0.0.1:0")
	env["API_CLIENT_SECRET"] = "not-the-secret"
	file := writeEnv(t, env)

	var stdout, stderr bytes.Buffer
	code := config.Report(run(ctx, []string{"combos", "-env", file}, os.Getenv, &stdout, &stderr), &stderr)
	if code != config.ExitFailed {
		t.Fatalf("exit code = %d, want %d\n%s\n%s", code, config.ExitFailed, stdout.String(), stderr.String())
	}
	out := stdout.String()
	basicFailed := regexp.MustCompile(`(?m)^[1-6] .*\sBasic\s.*✗$`)
	if n := len(basicFailed.FindAllString(out, -1)); n != 9 {
		t.Errorf("%d Basic combination rows marked ✗, want 9:\n%s", n, out)
	}
	jwtPassed := regexp.MustCompile(`(?m)^[1-6] .*JWT profile\s+as configured.*✓$`)
	if n := len(regexp.MustCompile(`(?m)^[1-6] `).FindAllString(out, -1)) - len(basicFailed.FindAllString(out, -1)); n != 9 || len(jwtPassed.FindAllString(out, -1)) != 9 {
		t.Errorf("want 9 passing JWT-profile introspection rows:\n%s", out)
	}
	// What is skipped and why, against any ZITADEL combos does not run.
	for _, want := range []string{"skipped: needs the issuer to revoke a token", "skipped: needs the issuer to stop",
		"The skipped cases need the issuer's cooperation"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// 9 combination rows, 6 in jwt mode (the configured token is opaque),
	// and the garbage token against the Basic API in both modes (its
	// introspection fails before the token is looked at).
	if !regexp.MustCompile(`(?m)^25 passed, 17 failed, 28 skipped$`).MatchString(out) {
		t.Errorf("summary line missing or wrong:\n%s", out)
	}
	if strings.Contains(out+stderr.String(), z.BasicAPI.ClientSecret) {
		t.Error("output contains the API's client secret")
	}
}

// TestPreflightReportsEveryProblem: a broken .env gives one line per problem
// and exit code 2, before anything is built or started.
func TestPreflightReportsEveryProblem(t *testing.T) {
	ctx := context.Background()
	z, err := localzitadel.Start(ctx, localzitadel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	env := z.Env(z.Reader, "http://127.0.0.1:0")
	env["API_PRIVATE_KEY_FILE"] = z.Reader.KeyFile // a service-user key where the API's belongs
	delete(env, "PAT")
	delete(env, "PROJECT_ID")
	file := writeEnv(t, env)

	var stdout, stderr bytes.Buffer
	code := config.Report(run(ctx, []string{"combos", "-env", file}, os.Getenv, &stdout, &stderr), &stderr)
	if code != config.ExitConfig {
		t.Fatalf("exit code = %d, want %d\n%s", code, config.ExitConfig, stderr.String())
	}
	var problems []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "config: ") {
			problems = append(problems, l)
		}
	}
	sort.Strings(problems)
	want := []string{
		`config: API_PRIVATE_KEY_FILE: key file ` + z.Reader.KeyFile + `: field "type" is "serviceaccount", want "application" (a key of the API application, from the application's Keys tab in the console)`,
		"config: PAT is not set: a personal access token of the service user, for service-user-pat",
		"config: PROJECT_ID is not set: the id of the project the API belongs to",
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(stderr.String(), "building") {
		t.Error("combos built the samples despite a broken configuration")
	}
}

// startForEnv starts the local ZITADEL for a run of combos -env on the
// samples, which the short tests skip.
func startForEnv(t *testing.T) (context.Context, *localzitadel.Instance) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the five samples")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	z, err := localzitadel.Start(ctx, localzitadel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = z.Close() })
	return ctx, z
}

func writeEnv(t *testing.T, env map[string]string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "zitadel.env")
	writeEnvFile(t, file, env)
	return file
}

func writeEnvFile(t *testing.T, file string, env map[string]string) {
	t.Helper()
	var b strings.Builder
	for k, v := range env {
		fmt.Fprintf(&b, "%s=%q\n", k, v)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestEnvRoleAndSetupsUsers runs combos -env on a directory as combos setup
// writes it, where the .env's user lacks the role: its scoped rows fail
// with a hint naming the missing authorization; the users of no-role.env
// and jwt-tokens.env beside it run too, the first answered 403 as expected.
// jwt-tokens.env's client secret is wrong: its client-credentials rows say
// the client got no token, and why.
func TestEnvRoleAndSetupsUsers(t *testing.T) {
	ctx, z := startForEnv(t)
	dir := t.TempDir()
	jwtTokens := z.Env(z.JWTReader, "http://127.0.0.1:0")
	jwtTokens["CLIENT_SECRET"] = "not-the-secret"
	for name, env := range map[string]map[string]string{
		".env":           z.Env(z.NoRole, "http://127.0.0.1:0"),
		"no-role.env":    z.Env(z.NoRole, "http://127.0.0.1:0"),
		"jwt-tokens.env": jwtTokens,
	} {
		writeEnvFile(t, filepath.Join(dir, name), env)
	}

	var stdout, stderr bytes.Buffer
	code := config.Report(run(ctx, []string{"combos", "-env", filepath.Join(dir, ".env")}, os.Getenv, &stdout, &stderr), &stderr)
	if code != config.ExitFailed {
		t.Fatalf("exit code = %d, want %d\n%s\n%s", code, config.ExitFailed, stdout.String(), stderr.String())
	}
	out := stdout.String()
	count := func(pattern string) int { return len(regexp.MustCompile(`(?m)`+pattern).FindAllString(out, -1)) }
	// The .env's user: each of the six combinations fails on the scoped
	// route only.
	if n := count(`^[1-6] .*\sas configured\s+with role\s+/api/private-scoped\s+200\s+403 insufficient_scope\s+✗$`); n != 6 {
		t.Errorf("%d scoped rows of the .env's user fail with 403, want 6:\n%s", n, out)
	}
	if n := count(`^[1-6] .*\sas configured\s+with role\s+/api/private\s+200\s+200\s+✓$`); n != 6 {
		t.Errorf("%d /api/private rows of the .env's user pass, want 6:\n%s", n, out)
	}
	for _, want := range []string{
		"403 on /api/private-scoped: the service user of CLIENT_ID in " + filepath.Join(dir, ".env") + " lacks the role read:messages of the API's project.",
		"hint: in the console, the project's Authorizations → New: give the user the role read:messages",
		"service-user-client-credentials -env " + filepath.Join(dir, "jwt-tokens.env") + " got no token, so it called no route; it exited with 1:",
		"error: ZITADEL refused the token request: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// no-role.env's user: 403 expected and got, on all six.
	if n := count(`^[1-6] .*\swithout role\s+/api/private-scoped\s+403\s+403 insufficient_scope\s+✓$`); n != 6 {
		t.Errorf("%d scoped rows of no-role.env's user pass with 403, want 6:\n%s", n, out)
	}
	// jwt-tokens.env's user: a JWT with the JWT-profile grant; no token
	// with client credentials.
	if n := count(`^[12]\s+JWT profile\s.*\sJWT\s+with role\s.*\s200\s+200\s+✓$`); n != 6 {
		t.Errorf("%d rows of jwt-tokens.env's JWT-profile grant pass, want 6:\n%s", n, out)
	}
	if n := count(`^[34]\s+client credentials\s.*\sJWT\s+with role\s.*\s200\s+no token\s+✗$`); n != 6 {
		t.Errorf("%d rows of jwt-tokens.env's client-credentials grant say no token, want 6:\n%s", n, out)
	}
	for _, want := range []string{"running the user of " + filepath.Join(dir, "no-role.env") + " too", "running the user of " + filepath.Join(dir, "jwt-tokens.env") + " too"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr.String())
		}
	}
}
