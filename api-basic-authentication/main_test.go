package main

import (
	"os"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

var sample = apiservertest.API{
	Name:               "api-basic-authentication",
	Run:                run,
	CredentialSettings: []string{"API_CLIENT_ID", "API_CLIENT_SECRET"},
	BreakCredentials: func(_ *testing.T, env map[string]string) {
		env["API_CLIENT_SECRET"] = "not-the-secret"
	},
	// ZITADEL's secrets are letters and digits; one with ':+%&=/' and
	// 'ä' passes only when url-encoded (RFC 6749 §2.3.1).
	AwkwardCredentials: func(inst *localzitadel.Instance, env map[string]string) {
		env["API_CLIENT_ID"], env["API_CLIENT_SECRET"] = inst.AwkwardAPI.ClientID, inst.AwkwardAPI.ClientSecret
	},
}

func TestEndToEnd(t *testing.T) {
	apiservertest.Test(t, sample)
}

// TestLoad sends thousands of requests of every kind at once, with and
// without the cache: no wrong answer. api-jwt runs the guard's other tests.
func TestLoad(t *testing.T) {
	apiservertest.Load(t, sample, 1500)
}

// TestLoadHeavy is TestLoad with more requests, for more chances to meet a
// data race under -race; .ci/run runs it.
func TestLoadHeavy(t *testing.T) {
	requireE2E(t)
	apiservertest.Load(t, sample, 10_000)
}

// requireE2E skips a slow test unless E2E=1, so that `go test ./...` stays
// quick for a contributor. .ci/run sets E2E=1 for it.
func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv("E2E") != "1" {
		t.Skip("slow end-to-end test: run it with E2E=1")
	}
}
