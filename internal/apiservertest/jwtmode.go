package apiservertest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// testJWTMode runs the sample with TOKEN_VALIDATION=jwt: JWTs pass without
// an introspection, opaque tokens and PATs are introspected as before, and a
// revoked JWT passes until its exp (the trade-off the README states).
func (h *harness) testJWTMode(t *testing.T) {
	inst := h.inst
	inst.ResetStats()
	api := h.start(t, "TOKEN_VALIDATION", "jwt")
	jwt := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{})

	t.Run("a JWT costs no introspection", func(t *testing.T) {
		h.repeat(t, 20, api, "/api/private", jwt, 200, privateMessage)
		h.wantIntrospections(t, 0)
		if keys := inst.Stats().Keys; keys != 1 {
			t.Fatalf("%d JWKS fetches, want 1 (at start-up)", keys)
		}
	})

	t.Run("a JWT without role claims: the scoped route introspects once", func(t *testing.T) {
		inst.ResetStats()
		h.repeat(t, 10, api, "/api/private-scoped", jwt, 200, scopedMessage)
		h.wantIntrospections(t, 1)
	})

	t.Run("a JWT with role claims: roles from the JWT, no introspection", func(t *testing.T) {
		scopes := []string{"openid", "urn:zitadel:iam:org:project:role:read:messages"}
		withRole := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{Scopes: scopes})
		inst.ResetStats()
		h.repeat(t, 10, api, "/api/private-scoped", withRole, 200, scopedMessage)
		h.wantIntrospections(t, 0)
	})

	t.Run("another project's roles never count: its app's JWT with this API's aud scope", func(t *testing.T) {
		// A JWT as ZITADEL issues it to an application of the other project
		// that asked for this API's aud scope and the role scope: aud holds
		// PROJECT_ID, the generic role claim and the merged
		// urn:zitadel:iam:org:projects:roles list read:messages of the other
		// project, and there is no role claim of PROJECT_ID
		// (docs/zitadel-on-the-wire.md, "Roles in a JWT").
		opts := localzitadel.TokenOptions{Scopes: []string{"openid", "urn:zitadel:iam:org:project:role:read:messages"}}
		foreign, err := inst.MintAppToken(inst.OtherAPI, inst.NoRole, opts)
		if err != nil {
			t.Fatal(err)
		}
		h.secrets.Add(foreign)
		inst.ResetStats()
		h.expect(t, api.Get(t, "/api/private", bearer(foreign)), 200, privateMessage)
		h.expect(t, api.Get(t, "/api/private-scoped", bearer(foreign)), 403, "insufficient_scope")
		h.wantIntrospections(t, 1) // the JWT said nothing of this project's roles: ZITADEL is asked
		introspecting := h.start(t)
		h.expect(t, introspecting.Get(t, "/api/private-scoped", bearer(foreign)), 403, "insufficient_scope")

		// The same shape with the role under this API's own project claim.
		own, err := inst.MintAppToken(inst.OtherAPI, inst.JWTReader, opts)
		if err != nil {
			t.Fatal(err)
		}
		h.secrets.Add(own)
		inst.ResetStats()
		h.expect(t, api.Get(t, "/api/private-scoped", bearer(own)), 200, scopedMessage)
		h.wantIntrospections(t, 0)
	})

	t.Run("opaque tokens and PATs are introspected", func(t *testing.T) {
		opaque := h.mint(t, inst.Reader, localzitadel.TokenOptions{})
		noRole := h.mint(t, inst.NoRole, localzitadel.TokenOptions{})
		inst.ResetStats()
		h.repeat(t, 5, api, "/api/private-scoped", opaque, 200, scopedMessage)
		h.repeat(t, 5, api, "/api/private-scoped", noRole, 403, "insufficient_scope")
		h.repeat(t, 5, api, "/api/private", inst.Reader.PAT, 200, privateMessage)
		h.wantIntrospections(t, 3)
	})

	t.Run("a JWT for another project or expired: 401, no introspection", func(t *testing.T) {
		other := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{ProjectIDs: []string{inst.OtherProjectID}})
		expired := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{Lifetime: -2 * time.Minute})
		inst.ResetStats()
		h.expect(t, api.Get(t, "/api/private", bearer(other)), 401, "invalid_token")
		h.expect(t, api.Get(t, "/api/private", bearer(expired)), 401, "invalid_token")
		h.wantIntrospections(t, 0)
	})

	t.Run("a revoked JWT passes until its exp, unless a route introspects", func(t *testing.T) {
		revoked := h.mint(t, inst.JWTReader, localzitadel.TokenOptions{})
		h.expect(t, api.Get(t, "/api/private", bearer(revoked)), 200, privateMessage)
		inst.Revoke(revoked)
		h.expect(t, api.Get(t, "/api/private", bearer(revoked)), 200, privateMessage)
		h.expect(t, api.Get(t, "/api/private-scoped", bearer(revoked)), 401, "invalid_token")
		introspecting := h.start(t)
		h.expect(t, introspecting.Get(t, "/api/private", bearer(revoked)), 401, "invalid_token")
	})

	t.Run("cache off: every request verifies, none introspects", func(t *testing.T) {
		uncached := h.start(t, "TOKEN_VALIDATION", "jwt", "INTROSPECTION_CACHE_TTL", "0")
		inst.ResetStats()
		h.repeat(t, 10, uncached, "/api/private", jwt, 200, privateMessage)
		h.wantIntrospections(t, 0)
	})

	t.Run("PROJECT_ID is required", func(t *testing.T) {
		env := h.env(inst, "TOKEN_VALIDATION", "jwt")
		delete(env, "PROJECT_ID")
		var printed strings.Builder
		err := h.sample.Run(context.Background(), []string{h.sample.Name, "-addr", "127.0.0.1:0", "-env", emptyEnvFile(t)},
			getenv(env), &strings.Builder{}, &strings.Builder{})
		if code := config.Report(err, &printed); code != config.ExitConfig || !strings.Contains(printed.String(), "PROJECT_ID is not set") {
			t.Fatalf("exit code %d, printed %q; want %d and a line about PROJECT_ID", code, printed.String(), config.ExitConfig)
		}
	})
}

// testResourceMetadata reads the API's protected resource metadata (RFC 9728)
// where a 401's or 403's challenge points, as a strict client does: the
// metadata of the route called, whose resource is the URL the client
// called (§3.3), by default from the request, and RESOURCE_URL's origin
// when it is set (an API behind a proxy that terminates TLS); and the
// origin-level document.
func (h *harness) testResourceMetadata(t *testing.T) {
	aud := "urn:zitadel:iam:org:project:id:" + h.inst.ProjectID + ":aud"
	for _, resourceURL := range []string{"", "https://api.example.com/"} {
		t.Run("RESOURCE_URL="+resourceURL, func(t *testing.T) {
			api := h.start(t, "RESOURCE_URL", resourceURL)
			origin := strings.TrimSuffix(cmp.Or(resourceURL, api.URL), "/")
			noRole := h.mint(t, h.inst.NoRole, localzitadel.TokenOptions{})
			for _, tc := range []struct {
				route, authorization string
				scopes               []string
			}{
				{"/api/private", "", []string{"openid", aud}},
				{"/api/private-scoped", bearer(noRole), []string{"openid", aud, "urn:zitadel:iam:org:project:role:read:messages"}},
			} {
				a := api.Get(t, tc.route, tc.authorization)
				want := `resource_metadata="` + origin + `/.well-known/oauth-protected-resource` + tc.route + `"`
				if challenge := a.Header.Get("WWW-Authenticate"); a.Status/100 != 4 || !strings.HasSuffix(challenge, want) {
					t.Fatalf("%s: %d, WWW-Authenticate %q does not end in %s", tc.route, a.Status, challenge, want)
				}
				// The metadata is where the API serves it, whatever its resource.
				h.wantMetadata(t, api.URL+"/.well-known/oauth-protected-resource"+tc.route, origin+tc.route, tc.scopes)
			}
			h.wantMetadata(t, api.URL+"/.well-known/oauth-protected-resource", origin, []string{"openid", aud})
		})
	}

	t.Run("without PROJECT_ID, no scopes_supported", func(t *testing.T) {
		env := h.env(h.inst)
		delete(env, "PROJECT_ID")
		api := Start(t, h.sample, env, h.secrets)
		h.wantMetadata(t, api.URL+"/.well-known/oauth-protected-resource/api/private", api.URL+"/api/private", nil)
	})

	t.Run("an HTTP/1.0 request without Host gets the address the API listens on", func(t *testing.T) {
		api := h.start(t)
		addr := strings.TrimPrefix(api.URL, "http://")
		for path, want := range map[string]string{
			"/api/private": `resource_metadata="` + api.URL + `/.well-known/oauth-protected-resource/api/private"`,
			"/.well-known/oauth-protected-resource/api/private": `"resource":"` + api.URL + `/api/private"`,
		} {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "GET %s HTTP/1.0\r\n\r\n", path)
			raw, err := io.ReadAll(conn)
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), want) || strings.Contains(string(raw), "http:///") {
				t.Errorf("GET %s HTTP/1.0 without Host answered:\n%s\nwant %s", path, raw, want)
			}
		}
	})

	t.Run("listening beyond loopback without RESOURCE_URL is logged", func(t *testing.T) {
		for addr, warned := range map[string]bool{"0.0.0.0:0": true, "127.0.0.1:0": false} {
			ctx, cancel := context.WithCancel(t.Context())
			stdout, ready := Listening()
			var stderr syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- h.sample.Run(ctx, []string{h.sample.Name, "-addr", addr, "-env", emptyEnvFile(t)}, getenv(h.env(h.inst)), stdout, &stderr)
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("%s: %v", addr, err)
			}
			cancel()
			<-done
			if got := strings.Contains(stderr.String(), "RESOURCE_URL is not set"); got != warned {
				t.Errorf("-addr %s: warning logged %v, want %v:\n%s", addr, got, warned, stderr.String())
			}
		}
	})
}

// wantMetadata fetches the resource metadata at url and checks what a
// client relies on; no scopes_supported when scopes is nil.
func (h *harness) wantMetadata(t *testing.T, url, resource string, scopes []string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		BearerMethods        []string `json:"bearer_methods_supported"`
		Scopes               []string `json:"scopes_supported"`
		ResourceName         string   `json:"resource_name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d, %v", url, resp.StatusCode, err)
	}
	if m.Resource != resource || !slices.Equal(m.AuthorizationServers, []string{h.inst.Issuer}) || !slices.Equal(m.BearerMethods, []string{"header"}) ||
		!slices.Equal(m.Scopes, scopes) || m.ResourceName != h.sample.Name {
		t.Fatalf("%s: metadata %+v, want resource %s, authorization_servers [%s], bearer_methods_supported [header], scopes_supported %v, resource_name %s",
			url, m, resource, h.inst.Issuer, scopes, h.sample.Name)
	}
}
