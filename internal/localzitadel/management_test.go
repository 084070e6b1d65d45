package localzitadel

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

const adminScope = "openid urn:zitadel:iam:org:project:id:zitadel:aud"

// adminToken signs in as the admin with the JWT bearer grant.
func adminToken(t *testing.T, z *Instance, a *Admin, scope string) string {
	t.Helper()
	kf := readKeyFile(t, a.KeyFile)
	r := jwtGrant(t, z, signAssertion(t, kf.private, assertionClaims{kid: kf.KeyID, iss: kf.UserID, sub: kf.UserID, aud: []string{z.Issuer}}), scope)
	if r.status != http.StatusOK {
		t.Fatalf("admin token: %d %s", r.status, r.body)
	}
	return r.str(t, "access_token")
}

func addAdmin(t *testing.T, z *Instance, name string, orgOwner bool) *Admin {
	t.Helper()
	a, err := z.AddAdmin(name, orgOwner)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// connect makes one Connect call with a JSON body.
func connect(t *testing.T, z *Instance, token, procedure, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, z.Issuer+"/"+procedure, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

// ok checks a successful Connect answer and decodes it.
func ok(t *testing.T, r response) map[string]any {
	t.Helper()
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer = %d %s %s, want 200 application/json", r.status, r.header.Get("Content-Type"), r.body)
	}
	return r.json(t)
}

// wantConnectError checks a Connect error: the HTTP status of its code and
// exactly {"code","message"}.
func wantConnectError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("answer = %d %s, want %d application/json (body %s)", r.status, r.header.Get("Content-Type"), status, r.body)
	}
	m := r.json(t)
	if m["code"] != code || m["message"] == "" || len(m) != 2 {
		t.Errorf("error = %s, want {\"code\":%q,\"message\":…}", r.body, code)
	}
}

func TestManagementAuthorization(t *testing.T) {
	z := startInstance(t)
	owner := addAdmin(t, z, "owner", true)
	nobody := addAdmin(t, z, "nobody", false)
	const list = "zitadel.project.v2.ProjectService/ListProjects"

	wantConnectError(t, connect(t, z, "", list, `{}`), http.StatusUnauthorized, "unauthenticated")
	wantConnectError(t, connect(t, z, "garbage", list, `{}`), http.StatusUnauthorized, "unauthenticated")
	// A token for a project, not for ZITADEL's own APIs.
	wantConnectError(t, connect(t, z, adminToken(t, z, owner, scopeFor(z.ProjectID)), list, `{}`), http.StatusUnauthorized, "unauthenticated")
	// Signed in, but no manager role in the organisation.
	nobodyToken := adminToken(t, z, nobody, adminScope)
	wantConnectError(t, connect(t, z, nobodyToken, list, `{}`), http.StatusForbidden, "permission_denied")
	wantConnectError(t, connect(t, z, nobodyToken, "zitadel.user.v2.UserService/CreateUser",
		`{"organizationId":"`+z.OrgID+`","username":"x","machine":{"name":"x"}}`), http.StatusForbidden, "permission_denied")

	// v1's REST gateway: gRPC's numeric code in its error JSON.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, z.Issuer+"/management/v1/users/"+z.Reader.UserID+"/machine",
		strings.NewReader(`{"name":"x","accessTokenType":"ACCESS_TOKEN_TYPE_JWT"}`))
	req.Header.Set("Authorization", "Bearer "+nobodyToken)
	req.Header.Set("Content-Type", "application/json")
	r := do(t, req)
	if m := r.json(t); r.status != http.StatusForbidden || m["code"] != float64(7) || m["message"] == "" {
		t.Errorf("UpdateMachine without rights = %d %s, want 403 {\"code\":7,…}", r.status, r.body)
	}

	ownerToken := adminToken(t, z, owner, adminScope)
	m := ok(t, connect(t, z, ownerToken, list, `{"filters":[{"projectNameFilter":{"projectName":"introspection-examples","method":"TEXT_FILTER_METHOD_EQUALS"}}]}`))
	projects, _ := m["projects"].([]any)
	if len(projects) != 1 || projects[0].(map[string]any)["projectId"] != z.ProjectID {
		t.Errorf("ListProjects by name = %s, want the one project %s", jsonString(t, m), z.ProjectID)
	}
	if p, _ := m["pagination"].(map[string]any); p["totalResult"] != "1" {
		t.Errorf("pagination = %v, want totalResult \"1\" (uint64: a string in protobuf JSON)", m["pagination"])
	}
	// Another organisation's resources are not the owner's.
	wantConnectError(t, connect(t, z, ownerToken, "zitadel.project.v2.ProjectService/CreateProject",
		`{"organizationId":"123","name":"elsewhere"}`), http.StatusForbidden, "permission_denied")
}

func TestManagementProtocol(t *testing.T) {
	z := startInstance(t)
	token := adminToken(t, z, addAdmin(t, z, "owner", true), adminScope)

	if r := connect(t, z, token, "zitadel.project.v2.ProjectService/NoSuchMethod", `{}`); r.status != http.StatusNotFound {
		t.Errorf("unknown procedure = %d, want 404", r.status)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, z.Issuer+"/zitadel.project.v2.ProjectService/ListProjects", nil)
	if r := do(t, req); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET = %d, want 405", r.status)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, z.Issuer+"/zitadel.project.v2.ProjectService/ListProjects", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "text/plain")
	if r := do(t, req); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain = %d, want 415", r.status)
	}
	wantConnectError(t, connect(t, z, token, "zitadel.project.v2.ProjectService/CreateProject", `{"name":`), http.StatusBadRequest, "invalid_argument")
	wantConnectError(t, connect(t, z, token, "zitadel.project.v2.ProjectService/ListProjects", ``), http.StatusBadRequest, "invalid_argument")
	wantConnectError(t, connect(t, z, token, "zitadel.project.v2.ProjectService/CreateProject",
		`{"organizationId":"`+z.OrgID+`","name":"introspection-examples"}`), http.StatusConflict, "already_exists")
	wantConnectError(t, connect(t, z, token, "zitadel.project.v2.ProjectService/AddProjectRole",
		`{"projectId":"`+z.ProjectID+`","roleKey":"read:messages","displayName":"Read"}`), http.StatusConflict, "already_exists")
	wantConnectError(t, connect(t, z, token, "zitadel.user.v2.UserService/AddSecret", `{"userId":"404"}`), http.StatusNotFound, "not_found")
	// Unknown fields are ignored, as connect-go's protojson codec does.
	ok(t, connect(t, z, token, "zitadel.user.v2.UserService/ListUsers", `{"queries":[],"someFutureField":1}`))
}

// TestManagementObjectsWork: what the management calls make works at the
// token and introspection endpoints, and stops working when deleted.
func TestManagementObjectsWork(t *testing.T) {
	z := startInstance(t)
	token := adminToken(t, z, addAdmin(t, z, "owner", true), adminScope)
	call := func(procedure, body string) map[string]any {
		t.Helper()
		return ok(t, connect(t, z, token, procedure, body))
	}
	str := func(m map[string]any, path ...string) string {
		t.Helper()
		var v any = m
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		s, _ := v.(string)
		return s
	}

	projectID := str(call("zitadel.project.v2.ProjectService/CreateProject", `{"organizationId":"`+z.OrgID+`","name":"p"}`), "projectId")
	call("zitadel.project.v2.ProjectService/AddProjectRole", `{"projectId":"`+projectID+`","roleKey":"read:messages","displayName":"Read"}`)

	jwtApp := call("zitadel.application.v2.ApplicationService/CreateApplication",
		`{"projectId":"`+projectID+`","name":"jwt","apiConfiguration":{"authMethodType":"API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT"}}`)
	if str(jwtApp, "apiConfiguration", "clientSecret") != "" {
		t.Errorf("a private_key_jwt application got a secret: %s", jsonString(t, jwtApp))
	}
	appKey := call("zitadel.application.v2.ApplicationService/CreateApplicationKey",
		`{"applicationId":"`+str(jwtApp, "applicationId")+`","projectId":"`+projectID+`"}`)
	appKeyFile := decodeKeyFile(t, str(appKey, "keyDetails"), "application")

	basicApp := call("zitadel.application.v2.ApplicationService/CreateApplication",
		`{"projectId":"`+projectID+`","name":"basic","apiConfiguration":{"authMethodType":"API_AUTH_METHOD_TYPE_BASIC"}}`)
	basicSecret := str(basicApp, "apiConfiguration", "clientSecret")
	if !regexp.MustCompile(`^[A-Za-z0-9]{64}$`).MatchString(basicSecret) {
		t.Errorf("client secret is not 64 letters and digits")
	}
	wantConnectError(t, connect(t, z, token, "zitadel.application.v2.ApplicationService/CreateApplicationKey",
		`{"applicationId":"`+str(basicApp, "applicationId")+`","projectId":"`+projectID+`"}`), http.StatusBadRequest, "failed_precondition")
	basic := App{ClientID: str(basicApp, "apiConfiguration", "clientId"), ClientSecret: basicSecret}
	jwtAPI := App{ClientID: str(jwtApp, "apiConfiguration", "clientId"), KeyFile: appKeyFile}

	userID := str(call("zitadel.user.v2.UserService/CreateUser",
		`{"organizationId":"`+z.OrgID+`","username":"robot","machine":{"name":"Robot"}}`), "id")
	userKey := call("zitadel.user.v2.UserService/AddKey", `{"userId":"`+userID+`"}`)
	user := &ServiceUser{UserID: userID, UserName: "robot", KeyFile: decodeKeyFile(t, str(userKey, "keyContent"), "serviceaccount")}
	user.ClientSecret = str(call("zitadel.user.v2.UserService/AddSecret", `{"userId":"`+userID+`"}`), "clientSecret")
	pat := str(call("zitadel.user.v2.UserService/AddPersonalAccessToken", `{"userId":"`+userID+`"}`), "token")

	// The key's token is opaque and has no role yet.
	scope := scopeFor(projectID)
	r := jwtGrant(t, z, userAssertion(t, z, user), scope)
	opaque := r.str(t, "access_token")
	if opaque == "" || strings.Count(opaque, ".") == 2 {
		t.Fatalf("JWT grant with the new key = %d %s", r.status, r.body)
	}
	if m := introspectJWT(t, z, jwtAPI, opaque).json(t); m["active"] != true || m[claimRoles] != nil {
		t.Errorf("introspection before the authorization = %v, want active without roles", m)
	}
	call("zitadel.authorization.v2.AuthorizationService/CreateAuthorization",
		`{"userId":"`+userID+`","projectId":"`+projectID+`","organizationId":"`+z.OrgID+`","roleKeys":["read:messages"]}`)
	wantConnectError(t, connect(t, z, token, "zitadel.authorization.v2.AuthorizationService/CreateAuthorization",
		`{"userId":"`+userID+`","projectId":"`+projectID+`","roleKeys":["read:messages"]}`), http.StatusConflict, "already_exists")
	for _, tok := range []string{opaque, pat} {
		if m := introspectBasic(t, z, basic, tok).json(t); m["active"] != true || m[claimRoles] == nil {
			t.Errorf("introspection after the authorization = %v, want active with the role", m)
		}
	}

	// client_credentials with the secret; JWT access tokens after UpdateMachine.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, z.Issuer+"/management/v1/users/"+userID+"/machine",
		strings.NewReader(`{"name":"Robot","accessTokenType":"ACCESS_TOKEN_TYPE_JWT"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if r := do(t, req); r.status != http.StatusOK {
		t.Fatalf("UpdateMachine = %d %s", r.status, r.body)
	}
	r = clientCredentialsBasic(t, z, "robot", user.ClientSecret, scope)
	if jwt := r.str(t, "access_token"); strings.Count(jwt, ".") != 2 {
		t.Errorf("after UpdateMachine to JWT, client_credentials gave %d %s, want a JWT", r.status, r.body)
	}
	users := call("zitadel.user.v2.UserService/ListUsers", `{"queries":[{"userNameQuery":{"userName":"robot"}}]}`)
	if got := jsonString(t, users["result"]); !strings.Contains(got, `"accessTokenType":"ACCESS_TOKEN_TYPE_JWT"`) || !strings.Contains(got, `"hasSecret":true`) {
		t.Errorf("ListUsers = %s", got)
	}

	// Deleting the user ends its tokens; deleting the project its apps.
	call("zitadel.user.v2.UserService/DeleteUser", `{"userId":"`+userID+`"}`)
	wantInactive(t, introspectBasic(t, z, basic, pat))
	call("zitadel.project.v2.ProjectService/DeleteProject", `{"projectId":"`+projectID+`"}`)
	wantError(t, introspectBasic(t, z, basic, pat), http.StatusBadRequest, "unauthorized_client")
	apps := call("zitadel.application.v2.ApplicationService/ListApplications", `{"filters":[{"projectIdFilter":{"projectId":"`+projectID+`"}}]}`)
	if got := apps["applications"].([]any); len(got) != 0 {
		t.Errorf("applications of a deleted project: %v", got)
	}
}

// decodeKeyFile decodes a key file from its protobuf JSON bytes (base64),
// checks its type and writes it to a file.
func decodeKeyFile(t *testing.T, b64, wantType string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("key bytes are not standard base64: %v", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.Type != wantType {
		t.Fatalf("key file type %q (%v), want %s", f.Type, err, wantType)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestManagementWhileServing changes the directory while tokens are
// issued and introspected (run with -race).
func TestManagementWhileServing(t *testing.T) {
	z := startInstance(t)
	token := adminToken(t, z, addAdmin(t, z, "owner", true), adminScope)
	userToken := accessToken(t, z, z.Reader)
	var wg sync.WaitGroup
	for n := range 4 {
		wg.Go(func() {
			for k := range 5 {
				name := "u" + string(rune('a'+n)) + string(rune('a'+k))
				r := connect(t, z, token, "zitadel.user.v2.UserService/CreateUser",
					`{"organizationId":"`+z.OrgID+`","username":"`+name+`","machine":{"name":"x"}}`)
				id := r.str(t, "id")
				connect(t, z, token, "zitadel.user.v2.UserService/AddSecret", `{"userId":"`+id+`"}`)
				connect(t, z, token, "zitadel.authorization.v2.AuthorizationService/CreateAuthorization",
					`{"userId":"`+id+`","projectId":"`+z.ProjectID+`","roleKeys":["read:messages"]}`)
			}
		})
		wg.Go(func() {
			for range 10 {
				if m := introspectBasic(t, z, z.BasicAPI, userToken).json(t); m["active"] != true {
					t.Errorf("introspection while the directory changes: %v", m)
				}
				post(t, z.TokenURL, url.Values{"grant_type": {"client_credentials"}}, basic(z.Reader.UserName, z.Reader.ClientSecret))
			}
		})
	}
	wg.Wait()
	r := connect(t, z, token, "zitadel.user.v2.UserService/ListUsers", `{"queries":[{"userNameQuery":{"userName":"u","method":"TEXT_QUERY_METHOD_STARTS_WITH"}}]}`)
	if n := bytes.Count(r.body, []byte(`"userId"`)); n != 20 {
		t.Errorf("ListUsers found %d users, want 20", n)
	}
}

// TestManagementAccessTokenType: v2 CreateUser and UpdateUser set the
// machine user's access token type; with LegacyMachineTokenType they drop
// it, as earlier v4 releases did, and only v1 UpdateMachine sets it.
func TestManagementAccessTokenType(t *testing.T) {
	tokenType := func(z *Instance, token, userName string) string {
		t.Helper()
		m := ok(t, connect(t, z, token, "zitadel.user.v2.UserService/ListUsers", `{"queries":[{"userNameQuery":{"userName":"`+userName+`"}}]}`))
		machine := m["result"].([]any)[0].(map[string]any)["machine"].(map[string]any)
		s, _ := machine["accessTokenType"].(string)
		return s
	}
	for _, legacy := range []bool{false, true} {
		z, err := Start(t.Context(), Options{LegacyMachineTokenType: legacy})
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		token := adminToken(t, z, addAdmin(t, z, "owner", true), adminScope)
		id := ok(t, connect(t, z, token, "zitadel.user.v2.UserService/CreateUser",
			`{"organizationId":"`+z.OrgID+`","username":"jwt","machine":{"name":"J","accessTokenType":"ACCESS_TOKEN_TYPE_JWT"}}`))["id"].(string)
		want := "ACCESS_TOKEN_TYPE_JWT"
		if legacy {
			want = "" // BEARER, the zero value, is left out
		}
		if got := tokenType(z, token, "jwt"); got != want {
			t.Errorf("legacy=%v: after CreateUser with JWT: %q, want %q", legacy, got, want)
		}
		ok(t, connect(t, z, token, "zitadel.user.v2.UserService/UpdateUser",
			`{"userId":"`+id+`","machine":{"accessTokenType":"ACCESS_TOKEN_TYPE_BEARER"}}`))
		if got := tokenType(z, token, "jwt"); got != "" {
			t.Errorf("legacy=%v: after UpdateUser to BEARER: %q, want BEARER (left out)", legacy, got)
		}
	}
}

// TestManagementKeysAdd: a new key does not end the earlier ones, for a
// service user and an API application, also after a restart with Dir.
func TestManagementKeysAdd(t *testing.T) {
	dir := t.TempDir()
	z, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	token := adminToken(t, z, addAdmin(t, z, "owner", true), adminScope)
	userID := ok(t, connect(t, z, token, "zitadel.user.v2.UserService/CreateUser",
		`{"organizationId":"`+z.OrgID+`","username":"robot","machine":{"name":"Robot"}}`))["id"].(string)
	var userKeys []string
	for range 2 {
		m := ok(t, connect(t, z, token, "zitadel.user.v2.UserService/AddKey", `{"userId":"`+userID+`"}`))
		userKeys = append(userKeys, decodeKeyFile(t, m["keyContent"].(string), "serviceaccount"))
	}
	app := ok(t, connect(t, z, token, "zitadel.application.v2.ApplicationService/CreateApplication",
		`{"projectId":"`+z.ProjectID+`","name":"jwt","apiConfiguration":{"authMethodType":"API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT"}}`))
	var appKeys []App
	for range 2 {
		m := ok(t, connect(t, z, token, "zitadel.application.v2.ApplicationService/CreateApplicationKey",
			`{"applicationId":"`+app["applicationId"].(string)+`","projectId":"`+z.ProjectID+`"}`))
		appKeys = append(appKeys, App{ClientID: app["apiConfiguration"].(map[string]any)["clientId"].(string),
			KeyFile: decodeKeyFile(t, m["keyDetails"].(string), "application")})
	}

	check := func(z *Instance, when string) {
		t.Helper()
		for n, kf := range userKeys {
			r := jwtGrant(t, z, userAssertion(t, z, &ServiceUser{UserID: userID, KeyFile: kf}), scopeFor(z.ProjectID))
			if r.status != http.StatusOK {
				t.Errorf("%s: user key %d: token %d %s", when, n+1, r.status, r.body)
				continue
			}
			for m, a := range appKeys {
				if got := introspectJWT(t, z, a, r.str(t, "access_token")).json(t); got["active"] != true {
					t.Errorf("%s: app key %d: introspection %v", when, m+1, got)
				}
			}
		}
	}
	check(z, "serving")
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	check(again, "after a restart")
}
