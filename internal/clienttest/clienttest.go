// Package clienttest runs a service-user sample end to end: a local ZITADEL
// (internal/localzitadel), the API of internal/apiserver in front of it on
// 127.0.0.1:0, and the sample's run function, with the cases all three
// samples share. Only tests import it: a copied-out sample does not need it.
package clienttest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// Client is the client sample under test.
type Client struct {
	Name string
	// Run is the sample's run function.
	Run func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
	// Required are the settings without a default.
	Required []string
	// Grant: the sample asks ZITADEL's token endpoint for tokens (not so with a PAT).
	Grant bool
	// ServerErrorHint starts the hint of a grant sample for ZITADEL's
	// 500 server_error at the token endpoint.
	ServerErrorHint string
	// Cases the sample adds to the shared ones.
	Cases []Case
}

// Case is one run of the sample's program.
type Case struct {
	Name string
	// User whose settings are used; default Reader.
	User func(z *localzitadel.Instance) *localzitadel.ServiceUser
	// Prepare changes the settings before they are written to the -env
	// file, or the World, e.g. to revoke a token.
	Prepare func(t *testing.T, w *World, env map[string]string)
	Args    []string
	Code    int
	// Stdout and Stderr must contain these lines (substrings, in order).
	Stdout, Stderr []string
	// Tokens is the number of token requests of a grant sample; a PAT
	// sample never makes one.
	Tokens int64
	// PrintsToken: stdout is the access token and a newline, nothing else.
	PrintsToken bool
	// Options of the case's local ZITADEL, e.g. an older version's errors.
	Options localzitadel.Options
}

// World is a local ZITADEL and an API server that introspects with Basic.
type World struct {
	Zitadel *localzitadel.Instance
	APIURL  string

	mu      sync.Mutex
	secrets map[string]bool // bearer tokens the API received and Secret values: none may be printed
}

// Secret records v as a value the program must not print, and returns it.
func (w *World) Secret(v string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.secrets[v] = true
	return v
}

// Start starts a World that stops when the test ends.
func Start(t *testing.T, opts localzitadel.Options) *World {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir() // the key files outlive a Close in a case
	}
	z, err := localzitadel.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })

	// The API of api-basic-authentication, built from the same parts.
	app := z.AwkwardAPI // a secret that must be url-encoded
	settings := apiserver.Settings{Name: "clienttest", Issuer: z.Issuer, IntrospectionURL: z.IntrospectionURL, ProjectID: z.ProjectID,
		CacheTTL: apiserver.DefaultCacheTTL, Timeout: 5 * time.Second, MaxInFlight: apiserver.DefaultMaxInFlight}
	guard, err := apiserver.NewGuard(t.Context(), settings, clientSecretBasic(app.ClientID, app.ClientSecret),
		"API_CLIENT_ID and API_CLIENT_SECRET", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	w := &World{Zitadel: z, secrets: map[string]bool{}}
	api := httptest.NewServer(w.record(routes(guard)))
	t.Cleanup(api.Close)
	w.APIURL = api.URL
	return w
}

// record remembers every bearer token the API receives.
func (w *World) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			w.Secret(tok)
		}
		next.ServeHTTP(rw, r)
	})
}

// ClosedURL is a URL where nothing listens.
func ClosedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// Test runs the shared cases and s.Cases, each against a World of its own.
func Test(t *testing.T, s Client) {
	for _, c := range append(sharedCases(s), s.Cases...) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			w := Start(t, c.Options)
			w.Check(t, s, c)
		})
	}
}

// Check runs c and checks exit code, output, token requests and secrets.
func (w *World) Check(t *testing.T, s Client, c Case) {
	t.Helper()
	user := w.Zitadel.Reader
	if c.User != nil {
		user = c.User(w.Zitadel)
	}
	env := w.Zitadel.Env(user, w.APIURL)
	if c.Prepare != nil {
		c.Prepare(t, w, env)
	}
	file := writeEnv(t, env)

	var stdout, stderr strings.Builder
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	args := append([]string{s.Name, "-env", file}, c.Args...)
	noEnv := func(string) string { return "" } // settings come from the file only
	code := config.Report(s.Run(ctx, args, noEnv, &stdout, &stderr), &stderr)
	out, errOut := stdout.String(), stderr.String()
	t.Logf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)

	if code != c.Code {
		t.Errorf("exit code %d, want %d", code, c.Code)
	}
	containsInOrder(t, "stdout", out, c.Stdout)
	containsInOrder(t, "stderr", errOut, c.Stderr)
	if code == config.ExitFailed && !oneErrorLine.MatchString(errOut) {
		t.Errorf("stderr is not one error line and one hint")
	}
	if code == config.ExitOK && len(c.Stderr) == 0 && errOut != "" {
		t.Errorf("a run that passes printed on stderr")
	}
	wantTokens := c.Tokens
	if !s.Grant {
		wantTokens = 0
	}
	if n := w.Zitadel.Stats().Token; n != wantTokens {
		t.Errorf("%d token requests, want %d", n, wantTokens)
	}

	if c.PrintsToken {
		w.checkPrintedToken(t, out, env)
		out = "" // the one place a token may be printed
	}
	w.noSecrets(t, out+errOut, env)
}

// checkPrintedToken checks that out is exactly a token and a newline, and
// that the API accepts the token.
func (w *World) checkPrintedToken(t *testing.T, out string, env map[string]string) {
	t.Helper()
	tok, ok := strings.CutSuffix(out, "\n")
	if !ok || tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		t.Fatalf("stdout is %q, want a token and a newline", out)
	}
	req, _ := http.NewRequest(http.MethodGet, w.APIURL+"/api/private", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the API answers the printed token with %d, want 200", resp.StatusCode)
	}
}

// noSecrets fails if output holds a secret or key of the World, a token
// the API received, a JWT (token, assertion, id token) or a PEM block.
func (w *World) noSecrets(t *testing.T, output string, env map[string]string) {
	t.Helper()
	z := w.Zitadel
	var secrets apiservertest.Secrets
	secrets.Add(z.BasicAPI.ClientSecret, z.AwkwardAPI.ClientSecret, z.OtherAPI.ClientSecret, env["CLIENT_SECRET"], env["PAT"], env["API_CLIENT_SECRET"])
	secrets.AddKeyFile(t, z.JWTAPI.KeyFile)
	for _, u := range []*localzitadel.ServiceUser{z.Reader, z.NoRole, z.JWTReader, z.Awkward} {
		secrets.Add(u.ClientSecret, u.PAT)
		secrets.AddKeyFile(t, u.KeyFile)
	}
	w.mu.Lock()
	for v := range w.secrets {
		secrets.Add(v)
	}
	w.mu.Unlock()
	secrets.CheckLogs(t, "the output", output)
}

// oneErrorLine is what a failed run prints on stderr: what went wrong, in
// one line, and what to check; after a warning about the settings, if any.
var oneErrorLine = regexp.MustCompile(`\A(warning: [^\n]+\n)?error: [^\n]+\nhint: [^\n]+\n\z`)

func containsInOrder(t *testing.T, name, got string, want []string) {
	t.Helper()
	rest := got
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Errorf("%s lacks %q (in this order)", name, w)
			return
		}
		rest = rest[i+len(w):]
	}
}

// writeEnv writes env as a .env file and returns its path.
func writeEnv(t *testing.T, env map[string]string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), ".env")
	if err := godotenv.Write(env, file); err != nil {
		t.Fatal(err)
	}
	return file
}
