package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

// What setup makes in the admin's organisation, found by name when it exists.
const (
	setupProject  = "introspection-examples"
	setupRole     = "read:messages"
	setupJWTApp   = "api-jwt"                  // private_key_jwt: a key, no secret
	setupBasicApp = "api-basic-authentication" // client_secret_basic: a secret, no key
	stateFile     = "setup.json"
	// keyExpiration is the date ZITADEL gives a key created without one
	// (the console's "no expiration").
	keyExpiration = "9999-01-01T00:00:00Z"
)

// setupUsers are the service users of the combinations, as `combos serve`
// has them: each with a key, a secret and a PAT, and its own env file.
var setupUsers = []struct {
	name, display, envFile string
	role, jwtTokens        bool
}{
	{"examples-reader", "Examples reader", ".env", true, false},
	{"examples-no-role", "Examples reader without role", "no-role.env", false, false},
	{"examples-jwt-reader", "Examples reader with JWT access tokens", "jwt-tokens.env", true, true},
}

// setupState is OUT/setup.json: the ids setup found or made, and the keys,
// secrets and PATs it holds, which ZITADEL never shows again.
type setupState struct {
	Domain         string                  `json:"domain"`
	OrganizationID string                  `json:"organizationId"`
	Project        setupObject             `json:"project"`
	RoleCreated    bool                    `json:"roleCreated,omitempty"`
	Apps           map[string]*setupObject `json:"apps"`
	Users          map[string]*setupObject `json:"users"`
}

type setupObject struct {
	ID       string `json:"id"`
	ClientID string `json:"clientId,omitempty"`
	Created  bool   `json:"created,omitempty"` // setup made it, so -delete removes it
	KeyFile  string `json:"keyFile,omitempty"` // in OUT
	Secret   string `json:"secret,omitempty"`
	PAT      string `json:"pat,omitempty"`
}

// setupRun is one run of setup against one instance.
type setupRun struct {
	z     *zitadelAPI
	dir   string
	state *setupState
	out   io.Writer
}

func (s *setupRun) line(what, status string, detail ...any) {
	d := ""
	if len(detail) > 0 {
		d = "  " + fmt.Sprint(detail...)
	}
	fmt.Fprintf(s.out, "%-52s %s%s\n", what, status, d)
}

// setup provisions a ZITADEL for the samples; see usage.
func setup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env", "", "`FILE` with ZITADEL_DOMAIN and ADMIN_KEY_FILE (an Org Owner service user's key)")
	dir := fs.String("dir", "zitadel-setup", "`directory` for the .env and key files, created 0700")
	del := fs.Bool("delete", false, "remove what setup created, and its files")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if *envFile == "" {
		return &cli.UsageError{Err: errors.New("setup needs -env FILE with ZITADEL_DOMAIN and ADMIN_KEY_FILE")}
	}
	env, err := config.Load(func(string) string { return "" }, *envFile)
	if err != nil {
		return err
	}
	domain := env.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	keyFile := env.Path("ADMIN_KEY_FILE", "the JSON key file of a service user with the role Org Owner")
	if err := env.Err(); err != nil {
		return err
	}

	state, err := loadState(*dir, domain)
	if err != nil {
		return err
	}
	if *del && state == nil {
		fmt.Fprintf(stdout, "Nothing to delete: %s holds no %s from a setup of %s.\n", *dir, stateFile, domain)
		return nil
	}
	z, err := signIn(ctx, domain, keyFile)
	if err != nil {
		return err
	}
	if state == nil {
		state = &setupState{Domain: domain, OrganizationID: z.org}
	}
	if state.Apps == nil {
		state.Apps = map[string]*setupObject{}
	}
	if state.Users == nil {
		state.Users = map[string]*setupObject{}
	}
	s := &setupRun{z: z, dir: *dir, state: state, out: stdout}
	if *del {
		return s.delete(ctx)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(*dir, 0o700); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Setting up %s, organisation %s, as service user %s:\n", domain, z.org, z.admin)
	err = s.provision(ctx)
	// Saved even after an error: keys and secrets made so far are shown
	// only once, and -delete needs the ids.
	if serr := s.save(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if err := s.writeEnvFiles(); err != nil {
		return err
	}
	envPath := filepath.Join(*dir, ".env")
	fmt.Fprintf(stdout, "\nWrote %s, %s and %s (mode 0600) and the key files.\n",
		envPath, filepath.Join(*dir, "no-role.env"), filepath.Join(*dir, "jwt-tokens.env"))
	fmt.Fprintf(stdout, "Next: go run ./combos -env %s\n", envPath)
	return nil
}

func (s *setupRun) provision(ctx context.Context) error {
	if err := s.ensureProject(ctx); err != nil {
		return err
	}
	if err := s.ensureApp(ctx, setupJWTApp, "API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT"); err != nil {
		return err
	}
	if err := s.ensureApp(ctx, setupBasicApp, "API_AUTH_METHOD_TYPE_BASIC"); err != nil {
		return err
	}
	for _, u := range setupUsers {
		if err := s.ensureUser(ctx, u.name, u.display, u.role, u.jwtTokens); err != nil {
			return err
		}
	}
	return nil
}

// ensureProject finds or creates the project, and its role.
func (s *setupRun) ensureProject(ctx context.Context) error {
	var list struct {
		Projects []struct {
			ProjectID string `json:"projectId"`
		} `json:"projects"`
	}
	err := s.z.call(ctx, "zitadel.project.v2.ProjectService/ListProjects", map[string]any{
		"filters": []any{
			map[string]any{"projectNameFilter": map[string]any{"projectName": setupProject, "method": "TEXT_FILTER_METHOD_EQUALS"}},
			map[string]any{"organizationIdFilter": map[string]any{"organizationId": s.z.org, "type": "OWNED"}},
		},
	}, &list)
	if err != nil {
		return err
	}
	what := "project " + setupProject
	p := &s.state.Project
	switch {
	case len(list.Projects) > 0:
		if p.ID != list.Projects[0].ProjectID {
			*p = setupObject{ID: list.Projects[0].ProjectID}
		}
		s.line(what, "found", "id ", p.ID)
	default:
		var created struct {
			ProjectID string `json:"projectId"`
		}
		err := s.z.call(ctx, "zitadel.project.v2.ProjectService/CreateProject", map[string]any{
			"organizationId": s.z.org,
			"name":           setupProject,
		}, &created)
		if err != nil {
			return err
		}
		*p = setupObject{ID: created.ProjectID, Created: true}
		s.state.RoleCreated = false
		s.line(what, "created", "id ", p.ID)
	}

	err = s.z.call(ctx, "zitadel.project.v2.ProjectService/AddProjectRole", map[string]any{
		"projectId":   p.ID,
		"roleKey":     setupRole,
		"displayName": "Read messages",
	}, &struct{}{})
	switch {
	case isCode(err, "already_exists"):
		s.line("  role "+setupRole, "found")
	case err != nil:
		return err
	default:
		s.state.RoleCreated = true
		s.line("  role "+setupRole, "created")
	}
	return nil
}

// ensureApp finds or creates an API application with one authentication
// method, and holds its key (private_key_jwt) or its secret (Basic).
func (s *setupRun) ensureApp(ctx context.Context, name, authMethod string) error {
	var list struct {
		Applications []struct {
			ApplicationID    string `json:"applicationId"`
			APIConfiguration *struct {
				ClientID       string `json:"clientId"`
				AuthMethodType string `json:"authMethodType"`
			} `json:"apiConfiguration"`
		} `json:"applications"`
	}
	err := s.z.call(ctx, "zitadel.application.v2.ApplicationService/ListApplications", map[string]any{
		"filters": []any{
			map[string]any{"projectIdFilter": map[string]any{"projectId": s.state.Project.ID}},
			map[string]any{"nameFilter": map[string]any{"name": name, "method": "TEXT_FILTER_METHOD_EQUALS"}},
		},
	}, &list)
	if err != nil {
		return err
	}
	jwt := authMethod == "API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT"
	label := "app " + name + " (client_secret_basic)"
	if jwt {
		label = "app " + name + " (private_key_jwt)"
	}
	a := s.state.Apps[name]
	if a == nil {
		a = &setupObject{}
		s.state.Apps[name] = a
	}
	secretFromCreate := ""
	if len(list.Applications) > 0 && list.Applications[0].APIConfiguration != nil {
		found := list.Applications[0]
		// BASIC is the enum's zero value: protobuf JSON leaves it out.
		if (found.APIConfiguration.AuthMethodType == "API_AUTH_METHOD_TYPE_PRIVATE_KEY_JWT") != jwt {
			return fmt.Errorf("application %s in project %s exists with another authentication method: delete it or rename it, then run setup again", name, setupProject)
		}
		if a.ID != found.ApplicationID {
			*a = setupObject{ID: found.ApplicationID}
		}
		a.ClientID = found.APIConfiguration.ClientID
		s.line(label, "found", "client id ", a.ClientID)
	} else {
		var created struct {
			ApplicationID    string `json:"applicationId"`
			APIConfiguration struct {
				ClientID     string `json:"clientId"`
				ClientSecret string `json:"clientSecret"`
			} `json:"apiConfiguration"`
		}
		err := s.z.call(ctx, "zitadel.application.v2.ApplicationService/CreateApplication", map[string]any{
			"projectId":        s.state.Project.ID,
			"name":             name,
			"apiConfiguration": map[string]any{"authMethodType": authMethod},
		}, &created)
		if err != nil {
			return err
		}
		*a = setupObject{ID: created.ApplicationID, ClientID: created.APIConfiguration.ClientID, Created: true}
		secretFromCreate = created.APIConfiguration.ClientSecret
		s.line(label, "created", "client id ", a.ClientID)
	}

	if jwt {
		return s.ensureKey(ctx, a, name+"-key.json", keyfile.TypeApplication,
			"zitadel.application.v2.ApplicationService/CreateApplicationKey", map[string]any{
				"applicationId":  a.ID,
				"projectId":      s.state.Project.ID,
				"expirationDate": keyExpiration,
			})
	}
	switch {
	case secretFromCreate != "":
		a.Secret = secretFromCreate
		s.line("  secret", "created")
	case a.Secret != "":
		s.line("  secret", "reused", "from ", filepath.Join(s.dir, stateFile))
	default:
		var secret struct {
			ClientSecret string `json:"clientSecret"`
		}
		err := s.z.call(ctx, "zitadel.application.v2.ApplicationService/GenerateClientSecret", map[string]any{
			"applicationId": a.ID,
			"projectId":     s.state.Project.ID,
		}, &secret)
		if err != nil {
			return err
		}
		a.Secret = secret.ClientSecret
		s.line("  secret", "created", "(none in ", s.dir, "; the previous secret no longer works)")
	}
	return nil
}

// ensureKey reuses the key file in OUT when it is the object's, or asks
// ZITADEL for a new key and writes its key file.
func (s *setupRun) ensureKey(ctx context.Context, o *setupObject, file, keyType, procedure string, req map[string]any) error {
	path := filepath.Join(s.dir, file)
	if o.KeyFile == file && keyBelongsTo(path, keyType, o.ID) {
		s.line("  key", "reused", path)
		return nil
	}
	// The key file: key_details (application v2) or key_content (user v2),
	// bytes, so base64 in protobuf JSON.
	var created struct {
		KeyDetails []byte `json:"keyDetails"`
		KeyContent []byte `json:"keyContent"`
	}
	if err := s.z.call(ctx, procedure, req, &created); err != nil {
		return err
	}
	content := append(created.KeyDetails, created.KeyContent...)
	if _, err := keyfile.Parse(content, keyType); err != nil {
		return fmt.Errorf("%s: the key ZITADEL returned: %w", procedure, err)
	}
	if err := writePrivateFile(path, content); err != nil {
		return err
	}
	o.KeyFile = file
	s.line("  key", "created", path)
	return nil
}

func keyBelongsTo(path, keyType, id string) bool {
	var k *keyfile.Key
	var err error
	if keyType == keyfile.TypeApplication {
		k, err = keyfile.LoadApplication(path)
		return err == nil && k.AppID == id
	}
	k, err = keyfile.LoadServiceAccount(path)
	return err == nil && k.UserID == id
}

// ensureUser finds or creates a service user with a key, a secret, a PAT,
// its access token type and, if role, the role on the project.
func (s *setupRun) ensureUser(ctx context.Context, name, display string, role, jwtTokens bool) error {
	found, err := s.findUser(ctx, name)
	if err != nil {
		return err
	}
	u := s.state.Users[name]
	if u == nil {
		u = &setupObject{}
		s.state.Users[name] = u
	}
	if found != nil {
		if u.ID != found.id {
			*u = setupObject{ID: found.id}
		}
		s.line("service user "+name, "found", "id ", u.ID)
	} else {
		// BEARER (opaque) is the enum's zero value and the default.
		machine := map[string]any{"name": display, "description": "made by go run ./combos setup"}
		if jwtTokens {
			machine["accessTokenType"] = accessTokenJWT
		}
		var created struct {
			ID string `json:"id"`
		}
		err := s.z.call(ctx, "zitadel.user.v2.UserService/CreateUser", map[string]any{
			"organizationId": s.z.org,
			"username":       name,
			"machine":        machine,
		}, &created)
		if err != nil {
			return err
		}
		*u = setupObject{ID: created.ID, Created: true}
		s.line("service user "+name, "created", "id ", u.ID)
	}
	if jwtTokens {
		if err := s.ensureJWTAccessTokens(ctx, name, display, found); err != nil {
			return err
		}
	}

	if err := s.ensureKey(ctx, u, name+".json", keyfile.TypeServiceAccount,
		"zitadel.user.v2.UserService/AddKey", map[string]any{
			"userId":         u.ID,
			"expirationDate": keyExpiration,
		}); err != nil {
		return err
	}

	if u.Secret != "" {
		s.line("  secret", "reused", "from ", filepath.Join(s.dir, stateFile))
	} else {
		var secret struct {
			ClientSecret string `json:"clientSecret"`
		}
		if err := s.z.call(ctx, "zitadel.user.v2.UserService/AddSecret", map[string]any{"userId": u.ID}, &secret); err != nil {
			return err
		}
		u.Secret = secret.ClientSecret
		s.line("  secret", "created")
	}

	if u.PAT != "" {
		s.line("  personal access token", "reused", "from ", filepath.Join(s.dir, stateFile))
	} else {
		var pat struct {
			Token string `json:"token"`
		}
		if err := s.z.call(ctx, "zitadel.user.v2.UserService/AddPersonalAccessToken", map[string]any{
			"userId":         u.ID,
			"expirationDate": "9999-12-31T23:59:59Z",
		}, &pat); err != nil {
			return err
		}
		u.PAT = pat.Token
		s.line("  personal access token", "created")
	}

	if role {
		var created struct {
			ID string `json:"id"`
		}
		err := s.z.call(ctx, "zitadel.authorization.v2.AuthorizationService/CreateAuthorization", map[string]any{
			"userId":         u.ID,
			"projectId":      s.state.Project.ID,
			"organizationId": s.z.org,
			"roleKeys":       []string{setupRole},
		}, &created)
		switch {
		case isCode(err, "already_exists"):
			s.line("  authorization "+setupRole, "found")
		case err != nil:
			return err
		default:
			s.line("  authorization "+setupRole, "created")
		}
	}
	return nil
}

const accessTokenJWT = "ACCESS_TOKEN_TYPE_JWT"

// foundUser is a service user ListUsers found.
type foundUser struct{ id, accessTokenType string }

// findUser looks a user up by user name in the admin's organisation.
func (s *setupRun) findUser(ctx context.Context, name string) (*foundUser, error) {
	var list struct {
		Result []struct {
			UserID  string `json:"userId"`
			Machine *struct {
				AccessTokenType string `json:"accessTokenType"`
			} `json:"machine"`
		} `json:"result"`
	}
	err := s.z.call(ctx, "zitadel.user.v2.UserService/ListUsers", map[string]any{
		"queries": []any{
			map[string]any{"userNameQuery": map[string]any{"userName": name, "method": "TEXT_QUERY_METHOD_EQUALS"}},
			map[string]any{"organizationIdQuery": map[string]any{"organizationId": s.z.org}},
		},
	}, &list)
	if err != nil || len(list.Result) == 0 {
		return nil, err
	}
	if list.Result[0].Machine == nil {
		return nil, fmt.Errorf("user %s exists and is not a service user: rename or delete it, then run setup again", name)
	}
	return &foundUser{id: list.Result[0].UserID, accessTokenType: list.Result[0].Machine.AccessTokenType}, nil
}

// ensureJWTAccessTokens makes the user's access tokens JWTs. Current
// ZITADEL sets the type with v2 CreateUser (done) or UpdateUser; earlier v4
// releases drop that field unseen, so setup checks and then falls back to
// management v1 UpdateMachine.
func (s *setupRun) ensureJWTAccessTokens(ctx context.Context, name, display string, found *foundUser) error {
	const what = "  access tokens JWT"
	if found != nil && found.accessTokenType == accessTokenJWT {
		s.line(what, "found")
		return nil
	}
	u := s.state.Users[name]
	if found != nil {
		err := s.z.call(ctx, "zitadel.user.v2.UserService/UpdateUser", map[string]any{
			"userId":  u.ID,
			"machine": map[string]any{"accessTokenType": accessTokenJWT},
		}, &struct{}{})
		if err != nil {
			return err
		}
	}
	now, err := s.findUser(ctx, name)
	if err != nil {
		return err
	}
	if now != nil && now.accessTokenType == accessTokenJWT {
		s.line(what, "set")
		return nil
	}
	err = s.z.do(ctx, "PUT", "/management/v1/users/"+u.ID+"/machine", "zitadel.management.v1.ManagementService/UpdateMachine", map[string]any{
		"name":            display,
		"description":     "made by go run ./combos setup",
		"accessTokenType": accessTokenJWT,
	}, &struct{}{})
	if err != nil {
		return err
	}
	s.line(what, "set", "(with management v1 UpdateMachine: this ZITADEL's v2 user API has no access token type)")
	return nil
}

// delete removes what setup created (users, then applications, then the
// project) and its files in OUT. What it found and did not make stays.
func (s *setupRun) delete(ctx context.Context) error {
	fmt.Fprintf(s.out, "Removing what setup made in %s, organisation %s:\n", s.state.Domain, s.z.org)
	names := make([]string, 0, len(s.state.Users))
	for name := range s.state.Users {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u := s.state.Users[name]
		if !u.Created {
			s.line("service user "+name, "kept", "(setup found it)")
			continue
		}
		err := s.z.call(ctx, "zitadel.user.v2.UserService/DeleteUser", map[string]any{"userId": u.ID}, &struct{}{})
		switch {
		case isCode(err, "not_found"):
			s.line("service user "+name, "already gone")
		case err != nil:
			return err
		default:
			s.line("service user "+name, "deleted")
		}
	}
	p := s.state.Project
	for _, name := range []string{setupJWTApp, setupBasicApp} {
		a := s.state.Apps[name]
		if a == nil || p.Created { // the project takes its applications with it
			continue
		}
		if !a.Created {
			s.line("app "+name, "kept", "(setup found it)")
			continue
		}
		err := s.z.call(ctx, "zitadel.application.v2.ApplicationService/DeleteApplication", map[string]any{
			"applicationId": a.ID,
			"projectId":     p.ID,
		}, &struct{}{})
		switch {
		case isCode(err, "not_found"):
			s.line("app "+name, "already gone")
		case err != nil:
			return err
		default:
			s.line("app "+name, "deleted")
		}
	}
	switch {
	case p.Created:
		err := s.z.call(ctx, "zitadel.project.v2.ProjectService/DeleteProject", map[string]any{"projectId": p.ID}, &struct{}{})
		if err != nil && !isCode(err, "not_found") {
			return err
		}
		s.line("project "+setupProject, "deleted", "with its role, applications and authorizations")
	case s.state.RoleCreated:
		err := s.z.call(ctx, "zitadel.project.v2.ProjectService/RemoveProjectRole", map[string]any{
			"projectId": p.ID,
			"roleKey":   setupRole,
		}, &struct{}{})
		// Older versions answer not_found for a role that is gone already.
		if err != nil && !isCode(err, "not_found") {
			return err
		}
		s.line("project "+setupProject, "kept", "(setup found it); role "+setupRole+" removed")
	default:
		s.line("project "+setupProject, "kept", "(setup found it)")
	}

	files := []string{stateFile}
	for _, u := range setupUsers {
		files = append(files, u.envFile)
	}
	for _, o := range s.state.Apps {
		files = append(files, o.KeyFile)
	}
	for _, o := range s.state.Users {
		files = append(files, o.KeyFile)
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if os.Remove(s.dir) == nil {
		fmt.Fprintf(s.out, "Removed %s.\n", s.dir)
	} else {
		fmt.Fprintf(s.out, "Removed setup's files from %s; other files there are kept.\n", s.dir)
	}
	return nil
}

// loadState reads OUT/setup.json. It is nil when OUT has none, or one
// of another instance (whose ids mean nothing here).
func loadState(dir, domain string) (*setupState, error) {
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st setupState
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%s is not setup's state file: remove it or choose another -dir", filepath.Join(dir, stateFile))
	}
	if st.Domain != domain {
		return nil, fmt.Errorf("%s holds a setup of %s, not of %s: choose another -dir", dir, st.Domain, domain)
	}
	return &st, nil
}

func (s *setupRun) save() error {
	raw, err := json.MarshalIndent(s.state, "", "  ")
	if err != nil {
		return err
	}
	return writePrivateFile(filepath.Join(s.dir, stateFile), append(raw, '\n'))
}

// writeEnvFiles writes the samples' settings, one file per service user,
// with the variables of .env.example. Paths are relative to OUT, where the
// samples' config resolves them.
func (s *setupRun) writeEnvFiles() error {
	jwtApp, basicApp := s.state.Apps[setupJWTApp], s.state.Apps[setupBasicApp]
	for _, su := range setupUsers {
		u := s.state.Users[su.name]
		vars := [][2]string{
			{"ZITADEL_DOMAIN", s.state.Domain},
			{"ZITADEL_INTROSPECTION_URL", s.state.Domain + "/oauth/v2/introspect"},
			{"ZITADEL_TOKEN_URL", s.state.Domain + "/oauth/v2/token"},
			{"API_PRIVATE_KEY_FILE", jwtApp.KeyFile},
			{"API_CLIENT_ID", basicApp.ClientID},
			{"API_CLIENT_SECRET", basicApp.Secret},
			{"PROJECT_ID", s.state.Project.ID},
			{"API_BASE_URL", "http://localhost:5000"},
			{"CLIENT_PRIVATE_KEY_FILE_PATH", u.KeyFile},
			{"CLIENT_ID", su.name},
			{"CLIENT_SECRET", u.Secret},
			{"PAT", u.PAT},
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# Settings for the samples against %s, written by go run ./combos setup.\n", s.state.Domain)
		fmt.Fprintf(&b, "# Service user %s (%s). Paths are relative to this file.\n", su.name, describeUser(su.role, su.jwtTokens))
		for _, v := range vars {
			fmt.Fprintf(&b, "%s='%s'\n", v[0], v[1])
		}
		if err := writePrivateFile(filepath.Join(s.dir, su.envFile), []byte(b.String())); err != nil {
			return err
		}
	}
	return nil
}

func describeUser(role, jwtTokens bool) string {
	d := "without role"
	if role {
		d = "role " + setupRole
	}
	if jwtTokens {
		return d + ", JWT access tokens"
	}
	return d + ", opaque access tokens"
}

// writePrivateFile writes data with mode 0600 through a temporary file,
// so that a secret is never in a file others can read, even briefly.
func writePrivateFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
