package apiservertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// testMethods: a 405 names the methods of its route in Allow (RFC 9110
// §15.5.6), and HEAD of a GET route answers as GET does, without a body,
// as net/http's own ServeMux does.
func (h *harness) testMethods(t *testing.T) {
	s := h.start(t)
	token := "Bearer " + h.mint(t, h.inst.Reader, localzitadel.TokenOptions{})
	for _, tc := range []struct {
		method, path, authorization string
		status                      int
		allow, challenge            string
	}{
		{http.MethodPost, "/api/public", "", 405, "GET, HEAD", ""},
		{http.MethodDelete, "/api/private", token, 405, "GET, HEAD", ""},
		{http.MethodPut, "/api/private-scoped", "", 405, "GET, HEAD", ""},
		{http.MethodHead, "/api/public", "", 200, "", ""},
		{http.MethodHead, "/api/private", "", 401, "", fmt.Sprintf("Bearer realm=%q, resource_metadata=%q", h.sample.Name, s.URL+"/.well-known/oauth-protected-resource/api/private")},
		{http.MethodHead, "/api/private-scoped", token, 200, "", ""},
		{http.MethodHead, "/api/nothing-here", "", 404, "", ""},
	} {
		name := tc.method + " " + tc.path
		req, err := http.NewRequest(tc.method, s.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.authorization != "" {
			req.Header.Set("Authorization", tc.authorization)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, tc.status)
		}
		if got := resp.Header.Get("Allow"); got != tc.allow {
			t.Errorf("%s: Allow %q, want %q", name, got, tc.allow)
		}
		if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
			t.Errorf("%s: WWW-Authenticate %q, want %q", name, got, tc.challenge)
		}
		if tc.method == http.MethodHead {
			if len(raw) != 0 {
				t.Errorf("%s: a body of %d bytes", name, len(raw))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q, want application/json as for GET", name, ct)
			}
			continue
		}
		var body map[string]string
		if err := json.Unmarshal(raw, &body); err != nil || body["code"] != "method_not_allowed" || body["description"] != "The route answers GET, HEAD only." {
			t.Errorf("%s: body %q", name, raw)
		}
	}
}
