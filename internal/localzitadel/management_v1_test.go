package localzitadel

import (
	"net/http"
	"strings"
	"testing"
)

// gateway makes one management v1 call through the REST gateway.
func gateway(t *testing.T, z *Instance, token, method, path, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, z.Issuer+"/management/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, req)
}

// wantGatewayError checks the gateway's error JSON: gRPC's numeric code.
func wantGatewayError(t *testing.T, r response, status int, code float64) {
	t.Helper()
	m := r.json(t)
	if r.status != status || m["code"] != code || m["message"] == "" {
		t.Errorf("answer = %d %s, want %d with code %v", r.status, r.body, status, code)
	}
}

// TestManagementVersions: an instance that plays a release serves what that
// release serves: no v2 project, application or authorization service
// before v4.5, the v2 user service from v3.0, management v1 always.
func TestManagementVersions(t *testing.T) {
	for _, c := range []struct {
		version           string
		project, user, v1 bool
	}{
		{"v2.71", false, false, true},
		{"v3.4", false, true, true},
		{"v4.4", false, true, true},
		{"v4.5", true, true, true},
		{"current", true, true, true},
	} {
		t.Run(c.version, func(t *testing.T) {
			z, err := Start(t.Context(), Options{ZitadelVersion: c.version})
			if err != nil {
				t.Fatal(err)
			}
			defer z.Close()
			token := adminToken(t, z, addAdmin(t, z, "admin", true), "openid "+scopeZitadelAud)
			// Not served: the router's plain 404, no Connect error JSON.
			served := func(r response) bool {
				return r.status != http.StatusNotFound || r.header.Get("Content-Type") == "application/json"
			}
			if got := served(connect(t, z, token, "zitadel.project.v2.ProjectService/ListProjects", `{}`)); got != c.project {
				t.Errorf("v2 ListProjects served: %v, want %v", got, c.project)
			}
			if got := served(connect(t, z, token, "zitadel.authorization.v2.AuthorizationService/CreateAuthorization", `{}`)); got != c.project {
				t.Errorf("v2 CreateAuthorization served: %v, want %v", got, c.project)
			}
			if got := served(connect(t, z, token, "zitadel.user.v2.UserService/ListUsers", `{}`)); got != c.user {
				t.Errorf("v2 ListUsers served: %v, want %v", got, c.user)
			}
			if got := gateway(t, z, token, http.MethodPost, "/projects/_search", `{}`).status == http.StatusOK; got != c.v1 {
				t.Errorf("v1 ListProjects served: %v, want %v", got, c.v1)
			}
		})
	}
	for _, bad := range []string{"4.4", "v1.0", "v4", "vX.1", "v4.4.1.1"} {
		if _, err := Start(t.Context(), Options{ZitadelVersion: bad}); err == nil || !strings.Contains(err.Error(), "v3.4 or v4.4") {
			t.Errorf("ZitadelVersion %q: %v", bad, err)
		}
	}
}

// TestManagementV1 pins the gateway's answers setup relies on: the
// objects' shapes, KEY_TYPE_JSON required, not_found for a missing role,
// and a foreign organisation in x-zitadel-orgid refused.
func TestManagementV1(t *testing.T) {
	z := startInstance(t)
	token := adminToken(t, z, addAdmin(t, z, "admin", true), "openid "+scopeZitadelAud)

	wantGatewayError(t, gateway(t, z, "", http.MethodPost, "/users/_search", `{}`), http.StatusUnauthorized, 16)
	r := gateway(t, z, token, http.MethodPost, "/users/_search", `{"queries":[{"userNameQuery":{"userName":"`+z.JWTReader.UserName+`","method":"TEXT_QUERY_METHOD_EQUALS"}}]}`)
	users := ok(t, r)["result"].([]any)
	if len(users) != 1 {
		t.Fatalf("ListUsers by user name: %s", r.body)
	}
	m := users[0].(map[string]any)["machine"].(map[string]any)
	if m["accessTokenType"] != accessTokenTypeJWT || m["hasSecret"] != true {
		t.Errorf("machine = %v, want hasSecret and ACCESS_TOKEN_TYPE_JWT", m)
	}

	wantGatewayError(t, gateway(t, z, token, http.MethodPost, "/users/"+z.Reader.UserID+"/keys", `{}`), http.StatusBadRequest, 3)
	key := ok(t, gateway(t, z, token, http.MethodPost, "/users/"+z.Reader.UserID+"/keys", `{"type":"KEY_TYPE_JSON"}`))
	decodeKeyFile(t, key["keyDetails"].(string), "serviceaccount")
	ok(t, gateway(t, z, token, http.MethodDelete, "/users/"+z.Reader.UserID+"/keys/"+key["keyId"].(string), ""))
	wantGatewayError(t, gateway(t, z, token, http.MethodDelete, "/users/"+z.Reader.UserID+"/keys/"+key["keyId"].(string), ""), http.StatusNotFound, 5)

	pat := ok(t, gateway(t, z, token, http.MethodPost, "/users/"+z.Reader.UserID+"/pats", `{}`))
	if introspectBasic(t, z, z.BasicAPI, pat["token"].(string)).json(t)["active"] != true {
		t.Error("the new PAT is not active")
	}
	ok(t, gateway(t, z, token, http.MethodDelete, "/users/"+z.Reader.UserID+"/pats/"+pat["tokenId"].(string), ""))
	if introspectBasic(t, z, z.BasicAPI, pat["token"].(string)).json(t)["active"] != false {
		t.Error("a removed PAT is still active")
	}

	wantGatewayError(t, gateway(t, z, token, http.MethodDelete, "/projects/"+z.ProjectID+"/roles/no-such-role", ""), http.StatusNotFound, 5)
	apps := ok(t, gateway(t, z, token, http.MethodPost, "/projects/"+z.ProjectID+"/apps/_search", `{}`))["result"].([]any)
	if len(apps) == 0 || apps[0].(map[string]any)["apiConfig"] == nil {
		t.Errorf("ListApps: %v", apps)
	}

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, z.Issuer+"/management/v1/projects/_search", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("x-zitadel-orgid", "another-org")
	wantGatewayError(t, do(t, req), http.StatusForbidden, 7)
	wantGatewayError(t, gateway(t, z, token, http.MethodGet, "/no/such/call", ""), http.StatusNotFound, 5)
}
