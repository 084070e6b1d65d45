package apiservertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testDomainChecked: at start the API reads ZITADEL's discovery document
// once. A ZITADEL_DOMAIN that cannot be reached, or that is not the issuer
// ZITADEL names (localhost for 127.0.0.1), gets an ERROR naming it and what
// was found, while the API serves; the right one logs no error.
func (h *harness) testDomainChecked(t *testing.T) {
	issuer := h.inst.Issuer
	other := strings.Replace(issuer, "127.0.0.1", "localhost", 1)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct{ name, domain, want string }{
		{"the issuer", issuer, `level=INFO msg="ZITADEL_DOMAIN is the issuer ZITADEL names" issuer=` + issuer + "\n"},
		{"another issuer's name", other, `level=ERROR msg="ZITADEL_DOMAIN is not the issuer ZITADEL names: set ZITADEL_DOMAIN to that issuer exactly" ZITADEL_DOMAIN=` +
			other + ` issuer=` + issuer + "\n"},
		{"unreachable", closed.URL, `level=ERROR msg="cannot read ZITADEL's discovery document: check ZITADEL_DOMAIN, the instance's URL, and that ZITADEL is reachable from here" ZITADEL_DOMAIN=` +
			closed.URL + ` error="Get \"` + closed.URL + `/.well-known/openid-configuration\": dial tcp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := h.start(t, "ZITADEL_DOMAIN", tt.domain)
			logs := api.WaitForLog(t, tt.want)
			if tt.domain == issuer && strings.Contains(logs, "level=ERROR") {
				t.Errorf("an error with the right ZITADEL_DOMAIN:\n%s", logs)
			}
			h.expect(t, api.Get(t, "/api/public"), http.StatusOK, publicMessage)
		})
	}
}

// testIntrospectionHost: a ZITADEL_INTROSPECTION_URL on another host than
// ZITADEL_DOMAIN is said at start, in one line naming both; the default
// (the instance's own endpoint) is not.
func (h *harness) testIntrospectionHost(t *testing.T) {
	const line = "ZITADEL_INTROSPECTION_URL is on another host than ZITADEL_DOMAIN"
	elsewhere := strings.Replace(h.inst.IntrospectionURL, "127.0.0.1", "localhost", 1)
	logs := h.start(t, "ZITADEL_INTROSPECTION_URL", elsewhere).Logs()
	want := `level=WARN msg="` + line + `: tokens are introspected there; unset ZITADEL_INTROSPECTION_URL to use the instance's own endpoint" ZITADEL_INTROSPECTION_URL=` +
		elsewhere + " ZITADEL_DOMAIN=" + h.inst.Issuer + "\n"
	if !strings.Contains(logs, want) {
		t.Errorf("the log lacks\n%s\n%s", want, logs)
	}
	if logs := h.start(t, "ZITADEL_INTROSPECTION_URL", "").Logs(); strings.Contains(logs, line) {
		t.Errorf("warned with the default introspection URL:\n%s", logs)
	}
}
