package apiservertest

import (
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"strings"
	"testing"
)

// testEveryTokenInactive: when every token is inactive from the start, as
// when the clients' tokens are for another project, the API says once in
// its log what to check, naming its credentials.
func (h *harness) testEveryTokenInactive(t *testing.T) {
	api := h.start(t)
	for range 12 {
		token := h.mint(t, h.inst.Reader, localzitadel.TokenOptions{ProjectIDs: []string{h.inst.OtherProjectID}})
		h.expect(t, api.Get(t, "/api/private", bearer(token)), 401, "invalid_token")
	}
	logs := api.Logs()
	if n := strings.Count(logs, "every token so far was inactive"); n != 1 {
		t.Fatalf("the warning appears %d times, want once:\n%s", n, logs)
	}
	for _, want := range append([]string{"urn:zitadel:iam:org:project:id:{projectId}:aud"}, h.sample.CredentialSettings...) {
		if !strings.Contains(logs, want) {
			t.Errorf("the warning lacks %q:\n%s", want, logs)
		}
	}
}

func (h *harness) testAwkwardCredentials(t *testing.T) {
	env := h.env(h.inst)
	h.sample.AwkwardCredentials(h.inst, env)
	api := Start(t, h.sample, env, h.secrets)
	token := h.mint(t, h.inst.Reader, localzitadel.TokenOptions{})
	h.expect(t, api.Get(t, "/api/private-scoped", bearer(token)), 200, scopedMessage)
}

func (h *harness) testCredentialsRejected(t *testing.T) {
	env := h.env(h.inst)
	h.sample.BreakCredentials(t, env)
	for _, name := range h.sample.CredentialSettings {
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
			for _, setting := range h.sample.CredentialSettings {
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
