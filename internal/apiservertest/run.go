package apiservertest

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// The answers of the three routes (DESIGN.md), repeated here on purpose: the
// test must fail if the server's copy changes.
const (
	publicMessage  = "Public route - You don't need to be authenticated to see this."
	privateMessage = "Private route - You need to be authenticated to see this."
	scopedMessage  = "Private, scoped route - You need to be authenticated and have the role read:messages to see this."
)

// Run runs every end-to-end test of an API sample against a local ZITADEL.
// The subtests share one issuer and read its request counts, so they run
// one after another.
func Run(t *testing.T, sample Sample) {
	secrets := &Secrets{}
	inst := newInstance(t, secrets, "")
	h := &harness{sample: sample, inst: inst, secrets: secrets}
	t.Run("routes", h.testRoutes)
	t.Run("malformed authorization", h.testMalformed)
	t.Run("cache", h.testCache)
	t.Run("issuer faults", h.testFaults)
	t.Run("rogue answers", h.testRogueAnswers)
	t.Run("outage under load", h.testOutage)
	t.Run("issuer stopped under load", h.testIssuerStopped)
	t.Run("credentials rejected", h.testCredentialsRejected)
	t.Run("settings", h.testSettings)
	t.Run("logs", h.testLogs)
}

type harness struct {
	sample  Sample
	inst    *localzitadel.Instance
	secrets *Secrets
}

// env returns the settings for the sample against inst, with changes
// (an empty value removes a setting).
func (h *harness) env(inst *localzitadel.Instance, changes ...string) map[string]string {
	env := maps.Clone(inst.Env(nil, ""))
	for i := 0; i+1 < len(changes); i += 2 {
		env[changes[i]] = changes[i+1]
	}
	return env
}

func (h *harness) start(t *testing.T, changes ...string) *Server {
	t.Helper()
	return Start(t, h.sample, h.env(h.inst, changes...), h.secrets)
}

// mint issues an access token and records it as a secret.
func (h *harness) mint(t *testing.T, u *localzitadel.ServiceUser, o localzitadel.TokenOptions) string {
	t.Helper()
	return h.mintAt(t, h.inst, u, o)
}

// mintAt is mint on another instance than the harness's.
func (h *harness) mintAt(t *testing.T, inst *localzitadel.Instance, u *localzitadel.ServiceUser, o localzitadel.TokenOptions) string {
	t.Helper()
	token, err := inst.MintToken(u, o)
	if err != nil {
		t.Fatal(err)
	}
	h.secrets.Add(token)
	return token
}

func bearer(token string) string { return "Bearer " + token }

// expect checks an answer with Answer.Check.
func (h *harness) expect(t *testing.T, got Answer, status int, want string) {
	t.Helper()
	if err := got.Check(h.sample.Name, status, want); err != nil {
		t.Fatal(err)
	}
}

// repeat sends n requests one after another and checks each answer.
func (h *harness) repeat(t *testing.T, n int, api *Server, path, token string, status int, want string) {
	t.Helper()
	for range n {
		h.expect(t, api.Get(t, path, bearer(token)), status, want)
	}
}

// wantIntrospections checks the introspections ZITADEL saw since ResetStats.
func (h *harness) wantIntrospections(t *testing.T, want int64) {
	t.Helper()
	if n := h.inst.Stats().Introspect; n != want {
		t.Fatalf("ZITADEL saw %d introspections, want %d", n, want)
	}
}

func (h *harness) testRoutes(t *testing.T) {
	inst := h.inst
	api := h.start(t)
	reader := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
	jwtReader := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{})
	noRole := h.mint(t, inst.NoRole, localzitadel.TokenOptions{})
	expired := h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: -time.Minute})
	otherProject := h.mint(t, inst.Reader, localzitadel.TokenOptions{ProjectIDs: []string{inst.OtherProjectID}})
	revoked := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
	inst.Revoke(revoked)
	if !strings.Contains(jwtReader, ".") || strings.Contains(reader, ".") {
		t.Fatalf("want one JWT and one opaque access token")
	}

	tests := []struct {
		name   string
		path   string
		token  string // "" sends no Authorization header
		status int
		want   string // message or error code
	}{
		{"public without token", "/api/public", "", 200, publicMessage},
		{"public with garbage token", "/api/public", "garbage", 200, publicMessage},
		{"private, opaque token", "/api/private", reader, 200, privateMessage},
		{"private, JWT access token", "/api/private", jwtReader, 200, privateMessage},
		{"private, user without role", "/api/private", noRole, 200, privateMessage},
		{"private, PAT", "/api/private", inst.Reader.PAT, 200, privateMessage},
		{"scoped, opaque token with role", "/api/private-scoped", reader, 200, scopedMessage},
		{"scoped, JWT access token with role", "/api/private-scoped", jwtReader, 200, scopedMessage},
		{"scoped, PAT with role", "/api/private-scoped", inst.Reader.PAT, 200, scopedMessage},
		{"scoped, user without role", "/api/private-scoped", noRole, 403, "insufficient_scope"},
		{"scoped, PAT without role", "/api/private-scoped", inst.NoRole.PAT, 403, "insufficient_scope"},
		{"private without token", "/api/private", "", 401, "missing_token"},
		{"scoped without token", "/api/private-scoped", "", 401, "missing_token"},
		{"private, garbage token", "/api/private", "garbage", 401, "invalid_token"},
		{"private, forged JWT", "/api/private", forge(jwtReader), 401, "invalid_token"},
		{"private, revoked token", "/api/private", revoked, 401, "invalid_token"},
		{"private, expired token", "/api/private", expired, 401, "invalid_token"},
		{"private, token for another project", "/api/private", otherProject, 401, "invalid_token"},
		{"scoped, token for another project", "/api/private-scoped", otherProject, 401, "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var auth []string
			if tt.token != "" {
				auth = []string{bearer(tt.token)}
			}
			h.expect(t, api.Get(t, tt.path, auth...), tt.status, tt.want)
		})
	}

	t.Run("revoked after use, once the cache entry is gone", func(t *testing.T) {
		api := h.start(t, "INTROSPECTION_CACHE_TTL", "0")
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		inst.Revoke(token)
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 401, "invalid_token")
	})
}

// forge changes a character inside a JWT's signature. Not the last one: its
// low bits are padding, which a base64 decoder may ignore.
func forge(jwt string) string {
	i := len(jwt) - 10
	c := byte('A')
	if jwt[i] == 'A' {
		c = 'B'
	}
	return jwt[:i] + string(c) + jwt[i+1:]
}

func (h *harness) testMalformed(t *testing.T) {
	api := h.start(t)
	token := h.mint(t, h.inst.Reader, localzitadel.TokenOptions{})
	tests := []struct {
		name   string
		values []string
	}{
		{"Basic scheme", []string{"Basic dXNlcjpwYXNz"}},
		{"token without scheme", []string{token}},
		{"Bearer without token", []string{"Bearer"}},
		{"Bearer with blanks only", []string{"Bearer   "}},
		{"two tokens", []string{bearer(token) + " " + token}},
		{"two Authorization headers", []string{bearer(token), bearer(token)}},
		{"not a bearer token", []string{`Bearer a"b`}},
		{"header over 8 KiB", []string{bearer(strings.Repeat("a", 8<<10))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.inst.ResetStats()
			for _, path := range []string{"/api/private", "/api/private-scoped"} {
				h.expect(t, api.Get(t, path, tt.values...), 400, "invalid_request")
			}
			h.wantIntrospections(t, 0)
		})
	}
}

func (h *harness) testCache(t *testing.T) {
	inst := h.inst
	api := h.start(t)

	t.Run("100 sequential requests, 1 introspection", func(t *testing.T) {
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.ResetStats()
		h.repeat(t, 100, api, "/api/private-scoped", token, 200, scopedMessage)
		h.wantIntrospections(t, 1)
	})

	t.Run("50 concurrent requests with a fresh token, 1 introspection", func(t *testing.T) {
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.ResetStats()
		// A slow ZITADEL makes sure the requests overlap.
		inst.SetFault(localzitadel.Fault{Delay: 300 * time.Millisecond})
		defer inst.SetFault(localzitadel.Fault{})
		answers := make([]Answer, 50)
		errs := make([]error, 50)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() { answers[i], errs[i] = api.Do("/api/private", bearer(token)) })
		}
		wg.Wait()
		for i := range 50 {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			h.expect(t, answers[i], 200, privateMessage)
		}
		h.wantIntrospections(t, 1)
	})

	t.Run("inactive answers are cached briefly", func(t *testing.T) {
		inst.ResetStats()
		h.repeat(t, 10, api, "/api/private", "unknown-token", 401, "invalid_token")
		h.wantIntrospections(t, 1)
	})

	t.Run("TTL 0: every request introspects", func(t *testing.T) {
		uncached := h.start(t, "INTROSPECTION_CACHE_TTL", "0")
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		inst.ResetStats()
		h.repeat(t, 10, uncached, "/api/private", token, 200, privateMessage)
		h.wantIntrospections(t, 10)
	})

	t.Run("an entry never outlives the token, even with a long TTL", func(t *testing.T) {
		api := h.start(t, "INTROSPECTION_CACHE_TTL", "1h")
		const lifetime = 1500 * time.Millisecond
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: lifetime})
		minted := time.Now()
		inst.ResetStats()
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		time.Sleep(time.Until(minted.Add(lifetime + 100*time.Millisecond)))
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 401, "invalid_token")
		h.wantIntrospections(t, 2)
	})

	t.Run("with TTL, a revoked token passes until its entry expires", func(t *testing.T) {
		api := h.start(t, "INTROSPECTION_CACHE_TTL", "1s")
		token := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		inst.Revoke(token)
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 200, privateMessage)
		time.Sleep(1100 * time.Millisecond)
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 401, "invalid_token")
	})
}

func (h *harness) testCredentialsRejected(t *testing.T) {
	env := h.env(h.inst)
	h.sample.BreakCredentials(t, env)
	for _, name := range h.sample.Credentials {
		if strings.HasSuffix(name, "_FILE") {
			h.secrets.AddKeyFile(t, env[name])
		} else {
			h.secrets.Add(env[name])
		}
	}
	api := Start(t, h.sample, env, h.secrets)
	token := h.mint(t, h.inst.Reader, localzitadel.TokenOptions{})
	h.expect(t, api.Get(t, "/api/private", bearer(token)), 500, "server_error")
	h.expect(t, api.Get(t, "/api/public"), 200, publicMessage)
	lines := 0
	for _, line := range strings.Split(api.Logs(), "\n") {
		if strings.Contains(line, "rejected the API's credentials") {
			lines++
			for _, setting := range h.sample.Credentials {
				if !strings.Contains(line, setting) {
					t.Errorf("log line does not name %s: %s", setting, line)
				}
			}
		}
	}
	if lines != 1 {
		t.Fatalf("%d log lines about the rejected credentials, want 1:\n%s", lines, api.Logs())
	}
}

func (h *harness) testSettings(t *testing.T) {
	type change struct{ name, value, want string }
	changes := []change{
		{"ZITADEL_DOMAIN", "", "ZITADEL_DOMAIN is not set"},
		{"ZITADEL_DOMAIN", "my-instance.zitadel.cloud", "ZITADEL_DOMAIN must be a URL"},
		{"ZITADEL_INTROSPECTION_URL", "/oauth/v2/introspect", "ZITADEL_INTROSPECTION_URL must be a URL"},
		{"INTROSPECTION_CACHE_TTL", "forever", "INTROSPECTION_CACHE_TTL must be a duration"},
		{"INTROSPECTION_TIMEOUT", "-1s", "INTROSPECTION_TIMEOUT must be a duration"},
		{"PORT", "http", "PORT must be a port number"},
	}
	for _, name := range h.sample.Credentials {
		changes = append(changes, change{name, "", name + " is not set"})
		if strings.HasSuffix(name, "_FILE") {
			changes = append(changes,
				change{name, "/nonexistent/key.json", name + ": key file /nonexistent/key.json does not exist"},
				change{name, h.inst.Reader.KeyFile, name + ": key file " + h.inst.Reader.KeyFile + `: field "type"`})
		}
	}
	for _, c := range changes {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			env := h.env(h.inst, c.name, c.value)
			args := []string{h.sample.Name, "-env", emptyEnvFile(t)}
			if c.name != "PORT" {
				args = append(args, "-addr", "127.0.0.1:0")
			}
			var stdout, stderr strings.Builder
			err := h.sample.Run(context.Background(), args, getenv(env), &stdout, &stderr)
			var printed strings.Builder
			if code := cli.ExitCode(err, &printed); code != cli.ExitConfig {
				t.Fatalf("exit code %d, want %d; err %v", code, cli.ExitConfig, err)
			}
			if !strings.Contains(printed.String(), c.want) {
				t.Fatalf("printed %q, want a line with %q", printed.String(), c.want)
			}
			if stdout.Len() > 0 {
				t.Fatalf("stdout %q: the port must not be opened", stdout.String())
			}
		})
	}

	t.Run("every problem at once", func(t *testing.T) {
		var printed strings.Builder
		err := h.sample.Run(context.Background(), []string{h.sample.Name, "-env", emptyEnvFile(t)}, getenv(nil), &strings.Builder{}, &strings.Builder{})
		if code := cli.ExitCode(err, &printed); code != cli.ExitConfig {
			t.Fatalf("exit code %d, want %d", code, cli.ExitConfig)
		}
		for _, name := range append([]string{"ZITADEL_DOMAIN"}, h.sample.Credentials...) {
			if !strings.Contains(printed.String(), name+" is not set") {
				t.Errorf("printed %q, want a line for %s", printed.String(), name)
			}
		}
	})

	t.Run("unknown flag", func(t *testing.T) {
		var stderr strings.Builder
		err := h.sample.Run(context.Background(), []string{h.sample.Name, "-nope"}, getenv(nil), &strings.Builder{}, &stderr)
		if code := cli.ExitCode(err, &strings.Builder{}); code != cli.ExitConfig || !strings.Contains(stderr.String(), "-addr") {
			t.Fatalf("exit code %d, usage %q", code, stderr.String())
		}
	})
}

func (h *harness) testLogs(t *testing.T) {
	inst := h.inst
	api := h.start(t, "INTROSPECTION_CACHE_TTL", "0")
	// Every kind of token and answer, including ZITADEL failing.
	tokens := []string{
		h.mint(t, inst.Reader, localzitadel.TokenOptions{}),
		h.mint(t, inst.JWTReader, localzitadel.TokenOptions{}),
		h.mint(t, inst.NoRole, localzitadel.TokenOptions{}),
		h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: -time.Minute}),
		inst.Reader.PAT,
		"garbage",
	}
	for _, token := range tokens {
		for _, path := range []string{"/api/public", "/api/private", "/api/private-scoped", "/api/private?access_token=" + token} {
			api.Get(t, path, bearer(token))
		}
		api.Get(t, "/api/private", "Basic "+token)
		api.Get(t, "/api/private", bearer(token)+" "+token)
	}
	inst.SetFault(localzitadel.Fault{Status: 500, ContentType: "text/html", Body: "<html>down</html>"})
	api.Get(t, "/api/private", bearer(tokens[0]))
	inst.SetFault(localzitadel.Fault{})

	if err := api.Stop(); err != nil {
		t.Fatal(err)
	}
	logs := api.Logs()
	for _, want := range []string{"listening", "method=GET", "path=/api/private-scoped", "status=403", "duration=", "stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "access_token") {
		t.Errorf("logs show a query string:\n%s", logs)
	}
	h.secrets.CheckLogs(t, h.sample.Name, logs)
}
