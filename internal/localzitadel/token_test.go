package localzitadel

import (
	"fmt"
	"github.com/golang-jwt/jwt/v5"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The JWT bearer grant (RFC 7523 §2.1): a failing assertion is current
// ZITADEL's 500 server_error "Errors.Internal" (token_jwt_profile.go,
// error.go), or 400 invalid_grant with Options.LegacyJWTGrantErrors.
func TestJWTBearerGrant(t *testing.T) {
	t.Run("current", func(t *testing.T) { testJWTBearerGrant(t, false) })
	t.Run("legacy errors", func(t *testing.T) { testJWTBearerGrant(t, true) })
}

func testJWTBearerGrant(t *testing.T, legacy bool) {
	z, err := Start(t.Context(), Options{LegacyJWTGrantErrors: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	other := startInstance(t)
	wantGrantError := func(t *testing.T, r response) {
		t.Helper()
		if legacy {
			wantError(t, r, 400, "invalid_grant")
			return
		}
		wantError(t, r, 500, "server_error")
		if d := r.str(t, "error_description"); d != "Errors.Internal" {
			t.Errorf("error_description = %q, want Errors.Internal", d)
		}
	}
	kf := readKeyFile(t, z.Reader.KeyFile)
	noRole := readKeyFile(t, z.NoRole.KeyFile)
	scope := scopeFor(z.ProjectID)
	now := time.Now()

	valid := func(edit func(*assertionClaims)) assertionClaims {
		c := assertionClaims{kid: kf.KeyID, iss: kf.UserID, sub: kf.UserID, aud: []string{z.Issuer}}
		edit(&c)
		return c
	}
	for _, tc := range []struct {
		name   string
		claims assertionClaims
		key    *keyFile // nil: the user's own key
		status int
	}{
		{"valid", valid(func(c *assertionClaims) {}), nil, 200},
		{"aud with other entries", valid(func(c *assertionClaims) { c.aud = []string{"https://example.com", z.Issuer} }), nil, 200},
		{"lifetime of an hour, as the original sample", valid(func(c *assertionClaims) { c.exp = now.Add(time.Hour) }), nil, 200},
		{"issued 59 minutes ago", valid(func(c *assertionClaims) { c.iat = now.Add(-59 * time.Minute) }), nil, 200},
		{"unknown kid", valid(func(c *assertionClaims) { c.kid = "123456789012345678" }), nil, 400},
		{"missing kid", valid(func(c *assertionClaims) { c.omitKID = true }), nil, 400},
		{"kid of another user's key", valid(func(c *assertionClaims) { c.kid = noRole.KeyID }), nil, 400},
		{"bad signature", valid(func(c *assertionClaims) {}), &noRole, 400},
		{"expired", valid(func(c *assertionClaims) { c.iat, c.exp = now.Add(-10*time.Minute), now.Add(-time.Second) }), nil, 400},
		{"issued more than an hour ago", valid(func(c *assertionClaims) { c.iat = now.Add(-61 * time.Minute) }), nil, 400},
		{"issued in the future", valid(func(c *assertionClaims) { c.iat = now.Add(time.Minute) }), nil, 400},
		{"wrong aud", valid(func(c *assertionClaims) { c.aud = []string{other.Issuer} }), nil, 400},
		{"aud with trailing slash", valid(func(c *assertionClaims) { c.aud = []string{z.Issuer + "/"} }), nil, 400},
		{"aud is the token URL", valid(func(c *assertionClaims) { c.aud = []string{z.TokenURL} }), nil, 400},
		{"sub is not iss", valid(func(c *assertionClaims) { c.sub = z.NoRole.UserID }), nil, 400},
		{"iss is the user name", valid(func(c *assertionClaims) { c.iss, c.sub = z.Reader.UserName, z.Reader.UserName }), nil, 400},
		{"user of another instance", assertionClaims{kid: other.Reader.KeyID, iss: other.Reader.UserID, sub: other.Reader.UserID, aud: []string{z.Issuer}}, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := kf.private
			if tc.key != nil {
				key = tc.key.private
			}
			r := jwtGrant(t, z, signAssertion(t, key, tc.claims), scope)
			if tc.status == 200 {
				if r.status != 200 || r.str(t, "access_token") == "" {
					t.Fatalf("token = %d %s, want 200 with an access token", r.status, r.body)
				}
				return
			}
			wantGrantError(t, r)
		})
	}

	t.Run("not a JWT", func(t *testing.T) {
		wantGrantError(t, jwtGrant(t, z, "garbage", scope))
	})
	t.Run("no assertion", func(t *testing.T) {
		wantError(t, post(t, z.TokenURL, url.Values{"grant_type": {grantJWTBearer}, "scope": {scope}}, ""), 400, "invalid_request")
	})
}

// The client_credentials grant takes a service user's user name and secret,
// url-encoded in a Basic header (RFC 6749 §2.3.1) or as form fields.
func TestClientCredentialsGrant(t *testing.T) {
	z := startInstance(t)
	u := z.Awkward
	scope := scopeFor(z.ProjectID)

	// The awkward secret, which only tests use, catches Basic encoding bugs.
	for _, want := range []string{":", "+", "%", "ä", "&", "="} {
		if !strings.Contains(u.ClientSecret, want) {
			t.Errorf("awkward client secret has no %q: Basic encoding bugs would pass unnoticed", want)
		}
	}
	// ZITADEL's generated secrets are 64 letters and digits
	// (SecretGenerators.ClientSecret in defaults.yaml): sent unencoded,
	// as the Python original does, they work.
	for _, s := range []string{z.Reader.ClientSecret, z.NoRole.ClientSecret, z.JWTReader.ClientSecret, z.BasicAPI.ClientSecret, z.OtherAPI.ClientSecret} {
		if len(s) != 64 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("generated secret is not 64 letters and digits (len %d)", len(s))
		}
	}
	if r := post(t, z.TokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, "Basic "+b64(z.Reader.UserName+":"+z.Reader.ClientSecret)); r.status != 200 {
		t.Errorf("generated secret, not url-encoded = %d %s, want 200", r.status, r.body)
	}

	for _, tc := range []struct {
		name          string
		form          url.Values
		authorization string
		status        int
		code          string
	}{
		{"basic", nil, basic(u.UserName, u.ClientSecret), 200, ""},
		{"basic with login name", nil, basic(u.UserName+"@"+z.OrgDomain, u.ClientSecret), 200, ""},
		{"form fields", url.Values{"client_id": {u.UserName}, "client_secret": {u.ClientSecret}}, "", 200, ""},
		// A Basic header without url-encoding: "%ä" is no valid escape.
		{"basic not url-encoded", nil, "Basic " + b64(u.UserName+":"+u.ClientSecret), 400, "invalid_client"},
		// Real ZITADEL answers a wrong machine secret with invalid_request
		// "Errors.User.Machine.Secret.Invalid" (see clientCredentialsAuth).
		{"wrong secret", nil, basic(u.UserName, u.ClientSecret+"x"), 400, "invalid_request"},
		{"another user's secret", nil, basic(u.UserName, z.NoRole.ClientSecret), 400, "invalid_request"},
		{"wrong secret in form", url.Values{"client_id": {u.UserName}, "client_secret": {"x"}}, "", 400, "invalid_request"},
		{"unknown user", nil, basic("nobody", u.ClientSecret), 400, "invalid_client"},
		{"user ID instead of user name", nil, basic(u.UserID, u.ClientSecret), 400, "invalid_client"},
		{"API application", nil, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret), 400, "invalid_client"},
		{"no secret", url.Values{"client_id": {u.UserName}}, "", 400, "invalid_request"},
		{"no credentials", nil, "", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
			for k, v := range tc.form {
				form[k] = v
			}
			r := post(t, z.TokenURL, form, tc.authorization)
			if tc.status != 200 {
				wantError(t, r, tc.status, tc.code)
				return
			}
			if r.status != 200 {
				t.Fatalf("token = %d %s", r.status, r.body)
			}
			// The token's client_id is the client_id the grant was made with.
			clientID := u.UserName
			if strings.Contains(tc.name, "login name") {
				clientID = u.UserName + "@" + z.OrgDomain
			}
			m := introspectBasic(t, z, z.BasicAPI, r.str(t, "access_token")).json(t)
			if m["active"] != true || m["sub"] != u.UserID || m["client_id"] != clientID {
				t.Errorf("introspection = %v, want active, sub %s, client_id %s", m, u.UserID, clientID)
			}
		})
	}
}

// The token response is access_token, token_type Bearer, expires_in and,
// only with openid, an id_token signed by the issuer; never scope.
func TestTokenResponse(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		name, scope string
		user        *ServiceUser
		grant       func(*testing.T, *Instance, *ServiceUser, string) response
		wantIDToken bool
	}{
		{"jwt grant with openid", scopeFor(z.ProjectID), z.Reader, jwtGrantFor, true},
		{"jwt grant without openid", "profile urn:zitadel:iam:org:project:id:" + z.ProjectID + ":aud", z.Reader, jwtGrantFor, false},
		{"client credentials with openid", scopeFor(z.ProjectID), z.Reader, clientCredentialsFor, true},
		{"client credentials without openid", "profile", z.Reader, clientCredentialsFor, false},
		{"JWT access token", scopeFor(z.ProjectID), z.JWTReader, jwtGrantFor, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.grant(t, z, tc.user, tc.scope)
			if r.status != 200 {
				t.Fatalf("token = %d %s", r.status, r.body)
			}
			m := r.json(t)
			if m["token_type"] != "Bearer" {
				t.Errorf("token_type = %v, want Bearer", m["token_type"])
			}
			if m["expires_in"] != float64(43199) {
				t.Errorf("expires_in = %v, want 43199", m["expires_in"])
			}
			if _, ok := m["scope"]; ok {
				t.Errorf("scope in the token response: ZITADEL sends none")
			}
			if _, ok := m["refresh_token"]; ok {
				t.Errorf("refresh_token in the token response")
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store (RFC 6749 §5.1)", r.header.Get("Cache-Control"))
			}
			idToken, ok := m["id_token"].(string)
			if ok != tc.wantIDToken {
				t.Fatalf("id_token present = %v, want %v", ok, tc.wantIDToken)
			}
			if ok {
				// A service user's id token expires as it is issued and
				// names its session (ZITADEL's accessTokenResponseFromSession).
				claims := verifyIDToken(t, z, idToken)
				if claims["sub"] != tc.user.UserID {
					t.Errorf("id_token sub = %v, want %s", claims["sub"], tc.user.UserID)
				}
				if claims["exp"] != claims["iat"] {
					t.Errorf("id_token exp = %v, iat = %v, want equal", claims["exp"], claims["iat"])
				}
				if sid, _ := claims["sid"].(string); sid == "" {
					t.Errorf("id_token has no sid")
				}
			}
			access := r.str(t, "access_token")
			parts := strings.Split(access, ".")
			if tc.user.JWTAccessTokens {
				verifyJWT(t, z, access)
			} else {
				// Current ZITADEL's opaque tokens are compact JWEs: five
				// base64url parts, the first a JSON header ("eyJ"). A client
				// that tells opaque from JWT by dots or prefix fails here.
				if len(parts) != 5 || !strings.HasPrefix(access, "eyJ") || len(access) < 200 || len(access) > 1000 {
					t.Errorf("opaque access token is not JWE-shaped: %d parts, %d characters", len(parts), len(access))
				}
				for _, p := range parts {
					if p == "" || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
						t.Errorf("opaque access token part %q is not base64url", p)
					}
				}
			}
		})
	}
}

func jwtGrantFor(t *testing.T, z *Instance, u *ServiceUser, scope string) response {
	return jwtGrant(t, z, userAssertion(t, z, u), scope)
}

func clientCredentialsFor(t *testing.T, z *Instance, u *ServiceUser, scope string) response {
	return clientCredentialsBasic(t, z, u.UserName, u.ClientSecret, scope)
}

// JWT access tokens verify against the JWKS and carry iss, sub, aud,
// client_id, jti, iat, nbf, exp and no scope.
func TestJWTAccessToken(t *testing.T) {
	z := startInstance(t)
	token := accessToken(t, z, z.JWTReader)
	claims := verifyJWT(t, z, token)
	// client_id is the user name for the JWT bearer grant too
	// (token_jwt_profile.go: clientID: user.Username).
	for k, want := range map[string]any{"iss": z.Issuer, "sub": z.JWTReader.UserID, "client_id": z.JWTReader.UserName} {
		if claims[k] != want {
			t.Errorf("%s = %v, want %v", k, claims[k], want)
		}
	}
	aud, _ := claims["aud"].([]any)
	if !slices.Equal(aud, []any{z.ProjectID}) {
		t.Errorf("aud = %v, want [%s]", claims["aud"], z.ProjectID)
	}
	for _, k := range []string{"jti", "iat", "nbf", "exp"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("no %s claim", k)
		}
	}
	if _, ok := claims["scope"]; ok {
		t.Errorf("scope claim in a ZITADEL JWT access token")
	}
	m := introspectBasic(t, z, z.BasicAPI, token).json(t)
	if m["jti"] != claims["jti"] {
		t.Errorf("introspection jti = %v, want the JWT's %v", m["jti"], claims["jti"])
	}
}

// Scopes: custom ones such as read:messages are dropped; the aud scope
// makes the project the token's audience; without it no API accepts it.
func TestScopes(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		name, scope string
		wantActive  bool
	}{
		{"samples' scope", scopeFor(z.ProjectID), true},
		{"with read:messages", scopeFor(z.ProjectID) + " read:messages", true},
		{"without aud scope", "openid profile email", false},
		{"only read:messages", "openid read:messages", false},
		{"aud scope of another project", "openid urn:zitadel:iam:org:project:id:" + z.OtherProjectID + ":aud", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := jwtGrant(t, z, userAssertion(t, z, z.Reader), tc.scope)
			if r.status != 200 {
				t.Fatalf("token = %d %s", r.status, r.body)
			}
			intro := introspectBasic(t, z, z.BasicAPI, r.str(t, "access_token"))
			m := intro.json(t)
			if m["active"] != tc.wantActive {
				t.Fatalf("active = %v, want %v: %s", m["active"], tc.wantActive, intro.body)
			}
			if !tc.wantActive {
				return
			}
			scope, _ := m["scope"].(string)
			if slices.Contains(strings.Fields(scope), "read:messages") {
				t.Errorf("scope %q has read:messages: ZITADEL drops custom scopes", scope)
			}
			if !slices.Contains(strings.Fields(scope), "openid") {
				t.Errorf("scope %q lacks openid", scope)
			}
			// Roles come from the role claims, whatever the scope.
			if _, ok := m[claimRoles]; !ok {
				t.Errorf("no role claim for a user with the role")
			}
		})
	}
	// The oidc library's ValidateAuthReqScopes refuses a request without a
	// scope parameter (an empty one passes, and gives a token for no API).
	t.Run("no scope parameter", func(t *testing.T) {
		form := url.Values{"grant_type": {grantJWTBearer}, "assertion": {userAssertion(t, z, z.Reader)}}
		wantError(t, post(t, z.TokenURL, form, ""), 400, "invalid_request")
	})
}

func TestTokenEndpointErrors(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"no grant_type", url.Values{}, 400, "invalid_request"},
		{"unknown grant_type", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, post(t, z.TokenURL, tc.form, ""), tc.status, tc.code)
		})
	}
	t.Run("body too large", func(t *testing.T) {
		form := url.Values{"grant_type": {grantJWTBearer}, "assertion": {strings.Repeat("a", 1<<20)}}
		r := post(t, z.TokenURL, form, "")
		if r.status != http.StatusBadRequest {
			t.Errorf("status = %d, want 400", r.status)
		}
	})
}

// MintToken issues what the token endpoint would.
func TestMintToken(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		name       string
		user       *ServiceUser
		opts       TokenOptions
		api        App
		wantActive bool
		wantExp    time.Duration
	}{
		{"default", z.Reader, TokenOptions{}, z.BasicAPI, true, 12 * time.Hour},
		{"JWT", z.JWTReader, TokenOptions{}, z.BasicAPI, true, 12 * time.Hour},
		{"short", z.Reader, TokenOptions{Lifetime: time.Minute}, z.BasicAPI, true, time.Minute},
		{"expired", z.Reader, TokenOptions{Lifetime: -time.Second}, z.BasicAPI, false, 0},
		{"other project", z.Reader, TokenOptions{ProjectIDs: []string{z.OtherProjectID}}, z.OtherAPI, true, 12 * time.Hour},
		{"both projects", z.Reader, TokenOptions{ProjectIDs: []string{z.ProjectID, z.OtherProjectID}}, z.OtherAPI, true, 12 * time.Hour},
		{"no audience", z.Reader, TokenOptions{ProjectIDs: []string{}}, z.BasicAPI, false, 0},
		{"custom scopes", z.Reader, TokenOptions{Scopes: []string{"openid", "read:messages"}}, z.BasicAPI, true, 12 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, err := z.MintToken(tc.user, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user.JWTAccessTokens != (strings.Count(token, ".") == 2) {
				t.Errorf("token %q: JWT = %v", token, !tc.user.JWTAccessTokens)
			}
			r := introspectBasic(t, z, tc.api, token)
			if !tc.wantActive {
				wantInactive(t, r)
				return
			}
			m := r.json(t)
			if m["active"] != true {
				t.Fatalf("introspection = %s, want active", r.body)
			}
			exp := time.Unix(int64(m["exp"].(float64)), 0)
			if d := time.Until(exp) - tc.wantExp; d > 2*time.Second || d < -2*time.Second {
				t.Errorf("exp in %v, want %v", time.Until(exp), tc.wantExp)
			}
			if strings.Contains(m["scope"].(string), "read:messages") {
				t.Errorf("scope %q has read:messages", m["scope"])
			}
		})
	}
	if _, err := z.MintToken(&ServiceUser{UserID: "1"}, TokenOptions{}); err == nil {
		t.Error("MintToken for an unknown user: no error")
	}
}

// urn:zitadel:iam:org:project:role:{role} asks for the role claim in the
// id token and a JWT access token, for a user who has the role, under the
// project-specific claim only (userinfo.go, prepareRoles, assertRoles); no
// role scope, no role claims.
func TestRoleScopeTokens(t *testing.T) {
	z := startInstance(t)
	roleScope := " urn:zitadel:iam:org:project:role:read:messages"
	projectClaim := fmt.Sprintf(claimProjectRolesFmt, z.ProjectID)
	for _, tc := range []struct {
		name, scope string
		user        *ServiceUser
		wantClaim   bool
	}{
		{"role scope, user with role", scopeFor(z.ProjectID) + roleScope, z.Reader, true},
		{"role scope, user without role", scopeFor(z.ProjectID) + roleScope, z.NoRole, false},
		{"no role scope", scopeFor(z.ProjectID), z.Reader, false},
		{"JWT access token, role scope", scopeFor(z.ProjectID) + roleScope, z.JWTReader, true},
		{"JWT access token, no role scope", scopeFor(z.ProjectID), z.JWTReader, false},
		{"role scope of a role nobody has", scopeFor(z.ProjectID) + " urn:zitadel:iam:org:project:role:write:messages", z.Reader, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := jwtGrant(t, z, userAssertion(t, z, tc.user), tc.scope)
			tokens := map[string]jwt.MapClaims{"id_token": verifyIDToken(t, z, r.str(t, "id_token"))}
			if tc.user.JWTAccessTokens {
				tokens["access_token"] = verifyJWT(t, z, r.str(t, "access_token"))
			}
			for name, claims := range tokens {
				_, okProject := claims[projectClaim]
				if okProject != tc.wantClaim {
					t.Errorf("%s: project role claim present = %v, want %v: %v", name, okProject, tc.wantClaim, claims)
				}
				if _, ok := claims[claimRoles]; ok {
					t.Errorf("%s: generic role claim: a service user's token has no current project", name)
				}
			}
		})
	}
}

// Role scopes narrow the roles introspection asserts: a token that asked for
// a role the user lacks carries no role claim, though the user has another
// role of the project; without role scopes, every granted role.
func TestRoleScopeNarrowsIntrospection(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		name      string
		scope     string
		wantRoles bool
	}{
		{"no role scope", scopeFor(z.ProjectID), true},
		{"the granted role", scopeFor(z.ProjectID) + " urn:zitadel:iam:org:project:role:read:messages", true},
		{"another role only", scopeFor(z.ProjectID) + " urn:zitadel:iam:org:project:role:write:messages", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, u := range []*ServiceUser{z.Reader, z.JWTReader} {
				token := accessTokenWithScope(t, z, u, tc.scope)
				for _, api := range []App{z.JWTAPI, z.BasicAPI} {
					m := introspectAs(t, z, api, token).json(t)
					_, generic := m[claimRoles]
					_, project := m[fmt.Sprintf(claimProjectRolesFmt, z.ProjectID)]
					if m["active"] != true || generic != tc.wantRoles || project != tc.wantRoles {
						t.Errorf("%s via %s: active %v, role claims %v/%v, want %v", u.UserName, api.ClientID, m["active"], generic, project, tc.wantRoles)
					}
				}
			}
		})
	}
}
