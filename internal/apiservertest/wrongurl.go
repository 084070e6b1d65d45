package apiservertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// testWrongIntrospectionURL: an introspection URL that answers 404, or
// redirects (to the real endpoint even), is a setting to fix: 500, and a
// log line that names the settings, with no empty error attributes.
func (h *harness) testWrongIntrospectionURL(t *testing.T) {
	token := h.mint(t, h.inst.Reader, localzitadel.TokenOptions{})
	for name, url := range map[string]string{
		"404":      h.inst.Issuer + "/oauth/v2/introspection",
		"redirect": redirectTo(t, h.inst.IntrospectionURL),
	} {
		t.Run(name, func(t *testing.T) {
			api := h.start(t, "ZITADEL_INTROSPECTION_URL", url, "INTROSPECTION_CACHE_TTL", "0")
			h.expect(t, api.Get(t, "/api/private", bearer(token)), 500, "server_error")
			var line string
			for _, l := range strings.Split(api.Logs(), "\n") {
				if strings.Contains(l, "level=ERROR") {
					line = l
				}
			}
			if !strings.Contains(line, "check ZITADEL_DOMAIN and ZITADEL_INTROSPECTION_URL") || strings.Contains(line, `=""`) {
				t.Errorf("log line %q: want one naming the settings, without empty attributes\n%s", line, api.Logs())
			}
		})
	}
}

// redirectTo is a server that answers every request with a redirect to url.
func redirectTo(t *testing.T, url string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, url, http.StatusFound)
	}))
	t.Cleanup(srv.Close) // after the API has stopped
	return srv.URL + "/oauth/v2/introspect"
}
