package apiservertest

import (
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"strings"
	"testing"
)

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
