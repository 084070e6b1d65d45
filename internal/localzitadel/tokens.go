package localzitadel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// patExpiry is the exp ZITADEL reports for a PAT created without an
// expiration date: 9999-12-31T23:59:59Z (docs/zitadel-on-the-wire.md, "Personal access tokens (PAT)").
var patExpiry = time.Unix(253402300799, 0)

// The scopes ZITADEL gives a PAT.
var patScopes = []string{
	oidc.ScopeOpenID, oidc.ScopeProfile,
	"urn:zitadel:iam:user:metadata", "urn:zitadel:iam:user:resourceowner",
}

const (
	scopeProjectAudPrefix = "urn:zitadel:iam:org:project:id:"
	scopeProjectAudSuffix = ":aud"
	scopeProjectRole      = "urn:zitadel:iam:org:project:role:"
	scopeAllProjectsRoles = "urn:zitadel:iam:org:projects:roles"

	claimProjectRoles = "urn:zitadel:iam:org:project:roles"
	// claimProjectsRoles is ZITADEL's ClaimProjectsRoles (the same name as
	// the scope): the roles of every project of the role audience, merged.
	claimProjectsRoles = "urn:zitadel:iam:org:projects:roles"
)

// token is an issued access token, as the issuer remembers it. JWT access
// tokens are remembered too: introspection answers from this record (so a
// revoked or expired JWT is inactive), not from the JWT's claims alone.
type token struct {
	id        string // jti
	opaque    string // the opaque token string; "" for a JWT
	userID    string
	clientID  string
	audience  []string
	scopes    []string
	amr       []string // authentication methods (RFC 8176), as ZITADEL's AuthMethodTypesToAMR
	issuedAt  time.Time
	expiresAt time.Time
	revoked   bool
	pat       bool
	// project is the project of the application that asked for the token,
	// ZITADEL's "current project" (requestProjectID): "" for a service
	// user's own grants, which belong to no application.
	project string
}

// The amr of a token by how its user authenticated (ZITADEL's amr.go maps
// the password of client_credentials to "pwd" and a private key to nothing).
var (
	amrPassword   = []string{"pwd"}
	amrPrivateKey []string
)

func (t *token) active(now time.Time) bool {
	return !t.revoked && now.Before(t.expiresAt)
}

// tokenStore holds the issued tokens. Records are copied out under the lock.
type tokenStore struct {
	mu       sync.Mutex
	byID     map[string]*token
	byOpaque map[string]*token
}

func (s *tokenStore) init() {
	s.byID = make(map[string]*token)
	s.byOpaque = make(map[string]*token)
}

func (s *tokenStore) add(t *token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[t.id] = t
	if t.opaque != "" {
		s.byOpaque[t.opaque] = t
	}
}

// addPAT remembers a new personal access token of the user: dot-less,
// without expiry, with ZITADEL's PAT scopes. It returns the record.
func (s *tokenStore) addPAT(id, userID string) *token {
	t := &token{
		id:        id,
		opaque:    newOpaqueToken(),
		userID:    userID,
		clientID:  "", // a PAT belongs to no application: no client_id
		scopes:    patScopes,
		issuedAt:  time.Now(),
		expiresAt: patExpiry,
		pat:       true,
	}
	s.add(t)
	return t
}

// get returns a copy of the record with that jti or opaque value.
func (s *tokenStore) get(id, opaque string) (token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byOpaque[opaque]
	if opaque == "" {
		t = s.byID[id]
	}
	if t == nil {
		return token{}, false
	}
	return *t, true
}

// update applies f to the record with that jti or opaque value, if any.
func (s *tokenStore) update(id, opaque string, f func(*token)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.byOpaque[opaque]
	if opaque == "" {
		t = s.byID[id]
	}
	if t != nil {
		f(t)
	}
}

// lookup finds the record of an access token as a client presents it: an
// opaque token (JWE-shaped) or PAT by its value, else a JWT by its jti
// after checking that this issuer signed it. It never tells the two apart
// by dots or prefix. Garbage, foreign and forged tokens are not found.
func (i *Instance) lookup(accessToken string) (token, bool) {
	if t, ok := i.tokens.get("", accessToken); ok {
		return t, true
	}
	jti, err := i.verifyAccessTokenJWT(accessToken)
	if err != nil {
		return token{}, false
	}
	t, ok := i.tokens.get(jti, "")
	if !ok || t.opaque != "" {
		return token{}, false
	}
	return t, true
}

func (i *Instance) verifyAccessTokenJWT(accessToken string) (jti string, err error) {
	jws, err := jose.ParseSignedCompact(accessToken, []jose.SignatureAlgorithm{i.keys.alg})
	if err != nil {
		return "", err
	}
	payload, err := jws.Verify(i.keys.signer.Public())
	if err != nil {
		return "", err
	}
	var claims struct {
		Issuer string `json:"iss"`
		JWTID  string `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", err
	}
	if claims.Issuer != i.Issuer || claims.JWTID == "" {
		return "", errors.New("not issued here")
	}
	return claims.JWTID, nil
}

// issueRequest describes a token to issue for a service user.
type issueRequest struct {
	user     *serviceUser
	clientID string   // client_id of the token: the user name, for both grants
	project  string   // the project of the application that asks, if one does (MintAppToken)
	scopes   []string // already filtered to the allowed ones
	amr      []string
	lifetime time.Duration
}

// issue creates and remembers an access token and, with the openid scope,
// an id token. The audience is the projects of the
// urn:zitadel:iam:org:project:id:{id}:aud scopes, as ZITADEL's
// AddAudScopeToAudience computes it.
func (i *Instance) issue(r issueRequest) (*oidc.AccessTokenResponse, error) {
	now := time.Now()
	t := &token{
		id:        newOpaqueToken(),
		userID:    r.user.id,
		clientID:  r.clientID,
		audience:  i.audienceFromScopes(r.scopes),
		scopes:    r.scopes,
		amr:       r.amr,
		issuedAt:  now,
		expiresAt: now.Add(r.lifetime),
		project:   r.project,
	}
	if r.project != "" {
		// An application's token is for the application and its project,
		// and for the projects of its aud scopes (zitadel/zitadel#7345).
		t.audience = append([]string{r.clientID, r.project}, slices.DeleteFunc(t.audience, func(id string) bool { return id == r.project })...)
	}
	if r.lifetime < 0 {
		// An already expired token (MintToken) was issued before it expired.
		t.issuedAt = t.expiresAt.Add(-time.Minute)
	}

	var accessToken string
	var err error
	if r.user.jwtAccessTokens || r.project != "" {
		accessToken, err = i.accessTokenJWT(t, r.user)
	} else {
		// Current ZITADEL's opaque tokens are compact JWEs: five parts.
		t.opaque, err = i.encryptOpaque(t.id + ":" + t.userID)
		accessToken = t.opaque
	}
	if err != nil {
		return nil, err
	}
	i.tokens.add(t)

	resp := &oidc.AccessTokenResponse{
		AccessToken: accessToken,
		TokenType:   oidc.BearerToken,
		// ZITADEL reports the seconds left, rounded down: 43199 for 12 h.
		ExpiresIn: uint64(max(0, time.Until(t.expiresAt)/time.Second)),
	}
	if slices.Contains(t.scopes, oidc.ScopeOpenID) {
		idToken, err := i.idToken(t, r.user, accessToken)
		if err != nil {
			return nil, err
		}
		resp.IDToken = idToken
	}
	// No "scope" in the response: ZITADEL does not send it.
	return resp, nil
}

// accessTokenJWT signs a JWT access token: the registered claims, aud
// [client_id] when no project was asked for, and role claims only for the
// roles its scope asked for.
func (i *Instance) accessTokenJWT(t *token, user *serviceUser) (string, error) {
	aud := t.audience
	if len(aud) == 0 {
		aud = []string{t.clientID}
	}
	claims := map[string]any{
		"iss":       i.Issuer,
		"sub":       t.userID,
		"aud":       aud,
		"exp":       t.expiresAt.Unix(),
		"iat":       t.issuedAt.Unix(),
		"nbf":       t.issuedAt.Unix(),
		"jti":       t.id,
		"client_id": t.clientID,
	}
	i.addTokenRoleClaims(claims, user, t)
	return i.sign(claims)
}

// idToken signs the id token of a token response with the issuer's key.
// A service user's id token expires when it is issued (exp = iat: it is
// not meant to be kept) and names the OIDC session (sid). It carries the
// registered claims and the role claims of the roles its scope asked for.
func (i *Instance) idToken(t *token, user *serviceUser, accessToken string) (string, error) {
	atHash, err := oidc.ClaimHash(accessToken, i.keys.alg)
	if err != nil {
		return "", err
	}
	claims := map[string]any{
		"iss":       i.Issuer,
		"sub":       t.userID,
		"aud":       append([]string{t.clientID}, t.audience...),
		"exp":       t.issuedAt.Unix(),
		"iat":       t.issuedAt.Unix(),
		"auth_time": t.issuedAt.Unix(),
		"azp":       t.clientID,
		"client_id": t.clientID,
		"at_hash":   atHash,
		"sid":       "V1_" + t.id,
	}
	if len(t.amr) > 0 {
		claims["amr"] = t.amr
	}
	i.addTokenRoleClaims(claims, user, t)
	return i.sign(claims)
}

// requestedRoles are the roles a token's scope asked for with
// urn:zitadel:iam:org:project:role:{role}.
func requestedRoles(scopes []string) []string {
	var roles []string
	for _, s := range scopes {
		if role, ok := strings.CutPrefix(s, scopeProjectRole); ok {
			roles = append(roles, role)
		}
	}
	return roles
}

// addTokenRoleClaims adds to a token's claims (JWT access token, id token,
// a userinfo answer) the roles its scope asked for, as ZITADEL's userInfo
// (internal/api/oidc/userinfo.go: prepareRoles, assertRolesV2,
// setUserInfoRoleClaims): for each project of the role audience (the
// projects of the aud scopes and the current project) the project-specific
// claim; the generic claim for the current project, the project of the
// application that asked for the token, whichever project the token is for;
// and urn:zitadel:iam:org:projects:roles, all of them merged. A service user
// asking for itself is no application of a project: no current project, no
// generic claim. Without role scopes there are no role claims.
//
// The scope urn:zitadel:iam:org:projects:roles asks for every granted role
// of the audience's projects (prepareRoles).
func (i *Instance) addTokenRoleClaims(claims map[string]any, user *serviceUser, t *token) {
	requested := requestedRoles(t.scopes)
	if len(requested) == 0 && !slices.Contains(t.scopes, scopeAllProjectsRoles) {
		return
	}
	merged := map[string]map[string]string{}
	for _, projectID := range t.audience {
		if roles := i.grantedRoles(user, projectID, requested); roles != nil {
			claims["urn:zitadel:iam:org:project:"+projectID+":roles"] = roles
			maps.Copy(merged, roles)
		}
	}
	if roles := i.grantedRoles(user, t.project, requested); t.project != "" && roles != nil {
		claims[claimProjectRoles] = roles
	}
	if len(merged) > 0 {
		claims[claimProjectsRoles] = merged
	}
}

// grantedRoles is the role claim value of the user's roles in the project,
// narrowed to requested when it is not empty; nil when there are none:
//
//	{"read:messages": {"<orgId>": "<org primary domain>"}}
func (i *Instance) grantedRoles(user *serviceUser, projectID string, requested []string) map[string]map[string]string {
	var claim map[string]map[string]string
	for _, role := range user.roles[projectID] {
		if len(requested) > 0 && !slices.Contains(requested, role) {
			continue
		}
		if claim == nil {
			claim = map[string]map[string]string{}
		}
		claim[role] = map[string]string{i.OrgID: i.OrgDomain}
	}
	return claim
}

// audienceFromScopes is ZITADEL's AddAudScopeToAudience: the project of
// each urn:zitadel:iam:org:project:id:{id}:aud scope, where the id
// "zitadel" stands for the instance's own project.
func (i *Instance) audienceFromScopes(scopes []string) []string {
	var aud []string
	for _, s := range scopes {
		rest, ok := strings.CutPrefix(s, scopeProjectAudPrefix)
		if !ok {
			continue
		}
		id, ok := strings.CutSuffix(rest, scopeProjectAudSuffix)
		if id == "zitadel" {
			id = i.zitadelProjectID
		}
		if ok && id != "" && !slices.Contains(aud, id) {
			aud = append(aud, id)
		}
	}
	return aud
}

// tokenResponse wraps a token response with the headers RFC 6749 §5.1 requires.
func tokenResponse(resp *oidc.AccessTokenResponse) *op.Response {
	r := op.NewResponse(resp)
	r.Header.Set("Cache-Control", "no-store")
	r.Header.Set("Pragma", "no-cache")
	return r
}

// JWTProfile is the JWT bearer grant (RFC 7523 §2.1) with a service user's
// key (docs/zitadel-on-the-wire.md, "JWT bearer grant"). The assertion is
// verified with the library, with ZITADEL's parameters
// (internal/api/oidc/token_jwt_profile.go): iat at most 1 h old, 1 s clock
// offset, key looked up by kid and iss, sub a known user.
//
// Every assertion failure is what current ZITADEL answers: the library's
// verification error is no ZITADEL error, so its oidcError
// (internal/api/oidc/error.go) turns it into 500 server_error
// "Errors.Internal" (zitadel/zitadel#11924, #12692). Options.LegacyJWTGrantErrors
// answers 400 invalid_grant instead, as RFC 7523 §3.1 and older versions do.
// A missing assertion is the library's 400 invalid_request.
func (s *server) JWTProfile(ctx context.Context, r *op.Request[oidc.JWTProfileGrantRequest]) (*op.Response, error) {
	i := s.i
	var user *serviceUser
	verifier := op.NewJWTProfileVerifier(userKeyStorage{i}, i.Issuer, time.Hour, time.Second,
		op.SubjectCheck(func(req *oidc.JWTTokenRequest) error {
			if req.Subject != req.Issuer {
				return oidc.ErrSubjectInvalid
			}
			if user = i.userByID(req.Subject); user == nil {
				return errors.New("user not found")
			}
			return nil
		}))
	if _, err := op.VerifyJWTAssertion(ctx, r.Data.Assertion, verifier); err != nil {
		if i.legacyJWTGrantErrors {
			return nil, oidc.ErrInvalidGrant().WithDescription("assertion invalid: %v", err)
		}
		return nil, op.NewStatusError(oidc.ErrServerError().WithParent(err).WithDescription("Errors.Internal"), http.StatusInternalServerError)
	}

	// The token's client_id is the user name, for this grant as for
	// client_credentials (token_jwt_profile.go: clientID: user.Username).
	c := &client{id: user.userName, user: user, authMethod: oidc.AuthMethodPrivateKeyJWT}
	scopes, err := op.ValidateAuthReqScopes(c, r.Data.Scope)
	if err != nil {
		return nil, err
	}
	resp, err := i.issue(issueRequest{user: user, clientID: c.id, scopes: scopes, amr: amrPrivateKey, lifetime: i.accessTokenLifetime})
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return tokenResponse(resp), nil
}

// ClientCredentialsExchange is the client_credentials grant of a service
// user, authenticated in VerifyClient (docs/zitadel-on-the-wire.md, "Client credentials grant").
func (s *server) ClientCredentialsExchange(ctx context.Context, r *op.ClientRequest[oidc.ClientCredentialsRequest]) (*op.Response, error) {
	c, ok := r.Client.(*client)
	if !ok || c.user == nil {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("only service users may use client_credentials")
	}
	scopes, err := op.ValidateAuthReqScopes(c, r.Data.Scope)
	if err != nil {
		return nil, err
	}
	resp, err := s.i.issue(issueRequest{user: c.user, clientID: c.id, scopes: scopes, amr: amrPassword, lifetime: s.i.accessTokenLifetime})
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return tokenResponse(resp), nil
}

// TokenOptions shape a token issued by MintToken.
type TokenOptions struct {
	// Lifetime of the token; 0 = Options.AccessTokenLifetime; negative =
	// already expired.
	Lifetime time.Duration
	// ProjectIDs are the token's audience; nil = [ProjectID]. An empty,
	// non-nil slice gives a token without audience (no aud scope).
	ProjectIDs []string
	// Scopes requested; nil = "openid profile email" plus the aud scope of
	// each project of ProjectIDs. Scopes ZITADEL does not know are dropped,
	// as at the token endpoint; a given list adds the aud scopes too.
	Scopes []string
}

// MintToken issues an access token for u directly, as the token endpoint
// would (opaque or JWT per user), without a request.
func (i *Instance) MintToken(u *ServiceUser, o TokenOptions) (string, error) {
	return i.mint(u, o, "", "")
}

// mint issues a token for u, asked for by the application clientID of
// project, or by u itself when project is "".
func (i *Instance) mint(u *ServiceUser, o TokenOptions, clientID, project string) (string, error) {
	if u == nil {
		return "", errors.New("localzitadel: MintToken: no service user")
	}
	user := i.userByID(u.UserID)
	if user == nil {
		return "", fmt.Errorf("localzitadel: MintToken: unknown service user %s", u.UserID)
	}
	projects := o.ProjectIDs
	if projects == nil {
		projects = []string{i.ProjectID}
	}
	scopes := o.Scopes
	if scopes == nil {
		scopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}
	}
	scopes = slices.Clone(scopes)
	for _, p := range projects {
		scopes = append(scopes, scopeProjectAudPrefix+p+scopeProjectAudSuffix)
	}
	scopes, err := op.ValidateAuthReqScopes(&client{user: user}, scopes)
	if err != nil {
		return "", fmt.Errorf("localzitadel: MintToken: %w", err)
	}
	lifetime := o.Lifetime
	if lifetime == 0 {
		lifetime = i.accessTokenLifetime
	}
	if clientID == "" {
		clientID = user.userName
	}
	resp, err := i.issue(issueRequest{user: user, clientID: clientID, project: project, scopes: scopes, amr: amrPassword, lifetime: lifetime})
	if err != nil {
		return "", fmt.Errorf("localzitadel: MintToken: %w", err)
	}
	i.changed()
	return resp.AccessToken, nil
}

// MintAppToken issues a JWT access token for u as ZITADEL issues one when an
// application of app's project (a web or native app with JWT access tokens;
// app stands in for it) asks for u's token with the scopes of o: client_id
// app's client id, aud that and its project plus the projects of o's aud
// scopes, and the generic role claim for app's project. With
// o.ProjectIDs = [ProjectID] it is a token for the API that another
// project's application obtained: the case of docs/zitadel-on-the-wire.md,
// "Roles in a JWT". A test hook: the token endpoint here serves service
// users only.
func (i *Instance) MintAppToken(app App, u *ServiceUser, o TokenOptions) (string, error) {
	a := i.appByClientID(app.ClientID)
	if a == nil {
		return "", fmt.Errorf("localzitadel: MintAppToken: unknown application %s", app.ClientID)
	}
	return i.mint(u, o, a.clientID, a.projectID)
}

// Revoke revokes an access token or PAT (a PAT is revoked by deleting it
// in ZITADEL; the effect is the same). Unknown tokens are ignored.
func (i *Instance) Revoke(accessToken string) {
	if t, ok := i.lookup(accessToken); ok {
		i.tokens.update(t.id, t.opaque, func(t *token) { t.revoked = true })
		i.changed()
	}
}

// Expire sets the token's expiry to one second ago. A JWT access token
// keeps its exp claim, but introspection answers from the issuer's record
// and says it is inactive. Unknown tokens are ignored.
func (i *Instance) Expire(accessToken string) {
	if t, ok := i.lookup(accessToken); ok {
		i.tokens.update(t.id, t.opaque, func(t *token) {
			t.expiresAt = time.Now().Add(-time.Second)
			if t.issuedAt.After(t.expiresAt) {
				t.issuedAt = t.expiresAt.Add(-time.Minute)
			}
		})
		i.changed()
	}
}

// newOpaqueToken returns 32 random bytes, base64url without padding: a
// dot-less string, like ZITADEL's PATs and the token IDs of its records.
func newOpaqueToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
