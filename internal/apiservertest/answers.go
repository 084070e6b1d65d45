package apiservertest

import (
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"strings"
	"testing"
	"time"
)

func (h *harness) testAnswers(t *testing.T) {
	inst := h.inst
	api := h.start(t)
	reader := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
	jwtReader := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{})
	noRole := h.mint(t, inst.NoRole, localzitadel.TokenOptions{})
	expired := h.mint(t, inst.Reader, localzitadel.TokenOptions{Lifetime: -time.Minute})
	otherProject := h.mint(t, inst.Reader, localzitadel.TokenOptions{ProjectIDs: []string{inst.OtherProjectID}})
	revoked := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
	inst.Revoke(revoked)
	// A JWS has three parts; current ZITADEL's opaque tokens are JWEs, five.
	if strings.Count(jwtReader, ".") != 2 || strings.Count(reader, ".") != 4 {
		t.Fatalf("want one JWT and one JWE-shaped opaque access token")
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
