package localzitadel

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// The role the samples' scoped route requires.
const roleReadMessages = "read:messages"

// orgName is the name of the instance's organisation.
const orgName = "examples"

// project is a ZITADEL project with its roles.
type project struct {
	id, name string
	roles    []string
}

// apiApp is an API application as the issuer knows it. ZITADEL gives an API
// application one authentication method: a JWT app has a key and no
// secret (keyID set), a Basic app a secret and no key (secret set).
type apiApp struct {
	appID, clientID, secret, keyID string
	publicKey                      *rsa.PublicKey
	olderKeys                      map[string]*rsa.PublicKey // by key ID; see serviceUser
	projectID                      string
}

// serviceUser is a machine user as the issuer knows it. The exported
// ServiceUser handed to callers is a copy; this one is never written after
// provisioning.
type serviceUser struct {
	id, userName, displayName, secret string
	loginName                         string // user name @ org primary domain
	keyID                             string
	publicKey                         *rsa.PublicKey
	// olderKeys are keys added before keyID (management AddKey): as in
	// ZITADEL, a new key does not end the earlier ones.
	olderKeys       map[string]*rsa.PublicKey
	pat             string
	roles           map[string][]string // project ID → granted roles
	jwtAccessTokens bool
	updatedAt       time.Time // of the user's profile: updated_at
}

// provision creates the organisation, projects, applications and users,
// and writes their key files and the .env into i.Dir.
func (i *Instance) provision(keys []*rsa.PrivateKey, signingAlg string) error {
	ids := newIDSource()
	var err error
	if i.keys, err = newIssuerKeys(signingAlg, keys[0], ids.next()); err != nil {
		return err
	}

	i.OrgID = ids.next()
	i.OrgDomain = "examples.localhost"
	// The instance's own project, whose id the scope
	// urn:zitadel:iam:org:project:id:zitadel:aud puts into the audience.
	i.zitadelProjectID = ids.next()
	main := &project{id: ids.next(), name: "introspection-examples", roles: []string{roleReadMessages}}
	// Another project with a role of the same name: a role there must
	// never count for the API (docs/zitadel-on-the-wire.md, "Roles in a JWT").
	other := &project{id: ids.next(), name: "other-project", roles: []string{roleReadMessages}}
	i.ProjectID, i.OtherProjectID = main.id, other.id
	i.projects = map[string]*project{main.id: main, other.id: other}

	i.apps = make(map[string]*apiApp)
	if i.JWTAPI, err = i.addJWTApp(ids, main, keys[1], "api-key.json"); err != nil {
		return err
	}
	i.BasicAPI = i.addBasicApp(ids, main, newSecret())
	i.AwkwardAPI = i.addBasicApp(ids, main, awkwardSecret())
	i.OtherAPI = i.addBasicApp(ids, other, newSecret())

	i.users = make(map[string]*serviceUser)
	for _, u := range []struct {
		to                    **ServiceUser
		key                   *rsa.PrivateKey
		userName, displayName string
		secret                string
		hasRole, jwtTokens    bool
	}{
		{&i.Reader, keys[2], "service-user-reader", "Service User Reader", newSecret(), true, false},
		{&i.NoRole, keys[3], "service-user-no-role", "Service User Without Role", newSecret(), false, false},
		{&i.JWTReader, keys[4], "service-user-jwt-tokens", "Service User With JWT Access Tokens", newSecret(), true, true},
		{&i.Awkward, keys[5], "service-user-awkward-secret", "Service User With An Awkward Secret", awkwardSecret(), true, false},
	} {
		if *u.to, err = i.addUser(ids, u.key, u.userName, u.displayName, u.secret, u.hasRole, u.jwtTokens); err != nil {
			return err
		}
	}
	i.users[i.NoRole.UserID].roles[other.id] = []string{roleReadMessages}

	i.EnvFile, err = i.WriteEnv(".env", i.Reader, "http://localhost:5000")
	return err
}

// addJWTApp adds an API application with the authentication method JWT
// (private_key_jwt): a key, whose file it writes, and no secret.
func (i *Instance) addJWTApp(ids *idSource, p *project, key *rsa.PrivateKey, file string) (App, error) {
	a := &apiApp{appID: ids.next(), keyID: ids.next(), publicKey: &key.PublicKey, projectID: p.id}
	a.clientID = a.appID + "@" + p.name
	i.apps[a.clientID] = a

	// The API application key, as the console's "download key" gives it.
	keyJSON, err := json.MarshalIndent(map[string]string{
		"type":     "application",
		"keyId":    a.keyID,
		"key":      pkcs1PEM(key),
		"appId":    a.appID,
		"clientId": a.clientID,
	}, "", "  ")
	if err != nil {
		return App{}, err
	}
	if err := writeFile(i.Dir, file, keyJSON); err != nil {
		return App{}, err
	}
	return App{AppID: a.appID, ClientID: a.clientID, KeyID: a.keyID, KeyFile: filepath.Join(i.Dir, file)}, nil
}

// addBasicApp adds an API application with the authentication method
// Basic (client_secret_basic): a secret and no key.
func (i *Instance) addBasicApp(ids *idSource, p *project, secret string) App {
	a := &apiApp{appID: ids.next(), secret: secret, projectID: p.id}
	a.clientID = a.appID + "@" + p.name
	i.apps[a.clientID] = a
	return App{AppID: a.appID, ClientID: a.clientID, ClientSecret: a.secret}
}

func (i *Instance) addUser(ids *idSource, key *rsa.PrivateKey, userName, displayName, secret string, hasRole, jwtTokens bool) (*ServiceUser, error) {
	u := &serviceUser{
		id:              ids.next(),
		userName:        userName,
		displayName:     displayName,
		loginName:       userName + "@" + i.OrgDomain,
		secret:          secret,
		keyID:           ids.next(),
		publicKey:       &key.PublicKey,
		roles:           map[string][]string{},
		jwtAccessTokens: jwtTokens,
		updatedAt:       time.Now(),
	}
	if hasRole {
		u.roles[i.ProjectID] = []string{roleReadMessages}
	}
	u.pat = i.tokens.addPAT(newOpaqueToken(), u.id).opaque
	i.users[u.id] = u

	// The service user key, as the console's "download key" gives it.
	keyJSON, err := json.MarshalIndent(map[string]string{
		"type":   "serviceaccount",
		"keyId":  u.keyID,
		"key":    pkcs1PEM(key),
		"userId": u.id,
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	file := userName + ".json"
	if err := writeFile(i.Dir, file, keyJSON); err != nil {
		return nil, err
	}
	return &ServiceUser{
		UserID:          u.id,
		UserName:        u.userName,
		ClientSecret:    u.secret,
		KeyID:           u.keyID,
		KeyFile:         filepath.Join(i.Dir, file),
		PAT:             u.pat,
		HasRole:         hasRole,
		JWTAccessTokens: jwtTokens,
	}, nil
}

// envFileContent is Env(u, apiBaseURL) in .env syntax. Values are
// single-quoted: godotenv and POSIX shells take them literally, so the
// secrets' '%', '&' and '+' survive both.
func (i *Instance) envFileContent(u *ServiceUser, apiBaseURL string) []byte {
	env := i.Env(u, apiBaseURL)
	names := make([]string, 0, len(env))
	for name := range env {
		names = append(names, name)
	}
	sort.Strings(names)

	role := "without role"
	if u.HasRole {
		role = "role " + roleReadMessages
	}
	tokens := "opaque access tokens"
	if u.JWTAccessTokens {
		tokens = "JWT access tokens"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Settings for the samples against the local ZITADEL at %s.\n", i.Issuer)
	b.WriteString("# Valid while that instance runs, and after a restart with the same directory.\n")
	fmt.Fprintf(&b, "# Service user %s (%s, %s).\n", u.UserName, role, tokens)
	b.WriteString("# Samples read .env from the working directory (or -env FILE); the real environment wins.\n")
	for _, name := range names {
		fmt.Fprintf(&b, "%s='%s'\n", name, env[name])
	}
	return []byte(b.String())
}

// WriteEnv writes Env(u, apiBaseURL) as a .env file named name into Dir
// (mode 0600; an existing file of that name in Dir is replaced) and returns
// its path. Start writes Dir/.env for Reader and http://localhost:5000.
func (i *Instance) WriteEnv(name string, u *ServiceUser, apiBaseURL string) (string, error) {
	if u == nil || name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		return "", fmt.Errorf("localzitadel: WriteEnv %q: want a file name in Dir and a service user", name)
	}
	if err := writeFile(i.Dir, name, i.envFileContent(u, apiBaseURL)); err != nil {
		return "", fmt.Errorf("localzitadel: %w", err)
	}
	return filepath.Join(i.Dir, name), nil
}

// writeFile writes data to dir/name with mode 0600. It writes a temporary
// file in dir and renames it, so an existing name (even a symlink) is
// replaced and never written through.
func writeFile(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func pkcs1PEM(key *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{
		Type:  "RSA PRIVATE KEY",
		Bytes: x509.MarshalPKCS1PrivateKey(key),
	}))
}

// idSource hands out IDs shaped like ZITADEL's: 18 decimal digits
// (ZITADEL uses sonyflake IDs), unique within one instance.
type idSource struct{ seen map[string]bool }

func newIDSource() *idSource { return &idSource{seen: map[string]bool{}} }

func (s *idSource) next() string {
	for {
		n, err := rand.Int(rand.Reader, big.NewInt(1e17))
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		id := fmt.Sprintf("3%017d", n)
		if !s.seen[id] {
			s.seen[id] = true
			return id
		}
	}
}

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	for k := range b {
		c, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphanumeric))))
		if err != nil {
			panic(err)
		}
		b[k] = alphanumeric[c.Int64()]
	}
	return string(b)
}

// newSecret returns a client secret as ZITADEL generates them: 64 letters
// and digits (SecretGenerators.ClientSecret in ZITADEL's defaults.yaml;
// docs/zitadel-on-the-wire.md). Such a secret needs no url-encoding, which
// is why a client that skips it works against a real instance.
func newSecret() string { return randomString(64) }

// awkwardSecret returns a secret ZITADEL never generates, for the clients
// that only tests use (Instance.Awkward, Instance.AwkwardAPI): it carries
// characters a Basic header must url-encode (RFC 6749 §2.3.1) and a form
// must escape, so that a client that skips either fails a test: ':' splits
// an unencoded Basic pair, '+' decodes to a space, "%ä" is an invalid
// escape and "%2F" one that decodes, '&' and '=' break a form built by
// hand, and 'ä' is not ASCII.
func awkwardSecret() string {
	return randomString(20) + ":+%ä&=/%2F" + randomString(20)
}

// The number of RSA keys a Start needs: issuer signing key, the JWT API
// application, four service users.
const keysPerInstance = 6

// keyPool generates the RSA keys once per process, concurrently. A 2048-bit
// key takes up to a second under the race detector, and test suites start
// many instances: they share these keys, each instance with its own key IDs,
// so a key ID of one instance is unknown to every other.
var keyPool = sync.OnceValues(func() ([]*rsa.PrivateKey, error) {
	keys := make([]*rsa.PrivateKey, keysPerInstance)
	errs := make([]error, keysPerInstance)
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() { keys[k], errs[k] = rsa.GenerateKey(rand.Reader, 2048) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("generate RSA key: %w", err)
		}
	}
	return keys, nil
})

// pooledKeys waits for the key pool, or for ctx.
func pooledKeys(ctx context.Context) ([]*rsa.PrivateKey, error) {
	type result struct {
		keys []*rsa.PrivateKey
		err  error
	}
	done := make(chan result, 1)
	go func() {
		keys, err := keyPool()
		done <- result{keys, err}
	}()
	select {
	case r := <-done:
		return r.keys, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
