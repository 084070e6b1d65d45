package main

// The two generations of ZITADEL's management API that setup speaks: the
// v2 services (project, application, authorization, user; all four since
// v4.5) and management v1 through its REST gateway (every release from v2
// on). setup asks v2 first and falls back to v1 for the whole run when the
// instance does not serve it. Each call's shape is written here from
// ZITADEL's protos (docs/zitadel-on-the-wire.md, "The calls").

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// managementAPI is what setup does, in either generation.
type managementAPI interface {
	// describe names the API for setup's output.
	describe() string

	findProject(ctx context.Context, name string) (id string, err error)
	createProject(ctx context.Context, name string) (id string, err error)
	// addRole reports existed when the project has the role already.
	addRole(ctx context.Context, projectID, key, display string) (existed bool, err error)
	removeRole(ctx context.Context, projectID, key string) error
	deleteProject(ctx context.Context, id string) error

	findApp(ctx context.Context, projectID, name string) (*foundApp, error)
	createApp(ctx context.Context, projectID, name string, jwt bool) (app foundApp, secret string, err error)
	addAppKey(ctx context.Context, projectID, appID string) (keyFile []byte, err error)
	removeAppKey(ctx context.Context, projectID, appID, keyID string) error
	newAppSecret(ctx context.Context, projectID, appID string) (string, error)
	deleteApp(ctx context.Context, projectID, appID string) error

	findUser(ctx context.Context, name string) (*foundUser, error)
	createUser(ctx context.Context, name, display string, jwtTokens bool) (id string, err error)
	setJWTTokens(ctx context.Context, userID, display string) error
	addUserKey(ctx context.Context, userID string) (keyFile []byte, err error)
	removeUserKey(ctx context.Context, userID, keyID string) error
	newUserSecret(ctx context.Context, userID string) (string, error)
	removeUserSecret(ctx context.Context, userID string) error
	addPAT(ctx context.Context, userID string) (id, token string, err error)
	removePAT(ctx context.Context, userID, id string) error
	// grant reports existed when the user has an authorization on the project.
	grant(ctx context.Context, userID, projectID, role string) (existed bool, err error)
	deleteUser(ctx context.Context, userID string) error
}

// foundApp is an API application found by name.
type foundApp struct {
	id, clientID string
	jwt          bool // private_key_jwt; else Basic
}

// foundUser is a service user found by user name.
type foundUser struct {
	id        string
	hasSecret bool
	jwtTokens bool
}

const (
	accessTokenJWT  = "ACCESS_TOKEN_TYPE_JWT"
	authMethodJWT   = "API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT"
	authMethodBasic = "API_AUTH_METHOD_TYPE_BASIC"
	// keyExpiration is the date ZITADEL gives a key created without one
	// (the console's "no expiration"); patExpiration likewise for a PAT.
	keyExpiration = "9999-01-01T00:00:00Z"
	patExpiration = "9999-12-31T23:59:59Z"
	description   = "made by go run ./combos setup"
)

// chooseAPI decides, from the first call, which API this instance serves:
// v2 ListProjects, or, when that is not served (404 or unimplemented), v1.
// It returns the API and the project's id ("" if there is none).
func chooseAPI(ctx context.Context, z *zitadelAPI, project string) (managementAPI, string, error) {
	var v2 managementAPI = v2API{z}
	id, err := v2.findProject(ctx, project)
	if notServed(err) {
		v1 := v1API{z}
		id, err = v1.findProject(ctx, project)
		return v1, id, err
	}
	return v2, id, err
}

// notServed: ZITADEL's router answers a procedure it does not have with a
// plain 404; a Connect server with unimplemented.
func notServed(err error) bool {
	var e *apiError
	return errors.As(err, &e) && (e.status == http.StatusNotFound || e.code == "unimplemented")
}

// gone: the object is not there (any more).
func gone(err error) bool { return isCode(err, "not_found") }

// unlessGone is err, or nil when it says the object is gone already: a
// delete of what is not there has done its job.
func unlessGone(err error) error {
	if gone(err) {
		return nil
	}
	return err
}

// --- v2: Connect, POST /{package}.{Service}/{Method} --------------------------

type v2API struct{ z *zitadelAPI }

func (v2API) describe() string {
	return "the v2 services (project, application, authorization, user) of ZITADEL v4.5 or later"
}

func (a v2API) findProject(ctx context.Context, name string) (string, error) {
	var list struct {
		Projects []struct {
			ProjectID string `json:"projectId"`
		} `json:"projects"`
	}
	err := a.z.call(ctx, "zitadel.project.v2.ProjectService/ListProjects", map[string]any{
		"filters": []any{
			map[string]any{"projectNameFilter": map[string]any{"projectName": name, "method": "TEXT_FILTER_METHOD_EQUALS"}},
			map[string]any{"organizationIdFilter": map[string]any{"organizationId": a.z.org, "type": "OWNED"}},
		},
	}, &list)
	if err != nil || len(list.Projects) == 0 {
		return "", err
	}
	return list.Projects[0].ProjectID, nil
}

func (a v2API) createProject(ctx context.Context, name string) (string, error) {
	var created struct {
		ProjectID string `json:"projectId"`
	}
	err := a.z.call(ctx, "zitadel.project.v2.ProjectService/CreateProject", map[string]any{
		"organizationId": a.z.org, "name": name,
	}, &created)
	return created.ProjectID, err
}

func (a v2API) addRole(ctx context.Context, projectID, key, display string) (bool, error) {
	err := a.z.call(ctx, "zitadel.project.v2.ProjectService/AddProjectRole", map[string]any{
		"projectId": projectID, "roleKey": key, "displayName": display,
	}, &struct{}{})
	if isCode(err, "already_exists") {
		return true, nil
	}
	return false, err
}

func (a v2API) removeRole(ctx context.Context, projectID, key string) error {
	// Some releases answer not_found for a role that is gone.
	return unlessGone(a.z.call(ctx, "zitadel.project.v2.ProjectService/RemoveProjectRole", map[string]any{
		"projectId": projectID, "roleKey": key,
	}, &struct{}{}))
}

func (a v2API) deleteProject(ctx context.Context, id string) error {
	return unlessGone(a.z.call(ctx, "zitadel.project.v2.ProjectService/DeleteProject", map[string]any{"projectId": id}, &struct{}{}))
}

func (a v2API) findApp(ctx context.Context, projectID, name string) (*foundApp, error) {
	var list struct {
		Applications []struct {
			ApplicationID    string `json:"applicationId"`
			APIConfiguration *struct {
				ClientID       string `json:"clientId"`
				AuthMethodType string `json:"authMethodType"`
			} `json:"apiConfiguration"`
		} `json:"applications"`
	}
	err := a.z.call(ctx, "zitadel.application.v2.ApplicationService/ListApplications", map[string]any{
		"filters": []any{
			map[string]any{"projectIdFilter": map[string]any{"projectId": projectID}},
			map[string]any{"nameFilter": map[string]any{"name": name, "method": "TEXT_FILTER_METHOD_EQUALS"}},
		},
	}, &list)
	if err != nil || len(list.Applications) == 0 {
		return nil, err
	}
	found := list.Applications[0]
	if found.APIConfiguration == nil {
		return nil, fmt.Errorf("application %s exists and is not an API application: rename or delete it, then run setup again", name)
	}
	// BASIC is the enum's zero value: protobuf JSON leaves it out.
	return &foundApp{id: found.ApplicationID, clientID: found.APIConfiguration.ClientID,
		jwt: found.APIConfiguration.AuthMethodType == authMethodJWT}, nil
}

func (a v2API) createApp(ctx context.Context, projectID, name string, jwt bool) (foundApp, string, error) {
	method := authMethodBasic
	if jwt {
		method = authMethodJWT
	}
	var created struct {
		ApplicationID    string `json:"applicationId"`
		APIConfiguration struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
		} `json:"apiConfiguration"`
	}
	err := a.z.call(ctx, "zitadel.application.v2.ApplicationService/CreateApplication", map[string]any{
		"projectId": projectID, "name": name, "apiConfiguration": map[string]any{"authMethodType": method},
	}, &created)
	return foundApp{id: created.ApplicationID, clientID: created.APIConfiguration.ClientID, jwt: jwt},
		created.APIConfiguration.ClientSecret, err
}

func (a v2API) addAppKey(ctx context.Context, projectID, appID string) ([]byte, error) {
	var created struct {
		KeyDetails []byte `json:"keyDetails"` // bytes: base64 in protobuf JSON
	}
	err := a.z.call(ctx, "zitadel.application.v2.ApplicationService/CreateApplicationKey", map[string]any{
		"applicationId": appID, "projectId": projectID, "expirationDate": keyExpiration,
	}, &created)
	return created.KeyDetails, err
}

func (a v2API) removeAppKey(ctx context.Context, projectID, appID, keyID string) error {
	return a.z.call(ctx, "zitadel.application.v2.ApplicationService/DeleteApplicationKey", map[string]any{
		"keyId": keyID, "applicationId": appID, "projectId": projectID,
	}, &struct{}{})
}

func (a v2API) newAppSecret(ctx context.Context, projectID, appID string) (string, error) {
	var secret struct {
		ClientSecret string `json:"clientSecret"`
	}
	err := a.z.call(ctx, "zitadel.application.v2.ApplicationService/GenerateClientSecret", map[string]any{
		"applicationId": appID, "projectId": projectID,
	}, &secret)
	return secret.ClientSecret, err
}

func (a v2API) deleteApp(ctx context.Context, projectID, appID string) error {
	return unlessGone(a.z.call(ctx, "zitadel.application.v2.ApplicationService/DeleteApplication", map[string]any{
		"applicationId": appID, "projectId": projectID,
	}, &struct{}{}))
}

func (a v2API) findUser(ctx context.Context, name string) (*foundUser, error) {
	var list struct {
		Result []struct {
			UserID  string `json:"userId"`
			Machine *struct {
				HasSecret       bool   `json:"hasSecret"`
				AccessTokenType string `json:"accessTokenType"`
			} `json:"machine"`
		} `json:"result"`
	}
	err := a.z.call(ctx, "zitadel.user.v2.UserService/ListUsers", map[string]any{
		"queries": []any{
			map[string]any{"userNameQuery": map[string]any{"userName": name, "method": "TEXT_QUERY_METHOD_EQUALS"}},
			map[string]any{"organizationIdQuery": map[string]any{"organizationId": a.z.org}},
		},
	}, &list)
	if err != nil || len(list.Result) == 0 {
		return nil, err
	}
	m := list.Result[0].Machine
	if m == nil {
		return nil, fmt.Errorf("user %s exists and is not a service user: rename or delete it, then run setup again", name)
	}
	return &foundUser{id: list.Result[0].UserID, hasSecret: m.HasSecret, jwtTokens: m.AccessTokenType == accessTokenJWT}, nil
}

func (a v2API) createUser(ctx context.Context, name, display string, jwtTokens bool) (string, error) {
	// BEARER (opaque) is the enum's zero value and the default. Releases
	// before the current one drop accessTokenType unseen: setup checks.
	machine := map[string]any{"name": display, "description": description}
	if jwtTokens {
		machine["accessTokenType"] = accessTokenJWT
	}
	var created struct {
		ID string `json:"id"`
	}
	err := a.z.call(ctx, "zitadel.user.v2.UserService/CreateUser", map[string]any{
		"organizationId": a.z.org, "username": name, "machine": machine,
	}, &created)
	return created.ID, err
}

func (a v2API) setJWTTokens(ctx context.Context, userID, display string) error {
	return a.z.call(ctx, "zitadel.user.v2.UserService/UpdateUser", map[string]any{
		"userId": userID, "machine": map[string]any{"accessTokenType": accessTokenJWT},
	}, &struct{}{})
}

func (a v2API) addUserKey(ctx context.Context, userID string) ([]byte, error) {
	var created struct {
		KeyContent []byte `json:"keyContent"`
	}
	err := a.z.call(ctx, "zitadel.user.v2.UserService/AddKey", map[string]any{
		"userId": userID, "expirationDate": keyExpiration,
	}, &created)
	return created.KeyContent, err
}

func (a v2API) removeUserKey(ctx context.Context, userID, keyID string) error {
	return a.z.call(ctx, "zitadel.user.v2.UserService/RemoveKey", map[string]any{"userId": userID, "keyId": keyID}, &struct{}{})
}

func (a v2API) newUserSecret(ctx context.Context, userID string) (string, error) {
	var secret struct {
		ClientSecret string `json:"clientSecret"`
	}
	err := a.z.call(ctx, "zitadel.user.v2.UserService/AddSecret", map[string]any{"userId": userID}, &secret)
	return secret.ClientSecret, err
}

func (a v2API) removeUserSecret(ctx context.Context, userID string) error {
	return a.z.call(ctx, "zitadel.user.v2.UserService/RemoveSecret", map[string]any{"userId": userID}, &struct{}{})
}

func (a v2API) addPAT(ctx context.Context, userID string) (string, string, error) {
	var pat struct {
		TokenID string `json:"tokenId"`
		Token   string `json:"token"`
	}
	err := a.z.call(ctx, "zitadel.user.v2.UserService/AddPersonalAccessToken", map[string]any{
		"userId": userID, "expirationDate": patExpiration,
	}, &pat)
	return pat.TokenID, pat.Token, err
}

func (a v2API) removePAT(ctx context.Context, userID, id string) error {
	return a.z.call(ctx, "zitadel.user.v2.UserService/RemovePersonalAccessToken", map[string]any{
		"userId": userID, "tokenId": id,
	}, &struct{}{})
}

func (a v2API) grant(ctx context.Context, userID, projectID, role string) (bool, error) {
	err := a.z.call(ctx, "zitadel.authorization.v2.AuthorizationService/CreateAuthorization", map[string]any{
		"userId": userID, "projectId": projectID, "organizationId": a.z.org, "roleKeys": []string{role},
	}, &struct{}{})
	if isCode(err, "already_exists") {
		return true, nil
	}
	return false, err
}

func (a v2API) deleteUser(ctx context.Context, userID string) error {
	return unlessGone(a.z.call(ctx, "zitadel.user.v2.UserService/DeleteUser", map[string]any{"userId": userID}, &struct{}{}))
}

// --- v1: the REST gateway, /management/v1/… ----------------------------------

// v1API calls zitadel.management.v1.ManagementService at the paths of the
// google.api.http rules in ZITADEL's proto/zitadel/management.proto; the
// organisation goes in the header x-zitadel-orgid.
type v1API struct{ z *zitadelAPI }

func (v1API) describe() string {
	return "the management v1 API (/management/v1/…): this ZITADEL serves no v2 project service, so it is older than v4.5"
}

func (a v1API) rest(ctx context.Context, method, path, name string, req, resp any) error {
	return a.z.do(ctx, method, "/management/v1"+path, "management v1 "+name, req, resp)
}

func (a v1API) findProject(ctx context.Context, name string) (string, error) {
	var list struct {
		Result []struct {
			ID string `json:"id"`
		} `json:"result"`
	}
	err := a.rest(ctx, http.MethodPost, "/projects/_search", "ListProjects", map[string]any{
		"queries": []any{map[string]any{"nameQuery": map[string]any{"name": name, "method": "TEXT_QUERY_METHOD_EQUALS"}}},
	}, &list)
	if err != nil || len(list.Result) == 0 {
		return "", err
	}
	return list.Result[0].ID, nil
}

func (a v1API) createProject(ctx context.Context, name string) (string, error) {
	var created struct {
		ID string `json:"id"`
	}
	err := a.rest(ctx, http.MethodPost, "/projects", "AddProject", map[string]any{"name": name}, &created)
	return created.ID, err
}

func (a v1API) addRole(ctx context.Context, projectID, key, display string) (bool, error) {
	err := a.rest(ctx, http.MethodPost, "/projects/"+url.PathEscape(projectID)+"/roles", "AddProjectRole",
		map[string]any{"roleKey": key, "displayName": display}, &struct{}{})
	if isCode(err, "already_exists") {
		return true, nil
	}
	return false, err
}

func (a v1API) removeRole(ctx context.Context, projectID, key string) error {
	return unlessGone(a.rest(ctx, http.MethodDelete, "/projects/"+url.PathEscape(projectID)+"/roles/"+url.PathEscape(key),
		"RemoveProjectRole", nil, &struct{}{}))
}

func (a v1API) deleteProject(ctx context.Context, id string) error {
	return unlessGone(a.rest(ctx, http.MethodDelete, "/projects/"+url.PathEscape(id), "RemoveProject", nil, &struct{}{}))
}

func (a v1API) findApp(ctx context.Context, projectID, name string) (*foundApp, error) {
	var list struct {
		Result []struct {
			ID        string `json:"id"`
			APIConfig *struct {
				ClientID       string `json:"clientId"`
				AuthMethodType string `json:"authMethodType"`
			} `json:"apiConfig"`
		} `json:"result"`
	}
	err := a.rest(ctx, http.MethodPost, "/projects/"+url.PathEscape(projectID)+"/apps/_search", "ListApps", map[string]any{
		"queries": []any{map[string]any{"nameQuery": map[string]any{"name": name, "method": "TEXT_QUERY_METHOD_EQUALS"}}},
	}, &list)
	if err != nil || len(list.Result) == 0 {
		return nil, err
	}
	found := list.Result[0]
	if found.APIConfig == nil {
		return nil, fmt.Errorf("application %s exists and is not an API application: rename or delete it, then run setup again", name)
	}
	return &foundApp{id: found.ID, clientID: found.APIConfig.ClientID, jwt: found.APIConfig.AuthMethodType == authMethodJWT}, nil
}

func (a v1API) createApp(ctx context.Context, projectID, name string, jwt bool) (foundApp, string, error) {
	method := authMethodBasic
	if jwt {
		method = authMethodJWT
	}
	var created struct {
		AppID        string `json:"appId"`
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	err := a.rest(ctx, http.MethodPost, "/projects/"+url.PathEscape(projectID)+"/apps/api", "AddAPIApp",
		map[string]any{"name": name, "authMethodType": method}, &created)
	return foundApp{id: created.AppID, clientID: created.ClientID, jwt: jwt}, created.ClientSecret, err
}

func (a v1API) appPath(projectID, appID string) string {
	return "/projects/" + url.PathEscape(projectID) + "/apps/" + url.PathEscape(appID)
}

func (a v1API) addAppKey(ctx context.Context, projectID, appID string) ([]byte, error) {
	var created struct {
		KeyDetails []byte `json:"keyDetails"`
	}
	err := a.rest(ctx, http.MethodPost, a.appPath(projectID, appID)+"/keys", "AddAppKey",
		map[string]any{"type": "KEY_TYPE_JSON", "expirationDate": keyExpiration}, &created)
	return created.KeyDetails, err
}

func (a v1API) removeAppKey(ctx context.Context, projectID, appID, keyID string) error {
	return a.rest(ctx, http.MethodDelete, a.appPath(projectID, appID)+"/keys/"+url.PathEscape(keyID), "RemoveAppKey", nil, &struct{}{})
}

func (a v1API) newAppSecret(ctx context.Context, projectID, appID string) (string, error) {
	var secret struct {
		ClientSecret string `json:"clientSecret"`
	}
	err := a.rest(ctx, http.MethodPost, a.appPath(projectID, appID)+"/api_config/_generate_client_secret",
		"RegenerateAPIClientSecret", map[string]any{}, &secret)
	return secret.ClientSecret, err
}

func (a v1API) deleteApp(ctx context.Context, projectID, appID string) error {
	return unlessGone(a.rest(ctx, http.MethodDelete, a.appPath(projectID, appID), "RemoveApp", nil, &struct{}{}))
}

func (a v1API) findUser(ctx context.Context, name string) (*foundUser, error) {
	var list struct {
		Result []struct {
			ID      string `json:"id"`
			Machine *struct {
				HasSecret       bool   `json:"hasSecret"`
				AccessTokenType string `json:"accessTokenType"`
			} `json:"machine"`
		} `json:"result"`
	}
	err := a.rest(ctx, http.MethodPost, "/users/_search", "ListUsers", map[string]any{
		"queries": []any{map[string]any{"userNameQuery": map[string]any{"userName": name, "method": "TEXT_QUERY_METHOD_EQUALS"}}},
	}, &list)
	if err != nil || len(list.Result) == 0 {
		return nil, err
	}
	m := list.Result[0].Machine
	if m == nil {
		return nil, fmt.Errorf("user %s exists and is not a service user: rename or delete it, then run setup again", name)
	}
	return &foundUser{id: list.Result[0].ID, hasSecret: m.HasSecret, jwtTokens: m.AccessTokenType == accessTokenJWT}, nil
}

func (a v1API) createUser(ctx context.Context, name, display string, jwtTokens bool) (string, error) {
	req := map[string]any{"userName": name, "name": display, "description": description}
	if jwtTokens {
		req["accessTokenType"] = accessTokenJWT
	}
	var created struct {
		UserID string `json:"userId"`
	}
	err := a.rest(ctx, http.MethodPost, "/users/machine", "AddMachineUser", req, &created)
	return created.UserID, err
}

func (a v1API) setJWTTokens(ctx context.Context, userID, display string) error {
	return a.rest(ctx, http.MethodPut, "/users/"+url.PathEscape(userID)+"/machine", "UpdateMachine", map[string]any{
		"name": display, "description": description, "accessTokenType": accessTokenJWT,
	}, &struct{}{})
}

func (a v1API) addUserKey(ctx context.Context, userID string) ([]byte, error) {
	var created struct {
		KeyDetails []byte `json:"keyDetails"`
	}
	err := a.rest(ctx, http.MethodPost, "/users/"+url.PathEscape(userID)+"/keys", "AddMachineKey",
		map[string]any{"type": "KEY_TYPE_JSON", "expirationDate": keyExpiration}, &created)
	return created.KeyDetails, err
}

func (a v1API) removeUserKey(ctx context.Context, userID, keyID string) error {
	return a.rest(ctx, http.MethodDelete, "/users/"+url.PathEscape(userID)+"/keys/"+url.PathEscape(keyID), "RemoveMachineKey", nil, &struct{}{})
}

func (a v1API) newUserSecret(ctx context.Context, userID string) (string, error) {
	var secret struct {
		ClientSecret string `json:"clientSecret"`
	}
	err := a.rest(ctx, http.MethodPut, "/users/"+url.PathEscape(userID)+"/secret", "GenerateMachineSecret", map[string]any{}, &secret)
	return secret.ClientSecret, err
}

func (a v1API) removeUserSecret(ctx context.Context, userID string) error {
	return a.rest(ctx, http.MethodDelete, "/users/"+url.PathEscape(userID)+"/secret", "RemoveMachineSecret", nil, &struct{}{})
}

func (a v1API) addPAT(ctx context.Context, userID string) (string, string, error) {
	var pat struct {
		TokenID string `json:"tokenId"`
		Token   string `json:"token"`
	}
	err := a.rest(ctx, http.MethodPost, "/users/"+url.PathEscape(userID)+"/pats", "AddPersonalAccessToken",
		map[string]any{"expirationDate": patExpiration}, &pat)
	return pat.TokenID, pat.Token, err
}

func (a v1API) removePAT(ctx context.Context, userID, id string) error {
	return a.rest(ctx, http.MethodDelete, "/users/"+url.PathEscape(userID)+"/pats/"+url.PathEscape(id), "RemovePersonalAccessToken", nil, &struct{}{})
}

func (a v1API) grant(ctx context.Context, userID, projectID, role string) (bool, error) {
	err := a.rest(ctx, http.MethodPost, "/users/"+url.PathEscape(userID)+"/grants", "AddUserGrant",
		map[string]any{"projectId": projectID, "roleKeys": []string{role}}, &struct{}{})
	if isCode(err, "already_exists") {
		return true, nil
	}
	return false, err
}

func (a v1API) deleteUser(ctx context.Context, userID string) error {
	return unlessGone(a.rest(ctx, http.MethodDelete, "/users/"+url.PathEscape(userID), "RemoveUser", nil, &struct{}{}))
}
