package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

func TestServe(t *testing.T) {
	// An existing directory others may read, as mkdir leaves it: serve
	// makes it private, since it holds secrets and keys.
	dir := filepath.Join(t.TempDir(), ".local-zitadel")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	issuer := startServe(t, ctx, []string{"-addr", "127.0.0.1:0", "-dir", dir}, &stdout, &stderr, done)
	if st, err := os.Stat(dir); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o700 {
		t.Errorf("-dir: mode %v, want 0700", st.Mode().Perm())
	}

	// The files the samples need, readable by the samples' .env parser.
	env, err := godotenv.Read(filepath.Join(dir, ".env"))
	if err != nil {
		t.Fatalf(".env does not parse: %v", err)
	}
	for _, name := range []string{
		"ZITADEL_DOMAIN", "ZITADEL_INTROSPECTION_URL", "ZITADEL_TOKEN_URL", "API_PRIVATE_KEY_FILE",
		"API_CLIENT_ID", "API_CLIENT_SECRET", "CLIENT_PRIVATE_KEY_FILE_PATH", "PROJECT_ID",
		"CLIENT_ID", "CLIENT_SECRET", "PAT", "API_BASE_URL",
	} {
		if env[name] == "" {
			t.Errorf(".env: %s is empty", name)
		}
	}
	if env["ZITADEL_DOMAIN"] != issuer || env["API_BASE_URL"] != "http://localhost:5000" {
		t.Errorf(".env: ZITADEL_DOMAIN %q, API_BASE_URL %q; want %s and http://localhost:5000", env["ZITADEL_DOMAIN"], env["API_BASE_URL"], issuer)
	}
	// Secrets as ZITADEL generates them: 64 letters and digits.
	for _, secret := range []string{env["CLIENT_SECRET"], env["API_CLIENT_SECRET"]} {
		if len(secret) != 64 || strings.Trim(secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf(".env: a secret is not 64 letters and digits (length %d)", len(secret))
		}
	}
	for _, name := range []string{"API_PRIVATE_KEY_FILE", "CLIENT_PRIVATE_KEY_FILE_PATH"} {
		if fi, err := os.Stat(env[name]); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s %s: %v, mode %v", name, env[name], err, fi.Mode().Perm())
		}
	}
	for _, name := range []string{"no-role.env", "jwt-tokens.env"} {
		other, err := godotenv.Read(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s does not parse: %v", name, err)
			continue
		}
		if other["CLIENT_ID"] == env["CLIENT_ID"] || other["ZITADEL_DOMAIN"] != issuer {
			t.Errorf("%s: CLIENT_ID %q, ZITADEL_DOMAIN %q", name, other["CLIENT_ID"], other["ZITADEL_DOMAIN"])
		}
	}
	out := stdout.String()
	for _, want := range []string{"go run ./api-jwt -env ", "go run ./service-user-pat -env ", ".env .env"} {
		if !strings.Contains(out, want) {
			t.Errorf("instructions lack %q:\n%s", want, out)
		}
	}
	// Every file serve wrote is in its list, on a line of its own.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !regexp.MustCompile(`(?m)^  (\S+, )?` + regexp.QuoteMeta(e.Name()) + `(, \S+)?\s{2,}\S`).MatchString(out) {
			t.Errorf("the file list does not name %s:\n%s", e.Name(), out)
		}
	}

	resp, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("discovery = %d", resp.StatusCode)
	}

	// Ctrl-C: run returns nil, says so, the port is closed, the files stay.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	want := "\nStopped the local ZITADEL. Its state stays in " + dir + ": serve with the same -dir takes it up again (-fresh starts anew).\n"
	if !strings.HasSuffix(stdout.String(), want) {
		t.Errorf("last output after Ctrl-C:\n%s\nwant it to end with %q", stdout.String(), want)
	}
	if _, err := http.Get(issuer + "/oauth/v2/keys"); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after stop: %v, want connection refused", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".env")); err != nil {
		t.Errorf("serve removed its -dir: %v", err)
	}
	if strings.Contains(stderr.String(), env["CLIENT_SECRET"]) || strings.Contains(stdout.String(), env["CLIENT_SECRET"]) {
		t.Error("a secret was printed")
	}
}

// startServe runs `combos serve args` until ctx ends, sending run's error to
// done, and returns the issuer it prints.
func startServe(t *testing.T, ctx context.Context, args []string, stdout, stderr *lockedBuffer, done chan error) string {
	t.Helper()
	go func() {
		done <- run(ctx, append([]string{"combos", "serve"}, args...), os.Getenv, stdout, stderr)
	}()
	issuerLine := regexp.MustCompile(`Local ZITADEL running at (http://127\.0\.0\.1:\d+) `)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m := issuerLine.FindStringSubmatch(stdout.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("serve returned early: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no issuer printed:\n%s", stdout.String())
		}
	}
}

// TestServeRestart: serve started again with the same -dir keeps its
// instance, so an API configured from its .env keeps working; -fresh
// starts anew.
func TestServeRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".local-zitadel")
	serveOnce := func(args ...string) (map[string]string, string) {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		var stdout, stderr lockedBuffer
		done := make(chan error, 1)
		startServe(t, ctx, append([]string{"-addr", "127.0.0.1:0", "-dir", dir}, args...), &stdout, &stderr, done)
		env, err := godotenv.Read(filepath.Join(dir, ".env"))
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("serve: %v", err)
		}
		return env, stdout.String()
	}
	first, _ := serveOnce()
	second, out := serveOnce()
	for _, name := range []string{"PROJECT_ID", "API_CLIENT_ID", "API_CLIENT_SECRET", "CLIENT_SECRET", "PAT", "API_PRIVATE_KEY_FILE"} {
		if first[name] != second[name] {
			t.Errorf("%s changed across a restart", name)
		}
	}
	if !strings.Contains(out, "the instance saved there") {
		t.Errorf("a restart does not say it kept the instance:\n%s", out)
	}
	fresh, _ := serveOnce("-fresh")
	if fresh["PROJECT_ID"] == first["PROJECT_ID"] || fresh["CLIENT_SECRET"] == first["CLIENT_SECRET"] {
		t.Error("-fresh kept the instance")
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr bool
		want    string // in stdout or stderr
	}{
		{"unknown command", []string{"combos", "frobnicate"}, true, "commands:"},
		{"bad flag", []string{"combos", "serve", "-port", "1"}, true, "-addr"},
		{"extra argument", []string{"combos", "serve", "now"}, true, ""}, // main prints the error
		{"help", []string{"combos", "help"}, false, "commands:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr lockedBuffer
			err := run(t.Context(), tc.args, os.Getenv, &stdout, &stderr)
			if (err != nil) != tc.wantErr {
				t.Errorf("run(%q) = %v, want error %v", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(stdout.String()+stderr.String(), tc.want) {
				t.Errorf("output lacks %q: %q %q", tc.want, stdout.String(), stderr.String())
			}
		})
	}
}

// TestServePortInUse: a second serve on the same address names -addr, and
// leaves no -dir (nor a parent) it created behind.
func TestServePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	parent := t.TempDir()
	var stdout, stderr lockedBuffer
	err = run(t.Context(), []string{"combos", "serve", "-addr", ln.Addr().String(), "-dir", filepath.Join(parent, "new", ".local-zitadel")}, os.Getenv, &stdout, &stderr)
	code := config.Report(err, &stderr)
	want := "error: " + ln.Addr().String() + " is in use, by another combos serve or another program: stop it, or choose another address with -addr, e.g. -addr 127.0.0.1:8081\n"
	if code != config.ExitFailed || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want %d, %q", code, stderr.String(), config.ExitFailed, want)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("serve left %s/%s behind", parent, left[0].Name())
	}
}
