package localzitadel

// A minimal client for the tests, written against RFC 6749, 7523, 7662 and
// 7009 directly: it shares no code with the package under test, nor with
// the samples' helpers.

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	grantJWTBearer       = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	clientAssertionType  = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	sampleScope          = "openid profile email urn:zitadel:iam:org:project:id:%s:aud"
	claimRoles           = "urn:zitadel:iam:org:project:roles"
	claimProjectRolesFmt = "urn:zitadel:iam:org:project:%s:roles"
	claimMergedRoles     = "urn:zitadel:iam:org:projects:roles"
)

func startInstance(t *testing.T) *Instance {
	t.Helper()
	zitadel, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := zitadel.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return zitadel
}

// keyFile is a ZITADEL key file, read as a client would.
type keyFile struct {
	Type     string `json:"type"`
	KeyID    string `json:"keyId"`
	Key      string `json:"key"`
	AppID    string `json:"appId"`
	ClientID string `json:"clientId"`
	UserID   string `json:"userId"`
	private  *rsa.PrivateKey
}

func readKeyFile(t *testing.T, path string) keyFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatalf("key file %s: %v", path, err)
	}
	block, _ := pem.Decode([]byte(kf.Key))
	if block == nil || block.Type != "RSA PRIVATE KEY" {
		t.Fatalf("key file %s: no PKCS#1 PEM key", path)
	}
	kf.private, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("key file %s: %v", path, err)
	}
	return kf
}

// assertionClaims describe a JWT assertion (RFC 7523 §3); zero times get
// defaults: iat now, exp in 5 minutes.
type assertionClaims struct {
	kid, iss, sub string
	aud           []string
	iat, exp      time.Time
	omitKID       bool
}

func signAssertion(t *testing.T, key *rsa.PrivateKey, c assertionClaims) string {
	t.Helper()
	now := time.Now()
	if c.iat.IsZero() {
		c.iat = now
	}
	if c.exp.IsZero() {
		c.exp = now.Add(5 * time.Minute)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    c.iss,
		Subject:   c.sub,
		Audience:  c.aud,
		IssuedAt:  jwt.NewNumericDate(c.iat),
		ExpiresAt: jwt.NewNumericDate(c.exp),
	})
	if !c.omitKID {
		tok.Header["kid"] = c.kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// userAssertion is a valid JWT bearer grant assertion of a service user.
func userAssertion(t *testing.T, z *Instance, u *ServiceUser) string {
	kf := readKeyFile(t, u.KeyFile)
	return signAssertion(t, kf.private, assertionClaims{kid: kf.KeyID, iss: kf.UserID, sub: kf.UserID, aud: []string{z.Issuer}})
}

// apiAssertion is a valid private_key_jwt client assertion of an API app.
func apiAssertion(t *testing.T, z *Instance, a App) string {
	kf := readKeyFile(t, a.KeyFile)
	return signAssertion(t, kf.private, assertionClaims{kid: kf.KeyID, iss: kf.ClientID, sub: kf.ClientID, aud: []string{z.Issuer}})
}

// basic is an Authorization header per RFC 6749 §2.3.1: both parts
// form-url-encoded, then base64.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a map, failing the test if it is not JSON.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON (status %d): %q", r.status, r.body)
	}
	return m
}

func (r response) str(t *testing.T, name string) string {
	t.Helper()
	s, _ := r.json(t)[name].(string)
	return s
}

func post(t *testing.T, endpoint string, form url.Values, authorization string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return do(t, req)
}

func get(t *testing.T, endpoint, authorization string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func jwtGrant(t *testing.T, z *Instance, assertion, scope string) response {
	t.Helper()
	return post(t, z.TokenURL, url.Values{"grant_type": {grantJWTBearer}, "assertion": {assertion}, "scope": {scope}}, "")
}

func clientCredentialsBasic(t *testing.T, z *Instance, id, secret, scope string) response {
	t.Helper()
	return post(t, z.TokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}, basic(id, secret))
}

// accessToken obtains a token for u with the samples' scope, by the JWT
// bearer grant.
func accessToken(t *testing.T, z *Instance, u *ServiceUser) string {
	t.Helper()
	return accessTokenWithScope(t, z, u, scopeFor(z.ProjectID))
}

// accessTokenWithScope gets a token for u with the JWT bearer grant.
func accessTokenWithScope(t *testing.T, z *Instance, u *ServiceUser, scope string) string {
	t.Helper()
	r := jwtGrant(t, z, userAssertion(t, z, u), scope)
	if r.status != http.StatusOK {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return r.str(t, "access_token")
}

func scopeFor(projectID string) string {
	return strings.ReplaceAll(sampleScope, "%s", projectID)
}

func introspectBasic(t *testing.T, z *Instance, a App, token string) response {
	t.Helper()
	return post(t, z.IntrospectionURL, url.Values{"token": {token}}, basic(a.ClientID, a.ClientSecret))
}

// introspectAs introspects with the API application's one method.
func introspectAs(t *testing.T, z *Instance, a App, token string) response {
	t.Helper()
	if a.KeyFile != "" {
		return introspectJWT(t, z, a, token)
	}
	return introspectBasic(t, z, a, token)
}

func introspectJWT(t *testing.T, z *Instance, a App, token string) response {
	t.Helper()
	return post(t, z.IntrospectionURL, url.Values{
		"token":                 {token},
		"client_assertion_type": {clientAssertionType},
		"client_assertion":      {apiAssertion(t, z, a)},
	}, "")
}

// wantInactive checks RFC 7662 §2.2 for a token ZITADEL does not accept:
// HTTP 200 and a body that is exactly {"active":false}.
func wantInactive(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"active":false}` {
		t.Errorf("introspection = %d %s, want 200 {\"active\":false}", r.status, r.body)
	}
}

// wantError checks an OAuth error answer (RFC 6749 §5.2).
func wantError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type = %q, want application/json", r.header.Get("Content-Type"))
	}
	m := r.json(t)
	if m["error"] != code {
		t.Errorf("error = %v, want %s (body %s)", m["error"], code, r.body)
	}
	// ZITADEL's introspection answers unauthorized_client with no
	// description (introspect.go: ErrUnauthorizedClient().WithParent(err));
	// every other error here has one.
	_, described := m["error_description"].(string)
	if want := code != "unauthorized_client"; described != want {
		t.Errorf("error_description present = %v, want %v: %s", described, want, r.body)
	}
}

// jwks fetches the issuer's keys and returns them by kid.
func jwks(t *testing.T, z *Instance) map[string]*rsa.PublicKey {
	t.Helper()
	r := get(t, z.KeysURL, "")
	var set struct {
		Keys []struct {
			Kty, Kid, Alg, Use, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("jwks: %v: %s", err, r.body)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Alg != "RS256" || k.Use != "sig" {
			t.Errorf("jwks key %+v: want RSA, RS256, sig", k)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("jwks key %s: bad n or e", k.Kid)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys
}

// verifyJWT checks a JWT the issuer signed against its JWKS and returns its claims.
// verifyIDToken verifies an id token, whose exp is its iat.
func verifyIDToken(t *testing.T, z *Instance, token string) jwt.MapClaims {
	t.Helper()
	return verifyJWT(t, z, token, jwt.WithLeeway(time.Minute))
}

func verifyJWT(t *testing.T, z *Instance, token string, opts ...jwt.ParserOption) jwt.MapClaims {
	t.Helper()
	keys := jwks(t, z)
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k := keys[kid]; k != nil {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}, append(opts, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(z.Issuer))...)
	if err != nil {
		t.Fatalf("JWT does not verify against %s: %v", z.KeysURL, err)
	}
	return claims
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// jsonString re-encodes a decoded JSON value; maps come out with sorted keys.
func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
