package localzitadel

// A real ZITADEL keeps its instance across restarts: ids, keys, secrets,
// PATs and the tokens it issued. So does an instance started with a Dir:
// it keeps its state in Dir/state.json (mode 0600, it holds the signing key
// and the secrets) and a later Start with the same Dir takes it up again,
// so that APIs and clients configured from its .env keep working.

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	stateFile    = "state.json"
	stateVersion = 1
	// saveDelay gathers the changes of a burst of requests into one write.
	saveDelay = 100 * time.Millisecond
)

// savedState is state.json. Keys are DER (PKCS#8 private, PKIX public).
type savedState struct {
	Version int    `json:"version"`
	Issuer  string `json:"issuer"` // the last one; a restart on another port gets a new one

	SigningAlgorithm string `json:"signingAlgorithm"`
	SigningKey       []byte `json:"signingKey"`
	SigningKeyID     string `json:"signingKeyId"`
	TokenKey         []byte `json:"tokenKey"`

	OrgID            string `json:"orgId"`
	OrgDomain        string `json:"orgDomain"`
	ZitadelProjectID string `json:"zitadelProjectId"`
	ProjectID        string `json:"projectId"`
	OtherProjectID   string `json:"otherProjectId"`

	JWTAPI     App          `json:"jwtApi"`
	BasicAPI   App          `json:"basicApi"`
	AwkwardAPI App          `json:"awkwardApi"`
	OtherAPI   App          `json:"otherApi"`
	Reader     *ServiceUser `json:"reader"`
	NoRole     *ServiceUser `json:"noRole"`
	JWTReader  *ServiceUser `json:"jwtReader"`
	Awkward    *ServiceUser `json:"awkward"`

	Projects  []savedProject    `json:"projects"`
	Apps      []savedApp        `json:"apps"`
	Users     []savedUser       `json:"users"`
	Tokens    []savedToken      `json:"tokens"`
	OrgOwners []string          `json:"orgOwners"`
	AppNames  map[string]string `json:"appNames"`
}

type savedProject struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

type savedApp struct {
	AppID     string            `json:"appId"`
	ClientID  string            `json:"clientId"`
	Secret    string            `json:"secret,omitempty"`
	KeyID     string            `json:"keyId,omitempty"`
	PublicKey []byte            `json:"publicKey,omitempty"`
	OlderKeys map[string][]byte `json:"olderKeys,omitempty"` // key ID → PKIX
	ProjectID string            `json:"projectId"`
}

type savedUser struct {
	ID              string              `json:"id"`
	UserName        string              `json:"userName"`
	DisplayName     string              `json:"displayName"`
	LoginName       string              `json:"loginName"`
	Secret          string              `json:"secret,omitempty"`
	KeyID           string              `json:"keyId,omitempty"`
	PublicKey       []byte              `json:"publicKey,omitempty"`
	OlderKeys       map[string][]byte   `json:"olderKeys,omitempty"` // key ID → PKIX
	PAT             string              `json:"pat,omitempty"`
	Roles           map[string][]string `json:"roles,omitempty"`
	JWTAccessTokens bool                `json:"jwtAccessTokens,omitempty"`
	UpdatedAt       time.Time           `json:"updatedAt"`
}

type savedToken struct {
	ID        string    `json:"id"`
	Opaque    string    `json:"opaque,omitempty"`
	UserID    string    `json:"userId"`
	ClientID  string    `json:"clientId,omitempty"`
	Audience  []string  `json:"audience,omitempty"`
	Scopes    []string  `json:"scopes,omitempty"`
	AMR       []string  `json:"amr,omitempty"`
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	PAT       bool      `json:"pat,omitempty"`
	Project   string    `json:"project,omitempty"`
}

// snapshot returns the instance's state. Tokens that can no longer be
// active (expired, revoked) are left out: an unknown token is inactive too.
func (i *Instance) snapshot() (*savedState, error) {
	signingKey, err := x509.MarshalPKCS8PrivateKey(i.keys.signer)
	if err != nil {
		return nil, err
	}
	s := &savedState{
		Version: stateVersion, Issuer: i.Issuer,
		SigningAlgorithm: string(i.keys.alg), SigningKey: signingKey, SigningKeyID: i.keys.keyID, TokenKey: i.keys.tokenKey,
		OrgID: i.OrgID, OrgDomain: i.OrgDomain, ZitadelProjectID: i.zitadelProjectID,
		ProjectID: i.ProjectID, OtherProjectID: i.OtherProjectID,
		JWTAPI: i.JWTAPI, BasicAPI: i.BasicAPI, AwkwardAPI: i.AwkwardAPI, OtherAPI: i.OtherAPI,
		Reader: i.Reader, NoRole: i.NoRole, JWTReader: i.JWTReader, Awkward: i.Awkward,
	}

	i.dir.RLock()
	for _, p := range i.projects {
		s.Projects = append(s.Projects, savedProject{ID: p.id, Name: p.name, Roles: p.roles})
	}
	for _, a := range i.apps {
		sa := savedApp{AppID: a.appID, ClientID: a.clientID, Secret: a.secret, KeyID: a.keyID, ProjectID: a.projectID}
		if sa.PublicKey, sa.OlderKeys, err = marshalKeys(a.publicKey, a.olderKeys); err != nil {
			break
		}
		s.Apps = append(s.Apps, sa)
	}
	for _, u := range i.users {
		if err != nil {
			break
		}
		su := savedUser{ID: u.id, UserName: u.userName, DisplayName: u.displayName, LoginName: u.loginName,
			Secret: u.secret, KeyID: u.keyID, PAT: u.pat, Roles: u.roles, JWTAccessTokens: u.jwtAccessTokens, UpdatedAt: u.updatedAt}
		if su.PublicKey, su.OlderKeys, err = marshalKeys(u.publicKey, u.olderKeys); err != nil {
			break
		}
		s.Users = append(s.Users, su)
	}
	i.dir.RUnlock()
	if err != nil {
		return nil, err
	}

	now := time.Now()
	i.tokens.mu.Lock()
	for _, t := range i.tokens.byID {
		if t.active(now) {
			s.Tokens = append(s.Tokens, savedToken{ID: t.id, Opaque: t.opaque, UserID: t.userID, ClientID: t.clientID,
				Audience: t.audience, Scopes: t.scopes, AMR: t.amr, IssuedAt: t.issuedAt, ExpiresAt: t.expiresAt, PAT: t.pat, Project: t.project})
		}
	}
	i.tokens.mu.Unlock()

	i.mgmt.mu.Lock()
	for id, owner := range i.mgmt.orgOwners {
		if owner {
			s.OrgOwners = append(s.OrgOwners, id)
		}
	}
	s.AppNames = maps.Clone(i.mgmt.appNames) // marshalled after the lock: a copy
	i.mgmt.mu.Unlock()
	// Stable order, so that an unchanged instance writes the same file.
	slices.SortFunc(s.Projects, func(a, b savedProject) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.Apps, func(a, b savedApp) int { return strings.Compare(a.ClientID, b.ClientID) })
	slices.SortFunc(s.Users, func(a, b savedUser) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(s.Tokens, func(a, b savedToken) int { return strings.Compare(a.ID, b.ID) })
	slices.Sort(s.OrgOwners)
	return s, nil
}

// marshalKeys encodes the current key and the earlier keys of a user or app.
func marshalKeys(key *rsa.PublicKey, older map[string]*rsa.PublicKey) (current []byte, earlier map[string][]byte, err error) {
	if current, err = marshalPublic(key); err != nil {
		return nil, nil, err
	}
	earlier, err = marshalOlder(older)
	return current, earlier, err
}

func marshalPublic(key *rsa.PublicKey) ([]byte, error) {
	if key == nil {
		return nil, nil
	}
	return x509.MarshalPKIXPublicKey(key)
}

// marshalOlder and parseOlder keep the earlier keys of a user or app.
func marshalOlder(keys map[string]*rsa.PublicKey) (map[string][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(keys))
	for id, k := range keys {
		der, err := marshalPublic(k)
		if err != nil {
			return nil, err
		}
		out[id] = der
	}
	return out, nil
}

func parseOlder(keys map[string][]byte) (map[string]*rsa.PublicKey, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	out := make(map[string]*rsa.PublicKey, len(keys))
	for id, der := range keys {
		k, err := parsePublic(der)
		if err != nil {
			return nil, err
		}
		out[id] = k
	}
	return out, nil
}

func parsePublic(der []byte) (*rsa.PublicKey, error) {
	if der == nil {
		return nil, nil
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	rsaKey, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want RSA", key)
	}
	return rsaKey, nil
}

// save writes Dir/state.json.
func (i *Instance) save() error {
	s, err := i.snapshot()
	if err != nil {
		return fmt.Errorf("localzitadel: save state: %w", err)
	}
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("localzitadel: save state: %w", err)
	}
	i.saveMu.Lock()
	defer i.saveMu.Unlock()
	if err := writeFile(i.Dir, stateFile, data); err != nil {
		return fmt.Errorf("localzitadel: save state: %w", err)
	}
	return nil
}

// changed notes that the state changed; the saver writes it soon after.
// An instance without a kept Dir saves nothing.
func (i *Instance) changed() {
	if i.saveSignal == nil {
		return
	}
	select {
	case i.saveSignal <- struct{}{}:
	default: // a save is pending already
	}
}

// saver writes the state after changes until Close, which saves last.
func (i *Instance) saver() {
	defer close(i.saverDone)
	for {
		select {
		case <-i.closing:
			return
		case <-i.saveSignal:
		}
		select {
		case <-i.closing:
			return
		case <-time.After(saveDelay):
		}
		if err := i.save(); err != nil {
			i.log.Error("save state", "err", err)
		}
	}
}

// errNoState: Dir has no state.json, so Start provisions a new instance.
var errNoState = errors.New("no saved state")

// restore takes up the instance saved in Dir/state.json.
func (i *Instance) restore() error {
	path := filepath.Join(i.Dir, stateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return errNoState
	}
	if err != nil {
		return err
	}
	bad := func(err error) error {
		return fmt.Errorf("%s: %w (start afresh: delete the directory, or use the fresh option)", path, err)
	}
	var s savedState
	if err := json.Unmarshal(data, &s); err != nil {
		return bad(err)
	}
	if s.Version != stateVersion {
		return bad(fmt.Errorf("version %d, want %d", s.Version, stateVersion))
	}
	signer, err := x509.ParsePKCS8PrivateKey(s.SigningKey)
	if err != nil {
		return bad(err)
	}
	cs, ok := signer.(crypto.Signer)
	if !ok || len(s.TokenKey) != 32 {
		return bad(errors.New("bad signing or token key"))
	}
	i.keys = issuerKeys{alg: jose.SignatureAlgorithm(s.SigningAlgorithm), signer: cs, keyID: s.SigningKeyID, tokenKey: s.TokenKey}

	i.OrgID, i.OrgDomain, i.zitadelProjectID = s.OrgID, s.OrgDomain, s.ZitadelProjectID
	i.ProjectID, i.OtherProjectID = s.ProjectID, s.OtherProjectID
	i.JWTAPI, i.BasicAPI, i.AwkwardAPI, i.OtherAPI = s.JWTAPI, s.BasicAPI, s.AwkwardAPI, s.OtherAPI
	i.Reader, i.NoRole, i.JWTReader, i.Awkward = s.Reader, s.NoRole, s.JWTReader, s.Awkward
	if i.Reader == nil || i.NoRole == nil || i.JWTReader == nil || i.Awkward == nil {
		return bad(errors.New("service users missing"))
	}

	i.projects = map[string]*project{}
	for _, p := range s.Projects {
		i.projects[p.ID] = &project{id: p.ID, name: p.Name, roles: p.Roles}
	}
	i.apps = map[string]*apiApp{}
	for _, a := range s.Apps {
		key, err := parsePublic(a.PublicKey)
		if err != nil {
			return bad(err)
		}
		older, err := parseOlder(a.OlderKeys)
		if err != nil {
			return bad(err)
		}
		i.apps[a.ClientID] = &apiApp{appID: a.AppID, clientID: a.ClientID, secret: a.Secret, keyID: a.KeyID, publicKey: key,
			olderKeys: older, projectID: a.ProjectID}
	}
	i.users = map[string]*serviceUser{}
	for _, u := range s.Users {
		key, err := parsePublic(u.PublicKey)
		if err != nil {
			return bad(err)
		}
		older, err := parseOlder(u.OlderKeys)
		if err != nil {
			return bad(err)
		}
		roles := u.Roles
		if roles == nil {
			roles = map[string][]string{}
		}
		i.users[u.ID] = &serviceUser{id: u.ID, userName: u.UserName, displayName: u.DisplayName, loginName: u.LoginName,
			secret: u.Secret, keyID: u.KeyID, publicKey: key, olderKeys: older, pat: u.PAT, roles: roles,
			jwtAccessTokens: u.JWTAccessTokens, updatedAt: u.UpdatedAt}
	}
	for _, t := range s.Tokens {
		i.tokens.add(&token{id: t.ID, opaque: t.Opaque, userID: t.UserID, clientID: t.ClientID, audience: t.Audience,
			scopes: t.Scopes, amr: t.AMR, issuedAt: t.IssuedAt, expiresAt: t.ExpiresAt, pat: t.PAT, project: t.Project})
	}
	i.mgmt.orgOwners = map[string]bool{}
	for _, id := range s.OrgOwners {
		i.mgmt.orgOwners[id] = true
	}
	i.mgmt.appNames = s.AppNames
	i.restored = true
	return nil
}
