package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/clienttest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// TestNoSecretInAnyOutput runs the five samples as processes, in every mode
// and through every failure this repository knows, and then fails if any
// output or log shows a secret: a client secret, a PAT, a line of a private
// key, anything shaped like a JWT (an access token, a client or grant
// assertion), or an access token of the run. The one exception is the stdout
// of -print-token, which must be the token and a newline, nothing else.
func TestNoSecretInAnyOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the five samples")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	root, err := moduleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := buildSamples(ctx, root, bin); err != nil {
		t.Fatal(err)
	}

	r := &secretsRun{ctx: ctx, bin: bin, outputs: map[string]string{}}
	r.z, err = localzitadel.Start(ctx, localzitadel.Options{Dir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&r.issuerLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.z.Close()
	r.recordSecrets(t)

	apis := r.startAPIs(t)
	r.callAPIs(t, apis)
	r.runClients(t, apis)
	r.issuerStopped(t, apis)
	for _, api := range apis.all() {
		api.stop()
		r.outputs[api.name+" log"] = api.stderr.String()
	}
	r.outputs["local ZITADEL log"] = r.issuerLog.String()
	r.sent.Range(func(tok, _ any) bool {
		r.secrets.Add(tok.(string))
		return true
	})

	for name, out := range r.outputs {
		r.secrets.CheckLogs(t, name, out)
		if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
			t.Errorf("%s panicked:\n%s", name, out)
		}
	}
}

// secretsRun is one run of every program against one local ZITADEL.
type secretsRun struct {
	ctx       context.Context
	bin       string
	z         *localzitadel.Instance
	issuerLog lockedBuffer
	secrets   apiservertest.Secrets
	outputs   map[string]string // what each run printed, by a name that says which run
	sent      sync.Map          // the bearer tokens the clients sent, as keys
}

// recordSecrets records what the local ZITADEL provisioned.
func (r *secretsRun) recordSecrets(t *testing.T) {
	z := r.z
	r.secrets.Add(z.BasicAPI.ClientSecret, z.AwkwardAPI.ClientSecret, z.OtherAPI.ClientSecret,
		base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(z.BasicAPI.ClientID)+":"+url.QueryEscape(z.BasicAPI.ClientSecret))))
	r.secrets.AddKeyFile(t, z.JWTAPI.KeyFile)
	for _, u := range []*localzitadel.ServiceUser{z.Reader, z.NoRole, z.JWTReader, z.Awkward} {
		r.secrets.Add(u.ClientSecret, u.PAT)
		r.secrets.AddKeyFile(t, u.KeyFile)
	}
}

// mint issues an access token for u and records it.
func (r *secretsRun) mint(t *testing.T, u *localzitadel.ServiceUser, o localzitadel.TokenOptions) string {
	t.Helper()
	tok, err := r.z.MintToken(u, o)
	if err != nil {
		t.Fatal(err)
	}
	r.secrets.Add(tok)
	return tok
}

// The API processes: each sample as configured, and each with credentials
// ZITADEL rejects (the 500 path). The clients reach the good ones through
// a proxy that records every bearer token they send.
type secretsAPIs struct {
	jwt, basic, jwtWrongKey, basicWrongSecret *apiProcess
	jwtProxy, basicProxy                      string
}

func (a *secretsAPIs) all() []*apiProcess {
	return []*apiProcess{a.jwt, a.basic, a.jwtWrongKey, a.basicWrongSecret}
}

func (r *secretsRun) startAPIs(t *testing.T) *secretsAPIs {
	foreignKey := apiservertest.ForeignKeyFile(t, r.z.JWTAPI.KeyFile)
	r.secrets.AddKeyFile(t, foreignKey)
	wrongSecret := r.secret("wrong-api-secret-of-the-secrets-test")
	a := &secretsAPIs{
		jwt:              r.startAPI(t, "api-jwt"),
		basic:            r.startAPI(t, "api-basic-authentication"),
		jwtWrongKey:      r.startAPI(t, "api-jwt", "API_PRIVATE_KEY_FILE="+foreignKey),
		basicWrongSecret: r.startAPI(t, "api-basic-authentication", "API_CLIENT_SECRET="+wrongSecret),
	}
	a.jwtProxy = r.recordingProxy(t, a.jwt.url)
	a.basicProxy = r.recordingProxy(t, a.basic.url)
	return a
}

func (r *secretsRun) startAPI(t *testing.T, name string, env ...string) *apiProcess {
	t.Helper()
	p, err := startAPI(r.ctx, r.bin, name, r.z.EnvFile, env...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	if len(env) > 0 {
		p.name += " with " + strings.SplitN(env[0], "=", 2)[0] + " wrong"
	}
	return p
}

// secret records v, a value of the test that no output may show.
func (r *secretsRun) secret(v string) string {
	r.secrets.Add(v)
	return v
}

// recordingProxy returns the URL of a proxy to target that records every
// bearer token it forwards in r.sent: the tokens the clients got for
// themselves.
func (r *secretsRun) recordingProxy(t *testing.T, target string) string {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			r.sent.Store(tok, true)
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// apiRequest is a request to an API and the statuses it must get on
// /api/private and /api/private-scoped; 0 accepts any answer.
type apiRequest struct {
	name            string
	authorization   string
	private, scoped int
}

// callAPIs sends valid, role-less, revoked, expired, garbage and malformed
// tokens to both APIs, and a valid and a garbage one to the APIs whose
// credentials ZITADEL rejects.
func (r *secretsRun) callAPIs(t *testing.T, apis *secretsAPIs) {
	z := r.z
	reader := r.mint(t, z.Reader, localzitadel.TokenOptions{})
	revoked := r.mint(t, z.Reader, localzitadel.TokenOptions{})
	z.Revoke(revoked)
	garbage := r.secret("garbage-token-of-the-secrets-test")
	good := []apiRequest{
		{"no token", "", 401, 401},
		{"opaque token with role", "Bearer " + reader, 200, 200},
		{"JWT with role", "Bearer " + r.mint(t, z.JWTReader, localzitadel.TokenOptions{}), 200, 200},
		{"token without role", "Bearer " + r.mint(t, z.NoRole, localzitadel.TokenOptions{}), 200, 403},
		{"PAT", "Bearer " + z.Reader.PAT, 200, 200},
		{"revoked token", "Bearer " + revoked, 401, 401},
		{"expired token", "Bearer " + r.mint(t, z.Reader, localzitadel.TokenOptions{Lifetime: -time.Minute}), 401, 401},
		{"token for another project", "Bearer " + r.mint(t, z.Reader, localzitadel.TokenOptions{ProjectIDs: []string{z.OtherProjectID}}), 401, 401},
		{"garbage token", "Bearer " + garbage, 401, 401},
		{"the API's own Basic credentials", "Basic " + r.secret(base64.StdEncoding.EncodeToString([]byte(z.BasicAPI.ClientID+":"+z.BasicAPI.ClientSecret))), 400, 400},
		{"token and more", "Bearer " + reader + " " + garbage, 0, 0},
		{"lower-case scheme", "bearer " + reader, 0, 0},
		{"scheme only", "Bearer", 0, 0},
		{"token too long", "Bearer " + strings.Repeat(reader, 400), 0, 0},
	}
	bad := []apiRequest{
		{"opaque token with role", "Bearer " + reader, 500, 500},
		{"garbage token", "Bearer " + garbage, 0, 0},
	}
	for _, c := range []struct {
		api      *apiProcess
		requests []apiRequest
	}{{apis.jwt, good}, {apis.basic, good}, {apis.jwtWrongKey, bad}, {apis.basicWrongSecret, bad}} {
		for _, req := range c.requests {
			r.expect(t, c.api, req)
		}
	}
}

func (r *secretsRun) expect(t *testing.T, api *apiProcess, req apiRequest) {
	t.Helper()
	for route, want := range map[string]int{"/api/private": req.private, "/api/private-scoped": req.scoped} {
		status, _, err := get(r.ctx, api.url+route, req.authorization)
		if err != nil {
			t.Errorf("%s, %s, %s: %v", api.name, route, req.name, err)
		} else if want != 0 && status != want {
			t.Errorf("%s, %s, %s: status %d, want %d", api.name, route, req.name, status, want)
		}
	}
}

// A clientCase is one run of a client sample.
type clientCase struct {
	what   string // the run's circumstances, for its name
	sample string
	user   *localzitadel.ServiceUser
	args   []string
	env    []string // settings that win over the user's .env
	code   int
}

// runClients runs each client in each mode for each of its users, and
// through its failures while ZITADEL is up.
func (r *secretsRun) runClients(t *testing.T, apis *secretsAPIs) {
	z := r.z
	apiURL := "API_BASE_URL=" + apis.jwtProxy
	var cases []clientCase
	for _, sample := range []string{"service-user-jwt", "service-user-client-credentials", "service-user-pat"} {
		users := []*localzitadel.ServiceUser{z.Reader, z.NoRole, z.JWTReader}
		if sample == "service-user-pat" {
			users = users[:2] // the JWTReader's PAT is revoked below
		}
		for _, u := range users {
			for _, mode := range [][]string{nil, {"-json"}, {"-print-token"}} {
				cases = append(cases, clientCase{"api-jwt", sample, u, mode, []string{apiURL}, 0})
			}
		}
		cases = append(cases,
			clientCase{"api-basic-authentication", sample, z.Reader, nil, []string{"API_BASE_URL=" + apis.basicProxy}, 0},
			clientCase{"API down", sample, z.Reader, nil, []string{"API_BASE_URL=" + clienttest.ClosedURL(t)}, 1})
	}
	cases = append(cases,
		clientCase{"wrong secret", "service-user-client-credentials", z.Reader, nil, []string{apiURL, "CLIENT_SECRET=" + r.secret("wrong-client-secret-of-the-secrets-test")}, 1},
		clientCase{"key file of the API", "service-user-jwt", z.Reader, nil, []string{apiURL, "CLIENT_PRIVATE_KEY_FILE_PATH=" + z.JWTAPI.KeyFile}, 2},
		clientCase{"key ZITADEL does not know", "service-user-jwt", z.Reader, nil, []string{apiURL, "CLIENT_PRIVATE_KEY_FILE_PATH=" + r.foreignKey(t, z.Reader.KeyFile)}, 1},
	)
	for _, c := range cases {
		r.runClient(t, c)
	}

	z.Revoke(z.JWTReader.PAT)
	r.runClient(t, clientCase{"PAT revoked", "service-user-pat", z.JWTReader, nil, []string{apiURL}, 1})

	// ZITADEL's answer to most assertions it cannot verify (see
	// tokensource); for the PAT, the API's introspection fails: 503.
	z.SetFault(localzitadel.Fault{Status: http.StatusInternalServerError, ContentType: "application/json",
		Body: `{"error":"server_error","error_description":"Errors.Internal"}`})
	for _, sample := range []string{"service-user-jwt", "service-user-client-credentials", "service-user-pat"} {
		r.runClient(t, clientCase{"ZITADEL answers 500", sample, z.NoRole, nil, []string{"API_BASE_URL=" + apis.basicProxy}, 1})
	}
	z.SetFault(localzitadel.Fault{})
}

// issuerStopped stops ZITADEL: every API answers a token it has not seen
// with 503, and every client fails.
func (r *secretsRun) issuerStopped(t *testing.T, apis *secretsAPIs) {
	fresh := map[*apiProcess]string{}
	for _, api := range apis.all() {
		fresh[api] = "Bearer " + r.mint(t, r.z.Reader, localzitadel.TokenOptions{})
	}
	if err := r.z.Close(); err != nil {
		t.Fatal(err)
	}
	for _, api := range apis.all() {
		r.expect(t, api, apiRequest{"ZITADEL stopped", fresh[api], 503, 503})
	}
	// api-basic-authentication has not cached the NoRole user's PAT: its
	// one introspection of it failed, and failures are not cached.
	for _, sample := range []string{"service-user-jwt", "service-user-client-credentials", "service-user-pat"} {
		r.runClient(t, clientCase{"ZITADEL stopped", sample, r.z.NoRole, nil, []string{"API_BASE_URL=" + apis.basicProxy}, 1})
	}
}

func (r *secretsRun) foreignKey(t *testing.T, path string) string {
	foreign := apiservertest.ForeignKeyFile(t, path)
	r.secrets.AddKeyFile(t, foreign)
	return foreign
}

// runClient runs c, checks its exit code and records its output; the
// token that -print-token prints becomes a secret of the run.
func (r *secretsRun) runClient(t *testing.T, c clientCase) {
	t.Helper()
	envFile, err := r.z.WriteEnv(strings.ReplaceAll(c.user.UserName, "/", "_")+".env", c.user, "http://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Join(append([]string{c.sample}, c.args...), " ") + " as " + c.user.UserName + ", " + c.what
	if _, dup := r.outputs[name+" stderr"]; dup {
		t.Fatalf("two runs named %q", name)
	}
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(r.bin, c.sample), append([]string{"-env", envFile}, c.args...)...)
	cmd.Env = childEnv(c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil && !errors.As(err, new(*exec.ExitError)) {
		t.Fatalf("%s: %v", name, err)
	}
	if code := cmd.ProcessState.ExitCode(); code != c.code {
		t.Errorf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", name, code, c.code, stdout.String(), stderr.String())
	}
	r.outputs[name+" stderr"] = stderr.String()
	if len(c.args) == 0 || c.args[0] != "-print-token" {
		r.outputs[name+" stdout"] = stdout.String()
		return
	}
	tok, ok := strings.CutSuffix(stdout.String(), "\n")
	if !ok || tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		t.Errorf("%s: stdout is %q, want a token and a newline", name, stdout.String())
	}
	r.secrets.Add(tok)
}
