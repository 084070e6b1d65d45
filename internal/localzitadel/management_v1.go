package localzitadel

// Management v1 (zitadel.management.v1.ManagementService) through its REST
// gateway, as every ZITADEL release from v2 to current serves it: the
// method and path of each call are the google.api.http rules of ZITADEL's
// proto/zitadel/management.proto under the prefix /management/v1; bodies
// are protobuf JSON (lowerCamelCase names, enums by name, zero values left
// out, uint64 as a string); errors are {"code":<gRPC code>,"message":…,
// "details":[]} with the matching HTTP status. The organisation is the
// caller's, or the one in the header x-zitadel-orgid. Only the calls
// `combos setup` makes are served. Request and response shapes are written
// here from the v1 protos (management.proto, user.proto, project.proto,
// app.proto, auth_n_key.proto); the setup client has its own.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// gatewayPrefix is where ZITADEL mounts the v1 gateway
// (internal/api/grpc/management/server.go: GatewayPathPrefix).
const gatewayPrefix = "/management/v1"

// gatewayCall answers one v1 call; r carries the path parameters.
type gatewayCall func(i *Instance, r *http.Request, body []byte) (any, error)

func (i *Instance) mountGateway(mux *http.ServeMux) {
	routes := map[string]gatewayCall{
		"POST /projects/_search":                                                       v1ListProjects,
		"POST /projects":                                                               v1AddProject,
		"DELETE /projects/{id}":                                                        v1RemoveProject,
		"POST /projects/{project_id}/roles":                                            v1AddProjectRole,
		"DELETE /projects/{project_id}/roles/{role_key...}":                            v1RemoveProjectRole,
		"POST /projects/{project_id}/apps/_search":                                     v1ListApps,
		"POST /projects/{project_id}/apps/api":                                         v1AddAPIApp,
		"DELETE /projects/{project_id}/apps/{app_id}":                                  v1RemoveApp,
		"POST /projects/{project_id}/apps/{app_id}/api_config/_generate_client_secret": v1RegenerateAPIClientSecret,
		"POST /projects/{project_id}/apps/{app_id}/keys":                               v1AddAppKey,
		"DELETE /projects/{project_id}/apps/{app_id}/keys/{key_id}":                    v1RemoveAppKey,
		"POST /users/_search":                                                          v1ListUsers,
		"POST /users/machine":                                                          v1AddMachineUser,
		"DELETE /users/{id}":                                                           v1RemoveUser,
		"PUT /users/{user_id}/machine":                                                 v1UpdateMachine,
		"PUT /users/{user_id}/secret":                                                  v1GenerateMachineSecret,
		"DELETE /users/{user_id}/secret":                                               v1RemoveMachineSecret,
		"POST /users/{user_id}/keys":                                                   v1AddMachineKey,
		"DELETE /users/{user_id}/keys/{key_id}":                                        v1RemoveMachineKey,
		"POST /users/{user_id}/pats":                                                   v1AddPersonalAccessToken,
		"DELETE /users/{user_id}/pats/{token_id}":                                      v1RemovePersonalAccessToken,
		"POST /users/{user_id}/grants":                                                 v1AddUserGrant,
	}
	for route, call := range routes {
		method, path, _ := strings.Cut(route, " ")
		mux.Handle(method+" "+gatewayPrefix+path, i.gatewayHandler(call))
	}
	// Any other path under the prefix: the gateway's own 404.
	mux.Handle(gatewayPrefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeGatewayError(w, errf("not_found", "Not Found"))
	}))
}

func (i *Instance) gatewayHandler(call gatewayCall) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := i.authorizeManagement(r)
		if org := r.Header.Get("x-zitadel-orgid"); err == nil && org != "" && org != i.OrgID {
			// The caller is Org Owner of its own organisation only.
			err = errf("permission_denied", "No matching permissions found (AUTH-5mWD2)")
		}
		var body []byte
		if err == nil {
			body, err = io.ReadAll(r.Body)
		}
		var resp any
		if err == nil {
			resp, err = call(i, r, body)
		}
		if err != nil {
			writeGatewayError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
}

// writeGatewayError writes grpc-gateway's error JSON: gRPC's numeric code.
func writeGatewayError(w http.ResponseWriter, err error) {
	var e *rpcError
	if !errors.As(err, &e) {
		e = &rpcError{code: "internal", message: "Errors.Internal"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rpcCodes[e.code].status)
	json.NewEncoder(w).Encode(map[string]any{"code": rpcCodes[e.code].grpc, "message": e.message, "details": []any{}})
}

// decode reads a request body; an empty one is the empty message, as the
// gateway treats it. Unknown fields are ignored.
func decode[T any](body []byte) (*T, error) {
	v := new(T)
	if len(strings.TrimSpace(string(body))) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, errf("invalid_argument", "invalid request body: %v", err)
	}
	return v, nil
}

// objectDetails is zitadel.v1.ObjectDetails; sequence is uint64, a string.
func (i *Instance) objectDetails() map[string]string {
	return map[string]string{"sequence": "1", "creationDate": now(), "changeDate": now(), "resourceOwner": i.OrgID}
}

// listDetails is zitadel.v1.ListDetails.
func listDetails(n int) map[string]string {
	return map[string]string{"totalResult": fmt.Sprint(n), "viewTimestamp": now()}
}

// textQuery is a v1 query of a text field with a zitadel.v1.TextQueryMethod.
type textQuery struct {
	Method string `json:"method"`
}

// --- projects (project.proto) ------------------------------------------------

func v1ListProjects(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		Queries []struct {
			NameQuery *struct {
				Name string `json:"name"`
				textQuery
			} `json:"nameQuery"`
		} `json:"queries"`
	}](body)
	if err != nil {
		return nil, err
	}
	i.dir.RLock()
	defer i.dir.RUnlock()
	type projectV1 struct {
		ID      string            `json:"id"`
		Details map[string]string `json:"details"`
		Name    string            `json:"name"`
		State   string            `json:"state"`
	}
	out := []projectV1{}
	for _, p := range i.projects {
		match := true
		for _, q := range req.Queries {
			if q.NameQuery != nil {
				match = match && textMatches(q.NameQuery.Method, p.name, q.NameQuery.Name)
			}
		}
		if match {
			out = append(out, projectV1{ID: p.id, Details: i.objectDetails(), Name: p.name, State: "PROJECT_STATE_ACTIVE"})
		}
	}
	slices.SortFunc(out, func(a, b projectV1) int { return strings.Compare(a.ID, b.ID) })
	return map[string]any{"details": listDetails(len(out)), "result": out}, nil
}

func v1AddProject(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		Name string `json:"name"`
	}](body)
	if err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, errf("invalid_argument", "invalid AddProjectRequest.Name: value length must be between 1 and 200 runes, inclusive")
	}
	p, err := i.newProject(req.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": p.id, "details": i.objectDetails()}, nil
}

func v1RemoveProject(i *Instance, r *http.Request, body []byte) (any, error) {
	if !i.removeProject(r.PathValue("id")) {
		return nil, errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

func v1AddProjectRole(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		RoleKey     string `json:"roleKey"`
		DisplayName string `json:"displayName"`
	}](body)
	if err != nil {
		return nil, err
	}
	if err := i.newRole(r.PathValue("project_id"), req.RoleKey, req.DisplayName); err != nil {
		return nil, err
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

// v1RemoveProjectRole answers not_found for a role the project lacks, as
// ZITADEL's command does (project_role.go: "Errors.Project.Role.NotExisting").
func v1RemoveProjectRole(i *Instance, r *http.Request, body []byte) (any, error) {
	found, err := i.removeRole(r.PathValue("project_id"), r.PathValue("role_key"))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf("not_found", "Errors.Project.Role.NotExisting (COMMAND-DlF7s)")
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

// --- applications (app.proto) ------------------------------------------------

func v1ListApps(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		Queries []struct {
			NameQuery *struct {
				Name string `json:"name"`
				textQuery
			} `json:"nameQuery"`
		} `json:"queries"`
	}](body)
	if err != nil {
		return nil, err
	}
	projectID := r.PathValue("project_id")
	i.dir.RLock()
	defer i.dir.RUnlock()
	type apiConfig struct {
		ClientID       string `json:"clientId"`
		AuthMethodType string `json:"authMethodType,omitempty"` // BASIC, the zero value, is left out
	}
	type appV1 struct {
		ID        string            `json:"id"`
		Details   map[string]string `json:"details"`
		State     string            `json:"state"`
		Name      string            `json:"name"`
		APIConfig apiConfig         `json:"apiConfig"`
	}
	out := []appV1{}
	for _, a := range i.apps {
		name := i.mgmt.appName(a.clientID)
		match := a.projectID == projectID
		for _, q := range req.Queries {
			if q.NameQuery != nil {
				match = match && textMatches(q.NameQuery.Method, name, q.NameQuery.Name)
			}
		}
		if !match {
			continue
		}
		j := appV1{ID: a.appID, Details: i.objectDetails(), State: "APP_STATE_ACTIVE", Name: name, APIConfig: apiConfig{ClientID: a.clientID}}
		if a.publicKey != nil || a.secret == "" {
			j.APIConfig.AuthMethodType = apiAuthPrivateKeyJWT
		}
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b appV1) int { return strings.Compare(a.ID, b.ID) })
	return map[string]any{"details": listDetails(len(out)), "result": out}, nil
}

func v1AddAPIApp(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		Name           string `json:"name"`
		AuthMethodType string `json:"authMethodType"`
	}](body)
	if err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, errf("invalid_argument", "invalid AddAPIAppRequest.Name: value length must be between 1 and 200 runes, inclusive")
	}
	if m := req.AuthMethodType; m != "" && m != apiAuthBasic && m != apiAuthPrivateKeyJWT {
		return nil, errf("invalid_argument", "invalid AddAPIAppRequest.AuthMethodType: value must be one of the defined enum values")
	}
	a, err := i.newAPIApp(r.PathValue("project_id"), req.Name, req.AuthMethodType == apiAuthPrivateKeyJWT)
	if err != nil {
		return nil, err
	}
	resp := map[string]any{"appId": a.appID, "details": i.objectDetails(), "clientId": a.clientID}
	if a.secret != "" {
		resp["clientSecret"] = a.secret
	}
	return resp, nil
}

func appOf(r *http.Request) *applicationRequest {
	return &applicationRequest{ApplicationID: r.PathValue("app_id"), ProjectID: r.PathValue("project_id")}
}

func v1RemoveApp(i *Instance, r *http.Request, body []byte) (any, error) {
	if !i.removeApp(appOf(r)) {
		return nil, errf("not_found", "Errors.Project.App.NotFound (COMMAND-Fd92s)")
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

func v1RegenerateAPIClientSecret(i *Instance, r *http.Request, body []byte) (any, error) {
	secret, err := i.newAppSecret(appOf(r))
	if err != nil {
		return nil, err
	}
	return map[string]any{"clientSecret": secret, "details": i.objectDetails()}, nil
}

// keyTypeJSON is zitadel.authn.v1.KeyType KEY_TYPE_JSON; the proto's
// validation refuses the unspecified type (not_in: [0]).
const keyTypeJSON = "KEY_TYPE_JSON"

type addKeyV1 struct {
	Type           string `json:"type"`
	ExpirationDate string `json:"expirationDate"`
}

func v1AddAppKey(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[addKeyV1](body)
	if err != nil {
		return nil, err
	}
	if req.Type != keyTypeJSON {
		return nil, errf("invalid_argument", "invalid AddAppKeyRequest.Type: value must not be in list [0]")
	}
	keyID, details, err := i.newAppKey(appOf(r))
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": keyID, "details": i.objectDetails(), "keyDetails": details}, nil
}

func v1RemoveAppKey(i *Instance, r *http.Request, body []byte) (any, error) {
	if err := i.removeAppKey(appOf(r), r.PathValue("key_id")); err != nil {
		return nil, err
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

// --- users (user.proto) ------------------------------------------------------

func v1ListUsers(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		Queries []struct {
			UserNameQuery *struct {
				UserName string `json:"userName"`
				textQuery
			} `json:"userNameQuery"`
		} `json:"queries"`
	}](body)
	if err != nil {
		return nil, err
	}
	i.dir.RLock()
	defer i.dir.RUnlock()
	// zitadel.user.v1.Machine: name, description, has_secret = 3,
	// access_token_type = 4 (BEARER, the zero value, is left out).
	type machineV1 struct {
		Name            string `json:"name"`
		HasSecret       bool   `json:"hasSecret,omitempty"`
		AccessTokenType string `json:"accessTokenType,omitempty"`
	}
	type userV1 struct {
		ID                 string            `json:"id"`
		Details            map[string]string `json:"details"`
		State              string            `json:"state"`
		UserName           string            `json:"userName"`
		LoginNames         []string          `json:"loginNames"`
		PreferredLoginName string            `json:"preferredLoginName"`
		Machine            machineV1         `json:"machine"`
	}
	out := []userV1{}
	for _, u := range i.users {
		match := true
		for _, q := range req.Queries {
			if q.UserNameQuery != nil {
				match = match && textMatches(q.UserNameQuery.Method, u.userName, q.UserNameQuery.UserName)
			}
		}
		if !match {
			continue
		}
		j := userV1{ID: u.id, Details: i.objectDetails(), State: "USER_STATE_ACTIVE", UserName: u.userName,
			LoginNames: []string{u.loginName}, PreferredLoginName: u.loginName,
			Machine: machineV1{Name: u.displayName, HasSecret: u.secret != ""}}
		if u.jwtAccessTokens {
			j.Machine.AccessTokenType = accessTokenTypeJWT
		}
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b userV1) int { return strings.Compare(a.ID, b.ID) })
	return map[string]any{"details": listDetails(len(out)), "result": out}, nil
}

func v1AddMachineUser(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		UserName        string `json:"userName"`
		Name            string `json:"name"`
		AccessTokenType string `json:"accessTokenType"`
	}](body)
	if err != nil {
		return nil, err
	}
	if req.UserName == "" || req.Name == "" {
		return nil, errf("invalid_argument", "invalid AddMachineUserRequest: userName and name are required")
	}
	u, err := i.createMachineUser(req.UserName, req.Name)
	if err != nil {
		return nil, err
	}
	if err := i.withUser(u.id, func(u *serviceUser) { u.jwtAccessTokens = req.AccessTokenType == accessTokenTypeJWT }); err != nil {
		return nil, err
	}
	return map[string]any{"userId": u.id, "details": i.objectDetails()}, nil
}

func v1RemoveUser(i *Instance, r *http.Request, body []byte) (any, error) {
	if _, err := i.deleteUser(&userIDRequest{UserID: r.PathValue("id")}); err != nil {
		return nil, err
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

// v1UpdateMachine sets a machine user's name and access token type; it is
// what sets the type on releases whose v2 user API lacks the field.
func v1UpdateMachine(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		Name            string `json:"name"`
		AccessTokenType string `json:"accessTokenType"`
	}](body)
	if err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, errf("invalid_argument", "invalid UpdateMachineRequest.Name: value length must be between 1 and 200 runes, inclusive")
	}
	err = i.withUser(r.PathValue("user_id"), func(u *serviceUser) {
		u.displayName = req.Name
		u.jwtAccessTokens = req.AccessTokenType == accessTokenTypeJWT
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

func v1GenerateMachineSecret(i *Instance, r *http.Request, body []byte) (any, error) {
	userID := r.PathValue("user_id")
	secret, err := i.newUserSecret(userID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"clientId": i.userByID(userID).userName, "clientSecret": secret, "details": i.objectDetails()}, nil
}

func v1RemoveMachineSecret(i *Instance, r *http.Request, body []byte) (any, error) {
	if err := i.removeUserSecret(r.PathValue("user_id")); err != nil {
		return nil, err
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

func v1AddMachineKey(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[addKeyV1](body)
	if err != nil {
		return nil, err
	}
	if req.Type != keyTypeJSON {
		return nil, errf("invalid_argument", "invalid AddMachineKeyRequest.Type: value must not be in list [0]")
	}
	keyJSON, err := i.addUserKey(r.PathValue("user_id"))
	if err != nil {
		return nil, err
	}
	var f struct {
		KeyID string `json:"keyId"`
	}
	json.Unmarshal(keyJSON, &f)
	return map[string]any{"keyId": f.KeyID, "keyDetails": keyJSON, "details": i.objectDetails()}, nil
}

func v1RemoveMachineKey(i *Instance, r *http.Request, body []byte) (any, error) {
	if err := i.removeUserKey(r.PathValue("user_id"), r.PathValue("key_id")); err != nil {
		return nil, err
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

func v1AddPersonalAccessToken(i *Instance, r *http.Request, body []byte) (any, error) {
	if _, err := decode[struct {
		ExpirationDate string `json:"expirationDate"`
	}](body); err != nil {
		return nil, err
	}
	t, err := i.newPAT(r.PathValue("user_id"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"tokenId": t.id, "token": t.opaque, "details": i.objectDetails()}, nil
}

func v1RemovePersonalAccessToken(i *Instance, r *http.Request, body []byte) (any, error) {
	if err := i.removePAT(r.PathValue("user_id"), r.PathValue("token_id")); err != nil {
		return nil, err
	}
	return map[string]any{"details": i.objectDetails()}, nil
}

func v1AddUserGrant(i *Instance, r *http.Request, body []byte) (any, error) {
	req, err := decode[struct {
		ProjectID string   `json:"projectId"`
		RoleKeys  []string `json:"roleKeys"`
	}](body)
	if err != nil {
		return nil, err
	}
	id, err := i.grant(r.PathValue("user_id"), req.ProjectID, req.RoleKeys)
	if err != nil {
		return nil, err
	}
	return map[string]any{"userGrantId": id, "details": i.objectDetails()}, nil
}
