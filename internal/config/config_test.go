package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRealEnvironmentWinsOverFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, ".env", "ZITADEL_DOMAIN=https://from-file.example.com\nPROJECT_ID=\"123\"\n")
	e, err := Load(env(map[string]string{"ZITADEL_DOMAIN": "https://from-env.example.com/"}), p)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.URL("ZITADEL_DOMAIN", "https://x"); got != "https://from-env.example.com" {
		t.Errorf("ZITADEL_DOMAIN = %q, want the environment's value without trailing slash", got)
	}
	if got := e.Required("PROJECT_ID", "the project id"); got != "123" {
		t.Errorf("PROJECT_ID = %q, want 123 from the file", got)
	}
	if err := e.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
}

func TestProblemsNameTheVariable(t *testing.T) {
	e, err := Load(env(map[string]string{
		"ZITADEL_DOMAIN": "my-instance.zitadel.cloud",
		"API_BASE_URL":   "localhost:5000",
	}), writeFile(t, t.TempDir(), ".env", ""))
	if err != nil {
		t.Fatal(err)
	}
	e.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	e.Required("PROJECT_ID", "the id of the project in the ZITADEL console")
	e.OptionalURL("API_BASE_URL", "http://localhost:5000", "http://localhost:5000")
	e.Problem(errors.New("key file k.json does not exist"))

	var cfg *Error
	if !errors.As(e.Err(), &cfg) {
		t.Fatalf("Err() = %v, want *Error", e.Err())
	}
	want := []string{
		"ZITADEL_DOMAIN must be a URL with scheme, like https://my-instance.zitadel.cloud",
		"PROJECT_ID is not set: the id of the project in the ZITADEL console",
		"API_BASE_URL must be a URL with scheme, like http://localhost:5000",
		"key file k.json does not exist",
	}
	if strings.Join(cfg.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", cfg.Error(), strings.Join(want, "\n"))
	}
}

func TestDefaultsAndZero(t *testing.T) {
	e, _ := Load(env(map[string]string{"PROJECT_ID": "0"}), writeFile(t, t.TempDir(), ".env", ""))
	if v := e.Optional("PROJECT_ID", "1"); v != "0" {
		t.Errorf("optional setting 0 = %q, want 0", v)
	}
	if v := e.Optional("UNSET", "default"); v != "default" {
		t.Errorf("unset optional setting = %q, want default", v)
	}
	if u := e.OptionalURL("ZITADEL_TOKEN_URL", "https://d/oauth/v2/token", "https://x"); u != "https://d/oauth/v2/token" {
		t.Errorf("optional URL = %q, want default", u)
	}
	if e.Err() != nil {
		t.Errorf("Err() = %v", e.Err())
	}
}

func TestRelativePathFromFileIsRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, ".env", "API_PRIVATE_KEY_FILE=api-key.json\n")
	e, _ := Load(env(map[string]string{"CLIENT_PRIVATE_KEY_FILE_PATH": "rel.json"}), p)
	if got, want := e.Path("API_PRIVATE_KEY_FILE", "h"), filepath.Join(dir, "api-key.json"); got != want {
		t.Errorf("path from file = %q, want %q", got, want)
	}
	if got := e.Path("CLIENT_PRIVATE_KEY_FILE_PATH", "h"); got != "rel.json" {
		t.Errorf("path from environment = %q, want it unchanged (relative to the working directory)", got)
	}
}

func TestExplicitFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(env(nil), filepath.Join(dir, "missing.env")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: err = %v", err)
	}
	p := writeFile(t, dir, "bad.env", "CLIENT_SECRET='unterminated-secret-value\n")
	_, err := Load(env(nil), p)
	if err == nil {
		t.Fatal("malformed file: no error")
	}
	if strings.Contains(err.Error(), "unterminated-secret-value") {
		t.Errorf("error quotes the file's contents: %v", err)
	}
}

func TestNearestDotEnvStopsAtModuleRoot(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, ".env", "FOUND=outside-module\n")
	mod := filepath.Join(root, "mod")
	sub := filepath.Join(mod, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, mod, "go.mod", "module x\n")
	t.Chdir(sub)
	e, err := Load(env(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	if v := e.Optional("FOUND", ""); v != "" {
		t.Errorf("read a .env above the module root: FOUND=%q", v)
	}
	writeFile(t, mod, ".env", "FOUND=module-root\n")
	e, _ = Load(env(nil), "")
	if v := e.Optional("FOUND", ""); v != "module-root" {
		t.Errorf("FOUND = %q, want the module root's .env", v)
	}
}

// FuzzDotEnv: no .env content makes Load panic or quote a value in its error,
// and what it reads comes back unchanged through the getters.
func FuzzDotEnv(f *testing.F) {
	f.Add("ZITADEL_DOMAIN=https://x.example.com\nPORT=5000\n")
	f.Add("CLIENT_SECRET='s3cr3t-value\n")
	f.Add("export PAT=\"abc\\\"def\"\n# comment\nINTROSPECTION_CACHE_TTL=1h5m\n")
	f.Add("A=${B}\nB=$A\n")
	f.Fuzz(func(t *testing.T, content string) {
		p := filepath.Join(t.TempDir(), ".env")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := Load(env(nil), p)
		if err != nil {
			if len(content) >= 12 && strings.Contains(err.Error(), content) {
				t.Fatalf("error quotes the file: %v", err)
			}
			return
		}
		e.URL("ZITADEL_DOMAIN", "https://x")
		e.Optional("INTROSPECTION_CACHE_TTL", "")
		e.Path("API_PRIVATE_KEY_FILE", "h")
		_ = e.Err()
	})
}

func TestTypoNamesTheLikelySetting(t *testing.T) {
	p := writeFile(t, t.TempDir(), ".env", "ZITADEL_DOMIAN=https://x.example.com\nintrospection_cache_ttl=0\nPORT_NUMBER=8000\nAPI_PRIVATE_KEY_FILE=k.json\nMY_OWN_SETTING=1\n")
	e, err := Load(env(nil), p)
	if err != nil {
		t.Fatal(err)
	}
	e.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	e.Optional("INTROSPECTION_CACHE_TTL", "")
	e.Optional("PORT", "")
	e.Optional("API_PRIVATE_KEY", "") // a close name, but not what the file's one is close to
	e.Path("API_PRIVATE_KEY_FILE", "h")
	var cfg *Error
	if !errors.As(e.Err(), &cfg) {
		t.Fatalf("Err() = %v", e.Err())
	}
	want := []string{
		"ZITADEL_DOMAIN is not set: it must be a URL with scheme, like https://my-instance.zitadel.cloud",
		"ZITADEL_DOMIAN in " + p + " is not a setting: did you mean ZITADEL_DOMAIN?",
		"introspection_cache_ttl in " + p + " is not a setting: did you mean INTROSPECTION_CACHE_TTL?",
	}
	if got := strings.Join(cfg.Problems, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	// Once the real name is set, a look-alike is left alone: it may be meant.
	e, _ = Load(env(map[string]string{"ZITADEL_DOMAIN": "https://x.example.com"}), p)
	e.URL("ZITADEL_DOMAIN", "https://x")
	if err := e.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

// TestExampleNamesAreNotTyposOfEachOther: a .env made from any .env.example
// of this repository holds settings for several programs; none may look like
// a typo of another's setting to a program that does not read it.
func TestExampleNamesAreNotTyposOfEachOther(t *testing.T) {
	files, _ := filepath.Glob("../../*/.env.example")
	files = append(files, "../../.env.example")
	names := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
			if k, _, ok := strings.Cut(l, "="); ok && k == strings.ToUpper(k) && !strings.Contains(k, " ") {
				names[k] = true
			}
		}
	}
	if len(names) < 15 {
		t.Fatalf("found only %d names in %v", len(names), files)
	}
	for a := range names {
		for b := range names {
			if a != b && similar(a, b, 2) {
				t.Errorf("%s looks like a typo of %s", a, b)
			}
		}
	}
}

func TestNoDotEnvSaysHowToGetOne(t *testing.T) {
	mod := t.TempDir()
	writeFile(t, mod, "go.mod", "module x\n")
	t.Chdir(mod)
	e, err := Load(env(map[string]string{"ZITADEL_DOMAIN": "https://x.example.com"}), "")
	if err != nil {
		t.Fatal(err)
	}
	e.URL("ZITADEL_DOMAIN", "https://x")
	if err := e.Err(); err != nil {
		t.Errorf("everything from the environment: Err() = %v", err)
	}
	e.Required("PROJECT_ID", "the project id")
	var cfg *Error
	if !errors.As(e.Err(), &cfg) || len(cfg.Problems) != 2 {
		t.Fatalf("Err() = %v, want two problems", e.Err())
	}
	first := cfg.Problems[0]
	for _, want := range []string{"no .env file in " + mod, "cp .env.example .env", "-env FILE"} {
		if !strings.Contains(first, want) {
			t.Errorf("first problem %q lacks %q", first, want)
		}
	}
}

func TestReport(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagErr := ParseFlags(fs, []string{"-nope"})
	tests := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"success", nil, ExitOK, ""},
		{"help", flag.ErrHelp, ExitOK, ""},
		{"already reported", fmt.Errorf("call api: %w", ErrFailed), ExitFailed, ""},
		{"config", &Error{Problems: []string{"PAT is not set: x", "PROJECT_ID is not set: y"}}, ExitConfig, "config: PAT is not set: x\nconfig: PROJECT_ID is not set: y\n"},
		{"wrapped config", fmt.Errorf("load: %w", &Error{Problems: []string{"a"}}), ExitConfig, "config: a\n"},
		{"bad flag, printed by the flag package", flagErr, ExitConfig, ""},
		{"usage", &UsageError{Err: errors.New("unexpected argument \"x\"")}, ExitConfig, "usage: unexpected argument \"x\"\n"},
		{"other", errors.New("boom"), ExitFailed, "error: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := Report(tt.err, &stderr); code != tt.code {
				t.Errorf("code = %d, want %d", code, tt.code)
			}
			if stderr.String() != tt.stderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestParseFlagsRejectsArguments(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var usage *UsageError
	if err := ParseFlags(fs, []string{"extra"}); !errors.As(err, &usage) {
		t.Errorf("err = %v, want a UsageError", err)
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"invalid_client", 64, "invalid_client"},
		{"line one\nforged=line\r\x1b[31mred", 64, "line one forged=line  [31mred"},
		{"äöü€ and more", 4, "äöü€…"}, // cut on characters, never inside one
		{"tab\there", 64, "tab here"},
	}
	for _, tt := range tests {
		if got := Printable(tt.in, tt.limit); got != tt.want {
			t.Errorf("Printable(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

// In the real environment, which other programs share, only a close
// look-alike counts, also of a setting the .env sets (an export meant to win
// over the file): a slip of one letter or of the case, or the other side's
// _PATH. Two edits (PROJECT_DIR) or a short name (PATH for PAT) do not.
func TestSlipsInTheEnvironment(t *testing.T) {
	p := writeFile(t, t.TempDir(), ".env", "ZITADEL_DOMAIN=https://from-file.example.com\n")
	shell := map[string]string{"ZITADEL_DOMAN": "https://x", "client_id": "c", "API_PRIVATE_KEY_FILE_PATH": "k.json",
		"PROJECT_DIR": "/src", "PATH": "/bin"}
	for k, v := range shell {
		t.Setenv(k, v)
	}
	e, err := Load(env(shell), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ZITADEL_DOMAIN", "CLIENT_ID", "API_PRIVATE_KEY_FILE", "PROJECT_ID", "PAT"} {
		e.Optional(name, "")
	}
	var cfg *Error
	if !errors.As(e.Err(), &cfg) {
		t.Fatalf("Err() = %v", e.Err())
	}
	want := []string{
		"API_PRIVATE_KEY_FILE_PATH in the environment is not a setting: did you mean API_PRIVATE_KEY_FILE?",
		"ZITADEL_DOMAN in the environment is not a setting: did you mean ZITADEL_DOMAIN?",
		"client_id in the environment is not a setting: did you mean CLIENT_ID?",
	}
	if got := strings.Join(cfg.Problems, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
