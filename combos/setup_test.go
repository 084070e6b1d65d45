package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// runSetup runs `combos setup` in process and returns its output.
func runSetup(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(ctx, append([]string{"combos", "setup"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// statusOf returns the status column of the output line for what.
func statusOf(t *testing.T, out, what string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(what) + `\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no line %q in the output:\n%s", what, out)
	}
	return m[1]
}

// startWithAdmin starts a local ZITADEL, closed when the test ends, with a
// machine user for combos setup: an Org Owner, or one without rights.
func startWithAdmin(t *testing.T, ctx context.Context, o localzitadel.Options, name string, orgOwner bool) (*localzitadel.Instance, *localzitadel.Admin) {
	t.Helper()
	z, err := localzitadel.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	admin, err := z.AddAdmin(name, orgOwner)
	if err != nil {
		t.Fatal(err)
	}
	return z, admin
}

// TestSetup provisions the local ZITADEL through its management API as a
// real one, runs the six combinations on the result, runs setup again (no
// id changes, nothing new), and deletes what it made.
func TestSetup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the five samples")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	z, admin := startWithAdmin(t, ctx, localzitadel.Options{}, "admin", true)
	out := filepath.Join(t.TempDir(), "out")

	stdout, stderr, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
	if err != nil {
		t.Fatalf("setup: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("first setup:\n%s", stdout)
	// The local instance has the project already (its own samples use it);
	// everything else is new.
	want := map[string]string{
		"project introspection-examples":                     "found",
		"  role read:messages":                               "found",
		"app api-jwt (private_key_jwt)":                      "created",
		"app api-basic-authentication (client_secret_basic)": "created",
		"service user examples-reader":                       "created",
		"service user examples-no-role":                      "created",
		"service user examples-jwt-reader":                   "created",
	}
	for what, status := range want {
		if got := statusOf(t, stdout, what); got != status {
			t.Errorf("%s: %s, want %s", what, got, status)
		}
	}
	if !strings.Contains(stdout, "Next: go run ./combos -env "+filepath.Join(out, ".env")) {
		t.Errorf("no next command in the output:\n%s", stdout)
	}
	checkModes(t, out)
	state := readState(t, out)
	noSecretIn(t, stdout+stderr, out, state)

	// The six combinations on OUT/.env, as a user would run them next.
	rows, err := runMatrix(ctx, filepath.Join(out, ".env"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, r := range rows {
		if r.skipped != "" {
			continue
		}
		if len(r.num) == 1 { // "1" to "6"; negative cases are "N1"…
			ran[r.user]++
		}
		if !r.ok {
			t.Errorf("%s: expected %s, got %s\n%s", r.name(), r.expected, r.got, r.detail)
		}
	}
	// Six combinations, three routes each, for the .env's user and
	// no-role.env's; jwt-tokens.env's with its two grants that get a JWT.
	if ran["with role"] != 18+12 || ran["without role"] != 18 || len(ran) != 2 {
		t.Errorf("combination rows per user = %v, want 30 with role, 18 without", ran)
	}

	checkOtherUsers(t, z, out)
	if !regexp.MustCompile(`(?m)^  access tokens JWT\s+set$`).MatchString(stdout) {
		t.Errorf("the JWT user's token type was not set with v2 alone:\n%s", stdout)
	}

	// Again: nothing new, the same ids, keys, secrets and PATs.
	envBefore, _ := os.ReadFile(filepath.Join(out, ".env"))
	stdout, stderr, err = runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
	if err != nil {
		t.Fatalf("second setup: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("second setup:\n%s", stdout)
	if m := regexp.MustCompile(`(?m)^.*\s(created|set)\b.*$`).FindAllString(stdout, -1); len(m) > 0 {
		t.Errorf("the second setup made something:\n%s", strings.Join(m, "\n"))
	}
	envAfter, _ := os.ReadFile(filepath.Join(out, ".env"))
	if !bytes.Equal(envBefore, envAfter) {
		t.Errorf("OUT/.env changed on the second setup")
	}
	for _, f := range []string{"no-role.env", "jwt-tokens.env"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if again := readState(t, out); again.Project.ID != state.Project.ID || again.Users["examples-reader"].ID != state.Users["examples-reader"].ID {
		t.Errorf("ids changed on the second setup")
	}

	// A secret lost from OUT is not replaced behind anyone's back: setup
	// refuses, naming the user; -rotate makes new secrets, saying so.
	lost := state.Users["examples-no-role"]
	lost.Secret = ""
	writeState(t, out, state)
	_, _, err = runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
	if err == nil || !strings.Contains(err.Error(), "service user examples-no-role: has a client secret") {
		t.Errorf("after losing one secret: %v, want a refusal naming examples-no-role", err)
	}
	stdout, _, err = runSetup(t, ctx, "-rotate", "-env", admin.EnvFile, "-dir", out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout, " replaced"); n != 4 || len(madeLines(stdout)) != 4 {
		t.Errorf("-rotate: want the four secrets replaced and nothing else:\n%s", stdout)
	}

	// -delete removes the users and applications setup made, keeps the
	// project it found, and removes OUT.
	stdout, stderr, err = runSetup(t, ctx, "-delete", "-env", admin.EnvFile, "-dir", out)
	if err != nil {
		t.Fatalf("delete: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("delete:\n%s", stdout)
	for _, what := range []string{"service user examples-reader", "service user examples-no-role", "service user examples-jwt-reader", "app api-jwt", "app api-basic-authentication"} {
		if got := statusOf(t, stdout, what); got != "deleted" {
			t.Errorf("%s: %s, want deleted", what, got)
		}
	}
	if got := statusOf(t, stdout, "project introspection-examples"); got != "kept" {
		t.Errorf("project: %s, want kept (setup found it)", got)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("OUT still exists after -delete: %v", err)
	}
	// Gone from ZITADEL too: a new setup finds none of them.
	stdout, _, err = runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
	if err != nil {
		t.Fatal(err)
	}
	for what := range want {
		if strings.HasPrefix(what, "service user") || strings.HasPrefix(what, "app") {
			if got := statusOf(t, stdout, what); got != "created" {
				t.Errorf("after -delete, %s: %s, want created", what, got)
			}
		}
	}
}

// TestSetupErrors: each mistake gets an error that says what to fix.
func TestSetupErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	z, noRights := startWithAdmin(t, ctx, localzitadel.Options{}, "no-rights", false)
	_, otherAdmin := startWithAdmin(t, ctx, localzitadel.Options{}, "admin", true)
	notZitadel := httptest.NewServer(http.NotFoundHandler())
	defer notZitadel.Close()

	envFile := func(domain, keyFile string) string {
		p := filepath.Join(t.TempDir(), "admin.env")
		if err := os.WriteFile(p, []byte("ZITADEL_DOMAIN="+domain+"\nADMIN_KEY_FILE="+keyFile+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, env string
		want      []string
	}{
		{"admin without Org Owner", noRights.EnvFile,
			[]string{"ListProjects: permission denied", "role Org Owner", noRights.UserID}},
		{"key of another instance", envFile(z.Issuer, otherAdmin.KeyFile),
			[]string{"ZITADEL rejected the admin key in ADMIN_KEY_FILE"}},
		{"unreachable", envFile("http://127.0.0.1:1", noRights.KeyFile),
			[]string{"ZITADEL_DOMAIN http://127.0.0.1:1", "cannot be reached"}},
		{"not ZITADEL", envFile(notZitadel.URL, noRights.KeyFile),
			[]string{"is this a ZITADEL instance?"}},
		{"no key file", envFile(z.Issuer, filepath.Join(t.TempDir(), "missing.json")),
			[]string{"ADMIN_KEY_FILE"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			stdout, stderr, err := runSetup(t, ctx, "-env", c.env, "-dir", out)
			if err == nil {
				t.Fatalf("setup succeeded:\n%s", stdout)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(stdout+stderr+err.Error(), "BEGIN RSA") {
				t.Error("a private key in the output")
			}
			if _, err := os.Stat(filepath.Join(out, stateFile)); !os.IsNotExist(err) {
				t.Errorf("a refused setup left %s behind: %v", stateFile, err)
			}
		})
	}
}

func readState(t *testing.T, dir string) *setupState {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	var st setupState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

func writeState(t *testing.T, dir string, st *setupState) {
	t.Helper()
	raw, _ := json.Marshal(st)
	if err := os.WriteFile(filepath.Join(dir, stateFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkModes: OUT is 0700, every file in it 0600.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("%s: mode %v, want 0700", dir, st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 8 { // three env files, four key files, setup.json
		t.Errorf("%d files in OUT, want 8", len(entries))
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
}

// noSecretIn fails if output holds a secret, a PAT or a private key of OUT.
func noSecretIn(t *testing.T, output, dir string, st *setupState) {
	t.Helper()
	var secrets []string
	for _, o := range st.Users {
		secrets = append(secrets, o.Secret, o.PAT)
	}
	for _, o := range st.Apps {
		secrets = append(secrets, o.Secret)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(output, s) {
			t.Errorf("a secret or PAT is in the output")
		}
	}
	if strings.Contains(output, "PRIVATE KEY") {
		t.Errorf("a private key is in the output")
	}
}

// TestSetupAgainstServe: `combos serve` writes admin.env for an Org Owner,
// setup works with it as against a real instance, and after serve restarts
// with its -dir a second setup finds everything it made.
func TestSetupAgainstServe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".local-zitadel")
	out := filepath.Join(t.TempDir(), "out")
	adminEnv := filepath.Join(dir, "admin.env")
	// One address for both runs, as with serve's default: the issuer URL,
	// and so ZITADEL_DOMAIN, stays the same across the restart.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for n := range 2 {
		ctx, cancel := context.WithCancel(t.Context())
		var stdout, stderr lockedBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"combos", "serve", "-addr", addr, "-dir", dir}, os.Getenv, &stdout, &stderr)
			close(done)
		}()
		t.Cleanup(func() { cancel(); <-done }) // before the temporary directories go
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "combos setup -env"); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("serve printed no setup command:\n%s%s", stdout.String(), stderr.String())
			}
		}
		if !strings.Contains(stdout.String(), "go run ./combos setup -env "+shortPath(adminEnv)+" -dir OUT") {
			t.Errorf("serve's setup command is not for %s:\n%s", adminEnv, stdout.String())
		}
		for _, f := range []string{"admin.env", "admin.json"} {
			if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v", f, err)
			}
		}

		setupOut, setupErr, err := runSetup(t, ctx, "-env", adminEnv, "-dir", out)
		if err != nil {
			t.Fatalf("setup against serve: %v\n%s%s", err, setupOut, setupErr)
		}
		want := "created"
		if n == 1 {
			want = "found" // serve took its instance up again from -dir
			if m := regexp.MustCompile(`(?m)^.*\s(created|set)\b.*$`).FindAllString(setupOut, -1); len(m) > 0 {
				t.Errorf("setup after a restart of serve made something:\n%s", strings.Join(m, "\n"))
			}
		}
		if got := statusOf(t, setupOut, "service user examples-reader"); got != want {
			t.Errorf("run %d: examples-reader %s, want %s", n+1, got, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
}

// checkOtherUsers: no-role.env's user has no role, jwt-tokens.env's user
// gets JWT access tokens with the role; asked of the issuer directly.
func checkOtherUsers(t *testing.T, z *localzitadel.Instance, out string) {
	t.Helper()
	for _, c := range []struct {
		file          string
		wantJWT, role bool
	}{{"no-role.env", false, false}, {"jwt-tokens.env", true, true}} {
		env, err := godotenv.Read(filepath.Join(out, c.file))
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid urn:zitadel:iam:org:project:id:" + env["PROJECT_ID"] + ":aud"}}
		req, _ := http.NewRequest(http.MethodPost, z.TokenURL, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(env["CLIENT_ID"]), url.QueryEscape(env["CLIENT_SECRET"]))
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		postJSON(t, req, &tok)
		if isJWT := strings.Count(tok.AccessToken, ".") == 2; isJWT != c.wantJWT {
			t.Errorf("%s: access token is a JWT: %v, want %v", c.file, isJWT, c.wantJWT)
		}
		req, _ = http.NewRequest(http.MethodPost, z.IntrospectionURL, strings.NewReader(url.Values{"token": {env["PAT"]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(env["API_CLIENT_ID"]), url.QueryEscape(env["API_CLIENT_SECRET"]))
		var answer map[string]any
		postJSON(t, req, &answer)
		_, hasRole := answer["urn:zitadel:iam:org:project:roles"]
		if answer["active"] != true || hasRole != c.role {
			t.Errorf("%s: its PAT introspects active=%v with role=%v, want active with role=%v", c.file, answer["active"], hasRole, c.role)
		}
	}
}

func postJSON(t *testing.T, req *http.Request, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(v) != nil {
		t.Fatalf("%s: HTTP %d", req.URL.Path, resp.StatusCode)
	}
}

// TestSetupLegacyTokenType: against a ZITADEL whose v2 user API has no
// access token type, setup notices and sets it with management v1.
func TestSetupLegacyTokenType(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	z, admin := startWithAdmin(t, ctx, localzitadel.Options{LegacyMachineTokenType: true}, "admin", true)
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
	if err != nil {
		t.Fatalf("setup: %v\n%s%s", err, stdout, stderr)
	}
	if !regexp.MustCompile(`(?m)^  access tokens JWT\s+set\s+\(with management v1 UpdateMachine`).MatchString(stdout) {
		t.Errorf("no fallback to UpdateMachine in:\n%s", stdout)
	}
	checkOtherUsers(t, z, out)
	stdout, _, err = runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
	if err != nil {
		t.Fatal(err)
	}
	if got := statusOf(t, stdout, "  access tokens JWT"); got != "found" {
		t.Errorf("second setup: access tokens JWT %s, want found", got)
	}
}

// TestAPIErrors: each kind of error answer becomes a message that says
// what to fix, for Connect's code names and v1's gateway numbers alike.
func TestAPIErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/management/v1/users/1/machine": // v1's REST gateway
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"code":7,"message":"No matching permissions found (AUTH-5mWD2)","details":[]}`))
		case "/zitadel.user.v2.UserService/CreateUser":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"code":"unauthenticated","message":"Errors.Token.Invalid (AUTH-7fs1e)\n\u001b[31m"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	z := &zitadelAPI{domain: srv.URL, token: "t", admin: "42", org: "7", http: srv.Client()}
	ctx := t.Context()

	err := z.do(ctx, "PUT", "/management/v1/users/1/machine", "UpdateMachine", map[string]any{}, &struct{}{})
	if !isCode(err, "permission_denied") || !strings.Contains(err.Error(), "Org Owner") || !strings.Contains(err.Error(), "42") {
		t.Errorf("gateway 403: %v", err)
	}
	err = z.call(ctx, "zitadel.user.v2.UserService/CreateUser", map[string]any{}, &struct{}{})
	if !isCode(err, "unauthenticated") || strings.ContainsAny(err.Error(), "\n\x1b") {
		t.Errorf("unauthenticated: %q", err)
	}
	err = z.call(ctx, "zitadel.project.v2.ProjectService/ListProjects", map[string]any{}, &struct{}{})
	if err == nil || !strings.Contains(err.Error(), "is it a ZITADEL instance") {
		t.Errorf("plain 404: %v", err)
	}
}
