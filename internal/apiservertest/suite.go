package apiservertest

import (
	"maps"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// The answers of the three routes (the original samples'), repeated here on purpose: the
// test must fail if the server's copy changes.
const (
	publicMessage  = "Public route - You don't need to be authenticated to see this."
	privateMessage = "Private route - You need to be authenticated to see this."
	scopedMessage  = "Private, scoped route - You need to be authenticated and have the role read:messages to see this."
)

// Test runs the end-to-end tests of an API sample against a local ZITADEL:
// the answers of its routes, ZITADEL rejecting its credentials, its
// settings, and its logs. The subtests share one issuer and read its
// request counts, so they run one after another.
func Test(t *testing.T, sample API) {
	h := newHarness(t, sample)
	t.Run("answers", h.testAnswers)
	t.Run("methods", h.testMethods)
	t.Run("credentials rejected", h.testCredentialsRejected)
	t.Run("every token inactive", h.testEveryTokenInactive)
	if sample.AwkwardCredentials != nil {
		t.Run("credentials that must be url-encoded", h.testAwkwardCredentials)
	}
	t.Run("settings", h.testSettings)
	t.Run("logs", h.testLogs)
	t.Run("jwt mode", h.testJWTMode)
	t.Run("resource metadata", h.testResourceMetadata)
	t.Run("ZITADEL_DOMAIN checked at start", h.testDomainChecked)
	t.Run("introspection URL on another host", h.testIntrospectionHost)
}

// TestGuard runs the tests that do not depend on a sample's method, on one
// sample (api-jwt's tests call it; api-basic-authentication's run Load):
// malformed headers, the cache, and ZITADEL failing, slow, rogue or stopped,
// and the bound on what reaches it.
func TestGuard(t *testing.T, sample API) {
	h := newHarness(t, sample)
	t.Run("malformed authorization", h.testMalformed)
	t.Run("cache", h.testCache)
	t.Run("issuer faults", h.testFaults)
	t.Run("rogue answers", h.testRogueAnswers)
	t.Run("wrong introspection URL", h.testWrongIntrospectionURL)
	t.Run("outage under load", h.testOutage)
	t.Run("issuer stopped under load", h.testIssuerStopped)
	t.Run("bound on what reaches ZITADEL", h.testBound)
}

func newHarness(t *testing.T, sample API) *harness {
	secrets := &Secrets{}
	return &harness{sample: sample, inst: newInstance(t, secrets, ""), secrets: secrets}
}

type harness struct {
	sample  API
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
