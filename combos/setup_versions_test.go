package main

import (
	"context"
	"net/http"
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

// The releases setup is run against: two that serve no v2 project,
// application or authorization service, and the current one.
var setupVersions = []struct {
	version string
	api     string // what setup's output names
}{
	{"v3.4", "the management v1 API"},
	{"v4.4", "the management v1 API"},
	{"current", "the v2 services"},
}

// madeLines returns the output lines that say setup made or changed something.
func madeLines(out string) []string {
	return regexp.MustCompile(`(?m)^.*\s(created|set|remade|replaced|removed)\b.*$`).FindAllString(out, -1)
}

// clientCredentials asks for a token with OUT/file's CLIENT_ID and
// CLIENT_SECRET, as service-user-client-credentials does, and returns the
// HTTP status.
func clientCredentials(t *testing.T, z *localzitadel.Instance, envPath string) int {
	t.Helper()
	env, err := godotenv.Read(envPath)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid urn:zitadel:iam:org:project:id:" + env["PROJECT_ID"] + ":aud"}}
	req, _ := http.NewRequest(http.MethodPost, z.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(env["CLIENT_ID"]), url.QueryEscape(env["CLIENT_SECRET"]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// TestSetupEachVersion runs setup against the local ZITADEL as each
// release: the API it names, credentials that work (keys and secrets get
// tokens, PATs introspect with the role, the JWT user gets JWTs), and a
// second run that makes nothing.
func TestSetupEachVersion(t *testing.T) {
	for _, v := range setupVersions {
		t.Run(v.version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			z, admin := startWithAdmin(t, ctx, localzitadel.Options{ZitadelVersion: v.version}, "admin", true)
			out := filepath.Join(t.TempDir(), "out")
			stdout, stderr, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
			if err != nil {
				t.Fatalf("setup: %v\n%s%s", err, stdout, stderr)
			}
			t.Logf("setup against %s:\n%s", v.version, stdout)
			if !strings.Contains(stdout, "with "+v.api) {
				t.Errorf("the output does not name %s:\n%s", v.api, stdout)
			}
			if strings.Contains(stdout, "UpdateMachine") {
				t.Errorf("the JWT user's type needed a fallback; with %s it should be set by the API in use:\n%s", v.api, stdout)
			}
			for _, f := range []string{".env", "no-role.env", "jwt-tokens.env"} {
				if status := clientCredentials(t, z, filepath.Join(out, f)); status != http.StatusOK {
					t.Errorf("%s: client_credentials answered %d", f, status)
				}
			}
			checkOtherUsers(t, z, out)
			checkModes(t, out)
			noSecretIn(t, stdout+stderr, out, readState(t, out))

			stdout, _, err = runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
			if err != nil {
				t.Fatal(err)
			}
			if m := madeLines(stdout); len(m) > 0 {
				t.Errorf("the second setup made something:\n%s", strings.Join(m, "\n"))
			}
		})
	}
}

// TestSetupSecondDirectory: a second directory is refused rather than
// replacing the first one's secrets; -rotate replaces them and says so;
// the first directory then refuses too; -delete of the second removes the
// credentials it added to what it found, and keeps the objects.
func TestSetupSecondDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	z, admin := startWithAdmin(t, ctx, localzitadel.Options{}, "admin", true)
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "b")
	if stdout, stderr, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", a); err != nil {
		t.Fatalf("setup A: %v\n%s%s", err, stdout, stderr)
	}

	stdout, _, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", b)
	if err == nil {
		t.Fatalf("setup into a second directory succeeded:\n%s", stdout)
	}
	t.Logf("refused:\n%v", err)
	for _, want := range []string{"changed nothing", "app api-basic-authentication: has a client secret that " + filepath.Join(b, stateFile) + " does not hold",
		"service user examples-reader: has a client secret", "-dir", "-rotate"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q", want)
		}
	}
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Errorf("the refused setup left %s: %v", b, err)
	}
	if status := clientCredentials(t, z, filepath.Join(a, ".env")); status != http.StatusOK {
		t.Errorf("A's secret stopped working after the refusal: %d", status)
	}
	checkOtherUsers(t, z, a)

	stdout, stderr, err := runSetup(t, ctx, "-rotate", "-env", admin.EnvFile, "-dir", b)
	if err != nil {
		t.Fatalf("setup -rotate: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("-rotate:\n%s", stdout)
	if n := strings.Count(stdout, "  secret"); n != 4 || strings.Count(stdout, "replaced  (-rotate: the previous secret no longer works)") != 4 {
		t.Errorf("-rotate: want four secrets replaced, saying so:\n%s", stdout)
	}
	if status := clientCredentials(t, z, filepath.Join(b, ".env")); status != http.StatusOK {
		t.Errorf("B's secret does not work: %d", status)
	}
	checkOtherUsers(t, z, b)
	if status := clientCredentials(t, z, filepath.Join(a, ".env")); status == http.StatusOK {
		t.Errorf("A's secret still works after -rotate")
	}

	// A, whose secrets B replaced, refuses too, and names the cause.
	stdout, _, err = runSetup(t, ctx, "-env", admin.EnvFile, "-dir", a)
	if err == nil || !strings.Contains(err.Error(), "the secret in "+filepath.Join(a, stateFile)+" no longer works") {
		t.Fatalf("setup A after B's -rotate: %v\n%s", err, stdout)
	}

	// B's -delete keeps the users and apps A made, and removes B's key,
	// secret and PAT of each.
	envB, _ := godotenv.Read(filepath.Join(b, ".env"))
	stdout, stderr, err = runSetup(t, ctx, "-delete", "-env", admin.EnvFile, "-dir", b)
	if err != nil {
		t.Fatalf("delete B: %v\n%s%s", err, stdout, stderr)
	}
	t.Logf("delete B:\n%s", stdout)
	for _, what := range []string{"service user examples-reader", "app api-jwt", "app api-basic-authentication", "project introspection-examples"} {
		if got := statusOf(t, stdout, what); got != "kept" {
			t.Errorf("%s: %s, want kept", what, got)
		}
	}
	if n := strings.Count(stdout, " removed"); n != 3*3+1 { // key, secret, PAT of three users; the JWT app's key
		t.Errorf("%d credentials removed, want 10:\n%s", n, stdout)
	}
	if active := introspectPAT(t, z, envB["PAT"], envB["API_CLIENT_ID"], envB["API_CLIENT_SECRET"]); active {
		t.Errorf("B's PAT is still active after B's -delete")
	}

	// A takes its users back (they have no secret now) after -rotate for
	// the Basic app, whose secret B's -rotate replaced; all of A works.
	stdout, stderr, err = runSetup(t, ctx, "-rotate", "-env", admin.EnvFile, "-dir", a)
	if err != nil {
		t.Fatalf("setup A -rotate: %v\n%s%s", err, stdout, stderr)
	}
	checkOtherUsers(t, z, a)
	if status := clientCredentials(t, z, filepath.Join(a, ".env")); status != http.StatusOK {
		t.Errorf("A's new secret does not work: %d", status)
	}
}

// introspectPAT: is the PAT active for the Basic application?
func introspectPAT(t *testing.T, z *localzitadel.Instance, pat, clientID, secret string) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, z.IntrospectionURL, strings.NewReader(url.Values{"token": {pat}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	var answer map[string]any
	postJSON(t, req, &answer)
	return answer["active"] == true
}

// TestSetupRepair: a rerun checks what it reuses and remakes only what
// stopped working (here a removed key and PAT), saying so.
func TestSetupRepair(t *testing.T) {
	for _, version := range []string{"v4.4", "current"} {
		t.Run(version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			z, admin := startWithAdmin(t, ctx, localzitadel.Options{ZitadelVersion: version}, "admin", true)
			out := filepath.Join(t.TempDir(), "out")
			if stdout, stderr, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out); err != nil {
				t.Fatalf("setup: %v\n%s%s", err, stdout, stderr)
			}
			// An administrator removes the reader's key and PAT, as in the
			// console (here through management v1, which every release serves).
			st := readState(t, out)
			reader := st.Users["examples-reader"]
			zapi, err := signIn(ctx, z.Issuer, admin.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			v1 := v1API{zapi}
			keyID := (&setupRun{dir: out}).keyIDOf(reader, "serviceaccount")
			if err := v1.removeUserKey(ctx, reader.ID, keyID); err != nil {
				t.Fatal(err)
			}
			if err := v1.removePAT(ctx, reader.ID, reader.PATID); err != nil {
				t.Fatal(err)
			}

			stdout, stderr, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
			if err != nil {
				t.Fatalf("rerun: %v\n%s%s", err, stdout, stderr)
			}
			t.Logf("rerun:\n%s", stdout)
			made := madeLines(stdout)
			if len(made) != 2 || !strings.Contains(made[0], "key") || !strings.Contains(made[0], "remade") ||
				!strings.Contains(made[1], "personal access token") || !strings.Contains(made[1], "remade") {
				t.Errorf("want the key and the PAT remade, nothing else:\n%s", strings.Join(made, "\n"))
			}
			if !strings.Contains(stdout, "no longer works") {
				t.Errorf("the rerun does not say why it remade them:\n%s", stdout)
			}
			// The new key gets a token; the new PAT is active with the role.
			again := readState(t, out).Users["examples-reader"]
			if again.KeyFile == "" || (&setupRun{dir: out}).keyIDOf(again, "serviceaccount") == keyID {
				t.Errorf("the key file was not replaced")
			}
			if ok, err := zapi.userKeyWorks(ctx, filepath.Join(out, again.KeyFile)); err != nil || !ok {
				t.Errorf("the new key gets no token: %v %v", ok, err)
			}
			basic := readState(t, out).Apps[setupBasicApp]
			if !introspectPAT(t, z, again.PAT, basic.ClientID, basic.Secret) {
				t.Errorf("the new PAT is not active")
			}
		})
	}
}

// TestServeZitadelVersion: serve -zitadel-version v3.4 plays that release,
// so setup against it uses management v1; a malformed version is refused
// with the forms it takes.
func TestServeZitadelVersion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".local-zitadel")
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	startServe(t, ctx, []string{"-addr", "127.0.0.1:0", "-dir", dir, "-zitadel-version", "v3.4"}, &stdout, &stderr, done)
	t.Cleanup(func() { cancel(); <-done })
	if !strings.Contains(stdout.String(), "Its management APIs are those of ZITADEL v3.4") {
		t.Errorf("serve does not say which release it plays:\n%s", stdout.String())
	}
	out, errOut, err := runSetup(t, ctx, "-env", filepath.Join(dir, "admin.env"), "-dir", filepath.Join(t.TempDir(), "out"))
	if err != nil || !strings.Contains(out, "with the management v1 API") {
		t.Errorf("setup against serve as v3.4: %v\n%s%s", err, out, errOut)
	}

	var bad lockedBuffer
	err = run(t.Context(), []string{"combos", "serve", "-addr", "127.0.0.1:0", "-dir", t.TempDir(), "-zitadel-version", "4.4"}, os.Getenv, &bad, &bad)
	if err == nil || !strings.Contains(err.Error(), `"4.4"`) || !strings.Contains(err.Error(), "v3.4 or v4.4") {
		t.Errorf("a malformed version: %v", err)
	}
}

// TestSetupEveryVersion: setup against the local ZITADEL as each release,
// then every combination on each of setup's env files, as processes.
func TestSetupEveryVersion(t *testing.T) {
	requireE2E(t)
	for _, v := range setupVersions {
		t.Run(v.version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
			defer cancel()
			_, admin := startWithAdmin(t, ctx, localzitadel.Options{ZitadelVersion: v.version}, "admin", true)
			out := filepath.Join(t.TempDir(), "out")
			stdout, stderr, err := runSetup(t, ctx, "-env", admin.EnvFile, "-dir", out)
			if err != nil {
				t.Fatalf("setup: %v\n%s%s", err, stdout, stderr)
			}
			for _, f := range []string{".env", "no-role.env", "jwt-tokens.env"} {
				rows, err := runMatrix(ctx, filepath.Join(out, f), t.Logf)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				ran := 0
				for _, r := range rows {
					if r.skipped != "" {
						continue
					}
					ran++
					if !r.ok {
						t.Errorf("%s %s: expected %s, got %s\n%s", f, r.name(), r.expected, r.got, r.detail)
					}
				}
				if ran < 18 {
					t.Errorf("%s: %d rows ran, want at least the 18 of the six combinations", f, ran)
				}
			}
		})
	}
}
