package localzitadel

// Client authentication, as ZITADEL's internal/api/oidc does it: service
// users at the token endpoint (client_credentials), API applications at the
// introspection endpoint, and neither at the revocation endpoint. The oidc
// library has already parsed the credentials (a Basic header with
// url-decoded parts, form fields, or a client assertion).

import (
	"context"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// clientCredentialsAuth authenticates a service user by user name and
// client secret, as ZITADEL's client_credentials.go: only machine users
// take part in the client_credentials grant, and their client_id is the
// user name (or login name).
func (i *Instance) clientCredentialsAuth(clientID, secret string) (op.Client, error) {
	u := i.userByLoginName(clientID)
	if u == nil {
		return nil, oidc.ErrInvalidClient().WithDescription("client not found")
	}
	if u.secret == "" {
		// A precondition error: 400 invalid_request (client_credentials.go).
		return nil, oidc.ErrInvalidRequest().WithDescription("Errors.User.Machine.Secret.NotExisting")
	}
	if !equalSecret(u.secret, secret) {
		// Not invalid_client: ZITADEL answers a wrong machine secret with an
		// InvalidArgument error, which its oidcError maps to 400
		// invalid_request with the message key as description
		// (internal/api/oidc/client_credentials.go and error.go).
		return nil, oidc.ErrInvalidRequest().WithDescription("Errors.User.Machine.Secret.Invalid")
	}
	return &client{id: clientID, user: u, authMethod: oidc.AuthMethodBasic}, nil
}

// revocationClient answers the client authentication of the revocation
// endpoint as ZITADEL's VerifyClient (internal/api/oidc/client.go): only
// OIDC applications may revoke. Service users and API applications, the
// only clients here, are unknown to it: 400 invalid_client "no active
// client not found"; an assertion that cannot be parsed is invalid_client
// without a description (docs/zitadel-on-the-wire.md, "Revocation").
func (i *Instance) revocationClient(cc *op.ClientCredentials) (op.Client, error) {
	if cc.ClientAssertion != "" {
		if _, err := assertionIssuer(cc.ClientAssertion); err != nil {
			return nil, oidc.ErrInvalidClient().WithParent(err)
		}
	}
	return nil, oidc.ErrInvalidClient().WithDescription("no active client not found")
}

// errIntrospectInactive marks a client authentication that ZITADEL does not
// answer with an error: its introspection swallows every error but
// unauthorized_client and answers {"active":false}.
var errIntrospectInactive = errors.New("client assertion cannot be parsed")

// authenticateAPI authenticates the caller of the introspection endpoint,
// which must be an API application, as ZITADEL's introspectionClientAuth
// (internal/api/oidc/introspect.go): an unknown client, an assertion that
// does not verify (a Basic app has no key), a wrong secret or a secret for a
// JWT app (which has none) are unauthorized_client with no description,
// HTTP 400. An assertion that cannot be parsed at all fails earlier, in
// clientIDFromCredentials, with an error that introspection swallows:
// errIntrospectInactive, answered {"active":false}.
func (i *Instance) authenticateAPI(cc *op.ClientCredentials) (*apiApp, error) {
	if cc.ClientAssertion != "" {
		iss, err := assertionIssuer(cc.ClientAssertion)
		if err != nil {
			return nil, errIntrospectInactive
		}
		a := i.appByClientID(iss)
		if a == nil || a.keyID == "" {
			return nil, oidc.ErrUnauthorizedClient()
		}
		if err := i.verifyClientAssertion(cc.ClientAssertion, a); err != nil {
			return nil, oidc.ErrUnauthorizedClient().WithParent(err)
		}
		return a, nil
	}
	a := i.appByClientID(cc.ClientID)
	if a == nil || a.secret == "" || !equalSecret(a.secret, cc.ClientSecret) {
		return nil, oidc.ErrUnauthorizedClient()
	}
	return a, nil
}

// verifyClientAssertion checks a private_key_jwt assertion (RFC 7523 §3)
// with the library's verifier, as ZITADEL does: iss = sub = clientID,
// aud contains the issuer, iat at most 1 h old and not in the future, exp
// after now, 1 s clock offset; signed with the owner's key, named by kid.
func (i *Instance) verifyClientAssertion(assertion string, owner keyOwner) error {
	verifier := op.NewJWTProfileVerifierKeySet(keySet{owner}, i.Issuer, time.Hour, time.Second)
	_, err := op.VerifyJWTAssertion(context.Background(), assertion, verifier)
	return err
}

// assertionIssuer reads iss from an assertion without verifying it, to
// know whose key verifies it.
func assertionIssuer(assertion string) (string, error) {
	claims := new(oidc.JWTTokenRequest)
	if _, err := oidc.ParseToken(assertion, claims); err != nil {
		return "", err
	}
	if claims.Issuer == "" {
		return "", errors.New("assertion has no iss")
	}
	return claims.Issuer, nil
}

// keyOwner is an API application or a service user: a holder of keys.
type keyOwner interface {
	keyByID(kid string) *jose.JSONWebKey // nil when the owner has no such key
}

func (a *apiApp) keyByID(kid string) *jose.JSONWebKey {
	return findKey(kid, a.keyID, a.publicKey, a.olderKeys)
}

func (u *serviceUser) keyByID(kid string) *jose.JSONWebKey {
	return findKey(kid, u.keyID, u.publicKey, u.olderKeys)
}

func findKey(kid, keyID string, key *rsa.PublicKey, older map[string]*rsa.PublicKey) *jose.JSONWebKey {
	if kid != keyID || key == nil {
		if key = older[kid]; key == nil {
			return nil
		}
	}
	return &jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

// keySet is the oidc.KeySet of one key owner. The assertion's kid must name
// the owner's key: ZITADEL looks keys up by (kid, iss), so an assertion
// without kid, or with another key's kid, does not verify.
type keySet struct{ owner keyOwner }

func (k keySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	kid, _ := oidc.GetKeyIDAndAlg(jws)
	if kid == "" {
		return nil, errors.New("assertion header has no kid")
	}
	key := k.owner.keyByID(kid)
	if key == nil {
		return nil, errors.New("key not found")
	}
	return jws.Verify(key)
}

// userKeyStorage finds a service user's key for the JWT bearer grant
// (op.JWTProfileKeyStorage), by key ID and user ID.
type userKeyStorage struct{ i *Instance }

func (s userKeyStorage) GetKeyByIDAndClientID(ctx context.Context, keyID, userID string) (*jose.JSONWebKey, error) {
	if keyID == "" {
		return nil, errors.New("assertion header has no kid")
	}
	u := s.i.userByID(userID)
	if u == nil {
		return nil, errors.New("key not found")
	}
	key := u.keyByID(keyID)
	if key == nil {
		return nil, errors.New("key not found")
	}
	return key, nil
}

func (i *Instance) userByLoginName(name string) *serviceUser {
	i.dir.RLock()
	defer i.dir.RUnlock()
	for _, u := range i.users {
		if name != "" && (u.userName == name || u.loginName == name) {
			return u
		}
	}
	return nil
}

func equalSecret(want, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// client is an op.Client: a service user at the token endpoint.
type client struct {
	id         string
	user       *serviceUser
	authMethod oidc.AuthMethod
}

func (c *client) GetID() string                        { return c.id }
func (c *client) RedirectURIs() []string               { return nil }
func (c *client) PostLogoutRedirectURIs() []string     { return nil }
func (c *client) ApplicationType() op.ApplicationType  { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod          { return c.authMethod }
func (c *client) ResponseTypes() []oidc.ResponseType   { return nil }
func (c *client) LoginURL(string) string               { return "" }
func (c *client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *client) DevMode() bool                        { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

// GrantTypes: service users take the client_credentials grant.
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}

func (c *client) AccessTokenType() op.AccessTokenType {
	if c.user != nil && c.user.jwtAccessTokens {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(scopes []string) []string { return scopes }
}

// IsScopeAllowed keeps ZITADEL's reserved scopes besides the standard ones
// (which the library keeps itself). Any other scope, such as read:messages,
// is dropped silently: roles never travel in scope (docs/zitadel-on-the-wire.md, "Scopes").
func (c *client) IsScopeAllowed(scope string) bool {
	return isZitadelScope(scope)
}

// The reserved scope prefixes of ZITADEL (internal/api/oidc/client.go,
// isScopeAllowed, and client_credentials.go).
var zitadelScopePrefixes = []string{
	"urn:zitadel:iam:org:project:id:",   // …:{projectId}:aud, project audience
	"urn:zitadel:iam:org:project:role:", // role claim on the id token
	"urn:zitadel:iam:org:id:",
	"urn:zitadel:iam:org:domain:primary:",
	"urn:zitadel:iam:org:roles:id:",
	"urn:zitadel:iam:org:idp:id:",
}

var zitadelScopes = []string{
	"urn:zitadel:iam:org:project:roles",
	"urn:zitadel:iam:org:projects:roles",
	"urn:zitadel:iam:user:metadata",
	"urn:zitadel:iam:user:resourceowner",
}

func isZitadelScope(scope string) bool {
	for _, p := range zitadelScopePrefixes {
		if strings.HasPrefix(scope, p) {
			return true
		}
	}
	for _, s := range zitadelScopes {
		if scope == s {
			return true
		}
	}
	return false
}
