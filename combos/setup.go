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
)

// setupApps are the two API applications, one per authentication method.
var setupApps = []struct {
	name string
	jwt  bool
}{{setupJWTApp, true}, {setupBasicApp, false}}

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

// setupObject is a project, app or user, and the credentials setup added
// to it: on an object it found, -delete removes those and keeps the object.
type setupObject struct {
	ID       string `json:"id"`
	ClientID string `json:"clientId,omitempty"`
	Created  bool   `json:"created,omitempty"` // setup made it, so -delete removes it
	KeyFile  string `json:"keyFile,omitempty"` // in OUT
	Secret   string `json:"secret,omitempty"`
	PAT      string `json:"pat,omitempty"`
	PATID    string `json:"patId,omitempty"`
}

// setupRun is one run of setup against one instance.
type setupRun struct {
	z      *zitadelAPI
	api    managementAPI
	dir    string
	state  *setupState
	out    io.Writer
	rotate bool
	// dirty: the state holds something ZITADEL will not show again and
	// setup.json does not have yet.
	dirty bool
}

func (s *setupRun) line(what, status string, detail ...any) {
	d := fmt.Sprint(detail...)
	if strings.TrimSpace(d) != "" {
		d = "  " + d
	}
	fmt.Fprintf(s.out, "%-52s %s%s\n", what, status, d)
}

// statePath is OUT/setup.json as messages name it.
func (s *setupRun) statePath() string { return filepath.Join(s.dir, stateFile) }

// setup provisions a ZITADEL for the samples; see usage.
func setup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env", "", "`FILE` with ZITADEL_DOMAIN and ADMIN_KEY_FILE (an Org Owner service user's key)")
	dir := fs.String("dir", "zitadel-setup", "`directory` for the .env and key files, created 0700")
	del := fs.Bool("delete", false, "remove what setup created, the keys, secrets and PATs it added, and its files")
	rotate := fs.Bool("rotate", false, "make new client secrets for the apps and users setup finds; the old secrets stop working")
	if err := config.ParseFlags(fs, args); err != nil {
		return err
	}
	if *envFile == "" {
		return &config.UsageError{Err: errors.New("setup needs -env FILE with ZITADEL_DOMAIN and ADMIN_KEY_FILE")}
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
	api, projectID, err := chooseAPI(ctx, z, setupProject)
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
	s := &setupRun{z: z, api: api, dir: *dir, state: state, out: stdout, rotate: *rotate}
	if *del {
		fmt.Fprintf(stdout, "Removing what setup made in %s, organisation %s, with %s:\n", domain, z.org, api.describe())
		return s.delete(ctx)
	}
	fmt.Fprintf(stdout, "Setting up %s, organisation %s, as service user %s, with %s:\n", domain, z.org, z.admin, api.describe())
	err = s.provision(ctx, projectID)
	// Saved even after an error when something was made: keys and secrets
	// are shown only once, and -delete needs the ids. Nothing made (a
	// refusal, a missing permission): no setup.json.
	if err == nil || s.dirty {
		if serr := s.save(); err == nil {
			err = serr
		}
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

// ensureDir creates OUT (0700) before its first file.
func (s *setupRun) ensureDir() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(s.dir, 0o700)
}

// provision finds everything first and decides about every client secret,
// so that a refusal changes nothing; then it makes what is missing.
func (s *setupRun) provision(ctx context.Context, projectID string) error {
	apps := map[string]*foundApp{}
	if projectID != "" {
		for _, a := range setupApps {
			found, err := s.api.findApp(ctx, projectID, a.name)
			if err != nil {
				return err
			}
			if found != nil && found.jwt != a.jwt {
				return fmt.Errorf("application %s in project %s exists with another authentication method: delete it or rename it, then run setup again", a.name, setupProject)
			}
			apps[a.name] = found
		}
	}
	users := map[string]*foundUser{}
	for _, u := range setupUsers {
		found, err := s.api.findUser(ctx, u.name)
		if err != nil {
			return err
		}
		users[u.name] = found
	}
	plan, err := s.planSecrets(ctx, apps, users)
	if err != nil {
		return err
	}

	if err := s.ensureProject(ctx, projectID); err != nil {
		return err
	}
	for _, a := range setupApps {
		if err := s.ensureApp(ctx, a.name, a.jwt, apps[a.name], plan["app "+a.name]); err != nil {
			return err
		}
	}
	for _, u := range setupUsers {
		if err := s.ensureUser(ctx, u.name, u.display, u.role, u.jwtTokens, users[u.name], plan["service user "+u.name]); err != nil {
			return err
		}
	}
	return nil
}

// secretStep is what setup does with the client secret of an object it found.
type secretStep struct {
	action string // reuse, create (the object has none), replace (-rotate)
	why    string // for the output line
}

// planSecrets decides, for every API application and service user that
// exists, whether setup reuses the secret OUT holds or makes one. A user or
// application has one client secret, and a new one stops the old one: so
// without -rotate, setup refuses to replace a secret it does not hold (or
// that no longer works, which means another setup replaced it), and says so
// before it changes anything.
func (s *setupRun) planSecrets(ctx context.Context, apps map[string]*foundApp, users map[string]*foundUser) (map[string]secretStep, error) {
	plan := map[string]secretStep{}
	var refused []string
	decide := func(what string, held *setupObject, works func() (works, error), hasSecret bool) error {
		ok := false
		if held != nil && held.Secret != "" {
			w, err := works()
			if err != nil {
				return err
			}
			ok = bool(w)
		}
		switch {
		case s.rotate && hasSecret:
			plan[what] = secretStep{"replace", "(-rotate: the previous secret no longer works)"}
		case ok:
			plan[what] = secretStep{action: "reuse"}
		case !hasSecret && held != nil && held.Secret != "":
			plan[what] = secretStep{"create", "(the one in " + s.statePath() + " no longer works)"}
		case !hasSecret:
			plan[what] = secretStep{action: "create"}
		case held != nil && held.Secret != "":
			refused = append(refused, fmt.Sprintf("  %s: the secret in %s no longer works: another setup made a new one", what, s.statePath()))
		default:
			refused = append(refused, fmt.Sprintf("  %s: has a client secret that %s does not hold", what, s.statePath()))
		}
		return nil
	}
	for _, a := range setupApps {
		found := apps[a.name]
		if found == nil || a.jwt {
			continue // a new app comes with its secret; a JWT app has none
		}
		held := s.heldFor(s.state.Apps, a.name, found.id)
		err := decide("app "+a.name, held, func() (works, error) {
			return s.z.appSecretWorks(ctx, found.clientID, held.Secret)
		}, true) // a Basic application always has a secret
		if err != nil {
			return nil, err
		}
	}
	for _, u := range setupUsers {
		found := users[u.name]
		if found == nil {
			continue
		}
		held := s.heldFor(s.state.Users, u.name, found.id)
		err := decide("service user "+u.name, held, func() (works, error) {
			return s.z.userSecretWorks(ctx, u.name, held.Secret)
		}, found.hasSecret)
		if err != nil {
			return nil, err
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("setup changed nothing: it would replace client secrets that %s does not hold.\n%s\n"+
			"A service user or API application has one client secret; a new one stops the old one, and what uses it (the .env of another setup directory?) stops working.\n"+
			"Run setup with the -dir of the setup that holds them, or add -rotate to make new secrets and stop the old ones",
			s.dir, strings.Join(refused, "\n"))
	}
	return plan, nil
}

// heldFor returns OUT's record of the object if it is the one found.
func (s *setupRun) heldFor(objects map[string]*setupObject, name, id string) *setupObject {
	if o := objects[name]; o != nil && o.ID == id {
		return o
	}
	return nil
}

// ensureProject uses the project found, or creates it, and its role.
func (s *setupRun) ensureProject(ctx context.Context, projectID string) error {
	what := "project " + setupProject
	p := &s.state.Project
	if projectID != "" {
		if p.ID != projectID {
			*p = setupObject{ID: projectID}
			s.state.RoleCreated = false
		}
		s.line(what, "found", "id ", p.ID)
	} else {
		id, err := s.api.createProject(ctx, setupProject)
		if err != nil {
			return err
		}
		*p = setupObject{ID: id, Created: true}
		s.state.RoleCreated = false
		s.dirty = true
		s.line(what, "created", "id ", p.ID)
	}
	existed, err := s.api.addRole(ctx, p.ID, setupRole, "Read messages")
	switch {
	case err != nil:
		return err
	case existed:
		s.line("  role "+setupRole, "found")
	default:
		s.state.RoleCreated = true
		s.dirty = true
		s.line("  role "+setupRole, "created")
	}
	return nil
}

// ensureApp uses the API application found, or creates it with one
// authentication method, and holds its key (private_key_jwt) or its
// secret (Basic).
func (s *setupRun) ensureApp(ctx context.Context, name string, jwt bool, found *foundApp, step secretStep) error {
	label := "app " + name + " (client_secret_basic)"
	if jwt {
		label = "app " + name + " (private_key_jwt)"
	}
	a := s.state.Apps[name]
	if a == nil {
		a = &setupObject{}
		s.state.Apps[name] = a
	}
	projectID := s.state.Project.ID
	if found != nil {
		if a.ID != found.id {
			*a = setupObject{ID: found.id}
		}
		a.ClientID = found.clientID
		s.line(label, "found", "client id ", a.ClientID)
	} else {
		app, secret, err := s.api.createApp(ctx, projectID, name, jwt)
		if err != nil {
			return err
		}
		*a = setupObject{ID: app.id, ClientID: app.clientID, Created: true, Secret: secret}
		s.dirty = true
		s.line(label, "created", "client id ", a.ClientID)
		if !jwt {
			s.line("  secret", "created")
		}
	}

	if jwt {
		return s.ensureKey(ctx, a, name+"-key.json", keyfile.TypeApplication,
			func(path string) (works, error) { return s.z.appKeyWorks(ctx, path) },
			func() ([]byte, error) { return s.api.addAppKey(ctx, projectID, a.ID) })
	}
	if found == nil {
		return nil
	}
	if step.action == "reuse" {
		s.line("  secret", "reused", "from ", s.statePath())
		return nil
	}
	secret, err := s.api.newAppSecret(ctx, projectID, a.ID)
	if err != nil {
		return err
	}
	a.Secret = secret
	s.dirty = true
	s.line("  secret", statusOfStep(step), step.why)
	return nil
}

func statusOfStep(step secretStep) string {
	if step.action == "replace" {
		return "replaced"
	}
	return "created"
}

// ensureKey reuses the key file in OUT when it is the object's and still
// works, or asks ZITADEL for a new key (keys add up: a new one harms no
// one) and writes its key file.
func (s *setupRun) ensureKey(ctx context.Context, o *setupObject, file, keyType string,
	check func(path string) (works, error), add func() ([]byte, error)) error {
	path := filepath.Join(s.dir, file)
	status, why := "created", ""
	if o.KeyFile == file && keyBelongsTo(path, keyType, o.ID) {
		ok, err := check(path)
		if err != nil {
			return err
		}
		if ok {
			s.line("  key", "reused", path)
			return nil
		}
		status, why = "remade", " (the key in OUT no longer works)"
	}
	content, err := add()
	if err != nil {
		return err
	}
	if _, err := keyfile.Parse(content, keyType); err != nil {
		return fmt.Errorf("the key ZITADEL returned: %w", err)
	}
	if err := s.ensureDir(); err != nil {
		return err
	}
	if err := writePrivateFile(path, content); err != nil {
		return err
	}
	o.KeyFile = file
	s.dirty = true
	s.line("  key", status, path, why)
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

// keyIDOf returns the key id of OUT's key file of the object, or "".
func (s *setupRun) keyIDOf(o *setupObject, keyType string) string {
	if o.KeyFile == "" || !keyBelongsTo(filepath.Join(s.dir, o.KeyFile), keyType, o.ID) {
		return ""
	}
	k, err := keyfile.Parse(mustRead(filepath.Join(s.dir, o.KeyFile)), keyType)
	if err != nil {
		return ""
	}
	return k.KeyID
}

func mustRead(path string) []byte {
	raw, _ := os.ReadFile(path)
	return raw
}

// ensureUser uses the service user found, or creates it, with a key, a
// secret, a PAT, its access token type and, if role, the role.
func (s *setupRun) ensureUser(ctx context.Context, name, display string, role, jwtTokens bool, found *foundUser, step secretStep) error {
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
		id, err := s.api.createUser(ctx, name, display, jwtTokens)
		if err != nil {
			return err
		}
		*u = setupObject{ID: id, Created: true}
		s.dirty = true
		s.line("service user "+name, "created", "id ", u.ID)
	}
	if jwtTokens {
		if err := s.ensureJWTAccessTokens(ctx, name, display, found); err != nil {
			return err
		}
	}

	if err := s.ensureKey(ctx, u, name+".json", keyfile.TypeServiceAccount,
		func(path string) (works, error) { return s.z.userKeyWorks(ctx, path) },
		func() ([]byte, error) { return s.api.addUserKey(ctx, u.ID) }); err != nil {
		return err
	}

	if found != nil && step.action == "reuse" {
		s.line("  secret", "reused", "from ", s.statePath())
	} else {
		secret, err := s.api.newUserSecret(ctx, u.ID)
		if err != nil {
			return err
		}
		u.Secret = secret
		s.dirty = true
		s.line("  secret", statusOfStep(step), step.why)
	}

	if err := s.ensurePAT(ctx, u); err != nil {
		return err
	}

	if role {
		existed, err := s.api.grant(ctx, u.ID, s.state.Project.ID, setupRole)
		switch {
		case err != nil:
			return err
		case existed:
			s.line("  authorization "+setupRole, "found")
		default:
			s.line("  authorization "+setupRole, "created")
		}
	}
	return nil
}

// ensurePAT reuses OUT's PAT if the Basic application's introspection
// finds it active, or adds one (PATs add up: a new one harms no one).
func (s *setupRun) ensurePAT(ctx context.Context, u *setupObject) error {
	const what = "  personal access token"
	status, why := "created", ""
	if u.PAT != "" {
		basic := s.state.Apps[setupBasicApp]
		ok, err := s.z.patWorks(ctx, u.PAT, basic.ClientID, basic.Secret)
		if err != nil {
			return err
		}
		if ok {
			s.line(what, "reused", "from ", s.statePath())
			return nil
		}
		status, why = "remade", "(the PAT in OUT no longer works)"
	}
	id, token, err := s.api.addPAT(ctx, u.ID)
	if err != nil {
		return err
	}
	u.PAT, u.PATID = token, id
	s.dirty = true
	s.line(what, status, why)
	return nil
}

// ensureJWTAccessTokens makes the user's access tokens JWTs. The current
// ZITADEL sets the type with v2 CreateUser (done) or UpdateUser; earlier
// releases drop that field unseen, so setup reads it back and then falls
// back to management v1 UpdateMachine, which every release serves.
func (s *setupRun) ensureJWTAccessTokens(ctx context.Context, name, display string, found *foundUser) error {
	const what = "  access tokens JWT"
	if found != nil && found.jwtTokens {
		s.line(what, "found")
		return nil
	}
	u := s.state.Users[name]
	if found != nil {
		if err := s.api.setJWTTokens(ctx, u.ID, display); err != nil {
			return err
		}
	}
	now, err := s.api.findUser(ctx, name)
	if err != nil {
		return err
	}
	if now != nil && now.jwtTokens {
		s.line(what, "set")
		return nil
	}
	if err := (v1API{s.z}).setJWTTokens(ctx, u.ID, display); err != nil {
		return err
	}
	s.line(what, "set", "(with management v1 UpdateMachine: this ZITADEL's v2 user API has no access token type)")
	return nil
}

// delete removes what setup created (users, then applications, then the
// project) and its files in OUT. Of what it found, it keeps the object and
// removes the key, secret and PAT it added.
func (s *setupRun) delete(ctx context.Context) error {
	names := make([]string, 0, len(s.state.Users))
	for name := range s.state.Users {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		u := s.state.Users[name]
		if u.Created {
			if err := s.api.deleteUser(ctx, u.ID); err != nil {
				return err
			}
			s.line("service user "+name, "deleted")
			continue
		}
		s.line("service user "+name, "kept", "(setup found it)")
		if err := s.removeAddedToUser(ctx, name, u); err != nil {
			return err
		}
	}
	p := s.state.Project
	for _, a := range setupApps {
		o := s.state.Apps[a.name]
		if o == nil || p.Created { // the project takes its applications with it
			continue
		}
		if o.Created {
			if err := s.api.deleteApp(ctx, p.ID, o.ID); err != nil {
				return err
			}
			s.line("app "+a.name, "deleted")
			continue
		}
		s.line("app "+a.name, "kept", "(setup found it)")
		if a.jwt {
			keyID := s.keyIDOf(o, keyfile.TypeApplication)
			var err error
			if keyID != "" {
				err = s.api.removeAppKey(ctx, p.ID, o.ID, keyID)
			}
			if err := s.removed("  key", err, keyID != ""); err != nil {
				return err
			}
		} else if o.Secret != "" {
			s.line("  secret", "kept", "(an API application always has one; a new one would stop setup's and no other)")
		}
	}
	switch {
	case p.Created:
		if err := s.api.deleteProject(ctx, p.ID); err != nil {
			return err
		}
		s.line("project "+setupProject, "deleted", "with its role, applications and authorizations")
	case s.state.RoleCreated:
		if err := s.api.removeRole(ctx, p.ID, setupRole); err != nil {
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

// removeAddedToUser removes the key, secret and PAT setup added to a user
// it found. The secret only if it still works: else it is no longer
// setup's but that of whoever replaced it.
func (s *setupRun) removeAddedToUser(ctx context.Context, name string, u *setupObject) error {
	keyID := s.keyIDOf(u, keyfile.TypeServiceAccount)
	if keyID != "" {
		if err := s.removed("  key", s.api.removeUserKey(ctx, u.ID, keyID), true); err != nil {
			return err
		}
	}
	if u.Secret != "" {
		ok, err := s.z.userSecretWorks(ctx, name, u.Secret)
		if err != nil {
			return err
		}
		if ok {
			if err := s.removed("  secret", s.api.removeUserSecret(ctx, u.ID), true); err != nil {
				return err
			}
		} else {
			s.line("  secret", "kept", "(the one in OUT no longer works: another setup replaced it)")
		}
	}
	switch {
	case u.PATID != "":
		return s.removed("  personal access token", s.api.removePAT(ctx, u.ID, u.PATID), true)
	case u.PAT != "":
		s.line("  personal access token", "kept", "(", s.statePath(), " has no id for it: delete it in the console)")
	}
	return nil
}

// removed prints the outcome of removing a credential setup added.
func (s *setupRun) removed(what string, err error, known bool) error {
	switch {
	case !known:
		s.line(what, "kept", "(no key file in OUT names it)")
	case gone(err):
		s.line(what, "already gone")
	case err != nil:
		return err
	default:
		s.line(what, "removed")
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
	if err := s.ensureDir(); err != nil {
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
