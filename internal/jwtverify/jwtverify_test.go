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
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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
	extra   []map[string]string // JWKs as they are, beside keys
	status  int
	hang    bool // answer nothing until the request is cancelled
	fetches atomic.Int64
	srv     *httptest.Server
}

func newIssuer(t testing.TB, keys ...*signingKey) *issuer {
	is := &issuer{keys: keys}
	is.srv = httptest.NewServer(is)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	is.fetches.Add(1)
	is.mu.Lock()
	hang, status := is.hang, is.status
	set := map[string][]map[string]string{"keys": {}}
	for _, k := range is.keys {
		set["keys"] = append(set["keys"], k.jwk())
	}
	set["keys"] = append(set["keys"], is.extra...)
	is.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(set)
}

// inMemory is an HTTP client that reaches the issuer without a socket: in a
// synctest bubble time moves on only while every goroutine waits on the
// bubble (a channel, a timer), which a network read is not.
func (is *issuer) inMemory() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		is.ServeHTTP(rec, r)
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
		return rec.Result(), nil
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (is *issuer) set(change func(is *issuer)) {
	is.mu.Lock()
	defer is.mu.Unlock()
	change(is)
}

func (is *issuer) setKeys(keys ...*signingKey) { is.set(func(is *issuer) { is.keys = keys }) }

// verifier returns a Verifier of the issuer, whose clock is *now if now is
// not nil. It has fetched the key set once.
func (is *issuer) verifier(t testing.TB, now *time.Time) *Verifier {
	t.Helper()
	v, err := newVerifier(t.Context(), testIssuer, testProject, is.srv.URL, keySetHTTP, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if now != nil {
		v.now = func() time.Time { return *now }
	}
	return v
}

// bubbleVerifier is verifier for a test in a synctest bubble: the issuer
// in memory, the clock the bubble's.
func (is *issuer) bubbleVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := newVerifier(t.Context(), testIssuer, testProject, "https://instance.example/oauth/v2/keys", is.inMemory(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
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
	// RFC 7515 §4.1.11: a JWS with a crit extension this verifier does not
	// understand must not verify, though a key of the set signed it.
	withHeader := func(header map[string]any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, accessClaims(now))
		tok.Header["kid"] = "rsa"
		maps.Copy(tok.Header, header)
		s, err := tok.SignedString(rsaKey.key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
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
		{"crit x-unknown", withHeader(map[string]any{"crit": []string{"x-unknown"}, "x-unknown": true})},
		{"crit b64, b64 false", withHeader(map[string]any{"crit": []string{"b64"}, "b64": false})},
		{"b64 false without crit", withHeader(map[string]any{"b64": false})},
		{"crit empty", withHeader(map[string]any{"crit": []string{}})},
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
		{"expired past the leeway", rsaKey.sign(t, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-leeway - time.Second).Unix() }))},
		{"not yet valid past the leeway", ecKey.sign(t, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(leeway + time.Second).Unix() }))},
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
		with(func(c jwt.MapClaims) { c["exp"] = now.Add(-leeway + time.Second).Unix() }),
		with(func(c jwt.MapClaims) { c["nbf"] = now.Add(leeway - time.Second).Unix() }),
	} {
		if _, err := v.Verify(context.Background(), rsaKey.sign(t, c)); err != nil {
			t.Fatalf("within leeway: %v", err)
		}
	}
}

// TestRolesOnlyOfTheAPIsProject: in a JWT only the role claim of the API's
// project counts. The generic claim holds the roles in the project of the
// app that asked for the token, and urn:zitadel:iam:org:projects:roles
// merges several projects: with only those, the roles are unknown (the guard
// introspects), never granted (docs/zitadel-on-the-wire.md, "Roles in a JWT").
func TestRolesOnlyOfTheAPIsProject(t *testing.T) {
	k := newKey(t, "rsa", "RS256")
	v := newIssuer(t, k).verifier(t, nil)
	grant := map[string]any{"read:messages": map[string]string{"org": "org.example"}}
	const (
		generic  = "urn:zitadel:iam:org:project:roles"
		merged   = "urn:zitadel:iam:org:projects:roles"
		own      = "urn:zitadel:iam:org:project:" + testProject + ":roles"
		another  = "urn:zitadel:iam:org:project:" + otherProjct + ":roles"
		mixedOwn = "urn:zitadel:iam:org:project:" + testProject + ":ROLES"
	)
	tests := []struct {
		name   string
		claims map[string]any
		roles  []string
		known  bool
	}{
		{"no role claims: unknown", nil, nil, false},
		{"own project's claim", map[string]any{own: grant}, []string{"read:messages"}, true},
		{"generic claim only: unknown", map[string]any{generic: grant}, nil, false},
		{"merged claim only: unknown", map[string]any{merged: grant}, nil, false},
		{"another project's claim only: unknown", map[string]any{another: grant}, nil, false},
		{"claim name in other case: unknown", map[string]any{mixedOwn: grant}, nil, false},
		{"another app's token: generic, merged and its project's claim", map[string]any{generic: grant, merged: grant, another: grant}, nil, false},
		{"own claim empty, others granted: known, none", map[string]any{own: map[string]any{}, generic: grant, merged: grant}, nil, true},
		{"own claim with two roles", map[string]any{own: map[string]any{"write:messages": map[string]string{}, "read:messages": map[string]string{}}},
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
			if !slices.Equal(tok.Roles, tt.roles) || tok.RoleClaims != tt.known || tok.HasRole("read:messages") != slices.Contains(tt.roles, "read:messages") {
				t.Fatalf("roles %v (claims %v), want %v (%v)", tok.Roles, tok.RoleClaims, tt.roles, tt.known)
			}
		})
	}
	c := accessClaims(time.Now())
	c[own] = []string{"read:messages"}
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
// removed from the set stops verifying once the set is fetched again, for an
// unknown kid or in the background.
func TestKeyRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		oldKey, newer, newest := newKey(t, "old", "RS256"), newKey(t, "new", "ES256"), newKey(t, "newest", "EdDSA")
		forged := newKey(t, "forged", "EdDSA")
		is := &issuer{keys: []*signingKey{oldKey}}
		v := is.bubbleVerifier(t)
		ctx := t.Context()
		oldToken := oldKey.sign(t, accessClaims(time.Now()))
		if _, err := v.Verify(ctx, oldToken); err != nil {
			t.Fatal(err)
		}

		// A flood of unknown kids: one fetch, which also brings the new key.
		is.setKeys(oldKey, newer)
		for range 100 {
			if _, err := v.Verify(ctx, forged.sign(t, accessClaims(time.Now()))); !errors.Is(err, ErrNotJWT) {
				t.Fatalf("forged kid: err = %v", err)
			}
		}
		if _, err := v.Verify(ctx, newer.sign(t, accessClaims(time.Now()))); err != nil {
			t.Fatalf("kid published before the fetch: %v", err)
		}
		if n := is.fetches.Load(); n != 2 {
			t.Fatalf("%d fetches, want 2 (at New, one for the unknown kids)", n)
		}

		// A kid published after that fetch waits for the rate limit; until
		// then its tokens are introspected, at once: waiting for the
		// limiter would take longer than a fetch may.
		is.setKeys(newer, newest)
		start := time.Now()
		if _, err := v.Verify(ctx, newest.sign(t, accessClaims(time.Now()))); !errors.Is(err, ErrNotJWT) {
			t.Fatalf("new kid within the rate limit: err = %v, want ErrNotJWT", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("an unknown kid within the rate limit waited %v", waited)
		}
		time.Sleep(minRefresh)
		if _, err := v.Verify(ctx, newest.sign(t, accessClaims(time.Now()))); err != nil {
			t.Fatalf("new kid after the rate limit: %v", err)
		}
		// That fetch no longer had the old key: it stops verifying.
		if _, err := v.Verify(ctx, oldToken); !errors.Is(err, ErrNotJWT) {
			t.Fatalf("removed key: err = %v, want ErrNotJWT", err)
		}

		// Without any unknown kid, the background refresh brings a key back
		// and takes it away again, each within refreshInterval.
		is.setKeys(oldKey, newest)
		time.Sleep(refreshInterval)
		synctest.Wait()
		if _, err := v.Verify(ctx, oldToken); err != nil {
			t.Fatalf("old key published again: %v", err)
		}
		is.setKeys(newest)
		time.Sleep(refreshInterval)
		synctest.Wait()
		if _, err := v.Verify(ctx, oldToken); !errors.Is(err, ErrNotJWT) {
			t.Fatalf("removed key after the background refresh: err = %v, want ErrNotJWT", err)
		}
	})
}

// TestKeySetUnreachable: when the JWKS endpoint hangs, a token whose kid is
// known verifies with the keys at hand without waiting for any fetch, even
// with the key set older than its refresh interval; a token with an unknown
// kid waits at most fetchTimeout, and concurrent ones share one fetch.
// A removed key keeps verifying until a fetch succeeds.
func TestKeySetUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, removed := newKey(t, "rsa", "RS256"), newKey(t, "ec", "ES256")
		is := &issuer{keys: []*signingKey{k, removed}}
		v := is.bubbleVerifier(t)
		ctx := t.Context()
		token, removedToken := k.sign(t, accessClaims(time.Now())), removed.sign(t, accessClaims(time.Now()))

		is.set(func(is *issuer) { is.hang, is.keys = true, []*signingKey{k} })
		for round := range 3 {
			// The set is older than its refresh interval; the background
			// refresh waits on the endpoint.
			time.Sleep(refreshInterval + time.Second)
			start := time.Now()
			for _, tok := range []string{token, removedToken} {
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Fatalf("round %d: known kid while the JWKS hangs: %v", round, err)
				}
			}
			if waited := time.Since(start); waited != 0 {
				t.Fatalf("round %d: a known kid waited %v for the key set", round, waited)
			}
		}

		time.Sleep(minRefresh)
		before := is.fetches.Load()
		forged := newKey(t, "forged", "EdDSA").sign(t, accessClaims(time.Now()))
		start := time.Now()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrNotJWT) {
					t.Errorf("err = %v", err)
				}
			})
		}
		wg.Wait()
		if waited := time.Since(start); waited > fetchTimeout {
			t.Fatalf("unknown kid waited %v, want at most %v", waited, fetchTimeout)
		}
		if n := is.fetches.Load() - before; n != 1 {
			t.Fatalf("20 concurrent unknown kids: %d fetches, want 1", n)
		}

		// Reachable again: the next background refresh drops the removed key.
		is.set(func(is *issuer) { is.hang = false })
		time.Sleep(refreshInterval)
		synctest.Wait()
		if _, err := v.Verify(ctx, removedToken); !errors.Is(err, ErrNotJWT) {
			t.Fatalf("removed key once the JWKS answers: err = %v, want ErrNotJWT", err)
		}
		if _, err := v.Verify(ctx, token); err != nil {
			t.Fatal(err)
		}
	})
}

// TestKeysItCannotUse: keys of the set the verifier cannot use never verify
// a token, whatever the token's header says: an HMAC secret, an encryption
// key, an RSA key below 2048 bits, an EC key whose JWK names an RSA alg.
func TestKeysItCannotUse(t *testing.T) {
	rsaKey, ecKey, edKey := newKey(t, "rsa", "RS256"), newKey(t, "ec", "ES256"), newKey(t, "ed", "EdDSA")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak := &signingKey{"weak", jwt.SigningMethodRS256, small}
	enc := &signingKey{"enc", jwt.SigningMethodRS256, rsaKey.key}
	encJWK := enc.jwk()
	encJWK["use"] = "enc"
	wrongAlg := &signingKey{"wrong-alg", jwt.SigningMethodES256, ecKey.key}
	wrongAlgJWK := wrongAlg.jwk()
	wrongAlgJWK["alg"] = "RS256"
	is := newIssuer(t, rsaKey, ecKey, edKey, weak)
	is.set(func(is *issuer) {
		is.extra = []map[string]string{encJWK, wrongAlgJWK, {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}}
	})
	v := is.verifier(t, nil)
	ctx := t.Context()
	for _, k := range []*signingKey{rsaKey, ecKey, edKey} {
		if _, err := v.Verify(ctx, k.sign(t, accessClaims(time.Now()))); err != nil {
			t.Errorf("%s beside keys it cannot use: %v", k.kid, err)
		}
	}
	hmac := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims(time.Now()))
	hmac.Header["kid"] = "hmac"
	hmacToken, _ := hmac.SignedString([]byte("secret"))
	for name, token := range map[string]string{
		"RSA below 2048 bits":   weak.sign(t, accessClaims(time.Now())),
		"encryption key":        enc.sign(t, accessClaims(time.Now())),
		"EC key named RS256":    wrongAlg.sign(t, accessClaims(time.Now())),
		"HMAC with the oct key": hmacToken,
		"no kid, a key of the set": func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, accessClaims(time.Now()))
			s, _ := tok.SignedString(rsaKey.key)
			return s
		}(),
	} {
		if _, err := v.Verify(ctx, token); !errors.Is(err, ErrNotJWT) {
			t.Errorf("%s: err = %v, want ErrNotJWT", name, err)
		}
	}
}

// TestRedirectNotFollowed: a JWKS URL that redirects is a wrong URL, as for
// introspection: reported, not followed, so no key comes from elsewhere.
func TestRedirectNotFollowed(t *testing.T) {
	k := newKey(t, "rsa", "RS256")
	is := newIssuer(t, k)
	redirect := httptest.NewServer(http.RedirectHandler(is.srv.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	v, err := newVerifier(t.Context(), testIssuer, testProject, redirect.URL, keySetHTTP, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), k.sign(t, accessClaims(time.Now()))); !errors.Is(err, ErrNotJWT) {
		t.Fatalf("err = %v, want ErrNotJWT", err)
	}
	if n := is.fetches.Load(); n != 0 {
		t.Fatalf("the redirect was followed: %d fetches", n)
	}
}
