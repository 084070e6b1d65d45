package apiserver

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// load reads an API's settings from env alone, with an empty .env file.
func load(t *testing.T, env map[string]string) (Settings, error) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env["ZITADEL_DOMAIN"] = "https://my-instance.zitadel.cloud"
	s, e, err := LoadSettings("test-api", []string{"test-api", "-env", empty}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return s, e.Err()
}

// TestDurations: a cache lifetime of 0 turns the cache off; a timeout of 0
// is a problem (it would mean neither "wait forever" nor "not at all"
// clearly), and so is one below 0 or without a unit.
func TestDurations(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        time.Duration
		problem     string
	}{
		{"INTROSPECTION_CACHE_TTL", "", DefaultCacheTTL, ""},
		{"INTROSPECTION_CACHE_TTL", "0", 0, ""},
		{"INTROSPECTION_CACHE_TTL", "1m", time.Minute, ""},
		{"INTROSPECTION_CACHE_TTL", "soon", DefaultCacheTTL, `INTROSPECTION_CACHE_TTL must be a duration like 30s, 2m or 0, not "soon"`},
		{"INTROSPECTION_TIMEOUT", "", 5 * time.Second, ""},
		{"INTROSPECTION_TIMEOUT", "250ms", 250 * time.Millisecond, ""},
		{"INTROSPECTION_TIMEOUT", "0", 5 * time.Second, `INTROSPECTION_TIMEOUT must be a duration more than 0, like 5s, not "0" (unset it for the default 5s)`},
		{"INTROSPECTION_TIMEOUT", "0s", 5 * time.Second, "INTROSPECTION_TIMEOUT must be a duration more than 0"},
		{"INTROSPECTION_TIMEOUT", "-1s", 5 * time.Second, "INTROSPECTION_TIMEOUT must be a duration more than 0"},
		{"INTROSPECTION_TIMEOUT", "5", 5 * time.Second, "INTROSPECTION_TIMEOUT must be a duration more than 0"},
	} {
		s, err := load(t, map[string]string{tc.name: tc.value})
		got := s.CacheTTL
		if tc.name == "INTROSPECTION_TIMEOUT" {
			got = s.Timeout
		}
		if got != tc.want || (err != nil) != (tc.problem != "") || err != nil && !strings.Contains(err.Error(), tc.problem) {
			t.Errorf("%s=%q: %v, %v; want %v, problem %q", tc.name, tc.value, got, err, tc.want, tc.problem)
		}
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		addr        string
		maxInFlight int
		problem     string
	}{
		{"PORT", "", "localhost:5000", DefaultMaxInFlight, ""},
		{"PORT", "8000", "localhost:8000", DefaultMaxInFlight, ""},
		{"PORT", "99999", "localhost:5000", DefaultMaxInFlight, `PORT must be a port number between 1 and 65535, not "99999"`},
		{"INTROSPECTION_MAX_IN_FLIGHT", "2", "localhost:5000", 2, ""},
		{"INTROSPECTION_MAX_IN_FLIGHT", "0", "localhost:5000", DefaultMaxInFlight, `INTROSPECTION_MAX_IN_FLIGHT must be a number between 1 and 1000, not "0"`},
	} {
		s, err := load(t, map[string]string{tc.name: tc.value})
		if s.Addr != tc.addr || s.MaxInFlight != tc.maxInFlight || (err != nil) != (tc.problem != "") || err != nil && !strings.Contains(err.Error(), tc.problem) {
			t.Errorf("%s=%q: %s, %d, %v; want %s, %d, problem %q", tc.name, tc.value, s.Addr, s.MaxInFlight, err, tc.addr, tc.maxInFlight, tc.problem)
		}
	}
}
