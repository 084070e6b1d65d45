package localzitadel

// The management calls `combos setup` makes, answered as ZITADEL v4 answers
// them: the v2 resource services with the Connect protocol's JSON encoding
// (POST /{package}.{Service}/{Method}, protobuf JSON names, Connect error
// JSON), and management v1 UpdateMachine through v1's REST gateway, which
// setup needs where v2 has no access token type (earlier v4 releases). docs/zitadel-on-the-wire.md ("Management calls used by combos
// setup") lists each call with the proto it follows. These types are
// written from the protos on this side only: the setup client has its own.

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// pathGatewayPrefix is where v1's REST gateway serves UpdateMachine:
// PUT /management/v1/users/{userId}/machine.
const pathGatewayPrefix = "/management/v1/users/"

// management holds what the management calls need besides the directory.
type management struct {
	legacyMachineTokenType bool // Options.LegacyMachineTokenType

	mu        sync.Mutex
	orgOwners map[string]bool   // user IDs with the role ORG_OWNER
	appNames  map[string]string // client ID → application name
	ids       *idSource
}

func (m *management) isOrgOwner(userID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.orgOwners[userID]
}

func (m *management) nextID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ids == nil {
		m.ids = newIDSource()
	}
	return m.ids.next()
}

func (m *management) setAppName(clientID, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.appNames == nil {
		m.appNames = map[string]string{}
	}
	m.appNames[clientID] = name
}

func (m *management) appName(clientID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.appNames[clientID]
}

// Admin is a service user that may call the management API: its key file
// and an env file for `combos setup` (ZITADEL_DOMAIN, ADMIN_KEY_FILE).
type Admin struct {
	UserID, UserName string
	KeyFile, EnvFile string
	// OrgOwner: the user has the role Org Owner in the organisation; without
	// it every management call answers permission_denied.
	OrgOwner bool
}

// AddAdmin creates a service user with a key, Org Owner of the
// organisation if orgOwner, and writes Dir/<userName>.json (its key) and
// Dir/<userName>.env.
func (i *Instance) AddAdmin(userName string, orgOwner bool) (*Admin, error) {
	if userName == "" || userName != filepath.Base(userName) || strings.HasPrefix(userName, ".") {
		return nil, fmt.Errorf("localzitadel: AddAdmin %q: want a plain name", userName)
	}
	keyFile := filepath.Join(i.Dir, userName+".json")
	if u := i.userByLoginName(userName); u != nil && i.restored && fileExists(keyFile) {
		// Taken up from Dir with its key file: write its .env anew, for
		// the instance's address may have changed.
		return i.writeAdminEnv(&Admin{UserID: u.id, UserName: userName, OrgOwner: i.mgmt.isOrgOwner(u.id),
			KeyFile: keyFile, EnvFile: filepath.Join(i.Dir, userName+".env")})
	}
	u, err := i.createMachineUser(userName, "Administrator "+userName)
	if err != nil {
		return nil, fmt.Errorf("localzitadel: AddAdmin: %w", err)
	}
	keyJSON, err := i.addUserKey(u.id)
	if err != nil {
		return nil, fmt.Errorf("localzitadel: AddAdmin: %w", err)
	}
	if orgOwner {
		i.mgmt.mu.Lock()
		if i.mgmt.orgOwners == nil {
			i.mgmt.orgOwners = map[string]bool{}
		}
		i.mgmt.orgOwners[u.id] = true
		i.mgmt.mu.Unlock()
	}
	a := &Admin{UserID: u.id, UserName: userName, OrgOwner: orgOwner,
		KeyFile: keyFile, EnvFile: filepath.Join(i.Dir, userName+".env")}
	if err := writeFile(i.Dir, userName+".json", keyJSON); err != nil {
		return nil, fmt.Errorf("localzitadel: %w", err)
	}
	i.changed()
	return i.writeAdminEnv(a)
}

// writeAdminEnv writes the admin's .env: ZITADEL_DOMAIN and ADMIN_KEY_FILE.
func (i *Instance) writeAdminEnv(a *Admin) (*Admin, error) {
	role := "Org Owner"
	if !a.OrgOwner {
		role = "no manager role"
	}
	env := fmt.Sprintf("# Administrator of the local ZITADEL at %s (%s), for:\n"+
		"#   go run ./combos setup -env %s -dir OUT\n"+
		"ZITADEL_DOMAIN='%s'\nADMIN_KEY_FILE='%s'\n", i.Issuer, role, a.EnvFile, i.Issuer, a.KeyFile)
	if err := writeFile(i.Dir, a.UserName+".env", []byte(env)); err != nil {
		return nil, fmt.Errorf("localzitadel: %w", err)
	}
	return a, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// rpcError is a Connect error: a code of the Connect protocol and a message
// as ZITADEL words it ("<message> (<id>)").
type rpcError struct{ code, message string }

func (e *rpcError) Error() string { return e.code + ": " + e.message }

func errf(code, format string, args ...any) error {
	return &rpcError{code: code, message: fmt.Sprintf(format, args...)}
}

// The Connect protocol's HTTP status per error code, and gRPC's numeric
// code, which v1's REST gateway puts in its error JSON.
var rpcCodes = map[string]struct{ status, grpc int }{
	"invalid_argument":    {http.StatusBadRequest, 3},
	"not_found":           {http.StatusNotFound, 5},
	"already_exists":      {http.StatusConflict, 6},
	"permission_denied":   {http.StatusForbidden, 7},
	"failed_precondition": {http.StatusBadRequest, 9},
	"unimplemented":       {http.StatusNotImplemented, 12},
	"internal":            {http.StatusInternalServerError, 13},
	"unauthenticated":     {http.StatusUnauthorized, 16},
}

// procedure answers one Connect call for the authenticated caller.
type procedure func(i *Instance, body []byte) (any, error)

// unary decodes the request JSON into Req and calls f. As connect-go's
// JSON codec: unknown fields are ignored, an empty body is an error.
func unary[Req any](f func(*Instance, *Req) (any, error)) procedure {
	return func(i *Instance, body []byte) (any, error) {
		req := new(Req)
		if len(body) == 0 {
			return nil, errf("invalid_argument", "unmarshal message: zero-length payload is not a valid JSON object")
		}
		if err := json.Unmarshal(body, req); err != nil {
			return nil, errf("invalid_argument", "unmarshal message: %v", err)
		}
		return f(i, req)
	}
}

var procedures = map[string]procedure{
	"/zitadel.project.v2.ProjectService/ListProjects":                    unary((*Instance).listProjects),
	"/zitadel.project.v2.ProjectService/CreateProject":                   unary((*Instance).createProject),
	"/zitadel.project.v2.ProjectService/AddProjectRole":                  unary((*Instance).addProjectRole),
	"/zitadel.project.v2.ProjectService/RemoveProjectRole":               unary((*Instance).removeProjectRole),
	"/zitadel.project.v2.ProjectService/DeleteProject":                   unary((*Instance).deleteProject),
	"/zitadel.application.v2.ApplicationService/ListApplications":        unary((*Instance).listApplications),
	"/zitadel.application.v2.ApplicationService/CreateApplication":       unary((*Instance).createApplication),
	"/zitadel.application.v2.ApplicationService/CreateApplicationKey":    unary((*Instance).createApplicationKey),
	"/zitadel.application.v2.ApplicationService/GenerateClientSecret":    unary((*Instance).generateClientSecret),
	"/zitadel.application.v2.ApplicationService/DeleteApplication":       unary((*Instance).deleteApplication),
	"/zitadel.user.v2.UserService/ListUsers":                             unary((*Instance).listUsers),
	"/zitadel.user.v2.UserService/CreateUser":                            unary((*Instance).createUser),
	"/zitadel.user.v2.UserService/UpdateUser":                            unary((*Instance).updateUserCall),
	"/zitadel.user.v2.UserService/AddKey":                                unary((*Instance).addKey),
	"/zitadel.user.v2.UserService/AddSecret":                             unary((*Instance).addSecret),
	"/zitadel.user.v2.UserService/AddPersonalAccessToken":                unary((*Instance).addPersonalAccessToken),
	"/zitadel.user.v2.UserService/DeleteUser":                            unary((*Instance).deleteUser),
	"/zitadel.authorization.v2.AuthorizationService/CreateAuthorization": unary((*Instance).createAuthorization),
}

// mountManagement adds the Connect procedures and the v1 gateway call to
// mux. As with connect-go, each procedure has its own path; an unknown one
// gets the router's plain 404.
func (i *Instance) mountManagement(mux *http.ServeMux) {
	for path, proc := range procedures {
		mux.Handle(path, i.connectHandler(proc))
	}
	mux.HandleFunc(pathGatewayPrefix, i.serveUpdateMachine)
}

// connectHandler serves one unary Connect procedure with JSON.
func (i *Instance) connectHandler(proc procedure) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) != "application/json" {
			w.Header().Set("Accept-Post", "application/json")
			http.Error(w, "unsupported content type", http.StatusUnsupportedMediaType)
			return
		}
		if err := i.authorizeManagement(r); err != nil {
			writeConnectError(w, err)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeConnectError(w, errf("invalid_argument", "read request: %v", err))
			return
		}
		resp, err := proc(i, body)
		if err != nil {
			writeConnectError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	})
}

func writeConnectError(w http.ResponseWriter, err error) {
	var e *rpcError
	if !errors.As(err, &e) {
		e = &rpcError{code: "internal", message: "Errors.Internal"}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rpcCodes[e.code].status)
	json.NewEncoder(w).Encode(map[string]string{"code": e.code, "message": e.message})
}

// authorizeManagement checks the bearer token, as ZITADEL's API interceptors
// do: an active access token (or PAT) whose audience includes the instance's
// ZITADEL project (the scope urn:zitadel:iam:org:project:id:zitadel:aud),
// of a user who holds a manager role in the organisation. Every call here
// needs Org Owner (or IAM Owner) in ZITADEL; the local instance knows only
// Org Owner.
func (i *Instance) authorizeManagement(r *http.Request) error {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		return errf("unauthenticated", "auth header missing (AUTH-7mN0b)")
	}
	t, ok := i.lookup(raw)
	if !ok || !t.active(time.Now()) || (!t.pat && !slices.Contains(t.scopes, scopeZitadelAud)) {
		return errf("unauthenticated", "Errors.Token.Invalid (AUTH-7fs1e)")
	}
	if i.userByID(t.userID) == nil {
		return errf("unauthenticated", "Errors.User.NotFound (AUTH-3n8fs)")
	}
	if !i.mgmt.isOrgOwner(t.userID) {
		return errf("permission_denied", "No matching permissions found (AUTH-5mWD2)")
	}
	return nil
}

// scopeZitadelAud puts the ZITADEL project into the token's audience; the
// management API accepts only such tokens.
const scopeZitadelAud = "urn:zitadel:iam:org:project:id:zitadel:aud"

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// textMatches applies a TextFilterMethod (filter v2) or TextQueryMethod
// (object v2); an empty method is EQUALS, the enum's zero value.
func textMatches(method, have, want string) bool {
	_, m, _ := strings.Cut(method, "_METHOD_")
	if strings.HasSuffix(m, "_IGNORE_CASE") {
		m = strings.TrimSuffix(m, "_IGNORE_CASE")
		have, want = strings.ToLower(have), strings.ToLower(want)
	}
	switch m {
	case "", "EQUALS":
		return have == want
	case "STARTS_WITH":
		return strings.HasPrefix(have, want)
	case "CONTAINS":
		return strings.Contains(have, want)
	case "ENDS_WITH":
		return strings.HasSuffix(have, want)
	}
	return false
}

func (i *Instance) checkOrg(orgID string) error {
	if orgID == "" {
		return errf("invalid_argument", "invalid CreateRequest.OrganizationId: value length must be between 1 and 200 runes, inclusive")
	}
	if orgID != i.OrgID {
		// The caller is Org Owner of its own organisation only.
		return errf("permission_denied", "No matching permissions found (AUTH-5mWD2)")
	}
	return nil
}

type pagination struct {
	TotalResult  string `json:"totalResult"` // uint64: a string in protobuf JSON
	AppliedLimit string `json:"appliedLimit"`
}

func paginate(n int) pagination {
	return pagination{TotalResult: fmt.Sprint(n), AppliedLimit: "100"}
}

// --- zitadel.project.v2.ProjectService -------------------------------------

type textFilter struct {
	Method string `json:"method"`
}

type listProjectsRequest struct {
	Filters []struct {
		ProjectNameFilter *struct {
			ProjectName string `json:"projectName"`
			textFilter
		} `json:"projectNameFilter"`
		InProjectIdsFilter *struct {
			IDs []string `json:"ids"`
		} `json:"inProjectIdsFilter"`
		OrganizationIDFilter *struct {
			OrganizationID string `json:"organizationId"`
		} `json:"organizationIdFilter"`
	} `json:"filters"`
}

type projectJSON struct {
	ProjectID      string `json:"projectId"`
	OrganizationID string `json:"organizationId"`
	Name           string `json:"name"`
	State          string `json:"state"`
}

func (i *Instance) listProjects(req *listProjectsRequest) (any, error) {
	i.dir.RLock()
	defer i.dir.RUnlock()
	out := []projectJSON{}
	for _, p := range i.projects {
		match := true
		for _, f := range req.Filters {
			switch {
			case f.ProjectNameFilter != nil:
				match = match && textMatches(f.ProjectNameFilter.Method, p.name, f.ProjectNameFilter.ProjectName)
			case f.InProjectIdsFilter != nil:
				match = match && slices.Contains(f.InProjectIdsFilter.IDs, p.id)
			case f.OrganizationIDFilter != nil:
				match = match && f.OrganizationIDFilter.OrganizationID == i.OrgID
			}
		}
		if match {
			out = append(out, projectJSON{ProjectID: p.id, OrganizationID: i.OrgID, Name: p.name, State: "PROJECT_STATE_ACTIVE"})
		}
	}
	slices.SortFunc(out, func(a, b projectJSON) int { return strings.Compare(a.ProjectID, b.ProjectID) })
	return map[string]any{"pagination": paginate(len(out)), "projects": out}, nil
}

type createProjectRequest struct {
	OrganizationID string `json:"organizationId"`
	Name           string `json:"name"`
}

func (i *Instance) createProject(req *createProjectRequest) (any, error) {
	if err := i.checkOrg(req.OrganizationID); err != nil {
		return nil, err
	}
	if req.Name == "" {
		return nil, errf("invalid_argument", "invalid CreateProjectRequest.Name: value length must be between 1 and 200 runes, inclusive")
	}
	i.dir.Lock()
	defer i.dir.Unlock()
	for _, p := range i.projects {
		if p.name == req.Name {
			return nil, errf("already_exists", "Errors.Project.AlreadyExists (COMMAND-2kdd9)")
		}
	}
	p := &project{id: i.mgmt.nextID(), name: req.Name}
	i.projects[p.id] = p
	return map[string]string{"projectId": p.id, "creationDate": now()}, nil
}

type addProjectRoleRequest struct {
	ProjectID   string `json:"projectId"`
	RoleKey     string `json:"roleKey"`
	DisplayName string `json:"displayName"`
}

func (i *Instance) addProjectRole(req *addProjectRoleRequest) (any, error) {
	if req.RoleKey == "" || req.DisplayName == "" {
		return nil, errf("invalid_argument", "invalid AddProjectRoleRequest: roleKey and displayName are required")
	}
	i.dir.Lock()
	defer i.dir.Unlock()
	p := i.projects[req.ProjectID]
	if p == nil {
		return nil, errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	if slices.Contains(p.roles, req.RoleKey) {
		return nil, errf("already_exists", "Errors.Project.Role.AlreadyExists (COMMAND-HD3ad)")
	}
	i.updateProject(p, func(p *project) { p.roles = append(p.roles, req.RoleKey) })
	return map[string]string{"creationDate": now()}, nil
}

// removeProjectRole removes the role from the project and from every
// authorization; an unknown role is no error (the proto: "the desired
// state is already achieved").
func (i *Instance) removeProjectRole(req *addProjectRoleRequest) (any, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	p := i.projects[req.ProjectID]
	if p == nil {
		return nil, errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	if !slices.Contains(p.roles, req.RoleKey) {
		return map[string]string{}, nil
	}
	i.updateProject(p, func(p *project) {
		p.roles = slices.DeleteFunc(p.roles, func(r string) bool { return r == req.RoleKey })
	})
	for _, u := range i.users {
		if slices.Contains(u.roles[p.id], req.RoleKey) {
			i.updateUser(u, func(u *serviceUser) {
				u.roles[p.id] = slices.DeleteFunc(slices.Clone(u.roles[p.id]), func(r string) bool { return r == req.RoleKey })
			})
		}
	}
	return map[string]string{"removalDate": now()}, nil
}

type projectIDRequest struct {
	ProjectID string `json:"projectId"`
}

// deleteProject removes the project, its applications and every
// authorization on it. An unknown project is no error (the proto: "the
// desired state is already achieved").
func (i *Instance) deleteProject(req *projectIDRequest) (any, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	if i.projects[req.ProjectID] == nil {
		return map[string]string{}, nil
	}
	delete(i.projects, req.ProjectID)
	for id, a := range i.apps {
		if a.projectID == req.ProjectID {
			delete(i.apps, id)
		}
	}
	for _, u := range i.users {
		if _, ok := u.roles[req.ProjectID]; ok {
			i.updateUser(u, func(u *serviceUser) { delete(u.roles, req.ProjectID) })
		}
	}
	return map[string]string{"deletionDate": now()}, nil
}

// --- zitadel.application.v2.ApplicationService ------------------------------

// The API application's authentication methods (application v2 api.proto).
const (
	apiAuthBasic         = "API_AUTH_METHOD_TYPE_BASIC" // the enum's zero value
	apiAuthPrivateKeyJWT = "API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT"
)

type listApplicationsRequest struct {
	Filters []struct {
		ProjectIDFilter *struct {
			ProjectID string `json:"projectId"`
		} `json:"projectIdFilter"`
		NameFilter *struct {
			Name string `json:"name"`
			textFilter
		} `json:"nameFilter"`
	} `json:"filters"`
}

type applicationJSON struct {
	ApplicationID    string `json:"applicationId"`
	Name             string `json:"name,omitempty"`
	State            string `json:"state"`
	APIConfiguration struct {
		ClientID       string `json:"clientId"`
		AuthMethodType string `json:"authMethodType,omitempty"` // BASIC, the zero value, is left out
	} `json:"apiConfiguration"`
}

func (i *Instance) listApplications(req *listApplicationsRequest) (any, error) {
	i.dir.RLock()
	defer i.dir.RUnlock()
	out := []applicationJSON{}
	for _, a := range i.apps {
		name := i.mgmt.appName(a.clientID)
		match := true
		for _, f := range req.Filters {
			switch {
			case f.ProjectIDFilter != nil:
				match = match && a.projectID == f.ProjectIDFilter.ProjectID
			case f.NameFilter != nil:
				match = match && textMatches(f.NameFilter.Method, name, f.NameFilter.Name)
			}
		}
		if !match {
			continue
		}
		j := applicationJSON{ApplicationID: a.appID, Name: name, State: "APPLICATION_STATE_ACTIVE"}
		j.APIConfiguration.ClientID = a.clientID
		if a.publicKey != nil || a.secret == "" {
			j.APIConfiguration.AuthMethodType = apiAuthPrivateKeyJWT
		}
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b applicationJSON) int { return strings.Compare(a.ApplicationID, b.ApplicationID) })
	return map[string]any{"applications": out, "pagination": paginate(len(out))}, nil
}

type createApplicationRequest struct {
	ProjectID        string `json:"projectId"`
	Name             string `json:"name"`
	APIConfiguration *struct {
		AuthMethodType string `json:"authMethodType"`
	} `json:"apiConfiguration"`
	OIDCConfiguration json.RawMessage `json:"oidcConfiguration"`
	SAMLConfiguration json.RawMessage `json:"samlConfiguration"`
}

func (i *Instance) createApplication(req *createApplicationRequest) (any, error) {
	if req.Name == "" {
		return nil, errf("invalid_argument", "invalid CreateApplicationRequest.Name: value length must be between 1 and 200 runes, inclusive")
	}
	if req.APIConfiguration == nil {
		if req.OIDCConfiguration != nil || req.SAMLConfiguration != nil {
			return nil, errf("unimplemented", "the local ZITADEL makes API applications only")
		}
		return nil, errf("invalid_argument", "invalid CreateApplicationRequest.ApplicationType: value is required")
	}
	method := req.APIConfiguration.AuthMethodType
	if method != "" && method != apiAuthBasic && method != apiAuthPrivateKeyJWT {
		return nil, errf("invalid_argument", "invalid CreateAPIApplicationRequest.AuthMethodType: value must be one of the defined enum values")
	}
	i.dir.Lock()
	defer i.dir.Unlock()
	p := i.projects[req.ProjectID]
	if p == nil {
		return nil, errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	for _, a := range i.apps {
		if a.projectID == p.id && i.mgmt.appName(a.clientID) == req.Name {
			return nil, errf("already_exists", "Errors.Project.App.AlreadyExists (COMMAND-2nd8s)")
		}
	}
	a := &apiApp{appID: i.mgmt.nextID(), projectID: p.id}
	a.clientID = a.appID + "@" + p.name
	resp := map[string]any{"applicationId": a.appID, "creationDate": now()}
	conf := map[string]string{"clientId": a.clientID}
	if method != apiAuthPrivateKeyJWT {
		a.secret = randomString(64)
		conf["clientSecret"] = a.secret
	}
	i.apps[a.clientID] = a
	i.mgmt.setAppName(a.clientID, req.Name)
	resp["apiConfiguration"] = conf
	return resp, nil
}

type applicationRequest struct {
	ApplicationID string `json:"applicationId"`
	ProjectID     string `json:"projectId"`
}

// appByID finds an application of a project; the caller holds the lock.
func (i *Instance) appByID(req *applicationRequest) (*apiApp, error) {
	for _, a := range i.apps {
		if a.appID == req.ApplicationID && a.projectID == req.ProjectID {
			return a, nil
		}
	}
	return nil, errf("not_found", "Errors.Project.App.NotFound (COMMAND-Fd92s)")
}

func (i *Instance) createApplicationKey(req *applicationRequest) (any, error) {
	key, err := newUserKey()
	if err != nil {
		return nil, err
	}
	i.dir.Lock()
	defer i.dir.Unlock()
	a, err := i.appByID(req)
	if err != nil {
		return nil, err
	}
	if a.secret != "" {
		return nil, errf("failed_precondition", "Errors.Project.App.AuthMethodNoPrivateKeyJWT (COMMAND-Dff54)")
	}
	keyID := i.mgmt.nextID()
	i.updateApp(a, func(a *apiApp) {
		a.olderKeys = keepOlder(a.olderKeys, a.keyID, a.publicKey)
		a.keyID, a.publicKey = keyID, &key.PublicKey
	})
	// key_details: the key file the console downloads, as bytes (base64 in JSON).
	details, err := json.Marshal(map[string]string{
		"type": "application", "keyId": keyID, "key": pkcs1PEM(key), "appId": a.appID, "clientId": a.clientID,
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"keyId": keyID, "creationDate": now(), "keyDetails": details}, nil
}

func (i *Instance) generateClientSecret(req *applicationRequest) (any, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	a, err := i.appByID(req)
	if err != nil {
		return nil, err
	}
	if a.secret == "" {
		return nil, errf("failed_precondition", "Errors.Project.App.AuthMethodNoSecret (COMMAND-Ghrh3)")
	}
	secret := randomString(64)
	i.updateApp(a, func(a *apiApp) { a.secret = secret })
	return map[string]string{"clientSecret": secret, "creationDate": now()}, nil
}

func (i *Instance) deleteApplication(req *applicationRequest) (any, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	a, err := i.appByID(req)
	if err != nil {
		return map[string]string{}, nil // already achieved
	}
	delete(i.apps, a.clientID)
	return map[string]string{"deletionDate": now()}, nil
}

// --- zitadel.user.v2.UserService ---------------------------------------------

type listUsersRequest struct {
	Queries []struct {
		UserNameQuery *struct {
			UserName string `json:"userName"`
			textFilter
		} `json:"userNameQuery"`
		OrganizationIDQuery *struct {
			OrganizationID string `json:"organizationId"`
		} `json:"organizationIdQuery"`
		InUserIDsQuery *struct {
			UserIDs []string `json:"userIds"`
		} `json:"inUserIdsQuery"`
	} `json:"queries"`
}

type userJSON struct {
	UserID             string   `json:"userId"`
	State              string   `json:"state"`
	Username           string   `json:"username"`
	LoginNames         []string `json:"loginNames"`
	PreferredLoginName string   `json:"preferredLoginName"`
	Machine            struct {
		Name            string `json:"name"`
		HasSecret       bool   `json:"hasSecret,omitempty"`
		AccessTokenType string `json:"accessTokenType,omitempty"` // BEARER, the zero value, is left out
	} `json:"machine"`
}

func (i *Instance) listUsers(req *listUsersRequest) (any, error) {
	i.dir.RLock()
	defer i.dir.RUnlock()
	out := []userJSON{}
	for _, u := range i.users {
		match := true
		for _, q := range req.Queries {
			switch {
			case q.UserNameQuery != nil:
				match = match && textMatches(q.UserNameQuery.Method, u.userName, q.UserNameQuery.UserName)
			case q.OrganizationIDQuery != nil:
				match = match && q.OrganizationIDQuery.OrganizationID == i.OrgID
			case q.InUserIDsQuery != nil:
				match = match && slices.Contains(q.InUserIDsQuery.UserIDs, u.id)
			}
		}
		if !match {
			continue
		}
		j := userJSON{UserID: u.id, State: "USER_STATE_ACTIVE", Username: u.userName,
			LoginNames: []string{u.loginName}, PreferredLoginName: u.loginName}
		j.Machine.Name = u.displayName
		j.Machine.HasSecret = u.secret != ""
		if u.jwtAccessTokens {
			j.Machine.AccessTokenType = accessTokenTypeJWT
		}
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b userJSON) int { return strings.Compare(a.UserID, b.UserID) })
	return map[string]any{"details": map[string]any{"totalResult": fmt.Sprint(len(out)), "timestamp": now()}, "result": out}, nil
}

type createUserRequest struct {
	OrganizationID string          `json:"organizationId"`
	Username       string          `json:"username"`
	Machine        *machineJSON    `json:"machine"`
	Human          json.RawMessage `json:"human"`
}

// machineJSON is CreateUserRequest.Machine and UpdateUserRequest.Machine.
type machineJSON struct {
	Name            string `json:"name"`
	Description     string `json:"description"`
	AccessTokenType string `json:"accessTokenType"`
}

// tokenType applies accessTokenType to u, unless this instance acts as an
// earlier v4 release whose v2 protos lack the field.
func (i *Instance) tokenType(m *machineJSON, u *serviceUser) {
	if m.AccessTokenType != "" && !i.mgmt.legacyMachineTokenType {
		u.jwtAccessTokens = m.AccessTokenType == accessTokenTypeJWT
	}
}

func (i *Instance) createUser(req *createUserRequest) (any, error) {
	if err := i.checkOrg(req.OrganizationID); err != nil {
		return nil, err
	}
	if req.Machine == nil {
		if req.Human != nil {
			return nil, errf("unimplemented", "the local ZITADEL makes service accounts (machine users) only")
		}
		return nil, errf("invalid_argument", "invalid CreateUserRequest.UserType: value is required")
	}
	if req.Username == "" || req.Machine.Name == "" {
		return nil, errf("invalid_argument", "Errors.User.Invalid (COMMAND-bm9Ds)")
	}
	u, err := i.createMachineUser(req.Username, req.Machine.Name)
	if err != nil {
		return nil, err
	}
	if err := i.withUser(u.id, func(u *serviceUser) { i.tokenType(req.Machine, u) }); err != nil {
		return nil, err
	}
	return map[string]string{"id": u.id, "creationDate": now()}, nil
}

type updateUserRequest struct {
	UserID  string       `json:"userId"`
	Machine *machineJSON `json:"machine"`
}

func (i *Instance) updateUserCall(req *updateUserRequest) (any, error) {
	err := i.withUser(req.UserID, func(u *serviceUser) {
		if req.Machine == nil {
			return
		}
		if req.Machine.Name != "" {
			u.displayName = req.Machine.Name
		}
		i.tokenType(req.Machine, u)
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{"changeDate": now()}, nil
}

// createMachineUser adds a service user without key, secret or PAT.
func (i *Instance) createMachineUser(userName, name string) (*serviceUser, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	for _, u := range i.users {
		if u.userName == userName {
			return nil, errf("already_exists", "Errors.User.AlreadyExists (COMMAND-k2une)")
		}
	}
	u := &serviceUser{id: i.mgmt.nextID(), userName: userName, displayName: name,
		loginName: userName + "@" + i.OrgDomain, roles: map[string][]string{}}
	i.users[u.id] = u
	return u, nil
}

type userIDRequest struct {
	UserID string `json:"userId"`
}

// withUser changes the user with f under the write lock.
func (i *Instance) withUser(userID string, f func(*serviceUser)) error {
	i.dir.Lock()
	defer i.dir.Unlock()
	u := i.users[userID]
	if u == nil {
		return errf("not_found", "Errors.User.NotFound (COMMAND-4M0fs)")
	}
	i.updateUser(u, f)
	return nil
}

func (i *Instance) addKey(req *userIDRequest) (any, error) {
	keyJSON, err := i.addUserKey(req.UserID)
	if err != nil {
		return nil, err
	}
	var f struct {
		KeyID string `json:"keyId"`
	}
	json.Unmarshal(keyJSON, &f)
	return map[string]any{"keyId": f.KeyID, "keyContent": keyJSON, "creationDate": now()}, nil
}

// addUserKey gives the user a new key and returns its key file. The
// earlier keys stay valid, as in ZITADEL.
func (i *Instance) addUserKey(userID string) ([]byte, error) {
	key, err := newUserKey()
	if err != nil {
		return nil, err
	}
	keyID := i.mgmt.nextID()
	err = i.withUser(userID, func(u *serviceUser) {
		u.olderKeys = keepOlder(u.olderKeys, u.keyID, u.publicKey)
		u.keyID, u.publicKey = keyID, &key.PublicKey
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"type": "serviceaccount", "keyId": keyID, "key": pkcs1PEM(key), "userId": userID})
}

func (i *Instance) addSecret(req *userIDRequest) (any, error) {
	secret := randomString(64)
	if err := i.withUser(req.UserID, func(u *serviceUser) { u.secret = secret }); err != nil {
		return nil, err
	}
	return map[string]string{"clientSecret": secret, "creationDate": now()}, nil
}

func (i *Instance) addPersonalAccessToken(req *userIDRequest) (any, error) {
	u := i.userByID(req.UserID)
	if u == nil {
		return nil, errf("not_found", "Errors.User.NotFound (COMMAND-4M0fs)")
	}
	t := i.tokens.addPAT(i.mgmt.nextID(), u.id)
	return map[string]string{"tokenId": t.id, "token": t.opaque, "creationDate": now()}, nil
}

func (i *Instance) deleteUser(req *userIDRequest) (any, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	if i.users[req.UserID] == nil {
		return nil, errf("not_found", "Errors.User.NotFound (COMMAND-4M0fs)")
	}
	delete(i.users, req.UserID)
	return map[string]any{"details": map[string]string{"changeDate": now(), "resourceOwner": i.OrgID}}, nil
}

// --- zitadel.authorization.v2.AuthorizationService ---------------------------

type createAuthorizationRequest struct {
	UserID         string   `json:"userId"`
	ProjectID      string   `json:"projectId"`
	OrganizationID string   `json:"organizationId"`
	RoleKeys       []string `json:"roleKeys"`
}

func (i *Instance) createAuthorization(req *createAuthorizationRequest) (any, error) {
	if req.OrganizationID != "" {
		if err := i.checkOrg(req.OrganizationID); err != nil {
			return nil, err
		}
	}
	i.dir.Lock()
	defer i.dir.Unlock()
	p := i.projects[req.ProjectID]
	if p == nil {
		return nil, errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	for _, role := range req.RoleKeys {
		if !slices.Contains(p.roles, role) {
			return nil, errf("not_found", "Errors.Project.Role.NotFound (COMMAND-4m9ds)")
		}
	}
	u := i.users[req.UserID]
	if u == nil {
		return nil, errf("not_found", "Errors.User.NotFound (COMMAND-4M0fs)")
	}
	if _, ok := u.roles[p.id]; ok {
		// One authorization per user and project: change it, not add one.
		return nil, errf("already_exists", "Errors.UserGrant.AlreadyExists (COMMAND-2N9fs)")
	}
	i.updateUser(u, func(u *serviceUser) { u.roles[p.id] = slices.Clone(req.RoleKeys) })
	return map[string]string{"id": i.mgmt.nextID(), "creationDate": now()}, nil
}

// --- zitadel.management.v1.ManagementService/UpdateMachine, REST gateway ----

const accessTokenTypeJWT = "ACCESS_TOKEN_TYPE_JWT"

// serveUpdateMachine answers PUT /management/v1/users/{userId}/machine: a
// machine user's access token type, for releases whose v2 API lacks it.
// v1 has no Connect handler in ZITADEL; its REST gateway answers errors as
// {"code":<gRPC code>,"message":…,"details":[…]}.
func (i *Instance) serveUpdateMachine(w http.ResponseWriter, r *http.Request) {
	userID, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, pathGatewayPrefix), "/machine")
	if !ok || userID == "" || strings.Contains(userID, "/") {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", http.MethodPut)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	err := i.authorizeManagement(r)
	var req struct {
		Name            string `json:"name"`
		AccessTokenType string `json:"accessTokenType"`
	}
	if err == nil && json.NewDecoder(r.Body).Decode(&req) != nil {
		err = errf("invalid_argument", "invalid request body")
	}
	if err == nil && req.Name == "" {
		err = errf("invalid_argument", "invalid UpdateMachineRequest.Name: value length must be between 1 and 200 runes, inclusive")
	}
	if err == nil {
		err = i.withUser(userID, func(u *serviceUser) {
			u.displayName = req.Name
			u.jwtAccessTokens = req.AccessTokenType == accessTokenTypeJWT
		})
	}
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		var e *rpcError
		if !errors.As(err, &e) {
			e = &rpcError{code: "internal", message: "Errors.Internal"}
		}
		w.WriteHeader(rpcCodes[e.code].status)
		json.NewEncoder(w).Encode(map[string]any{"code": rpcCodes[e.code].grpc, "message": e.message, "details": []any{}})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"details": map[string]string{"changeDate": now(), "resourceOwner": i.OrgID}})
}

// keepOlder returns a copy of older with the current key added: objects
// are replaced, not changed, so the map of the replaced one stays as it was.
func keepOlder(older map[string]*rsa.PublicKey, keyID string, key *rsa.PublicKey) map[string]*rsa.PublicKey {
	if keyID == "" || key == nil {
		return older
	}
	c := maps.Clone(older)
	if c == nil {
		c = map[string]*rsa.PublicKey{}
	}
	c[keyID] = key
	return c
}

// newUserKey generates the RSA key of a new key file, as ZITADEL does for
// a key requested without a public key.
func newUserKey() (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, errf("internal", "Errors.Internal")
	}
	return key, nil
}
