package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if got := e.String("PROJECT_ID", "the project id"); got != "123" {
		t.Errorf("PROJECT_ID = %q, want 123 from the file", got)
	}
	if err := e.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
}

func TestProblemsNameTheVariable(t *testing.T) {
	e, err := Load(env(map[string]string{
		"ZITADEL_DOMAIN":          "my-instance.zitadel.cloud",
		"INTROSPECTION_CACHE_TTL": "soon",
		"PORT":                    "99999",
	}), writeFile(t, t.TempDir(), ".env", ""))
	if err != nil {
		t.Fatal(err)
	}
	e.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	e.String("PROJECT_ID", "the id of the project in the ZITADEL console")
	e.Duration("INTROSPECTION_CACHE_TTL", 30*time.Second)
	e.Port("PORT", 5000)
	e.Problem(errors.New("key file k.json does not exist"))

	var cfg *Error
	if !errors.As(e.Err(), &cfg) {
		t.Fatalf("Err() = %v, want *Error", e.Err())
	}
	want := []string{
		"ZITADEL_DOMAIN must be a URL with scheme, like https://my-instance.zitadel.cloud",
		"PROJECT_ID is not set: the id of the project in the ZITADEL console",
		`INTROSPECTION_CACHE_TTL must be a duration like 30s, 2m or 0, not "soon"`,
		`PORT must be a port number between 1 and 65535, not "99999"`,
		"key file k.json does not exist",
	}
	if strings.Join(cfg.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", cfg.Error(), strings.Join(want, "\n"))
	}
}

func TestDefaultsAndZero(t *testing.T) {
	e, _ := Load(env(map[string]string{"INTROSPECTION_CACHE_TTL": "0"}), writeFile(t, t.TempDir(), ".env", ""))
	if d := e.Duration("INTROSPECTION_CACHE_TTL", 30*time.Second); d != 0 {
		t.Errorf("TTL 0 = %v, want 0 (disabled)", d)
	}
	if d := e.Duration("UNSET", 30*time.Second); d != 30*time.Second {
		t.Errorf("unset duration = %v, want default", d)
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
		e.Duration("INTROSPECTION_CACHE_TTL", time.Second)
		e.Port("PORT", 1)
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
	e.Duration("INTROSPECTION_CACHE_TTL", 30*time.Second)
	e.Port("PORT", 5000)
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
			if a != b && similar(a, b) {
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
	e.String("PROJECT_ID", "the project id")
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

func TestTokenIsOneTokenWithoutScheme(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"abc.def-ghi_jkl", ""},
		{"  abc  ", ""}, // a trailing newline from a paste is trimmed
		{"Bearer abc", `PAT starts with "Bearer ": set the token alone, without the scheme`},
		{"bearer abc", `PAT starts with "bearer ": set the token alone, without the scheme`},
		{"abc def", "PAT has a space or line break inside: paste the token alone, on one line"},
		{"abc\ndef", "PAT has a space or line break inside: paste the token alone, on one line"},
		{"", "PAT is not set: a personal access token"},
	} {
		e, _ := Load(env(map[string]string{"PAT": tc.value}), writeFile(t, t.TempDir(), ".env", ""))
		got := e.Token("PAT", "a personal access token")
		var problem string
		if err := e.Err(); err != nil {
			problem = err.Error()
			if got != "" {
				t.Errorf("Token(%q) = %q with a problem, want empty", tc.value, got)
			}
		}
		if problem != tc.want {
			t.Errorf("Token(%q): problem %q, want %q", tc.value, problem, tc.want)
		}
		if tc.value != "" && strings.Contains(problem, strings.TrimSpace(strings.TrimPrefix(tc.value, "Bearer"))) {
			t.Errorf("the problem quotes the token: %q", problem)
		}
	}
}

func TestTimeoutZeroIsAProblem(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
		fail  bool
	}{
		{"", 5 * time.Second, false},
		{"250ms", 250 * time.Millisecond, false},
		{"0", 5 * time.Second, true},
		{"0s", 5 * time.Second, true},
		{"-1s", 5 * time.Second, true},
		{"5", 5 * time.Second, true},
	} {
		e, _ := Load(env(map[string]string{"INTROSPECTION_TIMEOUT": tc.value}), writeFile(t, t.TempDir(), ".env", ""))
		got := e.Timeout("INTROSPECTION_TIMEOUT", 5*time.Second)
		err := e.Err()
		if got != tc.want || (err != nil) != tc.fail {
			t.Errorf("Timeout(%q) = %v, %v; want %v, problem %v", tc.value, got, err, tc.want, tc.fail)
		}
		if err != nil && !strings.Contains(err.Error(), "INTROSPECTION_TIMEOUT must be a duration more than 0, like 5s") {
			t.Errorf("Timeout(%q): %v", tc.value, err)
		}
	}
}
