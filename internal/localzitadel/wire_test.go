package localzitadel

// Facts of docs/zitadel-on-the-wire.md that the older tests do not pin:
// exact error bodies, the ZITADEL project's audience scope, a PAT's
// audience, auth_time, amr and updated_at.

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"
)

// wantBody checks an answer's status and that its JSON body is exactly want
// (no other member).
func wantBody(t *testing.T, r response, status int, want map[string]any) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if got := jsonString(t, r.json(t)); got != jsonString(t, want) {
		t.Errorf("body = %s, want %s", got, jsonString(t, want))
	}
}

func oauthError(code, description string) map[string]any {
	m := map[string]any{"error": code}
	if description != "" {
		m["error_description"] = description
	}
	return m
}

// The error bodies a client sees, member for member
// (docs/zitadel-on-the-wire.md, "Token endpoint", "Introspection").
func TestErrorBodies(t *testing.T) {
	z := startInstance(t)
	legacy, err := Start(t.Context(), Options{LegacyJWTGrantErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { legacy.Close() })
	token := accessToken(t, z, z.Reader)
	scope := scopeFor(z.ProjectID)
	garbageAssertion := url.Values{"client_assertion_type": {clientAssertionType}, "client_assertion": {"not-a-jwt"}}

	for _, tc := range []struct {
		name          string
		z             *Instance
		endpoint      string
		form          url.Values
		authorization string
		status        int
		want          map[string]any
	}{
		// The oidc library answers a JWT bearer grant without assertion
		// before ZITADEL sees it (op/server_http.go, jwtProfileHandler).
		{"JWT grant, no assertion", z, z.TokenURL, url.Values{"grant_type": {grantJWTBearer}, "scope": {scope}}, "", 400, oauthError("invalid_request", "assertion missing")},
		{"JWT grant, empty assertion", z, z.TokenURL, url.Values{"grant_type": {grantJWTBearer}, "assertion": {""}, "scope": {scope}}, "", 400, oauthError("invalid_request", "assertion missing")},
		{"JWT grant, no assertion, legacy errors", legacy, legacy.TokenURL, url.Values{"grant_type": {grantJWTBearer}, "scope": {scope}}, "", 400, oauthError("invalid_request", "assertion missing")},
		{"JWT grant, garbage assertion", z, z.TokenURL, url.Values{"grant_type": {grantJWTBearer}, "assertion": {"garbage"}, "scope": {scope}}, "", 500, oauthError("server_error", "Errors.Internal")},
		{"no grant_type", z, z.TokenURL, url.Values{}, "", 400, oauthError("invalid_request", "grant_type missing")},
		{"client credentials, unknown user", z, z.TokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, basic("nobody", z.Reader.ClientSecret), 400, oauthError("invalid_client", "client not found")},
		{"client credentials, wrong secret", z, z.TokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, basic(z.Reader.UserName, "wrong"), 400, oauthError("invalid_request", "Errors.User.Machine.Secret.Invalid")},
		{"client credentials, no credentials", z, z.TokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, "", 400, oauthError("invalid_request", "client_id or client_assertion must be provided")},
		// The awkward secret sent without url-encoding has "%ä", no valid escape.
		{"client credentials, Basic not url-encoded", z, z.TokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, "Basic " + b64(z.Awkward.UserName+":"+z.Awkward.ClientSecret), 400, oauthError("invalid_client", "invalid basic auth header")},
		{"introspection, Basic not url-encoded", z, z.IntrospectionURL, url.Values{"token": {token}}, "Basic " + b64(z.AwkwardAPI.ClientID+":"+z.AwkwardAPI.ClientSecret), 400, oauthError("invalid_client", "invalid basic auth header")},
		{"introspection, wrong secret", z, z.IntrospectionURL, url.Values{"token": {token}}, basic(z.BasicAPI.ClientID, "wrong"), 400, oauthError("unauthorized_client", "")},
		{"introspection, no client authentication", z, z.IntrospectionURL, url.Values{"token": {token}}, "", 400, oauthError("invalid_request", "client_id or client_assertion must be provided")},
		{"introspection, client_id without secret", z, z.IntrospectionURL, url.Values{"token": {token}, "client_id": {z.BasicAPI.ClientID}}, "", 400, oauthError("invalid_client", "client must be authenticated")},
		{"introspection, no token", z, z.IntrospectionURL, url.Values{}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret), 400, oauthError("invalid_request", "token missing")},
		// Current ZITADEL reports the client's error before the token's
		// (introspect.go: "we prioritize the client error over the token error").
		{"introspection, wrong secret and garbage token", z, z.IntrospectionURL, url.Values{"token": {"garbage"}}, basic(z.BasicAPI.ClientID, "wrong"), 400, oauthError("unauthorized_client", "")},
		{"introspection, unknown client and garbage token", z, z.IntrospectionURL, url.Values{"token": {"x"}}, basic("123@nothing", "secret"), 400, oauthError("unauthorized_client", "")},
		// An assertion that cannot be parsed is swallowed, whatever the token.
		{"introspection, garbage assertion", z, z.IntrospectionURL, withToken(garbageAssertion, token), "", 200, map[string]any{"active": false}},
		{"introspection, garbage assertion and token", z, z.IntrospectionURL, withToken(garbageAssertion, "garbage"), "", 200, map[string]any{"active": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantBody(t, post(t, tc.endpoint, tc.form, tc.authorization), tc.status, tc.want)
		})
	}

	// Userinfo without an active token: 401 access_denied
	// (userinfo.go: "access token invalid").
	z.Revoke(token)
	for name, authorization := range map[string]string{"revoked": "Bearer " + token, "garbage": "Bearer garbage"} {
		t.Run("userinfo, "+name, func(t *testing.T) {
			wantBody(t, get(t, z.UserInfoURL, authorization), 401, oauthError("access_denied", "access token invalid"))
		})
	}
}

func withToken(form url.Values, token string) url.Values {
	f := url.Values{"token": {token}}
	for k, v := range form {
		f[k] = v
	}
	return f
}

var zitadelID = regexp.MustCompile(`^\d{18}$`)

// urn:zitadel:iam:org:project:id:zitadel:aud puts the id of the instance's
// ZITADEL project into aud, not the word "zitadel" (domain.AddAudScopeToAudience).
func TestZitadelProjectAudience(t *testing.T) {
	z := startInstance(t)
	const zitadelAud = " urn:zitadel:iam:org:project:id:zitadel:aud"

	r := jwtGrant(t, z, userAssertion(t, z, z.JWTReader), "openid"+zitadelAud)
	if r.status != 200 {
		t.Fatalf("token = %d %s", r.status, r.body)
	}
	aud, _ := verifyJWT(t, z, r.str(t, "access_token"))["aud"].([]any)
	if len(aud) != 1 {
		t.Fatalf("aud = %v, want one project id", aud)
	}
	id, _ := aud[0].(string)
	if !zitadelID.MatchString(id) || id == z.ProjectID || id == z.OtherProjectID {
		t.Fatalf("aud = %v, want the ZITADEL project's 18-digit id, no project of the samples", aud)
	}
	if idAud, _ := verifyIDToken(t, z, r.str(t, "id_token"))["aud"].([]any); !slices.Contains(idAud, any(id)) {
		t.Errorf("id token aud = %v, want it to contain %s", idAud, id)
	}
	// A token for the ZITADEL project alone is for no API of the samples.
	wantInactive(t, introspectBasic(t, z, z.BasicAPI, r.str(t, "access_token")))

	// With the API's project too, both are in aud, the same id again;
	// for client_credentials and an opaque token as well.
	r = clientCredentialsBasic(t, z, z.Reader.UserName, z.Reader.ClientSecret, scopeFor(z.ProjectID)+zitadelAud)
	m := introspectBasic(t, z, z.BasicAPI, r.str(t, "access_token")).json(t)
	got, _ := m["aud"].([]any)
	if m["active"] != true || len(got) != 2 || !slices.Contains(got, any(z.ProjectID)) || !slices.Contains(got, any(id)) {
		t.Errorf("introspection = %v, want active, aud [%s %s]", m, z.ProjectID, id)
	}
}

// Introspecting a PAT adds the caller's client id and project id to aud
// (introspect.go, assertClientScopesForPAT), and a PAT has no client_id.
func TestIntrospectPATAudience(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		api     App
		project string
	}{
		{z.JWTAPI, z.ProjectID},
		{z.BasicAPI, z.ProjectID},
		{z.OtherAPI, z.OtherProjectID},
	} {
		t.Run(tc.api.ClientID, func(t *testing.T) {
			m := introspectAs(t, z, tc.api, z.Reader.PAT).json(t)
			aud, _ := m["aud"].([]any)
			if m["active"] != true || !slices.Contains(aud, any(tc.api.ClientID)) || !slices.Contains(aud, any(tc.project)) {
				t.Errorf("PAT introspection = %v, want active, aud with %s and %s", m, tc.api.ClientID, tc.project)
			}
			// Each caller adds itself, not the callers before it.
			for _, other := range []App{z.JWTAPI, z.BasicAPI, z.OtherAPI} {
				if other.ClientID != tc.api.ClientID && slices.Contains(aud, any(other.ClientID)) {
					t.Errorf("aud = %v has another caller's client id %s", aud, other.ClientID)
				}
			}
			if _, ok := m["client_id"]; ok {
				t.Errorf("PAT introspection has client_id %v: a PAT belongs to no application", m["client_id"])
			}
			// No authentication stands behind a PAT: no auth_time, no amr.
			for _, claim := range []string{"auth_time", "amr"} {
				if _, ok := m[claim]; ok {
					t.Errorf("PAT introspection has %s = %v", claim, m[claim])
				}
			}
		})
	}
}

// A service user without a client secret gets a precondition error from
// the client_credentials grant: 400 invalid_request
// "Errors.User.Machine.Secret.NotExisting" (client_credentials.go).
func TestClientCredentialsWithoutSecret(t *testing.T) {
	z := startInstance(t)
	token := adminToken(t, z, addAdmin(t, z, "admin", true), adminScope)
	r := connect(t, z, token, "zitadel.user.v2.UserService/CreateUser",
		`{"organizationId":"`+z.OrgID+`","username":"no-secret","machine":{"name":"No Secret"}}`)
	if r.status != 200 {
		t.Fatalf("CreateUser = %d %s", r.status, r.body)
	}
	wantBody(t, post(t, z.TokenURL, url.Values{"grant_type": {"client_credentials"}}, basic("no-secret", "anything")),
		400, oauthError("invalid_request", "Errors.User.Machine.Secret.NotExisting"))
}

// The scope urn:zitadel:iam:org:projects:roles asks for every granted role
// of the audience's projects in tokens and userinfo, without naming them
// (userinfo.go, prepareRoles).
func TestAllProjectsRolesScope(t *testing.T) {
	z := startInstance(t)
	r := jwtGrant(t, z, userAssertion(t, z, z.JWTReader), scopeFor(z.ProjectID)+" urn:zitadel:iam:org:projects:roles")
	claims := verifyJWT(t, z, r.str(t, "access_token"))
	if _, ok := claims[fmt.Sprintf(claimProjectRolesFmt, z.ProjectID)]; !ok {
		t.Errorf("JWT access token without the project's role claim: %v", claims)
	}
}

// setUserInfoRoleClaims (userinfo.go) adds urn:zitadel:iam:org:projects:roles
// (ClaimProjectsRoles, zitadel/zitadel#9861) to every role assertion: the
// roles of all projects of the role audience, merged into one object. A
// service user asking for itself has no current project: no generic claim.
func TestProjectsRolesClaim(t *testing.T) {
	z := startInstance(t)
	grant := `{"read:messages":{"` + z.OrgID + `":"` + z.OrgDomain + `"}}`
	scope := scopeFor(z.ProjectID) + " urn:zitadel:iam:org:project:id:" + z.OtherProjectID + ":aud urn:zitadel:iam:org:project:role:read:messages"
	for _, u := range []*ServiceUser{z.JWTReader, z.NoRole} {
		r := jwtGrant(t, z, userAssertion(t, z, u), scope)
		access := r.str(t, "access_token")
		info := get(t, z.UserInfoURL, "Bearer "+access).json(t)
		for name, claims := range map[string]map[string]any{"userinfo": info, "id token": verifyIDToken(t, z, r.str(t, "id_token"))} {
			if got := jsonString(t, claims[claimMergedRoles]); got != grant {
				t.Errorf("%s, %s: %s = %s, want %s", u.UserName, name, claimMergedRoles, got, grant)
			}
			if _, ok := claims[claimRoles]; ok {
				t.Errorf("%s, %s: a generic role claim without an application: %v", u.UserName, name, claims)
			}
		}
	}
	// NoRole holds read:messages in the other project only; the API's
	// introspection has no role claim of any kind for it.
	token := accessTokenWithScope(t, z, z.NoRole, scope)
	m := introspectBasic(t, z, z.BasicAPI, token).json(t)
	for _, name := range []string{claimRoles, claimMergedRoles, fmt.Sprintf(claimProjectRolesFmt, z.ProjectID), fmt.Sprintf(claimProjectRolesFmt, z.OtherProjectID)} {
		if _, ok := m[name]; ok || m["active"] != true {
			t.Errorf("introspection by the API of NoRole's token: %s present (%v)", name, m)
		}
	}
	// The API's introspection of a token with the role: the merged claim
	// holds the API's project alone.
	m = introspectBasic(t, z, z.BasicAPI, accessTokenWithScope(t, z, z.Reader, scope)).json(t)
	if got := jsonString(t, m[claimMergedRoles]); got != grant {
		t.Errorf("introspection: %s = %s, want %s", claimMergedRoles, got, grant)
	}
}

// MintAppToken: a JWT as ZITADEL issues it when an application of another
// project asks for the API's aud scope and a role scope (token.go createJWT,
// userinfo.go setUserInfoRoleClaims with requestProjectID the application's
// project): the generic claim holds the roles in the application's project.
func TestMintAppToken(t *testing.T) {
	z := startInstance(t)
	grant := `{"read:messages":{"` + z.OrgID + `":"` + z.OrgDomain + `"}}`
	scopes := []string{"openid", "urn:zitadel:iam:org:project:role:read:messages"}
	for _, tc := range []struct {
		user                   *ServiceUser
		generic, own, otherPrj bool
	}{
		{z.NoRole, true, false, true},
		{z.JWTReader, false, true, false},
	} {
		token, err := z.MintAppToken(z.OtherAPI, tc.user, TokenOptions{ProjectIDs: []string{z.ProjectID}, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		c := verifyJWT(t, z, token)
		if jsonString(t, c["aud"]) != jsonString(t, []string{z.OtherAPI.ClientID, z.OtherProjectID, z.ProjectID}) || c["client_id"] != z.OtherAPI.ClientID {
			t.Errorf("%s: aud %v, client_id %v", tc.user.UserName, c["aud"], c["client_id"])
		}
		for name, want := range map[string]bool{
			claimRoles: tc.generic, fmt.Sprintf(claimProjectRolesFmt, z.ProjectID): tc.own,
			fmt.Sprintf(claimProjectRolesFmt, z.OtherProjectID): tc.otherPrj, claimMergedRoles: true,
		} {
			if _, ok := c[name]; ok != want {
				t.Errorf("%s: %s present %v, want %v", tc.user.UserName, name, ok, want)
			} else if ok && jsonString(t, c[name]) != grant {
				t.Errorf("%s: %s = %s", tc.user.UserName, name, jsonString(t, c[name]))
			}
		}
		// Introspection by the API answers for the API's project only.
		m := introspectBasic(t, z, z.BasicAPI, token).json(t)
		if _, ok := m[claimRoles]; m["active"] != true || ok != tc.own {
			t.Errorf("%s: introspection %v, want active with roles %v", tc.user.UserName, m, tc.own)
		}
	}
}

// Active introspection answers carry auth_time and amr (RFC 8176): "pwd"
// for client_credentials, none for the JWT bearer grant (amr.go,
// AuthMethodTypesToAMR); updated_at with the profile scope. The id token
// has the same amr.
func TestIntrospectAuthTimeAMR(t *testing.T) {
	z := startInstance(t)
	for _, tc := range []struct {
		name    string
		user    *ServiceUser
		grant   func(*testing.T, *Instance, *ServiceUser, string) response
		wantAMR []any
	}{
		{"client credentials", z.Reader, clientCredentialsFor, []any{"pwd"}},
		{"client credentials, JWT access token", z.JWTReader, clientCredentialsFor, []any{"pwd"}},
		{"JWT bearer grant", z.Reader, jwtGrantFor, nil},
		{"JWT bearer grant, JWT access token", z.JWTReader, jwtGrantFor, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.grant(t, z, tc.user, scopeFor(z.ProjectID))
			if r.status != 200 {
				t.Fatalf("token = %d %s", r.status, r.body)
			}
			m := introspectBasic(t, z, z.BasicAPI, r.str(t, "access_token")).json(t)
			authTime, ok1 := m["auth_time"].(float64)
			iat, ok2 := m["iat"].(float64)
			if !ok1 || !ok2 || authTime > iat || iat-authTime > 60 || time.Unix(int64(authTime), 0).After(time.Now()) {
				t.Errorf("auth_time = %v, iat = %v: want the time of the grant, at most iat", m["auth_time"], m["iat"])
			}
			amr, present := m["amr"]
			if (tc.wantAMR == nil) == present || (present && jsonString(t, amr) != jsonString(t, tc.wantAMR)) {
				t.Errorf("amr = %v (present %v), want %v", amr, present, tc.wantAMR)
			}
			if _, ok := m["updated_at"].(float64); !ok {
				t.Errorf("updated_at = %v, want a number with the profile scope", m["updated_at"])
			}
			idAMR, present := verifyIDToken(t, z, r.str(t, "id_token"))["amr"]
			if (tc.wantAMR == nil) == present || (present && jsonString(t, idAMR) != jsonString(t, tc.wantAMR)) {
				t.Errorf("id token amr = %v (present %v), want %v", idAMR, present, tc.wantAMR)
			}
		})
	}

	// Without the profile scope, no profile claims.
	token := accessTokenWithScope(t, z, z.Reader, "openid urn:zitadel:iam:org:project:id:"+z.ProjectID+":aud")
	m := introspectBasic(t, z, z.BasicAPI, token).json(t)
	if m["active"] != true {
		t.Fatalf("introspection = %v, want active", m)
	}
	for _, k := range []string{"updated_at", "name", "preferred_username", "username"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s = %v without the profile scope", k, m[k])
		}
	}
}
