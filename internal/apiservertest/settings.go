package apiservertest

import (
	"context"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"strings"
	"testing"
)

func (h *harness) testSettings(t *testing.T) {
	type change struct{ name, value, want string }
	changes := []change{
		{"ZITADEL_DOMAIN", "", "ZITADEL_DOMAIN is not set"},
		{"ZITADEL_DOMAIN", "my-instance.zitadel.cloud", "ZITADEL_DOMAIN must be a URL"},
		{"ZITADEL_INTROSPECTION_URL", "/oauth/v2/introspect", "ZITADEL_INTROSPECTION_URL must be a URL"},
		{"INTROSPECTION_CACHE_TTL", "forever", "INTROSPECTION_CACHE_TTL must be a duration"},
		{"INTROSPECTION_TIMEOUT", "-1s", "INTROSPECTION_TIMEOUT must be a duration"},
		// 0 is no timeout to a reader, and the cache TTL's 0 means off: neither may quietly be 5s.
		{"INTROSPECTION_TIMEOUT", "0", "INTROSPECTION_TIMEOUT must be a duration more than 0, like 5s, not \"0\" (unset it for the default 5s)"},
		{"PORT", "http", "PORT must be a port number"},
		{"TOKEN_VALIDATION", "jwks", "TOKEN_VALIDATION must be introspection or jwt"},
		{"INTROSPECTION_MAX_IN_FLIGHT", "0", "INTROSPECTION_MAX_IN_FLIGHT must be a number between 1 and 1000"},
		{"RESOURCE_URL", "api.example.com", "RESOURCE_URL must be a URL"},
		{"RESOURCE_URL", "https://api.example.com/v1", "RESOURCE_URL must be the API's URL without a path"},
		{"RESOURCE_URL", "https://api.example.com?", "RESOURCE_URL must be the API's URL without a path"},
		{"RESOURCE_URL", `https://api.example.com"x`, "RESOURCE_URL must be the API's URL without a path"},
	}
	for _, name := range h.sample.CredentialSettings {
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
			if code := config.Report(err, &printed); code != config.ExitConfig {
				t.Fatalf("exit code %d, want %d; err %v", code, config.ExitConfig, err)
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
		if code := config.Report(err, &printed); code != config.ExitConfig {
			t.Fatalf("exit code %d, want %d", code, config.ExitConfig)
		}
		for _, name := range append([]string{"ZITADEL_DOMAIN"}, h.sample.CredentialSettings...) {
			if !strings.Contains(printed.String(), name+" is not set") {
				t.Errorf("printed %q, want a line for %s", printed.String(), name)
			}
		}
	})

	t.Run("unknown flag", func(t *testing.T) {
		var stderr strings.Builder
		err := h.sample.Run(context.Background(), []string{h.sample.Name, "-nope"}, getenv(nil), &strings.Builder{}, &stderr)
		if code := config.Report(err, &strings.Builder{}); code != config.ExitConfig || !strings.Contains(stderr.String(), "-addr") {
			t.Fatalf("exit code %d, usage %q", code, stderr.String())
		}
	})
}
