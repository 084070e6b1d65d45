package jwtverify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer  = "https://instance.example"
	testProject = "111111111111111111"
	otherProjct = "222222222222222222"
)

// signingKey is a private key of the test issuer with its kid and alg.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

var keyCache sync.Map // alg → crypto.Signer; RSA key generation is slow under -race

func newKey(t testing.TB, kid, alg string) *signingKey {
	t.Helper()
	if k, ok := keyCache.Load(alg + kid); ok {
		return &signingKey{kid, jwt.GetSigningMethod(alg), k.(crypto.Signer)}
	}
	var k crypto.Signer
	var err error
	switch alg {
	case "RS256":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil || k == nil {
		t.Fatalf("generate %s key: %v", alg, err)
	}
	keyCache.Store(alg+kid, k)
	return &signingKey{kid, jwt.GetSigningMethod(alg), k}
}

// jwk is the public half as the JWKS endpoint publishes it.
func (k *signingKey) jwk() map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": k.kid, "use": "sig", "alg": k.method.Alg()}
	switch pub := k.key.Public().(type) {
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(pub.N.Bytes()), b64(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes()
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64(raw[1:33]), b64(raw[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(pub)
	}
	return m
}

func (k *signingKey) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signRaw signs payload as it is, for claims that a map cannot give: the
// same name twice, or an order of names.
func (k *signingKey) signRaw(t testing.TB, payload string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	signing := b64([]byte(`{"alg":"`+k.method.Alg()+`","kid":"`+k.kid+`","typ":"JWT"}`)) + "." + b64([]byte(payload))
	sig, err := k.method.Sign(signing, k.key)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// accessClaims are the claims of a ZITADEL JWT access token for testProject.
func accessClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "sub": "user-1", "aud": []string{testProject, "client-app"},
		"client_id": "reader", "jti": "token-id", "iat": now.Unix(), "nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// issuer serves a JWKS whose keys a test may change, and counts fetches.
type issuer struct {
	mu      sync.Mutex
	keys    []*signingKey
	status  int
	fetches atomic.Int64
	srv     *httptest.Server
}

func newIssuer(t testing.TB, keys ...*signingKey) *issuer {
	is := &issuer{keys: keys}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		if is.status != 0 {
			w.WriteHeader(is.status)
			return
		}
		set := map[string][]map[string]string{"keys": {}}
		for _, k := range is.keys {
			set["keys"] = append(set["keys"], k.jwk())
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) setKeys(keys ...*signingKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = keys
}

func (is *issuer) verifier(t testing.TB, now *time.Time) *Verifier {
	t.Helper()
	v, err := New(Options{Issuer: testIssuer, ProjectID: testProject, KeysURL: is.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		v.now = func() time.Time { return *now }
	}
	return v
}

func TestVerifiesEachAlgorithm(t *testing.T) {
	keys := []*signingKey{newKey(t, "rsa", "RS256"), newKey(t, "ec", "ES256"), newKey(t, "ed", "EdDSA")}
	is := newIssuer(t, keys...)
	v := is.verifier(t, nil)
	for _, k := range keys {
		t.Run(k.method.Alg(), func(t *testing.T) {
			tok, err := v.Verify(context.Background(), k.sign(t, accessClaims(time.Now())))
			if err != nil {
				t.Fatal(err)
			}
			if tok.Subject != "user-1" || tok.ClientID != "reader" || tok.Expiry.IsZero() || tok.RoleClaims {
				t.Fatalf("token = %+v", tok)
			}
		})
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1", n)
	}
}

func TestRejects(t *testing.T) {
	rsaKey, ecKey := newKey(t, "rsa", "RS256"), newKey(t, "ec", "ES256")
	unpublished := newKey(t, "ed", "EdDSA")
	is := newIssuer(t, rsaKey, ecKey)
	now := time.Now()
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := accessClaims(now)
		change(c)
		return c
	}
	rsaPub := rsaKey.jwk()
	hmacWithPublicKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims(now))
		tok.Header["kid"] = "rsa"
		s, _ := tok.SignedString([]byte(rsaPub["n"]))
		return s
	}()
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, accessClaims(now))
		tok.Header["kid"] = "rsa"
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	// An ES256 signature under the RSA key's kid: the alg comes from the key.
	algSwap := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, accessClaims(now))
		tok.Header["kid"] = "rsa"
		s, _ := tok.SignedString(ecKey.key)
		return s
	}()
	good := rsaKey.sign(t, accessClaims(now))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+testIssuer+`","sub":"admin"}`)) + "." + parts[2]

	notJWT := []struct{ name, token string }{
		{"opaque, JWE-shaped", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"},
		{"dot-less PAT", "dGhpcyBpcyBhIHBhdA"},
		{"garbage with two dots", "a.b.c"},
		{"HMAC with the public key as secret", hmacWithPublicKey},
		{"alg none", none},
		{"ES256 under an RSA key's kid", algSwap},
		{"key not in the JWKS", unpublished.sign(t, accessClaims(now))},
		{"tampered payload", tampered},
	}
	v := is.verifier(t, &now)
	for _, tt := range notJWT {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, ErrNotJWT) {
				t.Fatalf("err = %v, want ErrNotJWT", err)
			}
		})
	}

	invalid := []struct{ name, token string }{
		{"expired past the leeway", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-DefaultLeeway - time.Second).Unix() }))},
		{"not yet valid past the leeway", ecKey.sign(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(DefaultLeeway + time.Second).Unix() }))},
		{"no exp", rsaKey.sign(t, with(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"another project", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["aud"] = []string{otherProjct} }))},
		{"another issuer", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["iss"] = testIssuer + "/other" }))},
		{"an ID token (no jti)", rsaKey.sign(t, with(func(c jwt.MapClaims) { delete(c, "jti"); c["azp"] = "reader" }))},
		{"ISS is not iss", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["ISS"] = c["iss"]; delete(c, "iss") }))},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("err = %v, want *InvalidError", err)
			}
		})
	}

	// Within the leeway, both pass.
	for _, c := range []jwt.MapClaims{
		with(func(c jwt.MapClaims) { c["exp"] = now.Add(-DefaultLeeway + time.Second).Unix() }),
		with(func(c jwt.MapClaims) { c["nbf"] = now.Add(DefaultLeeway - time.Second).Unix() }),
	} {
		if _, err := v.Verify(context.Background(), rsaKey.sign(t, c)); err != nil {
			t.Fatalf("within leeway: %v", err)
		}
	}
}

func TestLeewayIsAtMostAMinute(t *testing.T) {
	v, err := New(Options{Issuer: testIssuer, ProjectID: testProject, Leeway: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k := newKey(t, "rsa", "RS256")
	is := newIssuer(t, k)
	v.keys.url = is.srv.URL
	c := accessClaims(time.Now())
	c["exp"] = time.Now().Add(-MaxLeeway - time.Second).Unix()
	var inv *InvalidError
	if _, err := v.Verify(context.Background(), k.sign(t, c)); !errors.As(err, &inv) {
		t.Fatalf("token expired 61 s ago with Leeway 1h: err = %v, want *InvalidError", err)
	}
}

func TestRolesOnlyOfTheAPIsProject(t *testing.T) {
	k := newKey(t, "rsa", "RS256")
	v := newIssuer(t, k).verifier(t, nil)
	grant := map[string]any{"read:messages": map[string]string{"org": "org.example"}}
	tests := []struct {
		name   string
		claims map[string]any
		roles  []string
		known  bool
	}{
		{"no role claims: unknown", nil, nil, false},
		{"generic claim", map[string]any{roleClaim: grant}, []string{"read:messages"}, true},
		{"own project's claim", map[string]any{"urn:zitadel:iam:org:project:" + testProject + ":roles": grant}, []string{"read:messages"}, true},
		{"only another project's claim", map[string]any{"urn:zitadel:iam:org:project:" + otherProjct + ":roles": grant}, nil, false},
		{"empty generic claim: known, none", map[string]any{roleClaim: map[string]any{}}, nil, true},
		{"both, no duplicates", map[string]any{roleClaim: grant, "urn:zitadel:iam:org:project:" + testProject + ":roles": map[string]any{"write:messages": map[string]string{}, "read:messages": map[string]string{}}},
			[]string{"read:messages", "write:messages"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := accessClaims(time.Now())
			for name, value := range tt.claims {
				c[name] = value
			}
			tok, err := v.Verify(context.Background(), k.sign(t, c))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tok.Roles, tt.roles) || tok.RoleClaims != tt.known {
				t.Fatalf("roles %v (claims %v), want %v (%v)", tok.Roles, tok.RoleClaims, tt.roles, tt.known)
			}
		})
	}
	c := accessClaims(time.Now())
	c[roleClaim] = []string{"read:messages"}
	if _, err := v.Verify(context.Background(), k.sign(t, c)); !errors.Is(err, ErrNotJWT) {
		t.Fatalf("malformed role claim: err = %v, want ErrNotJWT", err)
	}
}

// TestClaimsByExactName: claims are read by their exact names, as JSON
// compares them, so a case variant after the real claim (a ZITADEL Action
// may add custom claims) changes nothing; escaped and non-ASCII strings
// decode. A claim of the wrong type is not for this API to judge.
func TestClaimsByExactName(t *testing.T) {
	k := newKey(t, "rsa", "RS256")
	v := newIssuer(t, k).verifier(t, nil)
	ctx := context.Background()
	payload := func(extra string) string {
		return fmt.Sprintf(`{"iss":%q,"aud":[%q],"sub":"user-1","jti":"t1","client_id":"reader","exp":%d,%s}`,
			testIssuer, testProject, time.Now().Add(time.Hour).Unix(), extra)
	}
	tok, err := v.Verify(ctx, k.signRaw(t, payload(`"preferred_username":"zo\u00eb \"z\"","urn:zitadel:iam:user:resourceowner:id":"org-1",`+
		`"SUB":"someone-else","Preferred_Username":"mallory","ISS":"https://evil.example","EXP":1,"Client_ID":"other"`)))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Subject != "user-1" || tok.Username != `zoë "z"` || tok.OrganizationID != "org-1" || tok.ClientID != "reader" {
		t.Fatalf("token = %+v", tok)
	}
	if string(tok.Claims["SUB"]) != `"someone-else"` {
		t.Fatalf("raw claims lack the custom claim SUB: %s", tok.Claims)
	}
	// Raw UTF-8 takes the short way; invalid UTF-8 becomes U+FFFD, as encoding/json makes it.
	tok, err = v.Verify(ctx, k.signRaw(t, payload("\"preferred_username\":\"zoë\",\"urn:zitadel:iam:user:resourceowner:id\":\"org-\xff\"")))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Username != "zoë" || tok.OrganizationID != "org-\uFFFD" {
		t.Fatalf("username %q, organization %q; want zoë, org-\uFFFD", tok.Username, tok.OrganizationID)
	}
	// null is no value, as a struct field would take it: no nbf, which is optional.
	if _, err := v.Verify(ctx, k.signRaw(t, payload(`"nbf":null`))); err != nil {
		t.Fatalf("nbf null: %v", err)
	}
	for name, extra := range map[string]string{
		"sub not a string": `"sub":5`,
		"exp not a number": `"exp":"soon"`,
		"aud not strings":  `"aud":[1]`,
		"jti not a string": `"jti":5`,
	} {
		// The later of two members with one name is the one that counts.
		if _, err := v.Verify(ctx, k.signRaw(t, payload(extra))); !errors.Is(err, ErrNotJWT) {
			t.Errorf("%s: err = %v, want ErrNotJWT", name, err)
		}
	}
}

// TestKeyRotation: an unknown kid costs one fetch, rate-limited; a key
// removed from the set stops verifying once the set is fetched again.
func TestKeyRotation(t *testing.T) {
	oldKey, newer, newest := newKey(t, "old", "RS256"), newKey(t, "new", "ES256"), newKey(t, "newest", "EdDSA")
	forged := newKey(t, "forged", "EdDSA")
	is := newIssuer(t, oldKey)
	now := time.Now()
	v := is.verifier(t, &now)
	ctx := context.Background()
	oldToken := oldKey.sign(t, accessClaims(now))
	if _, err := v.Verify(ctx, oldToken); err != nil {
		t.Fatal(err)
	}

	// A flood of unknown kids: one fetch, which also brings the new key.
	is.setKeys(oldKey, newer)
	now = now.Add(DefaultMinRefresh)
	for range 100 {
		if _, err := v.Verify(ctx, forged.sign(t, accessClaims(now))); !errors.Is(err, ErrNotJWT) {
			t.Fatalf("forged kid: err = %v", err)
		}
	}
	if _, err := v.Verify(ctx, newer.sign(t, accessClaims(now))); err != nil {
		t.Fatalf("kid published before the fetch: %v", err)
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (first use, one for the unknown kids)", n)
	}

	// A kid published after that fetch waits for the rate limit; until then
	// its tokens are introspected.
	is.setKeys(newer, newest)
	if _, err := v.Verify(ctx, newest.sign(t, accessClaims(now))); !errors.Is(err, ErrNotJWT) {
		t.Fatalf("new kid within the rate limit: err = %v, want ErrNotJWT", err)
	}
	now = now.Add(DefaultMinRefresh)
	if _, err := v.Verify(ctx, newest.sign(t, accessClaims(now))); err != nil {
		t.Fatalf("new kid after the rate limit: %v", err)
	}
	// That fetch no longer had the old key: it stops verifying.
	if _, err := v.Verify(ctx, oldToken); !errors.Is(err, ErrNotJWT) {
		t.Fatalf("removed key: err = %v, want ErrNotJWT", err)
	}

	// A removed key also stops verifying when the set ages out, without any unknown kid.
	is.setKeys(oldKey, newest)
	now = now.Add(DefaultMinRefresh)
	if _, err := v.Verify(ctx, oldToken); err != nil {
		t.Fatalf("old key published again: %v", err)
	}
	is.setKeys(newest)
	now = now.Add(DefaultMaxKeyAge)
	if _, err := v.Verify(ctx, oldToken); !errors.Is(err, ErrNotJWT) {
		t.Fatalf("removed key after MaxKeyAge: err = %v, want ErrNotJWT", err)
	}
	if n := is.fetches.Load(); n != 5 {
		t.Fatalf("%d fetches, want 5", n)
	}
}

// TestKeySetUnavailable: the known keys keep working when a refresh fails,
// and concurrent unknown kids share one fetch.
func TestKeySetUnavailable(t *testing.T) {
	k := newKey(t, "rsa", "RS256")
	is := newIssuer(t, k)
	now := time.Now()
	v := is.verifier(t, &now)
	ctx := context.Background()
	token := k.sign(t, accessClaims(now))
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatal(err)
	}
	is.mu.Lock()
	is.status = http.StatusBadGateway
	is.mu.Unlock()
	now = now.Add(DefaultMaxKeyAge)
	if _, err := v.Verify(ctx, token); err != nil {
		t.Fatalf("known key while the JWKS fails: %v", err)
	}

	now = now.Add(DefaultMinRefresh)
	before := is.fetches.Load()
	forged := newKey(t, "forged", "EdDSA").sign(t, accessClaims(now))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrNotJWT) {
				t.Errorf("err = %v", err)
			}
		})
	}
	wg.Wait()
	if n := is.fetches.Load() - before; n != 1 {
		t.Fatalf("20 concurrent unknown kids: %d fetches, want 1", n)
	}
}

func TestParseKeySetSkipsWhatItCannotUse(t *testing.T) {
	rsaKey, ecKey, edKey := newKey(t, "rsa", "RS256"), newKey(t, "ec", "ES256"), newKey(t, "ed", "EdDSA")
	badCurve := ecKey.jwk()
	badCurve["kid"], badCurve["y"] = "bad-point", badCurve["x"]
	enc := rsaKey.jwk()
	enc["kid"], enc["use"] = "enc", "enc"
	wrongAlg := ecKey.jwk()
	wrongAlg["kid"], wrongAlg["alg"] = "wrong-alg", "RS256"
	hmac := map[string]string{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak := (&signingKey{"weak", jwt.SigningMethodRS256, small}).jwk()
	raw, _ := json.Marshal(map[string]any{"keys": []any{rsaKey.jwk(), ecKey.jwk(), edKey.jwk(), badCurve, enc, wrongAlg, hmac, weak}})
	keys, err := parseKeySet(raw)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for kid, k := range keys {
		kids = append(kids, kid+":"+k.alg)
	}
	slices.Sort(kids)
	if want := []string{"ec:ES256", "ed:EdDSA", "rsa:RS256"}; !slices.Equal(kids, want) {
		t.Fatalf("keys %v, want %v", kids, want)
	}
	if _, err := parseKeySet([]byte("<html>")); err == nil {
		t.Fatal("HTML parsed as a key set")
	}
}
