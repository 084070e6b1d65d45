package localzitadel

// The management calls `combos setup` makes, answered as ZITADEL answers
// them: the v2 resource services with the Connect protocol's JSON encoding
// (POST /{package}.{Service}/{Method}, protobuf JSON names, Connect error
// JSON) here, and management v1 through its REST gateway in
// management_v1.go. Which release serves which is in versions.go.
// docs/zitadel-on-the-wire.md ("Management calls used by combos setup")
// lists each call with the proto it follows. These types are written from
// the protos on this side only: the setup client has its own.

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

// management holds what the management calls need besides the directory.
type management struct {
	version version // the ZITADEL release played (Options.ZitadelVersion)
	// legacyMachineTokenType: v2 CreateUser and UpdateUser drop
	// machine.accessTokenType (Options.LegacyMachineTokenType, or a release
	// before current).
	legacyMachineTokenType bool

	mu        sync.Mutex
	orgOwners map[string]bool   // user IDs with the role ORG_OWNER
	appNames  map[string]string // client ID → application name
	ids       *idSource
}

func newManagement(v version, legacyMachineTokenType bool) management {
	return management{version: v, legacyMachineTokenType: legacyMachineTokenType || !v.current()}
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
	"/zitadel.user.v2.UserService/RemoveKey":                             unary((*Instance).removeKeyCall),
	"/zitadel.user.v2.UserService/RemoveSecret":                          unary((*Instance).removeSecretCall),
	"/zitadel.user.v2.UserService/RemovePersonalAccessToken":             unary((*Instance).removePATCall),
	"/zitadel.application.v2.ApplicationService/DeleteApplicationKey":    unary((*Instance).deleteApplicationKey),
	"/zitadel.authorization.v2.AuthorizationService/CreateAuthorization": unary((*Instance).createAuthorization),
}

// mountManagement adds the Connect procedures the played release serves,
// and the v1 gateway, to mux. As with connect-go, each procedure has its
// own path; an unknown one gets the router's plain 404.
func (i *Instance) mountManagement(mux *http.ServeMux) {
	for path, proc := range procedures {
		if i.mgmt.version.serves(path) {
			mux.Handle(path, i.connectHandler(proc))
		}
	}
	i.mountGateway(mux) // management_v1.go
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
	p, err := i.newProject(req.Name)
	if err != nil {
		return nil, err
	}
	return map[string]string{"projectId": p.id, "creationDate": now()}, nil
}

// newProject adds a project of the organisation (v2 CreateProject, v1 AddProject).
func (i *Instance) newProject(name string) (*project, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	for _, p := range i.projects {
		if p.name == name {
			return nil, errf("already_exists", "Errors.Project.AlreadyExists (COMMAND-2kdd9)")
		}
	}
	p := &project{id: i.mgmt.nextID(), name: name}
	i.projects[p.id] = p
	return p, nil
}

type addProjectRoleRequest struct {
	ProjectID   string `json:"projectId"`
	RoleKey     string `json:"roleKey"`
	DisplayName string `json:"displayName"`
}

func (i *Instance) addProjectRole(req *addProjectRoleRequest) (any, error) {
	if err := i.newRole(req.ProjectID, req.RoleKey, req.DisplayName); err != nil {
		return nil, err
	}
	return map[string]string{"creationDate": now()}, nil
}

// newRole adds a role to a project (v2 and v1 AddProjectRole).
func (i *Instance) newRole(projectID, key, displayName string) error {
	if key == "" || displayName == "" {
		return errf("invalid_argument", "invalid AddProjectRoleRequest: roleKey and displayName are required")
	}
	i.dir.Lock()
	defer i.dir.Unlock()
	p := i.projects[projectID]
	if p == nil {
		return errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	if slices.Contains(p.roles, key) {
		return errf("already_exists", "Errors.Project.Role.AlreadyExists (COMMAND-HD3ad)")
	}
	i.updateProject(p, func(p *project) { p.roles = append(p.roles, key) })
	return nil
}

// removeProjectRole removes the role from the project and from every
// authorization; an unknown role is no error (the proto: "the desired
// state is already achieved").
func (i *Instance) removeProjectRole(req *addProjectRoleRequest) (any, error) {
	found, err := i.removeRole(req.ProjectID, req.RoleKey)
	if err != nil {
		return nil, err
	}
	if !found {
		return map[string]string{}, nil
	}
	return map[string]string{"removalDate": now()}, nil
}

// removeRole removes the role from the project and from every
// authorization; found is false for a role the project does not have.
func (i *Instance) removeRole(projectID, key string) (found bool, err error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	p := i.projects[projectID]
	if p == nil {
		return false, errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	if !slices.Contains(p.roles, key) {
		return false, nil
	}
	i.updateProject(p, func(p *project) {
		p.roles = slices.DeleteFunc(p.roles, func(r string) bool { return r == key })
	})
	for _, u := range i.users {
		if slices.Contains(u.roles[p.id], key) {
			i.updateUser(u, func(u *serviceUser) {
				u.roles[p.id] = slices.DeleteFunc(slices.Clone(u.roles[p.id]), func(r string) bool { return r == key })
			})
		}
	}
	return true, nil
}

type projectIDRequest struct {
	ProjectID string `json:"projectId"`
}

// deleteProject removes the project, its applications and every
// authorization on it. An unknown project is no error (the proto: "the
// desired state is already achieved").
func (i *Instance) deleteProject(req *projectIDRequest) (any, error) {
	if !i.removeProject(req.ProjectID) {
		return map[string]string{}, nil
	}
	return map[string]string{"deletionDate": now()}, nil
}

// removeProject removes the project with its applications and
// authorizations; false if there is no such project.
func (i *Instance) removeProject(id string) bool {
	i.dir.Lock()
	defer i.dir.Unlock()
	if i.projects[id] == nil {
		return false
	}
	delete(i.projects, id)
	for cid, a := range i.apps {
		if a.projectID == id {
			delete(i.apps, cid)
		}
	}
	for _, u := range i.users {
		if _, ok := u.roles[id]; ok {
			i.updateUser(u, func(u *serviceUser) { delete(u.roles, id) })
		}
	}
	return true
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
	a, err := i.newAPIApp(req.ProjectID, req.Name, method == apiAuthPrivateKeyJWT)
	if err != nil {
		return nil, err
	}
	conf := map[string]string{"clientId": a.clientID}
	if a.secret != "" {
		conf["clientSecret"] = a.secret
	}
	return map[string]any{"applicationId": a.appID, "creationDate": now(), "apiConfiguration": conf}, nil
}

// newAPIApp adds an API application to a project: a JWT one without key
// yet, or a Basic one with a new secret (v2 CreateApplication, v1 AddAPIApp).
func (i *Instance) newAPIApp(projectID, name string, jwt bool) (*apiApp, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	p := i.projects[projectID]
	if p == nil {
		return nil, errf("not_found", "Errors.Project.NotFound (COMMAND-3m9s2)")
	}
	for _, a := range i.apps {
		if a.projectID == p.id && i.mgmt.appName(a.clientID) == name {
			return nil, errf("already_exists", "Errors.Project.App.AlreadyExists (COMMAND-2nd8s)")
		}
	}
	a := &apiApp{appID: i.mgmt.nextID(), projectID: p.id}
	a.clientID = a.appID + "@" + p.name
	if !jwt {
		a.secret = randomString(64)
	}
	i.apps[a.clientID] = a
	i.mgmt.setAppName(a.clientID, name)
	return a, nil
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
	keyID, details, err := i.newAppKey(req)
	if err != nil {
		return nil, err
	}
	return map[string]any{"keyId": keyID, "creationDate": now(), "keyDetails": details}, nil
}

// newAppKey gives a JWT application a new key and returns its key file
// (v2 CreateApplicationKey, v1 AddAppKey). Earlier keys stay valid.
func (i *Instance) newAppKey(req *applicationRequest) (keyID string, details []byte, err error) {
	key, err := newUserKey()
	if err != nil {
		return "", nil, err
	}
	i.dir.Lock()
	defer i.dir.Unlock()
	a, err := i.appByID(req)
	if err != nil {
		return "", nil, err
	}
	if a.secret != "" {
		return "", nil, errf("failed_precondition", "Errors.Project.App.AuthMethodNoPrivateKeyJWT (COMMAND-Dff54)")
	}
	keyID = i.mgmt.nextID()
	i.updateApp(a, func(a *apiApp) {
		a.olderKeys = keepOlder(a.olderKeys, a.keyID, a.publicKey)
		a.keyID, a.publicKey = keyID, &key.PublicKey
	})
	// key_details: the key file the console downloads, as bytes (base64 in JSON).
	details, err = json.Marshal(map[string]string{
		"type": "application", "keyId": keyID, "key": pkcs1PEM(key), "appId": a.appID, "clientId": a.clientID,
	})
	return keyID, details, err
}

func (i *Instance) generateClientSecret(req *applicationRequest) (any, error) {
	secret, err := i.newAppSecret(req)
	if err != nil {
		return nil, err
	}
	return map[string]string{"clientSecret": secret, "creationDate": now()}, nil
}

// newAppSecret replaces a Basic application's secret: the old one stops
// working (v2 GenerateClientSecret, v1 RegenerateAPIClientSecret).
func (i *Instance) newAppSecret(req *applicationRequest) (string, error) {
	i.dir.Lock()
	defer i.dir.Unlock()
	a, err := i.appByID(req)
	if err != nil {
		return "", err
	}
	if a.secret == "" {
		return "", errf("failed_precondition", "Errors.Project.App.AuthMethodNoSecret (COMMAND-Ghrh3)")
	}
	secret := randomString(64)
	i.updateApp(a, func(a *apiApp) { a.secret = secret })
	return secret, nil
}

func (i *Instance) deleteApplication(req *applicationRequest) (any, error) {
	if !i.removeApp(req) {
		return map[string]string{}, nil // already achieved
	}
	return map[string]string{"deletionDate": now()}, nil
}

// removeApp removes an application; false if there is no such one.
func (i *Instance) removeApp(req *applicationRequest) bool {
	i.dir.Lock()
	defer i.dir.Unlock()
	a, err := i.appByID(req)
	if err != nil {
		return false
	}
	delete(i.apps, a.clientID)
	return true
}

type applicationKeyRequest struct {
	KeyID         string `json:"keyId"`
	ApplicationID string `json:"applicationId"`
	ProjectID     string `json:"projectId"`
}

func (i *Instance) deleteApplicationKey(req *applicationKeyRequest) (any, error) {
	err := i.removeAppKey(&applicationRequest{ApplicationID: req.ApplicationID, ProjectID: req.ProjectID}, req.KeyID)
	if err != nil {
		return nil, err
	}
	return map[string]string{"deletionDate": now()}, nil
}

// removeAppKey ends one key of an application (v2 DeleteApplicationKey,
// v1 RemoveAppKey); its assertions are refused from then on.
func (i *Instance) removeAppKey(req *applicationRequest, keyID string) error {
	i.dir.Lock()
	defer i.dir.Unlock()
	a, err := i.appByID(req)
	if err != nil {
		return err
	}
	if a.keyByID(keyID) == nil {
		return errf("not_found", "Errors.Project.App.Key.NotFound (COMMAND-4m77G)")
	}
	i.updateApp(a, func(a *apiApp) { a.publicKey, a.olderKeys = dropKey(keyID, a.keyID, a.publicKey, a.olderKeys) })
	return nil
}

// dropKey removes keyID from a key owner's current and earlier keys. The
// current key's id stays, without a key: a JWT application keeps its
// authentication method.
func dropKey(keyID, current string, key *rsa.PublicKey, older map[string]*rsa.PublicKey) (*rsa.PublicKey, map[string]*rsa.PublicKey) {
	if keyID == current {
		key = nil
	}
	if _, ok := older[keyID]; ok {
		older = maps.Clone(older)
		delete(older, keyID)
	}
	return key, older
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
	secret, err := i.newUserSecret(req.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]string{"clientSecret": secret, "creationDate": now()}, nil
}

// newUserSecret gives a service user a new client secret, which replaces
// the one it had (v2 AddSecret, v1 GenerateMachineSecret).
func (i *Instance) newUserSecret(userID string) (string, error) {
	secret := randomString(64)
	if err := i.withUser(userID, func(u *serviceUser) { u.secret = secret }); err != nil {
		return "", err
	}
	return secret, nil
}

func (i *Instance) addPersonalAccessToken(req *userIDRequest) (any, error) {
	t, err := i.newPAT(req.UserID)
	if err != nil {
		return nil, err
	}
	return map[string]string{"tokenId": t.id, "token": t.opaque, "creationDate": now()}, nil
}

func (i *Instance) newPAT(userID string) (*token, error) {
	u := i.userByID(userID)
	if u == nil {
		return nil, errf("not_found", "Errors.User.NotFound (COMMAND-4M0fs)")
	}
	t := i.tokens.addPAT(i.mgmt.nextID(), u.id)
	i.changed()
	return t, nil
}

type userKeyRequest struct {
	UserID string `json:"userId"`
	KeyID  string `json:"keyId"`
}

func (i *Instance) removeKeyCall(req *userKeyRequest) (any, error) {
	if err := i.removeUserKey(req.UserID, req.KeyID); err != nil {
		return nil, err
	}
	return map[string]string{"deletionDate": now()}, nil
}

// removeUserKey ends one key of a service user (v2 RemoveKey, v1
// RemoveMachineKey): grants signed with it are refused from then on.
func (i *Instance) removeUserKey(userID, keyID string) error {
	i.dir.Lock()
	defer i.dir.Unlock()
	u := i.users[userID]
	if u == nil {
		return errf("not_found", "Errors.User.NotFound (COMMAND-4M0fs)")
	}
	if u.keyByID(keyID) == nil {
		return errf("not_found", "Errors.User.Machine.Key.NotFound (COMMAND-5Gc4s)")
	}
	i.updateUser(u, func(u *serviceUser) { u.publicKey, u.olderKeys = dropKey(keyID, u.keyID, u.publicKey, u.olderKeys) })
	return nil
}

func (i *Instance) removeSecretCall(req *userIDRequest) (any, error) {
	if err := i.removeUserSecret(req.UserID); err != nil {
		return nil, err
	}
	return map[string]string{"deletionDate": now()}, nil
}

// removeUserSecret ends a service user's client secret (v2 RemoveSecret,
// v1 RemoveMachineSecret).
func (i *Instance) removeUserSecret(userID string) error {
	i.dir.Lock()
	defer i.dir.Unlock()
	u := i.users[userID]
	if u == nil {
		return errf("not_found", "Errors.User.NotFound (COMMAND-4M0fs)")
	}
	if u.secret == "" {
		return errf("failed_precondition", "Errors.User.Machine.Secret.NotExisting (COMMAND-1Ggsz)")
	}
	i.updateUser(u, func(u *serviceUser) { u.secret = "" })
	return nil
}

type userTokenRequest struct {
	UserID  string `json:"userId"`
	TokenID string `json:"tokenId"`
}

func (i *Instance) removePATCall(req *userTokenRequest) (any, error) {
	if err := i.removePAT(req.UserID, req.TokenID); err != nil {
		return nil, err
	}
	return map[string]string{"deletionDate": now()}, nil
}

// removePAT deletes a personal access token of the user (v2
// RemovePersonalAccessToken, v1 RemovePersonalAccessToken): it introspects
// inactive from then on.
func (i *Instance) removePAT(userID, tokenID string) error {
	t, ok := i.tokens.get(tokenID, "")
	if !ok || !t.pat || t.userID != userID || t.revoked {
		return errf("not_found", "Errors.User.PAT.NotFound (COMMAND-4m77G)")
	}
	i.tokens.update(tokenID, "", func(t *token) { t.revoked = true })
	i.changed()
	return nil
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

// grant is v1 AddUserGrant: CreateAuthorization in the caller's organisation.
func (i *Instance) grant(userID, projectID string, roles []string) (string, error) {
	resp, err := i.createAuthorization(&createAuthorizationRequest{UserID: userID, ProjectID: projectID, RoleKeys: roles})
	if err != nil {
		return "", err
	}
	return resp.(map[string]string)["id"], nil
}

const accessTokenTypeJWT = "ACCESS_TOKEN_TYPE_JWT"

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
