package localzitadel

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// An active token introspected by the API of its project, with either
// client authentication, carries every field of docs/zitadel-on-the-wire.md,
// "Introspection", "Answers", and role
// claims exactly when the user has the role.
func TestIntrospectActive(t *testing.T) {
	z := startInstance(t)
	for _, u := range []*ServiceUser{z.Reader, z.NoRole, z.JWTReader} {
		for _, api := range []App{z.BasicAPI, z.JWTAPI} {
			t.Run(u.UserName+"/"+api.ClientID, func(t *testing.T) {
				token := accessToken(t, z, u)
				r := introspectAs(t, z, api, token)
				if r.status != http.StatusOK {
					t.Fatalf("introspection = %d %s", r.status, r.body)
				}
				m := r.json(t)
				want := map[string]any{
					"active":             true,
					"client_id":          u.UserName, // the user name, for the JWT bearer grant too
					"token_type":         "Bearer",
					"sub":                u.UserID,
					"iss":                z.Issuer,
					"username":           u.UserName + "@" + z.OrgDomain,
					"preferred_username": u.UserName + "@" + z.OrgDomain,
				}
				for k, v := range want {
					if m[k] != v {
						t.Errorf("%s = %v, want %v", k, m[k], v)
					}
				}
				for _, k := range []string{"exp", "iat", "nbf"} {
					if _, ok := m[k].(float64); !ok {
						t.Errorf("%s = %v, want a number", k, m[k])
					}
				}
				for _, k := range []string{"jti", "name", "scope"} {
					if s, _ := m[k].(string); s == "" {
						t.Errorf("%s = %v, want a non-empty string", k, m[k])
					}
				}
				aud, _ := m["aud"].([]any)
				if !slices.Contains(aud, any(z.ProjectID)) {
					t.Errorf("aud = %v, want an array with %s", m["aud"], z.ProjectID)
				}
				if exp := int64(m["exp"].(float64)); time.Until(time.Unix(exp, 0)) < 11*time.Hour {
					t.Errorf("exp = %d, want about 12 h from now", exp)
				}

				wantRoles := fmt.Sprintf(`{"read:messages":{%q:%q}}`, z.OrgID, z.OrgDomain)
				for _, claim := range []string{claimRoles, fmt.Sprintf(claimProjectRolesFmt, z.ProjectID)} {
					got, present := m[claim]
					switch {
					case u.HasRole && !present:
						t.Errorf("%s missing for a user with the role", claim)
					case u.HasRole && jsonString(t, got) != wantRoles:
						t.Errorf("%s = %s, want %s", claim, jsonString(t, got), wantRoles)
					case !u.HasRole && present:
						t.Errorf("%s = %v for a user without role", claim, got)
					}
				}
			})
		}
	}
}

// Every token problem is HTTP 200 and exactly {"active":false}.
func TestIntrospectInactive(t *testing.T) {
	z := startInstance(t)
	other := startInstance(t)

	revoked := accessToken(t, z, z.Reader)
	z.Revoke(revoked)
	revokedJWT := accessToken(t, z, z.JWTReader)
	z.Revoke(revokedJWT)
	expired := accessToken(t, z, z.Reader)
	z.Expire(expired)
	expiredJWT := accessToken(t, z, z.JWTReader)
	z.Expire(expiredJWT)
	mintedExpired, err := z.MintToken(z.Reader, TokenOptions{Lifetime: -time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	otherProject, err := z.MintToken(z.Reader, TokenOptions{ProjectIDs: []string{z.OtherProjectID}})
	if err != nil {
		t.Fatal(err)
	}
	otherProjectJWT, err := z.MintToken(z.JWTReader, TokenOptions{ProjectIDs: []string{z.OtherProjectID}})
	if err != nil {
		t.Fatal(err)
	}
	// Without the aud scope the token has no audience: inactive for every API.
	r := jwtGrant(t, z, userAssertion(t, z, z.Reader), "openid profile email")
	noAud := r.str(t, "access_token")
	valid := accessToken(t, z, z.JWTReader)
	parts := strings.Split(valid, ".")
	tampered := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	foreignJWT := accessToken(t, other, other.JWTReader) // signed by another issuer

	for name, token := range map[string]string{
		"garbage":                     "not-a-token",
		"garbage with dots":           "a.b.c",
		"unknown opaque":              newOpaqueToken(),
		"revoked":                     revoked,
		"revoked JWT":                 revokedJWT,
		"expired":                     expired,
		"expired JWT":                 expiredJWT,
		"minted expired":              mintedExpired,
		"for another project":         otherProject,
		"JWT for another project":     otherProjectJWT,
		"without aud scope":           noAud,
		"JWT with bad signature":      tampered,
		"JWT of another issuer":       foreignJWT,
		"PAT of another issuer":       other.Reader.PAT,
		"opaque token of other issue": accessToken(t, other, other.Reader),
	} {
		t.Run(name, func(t *testing.T) {
			wantInactive(t, introspectBasic(t, z, z.BasicAPI, token))
			wantInactive(t, introspectJWT(t, z, z.JWTAPI, token))
		})
	}

	// A token of the other project is active for that project's API only.
	r = introspectBasic(t, z, z.OtherAPI, otherProject)
	if r.json(t)["active"] != true {
		t.Errorf("other project's API: %s, want active", r.body)
	}
	// ...and carries no role claims: the user has no role there.
	if _, ok := r.json(t)[claimRoles]; ok {
		t.Errorf("role claim for a project without grant: %s", r.body)
	}
	wantInactive(t, introspectBasic(t, z, z.OtherAPI, valid))
}

// The API's own authentication failing is the only introspection error
// (docs/zitadel-on-the-wire.md, "Client authentication errors": 400
// unauthorized_client; nothing at all: invalid_client or,
// as the oidc library answers when there is not even a client_id,
// invalid_request).
func TestIntrospectClientAuthentication(t *testing.T) {
	z := startInstance(t)
	other := startInstance(t)
	token := accessToken(t, z, z.Reader)
	api := readKeyFile(t, z.JWTAPI.KeyFile)
	reader := readKeyFile(t, z.Reader.KeyFile)
	signed := func(c assertionClaims) url.Values {
		key := api.private
		if c.kid == reader.KeyID {
			key = reader.private
		}
		return url.Values{"token": {token}, "client_assertion_type": {clientAssertionType}, "client_assertion": {signAssertion(t, key, c)}}
	}
	apiClaims := func(edit func(*assertionClaims)) url.Values {
		c := assertionClaims{kid: api.KeyID, iss: api.ClientID, sub: api.ClientID, aud: []string{z.Issuer}}
		edit(&c)
		return signed(c)
	}
	tokenOnly := url.Values{"token": {token}}

	for _, tc := range []struct {
		name          string
		form          url.Values
		authorization string
		status        int
		code          string
	}{
		{"wrong secret", tokenOnly, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret+"x"), 400, "unauthorized_client"},
		{"awkward secret not url-encoded", tokenOnly, "Basic " + b64(z.AwkwardAPI.ClientID+":"+z.AwkwardAPI.ClientSecret), 400, "invalid_client"},
		{"Basic for the JWT app, which has no secret", tokenOnly, basic(z.JWTAPI.ClientID, "anything"), 400, "unauthorized_client"},
		{"assertion for the Basic app, which has no key", apiClaims(func(c *assertionClaims) { c.iss, c.sub = z.BasicAPI.ClientID, z.BasicAPI.ClientID }), "", 400, "unauthorized_client"},
		{"other API's secret", tokenOnly, basic(z.BasicAPI.ClientID, z.OtherAPI.ClientSecret), 400, "unauthorized_client"},
		{"unknown client", tokenOnly, basic("123@nothing", "secret"), 400, "unauthorized_client"},
		{"service user as client", tokenOnly, basic(z.Reader.UserName, z.Reader.ClientSecret), 400, "unauthorized_client"},
		{"secret in form", url.Values{"token": {token}, "client_id": {z.BasicAPI.ClientID}, "client_secret": {"wrong"}}, "", 400, "unauthorized_client"},
		{"assertion signed by another key", apiClaims(func(c *assertionClaims) { c.kid = reader.KeyID }), "", 400, "unauthorized_client"},
		{"assertion of another instance", signed(assertionClaims{kid: other.JWTAPI.KeyID, iss: other.JWTAPI.ClientID, sub: other.JWTAPI.ClientID, aud: []string{z.Issuer}}), "", 400, "unauthorized_client"},
		{"assertion without kid", apiClaims(func(c *assertionClaims) { c.omitKID = true }), "", 400, "unauthorized_client"},
		{"assertion for another audience", apiClaims(func(c *assertionClaims) { c.aud = []string{other.Issuer} }), "", 400, "unauthorized_client"},
		{"assertion expired", apiClaims(func(c *assertionClaims) { c.iat, c.exp = time.Now().Add(-time.Minute), time.Now().Add(-time.Second) }), "", 400, "unauthorized_client"},
		{"assertion sub is not iss", apiClaims(func(c *assertionClaims) { c.sub = z.Reader.UserID }), "", 400, "unauthorized_client"},
		{"client_id without secret", url.Values{"token": {token}, "client_id": {z.BasicAPI.ClientID}}, "", 400, "invalid_client"},
		{"no client authentication", tokenOnly, "", 400, "invalid_request"},
		{"no token", url.Values{}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret), 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, z.IntrospectionURL, tc.form, tc.authorization)
			wantError(t, r, tc.status, tc.code)
		})
	}

	// An assertion that cannot be parsed fails in ZITADEL before the client
	// is known, with an error introspection swallows: HTTP 200
	// {"active":false} for a valid token, as if the token were inactive
	// (introspect.go, clientIDFromCredentials).
	for _, garbage := range []string{"x.y.z", "not-a-jwt", "eyJhbGciOiJSUzI1NiJ9.e30"} {
		wantInactive(t, post(t, z.IntrospectionURL, url.Values{"token": {token}, "client_assertion_type": {clientAssertionType}, "client_assertion": {garbage}}, ""))
	}
	// The awkward secret, url-encoded as RFC 6749 §2.3.1 says, works.
	if m := introspectBasic(t, z, z.AwkwardAPI, token).json(t); m["active"] != true {
		t.Errorf("introspection with the awkward secret url-encoded = %v, want active", m)
	}
	// ZITADEL's secrets need no encoding: the Python original's unencoded
	// Basic header works with them.
	if m := post(t, z.IntrospectionURL, tokenOnly, "Basic "+b64(z.BasicAPI.ClientID+":"+z.BasicAPI.ClientSecret)).json(t); m["active"] != true {
		t.Errorf("introspection with a generated secret, not url-encoded = %v, want active", m)
	}
}

// A PAT is active for any API of the instance, never expires, and carries
// the role claims of the calling API's project the user is granted.
func TestIntrospectPAT(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		user      *ServiceUser
		api       App
		project   string
		wantRoles bool
	}{
		{z.Reader, z.JWTAPI, z.ProjectID, true},
		{z.NoRole, z.BasicAPI, z.ProjectID, false},
		{z.JWTReader, z.JWTAPI, z.ProjectID, true},
		{z.Reader, z.OtherAPI, z.OtherProjectID, false},
		{z.NoRole, z.OtherAPI, z.OtherProjectID, true},
	} {
		t.Run(tc.user.UserName+"/"+tc.api.ClientID, func(t *testing.T) {
			if strings.Contains(tc.user.PAT, ".") {
				t.Errorf("PAT %q is not opaque", tc.user.PAT)
			}
			m := introspectAs(t, z, tc.api, tc.user.PAT).json(t)
			if m["active"] != true || m["exp"] != float64(253402300799) || m["sub"] != tc.user.UserID {
				t.Fatalf("PAT introspection = %v, want active, exp 253402300799, sub %s", m, tc.user.UserID)
			}
			aud, _ := m["aud"].([]any)
			if !slices.Contains(aud, any(tc.api.ClientID)) {
				t.Errorf("aud = %v, want the caller's client ID", aud)
			}
			// ZITADEL adds a role scope for each role of the caller's
			// project (both projects here have read:messages), granted or
			// not: scope says nothing about roles.
			scope, _ := m["scope"].(string)
			if hasRoleScope := strings.Contains(scope, "urn:zitadel:iam:org:project:role:read:messages"); !hasRoleScope {
				t.Errorf("scope = %q: role scope present = %v", scope, hasRoleScope)
			}
			if _, ok := m[claimRoles]; ok != tc.wantRoles {
				t.Errorf("role claim present = %v, want %v: %v", ok, tc.wantRoles, m)
			}
			if _, ok := m[fmt.Sprintf(claimProjectRolesFmt, tc.project)]; ok != tc.wantRoles {
				t.Errorf("project role claim present = %v, want %v", ok, tc.wantRoles)
			}
		})
	}

	// Revoking a PAT (deleting it, in ZITADEL) makes it inactive.
	z.Revoke(z.NoRole.PAT)
	wantInactive(t, introspectBasic(t, z, z.BasicAPI, z.NoRole.PAT))
}
