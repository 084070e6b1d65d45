package keyfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs1() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())}))
}

func pkcs8() string {
	der, _ := x509.MarshalPKCS8PrivateKey(testKey())
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func keyJSON(t *testing.T, fields map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	ecDER, _ := x509.MarshalPKCS8PrivateKey(must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)))
	ec := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	app := map[string]string{"type": "application", "keyId": "k1", "key": pkcs1(), "appId": "a1", "clientId": "c1@project"}
	sa := map[string]string{"type": "serviceaccount", "keyId": "k2", "key": pkcs8(), "userId": "u1", "expirationDate": "9999-12-31T23:59:59Z"}
	with := func(m map[string]string, k, v string) map[string]string {
		c := map[string]string{}
		for a, b := range m {
			c[a] = b
		}
		if v == "" {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tests := []struct {
		name    string
		raw     []byte
		want    string
		wantErr string
		subject string
	}{
		{"application PKCS#1", keyJSON(t, app), TypeApplication, "", "c1@project"},
		{"service account PKCS#8 with unknown field", keyJSON(t, sa), TypeServiceAccount, "", "u1"},
		{"service-user key used as API key", keyJSON(t, sa), TypeApplication, `field "type" is "serviceaccount", want "application" (a key of the API application, from the application's Keys tab in the console)`, ""},
		{"API key used as service-user key", keyJSON(t, app), TypeServiceAccount, `field "type" is "application", want "serviceaccount" (a key of a service user, from the user's Keys tab in the console)`, ""},
		{"missing keyId", keyJSON(t, with(app, "keyId", "")), TypeApplication, `field "keyId" is missing`, ""},
		{"missing clientId", keyJSON(t, with(app, "clientId", "")), TypeApplication, `field "clientId" is missing`, ""},
		{"missing userId", keyJSON(t, with(sa, "userId", "")), TypeServiceAccount, `field "userId" is missing`, ""},
		{"missing key", keyJSON(t, with(sa, "key", "")), TypeServiceAccount, `field "key" is missing`, ""},
		{"key not PEM", keyJSON(t, with(sa, "key", "secret-not-pem")), TypeServiceAccount, `field "key": is not a PEM-encoded RSA private key`, ""},
		{"EC key", keyJSON(t, with(sa, "key", ec)), TypeServiceAccount, `field "key": is not a PEM-encoded RSA private key`, ""},
		{"not JSON", []byte("-----BEGIN RSA PRIVATE KEY-----"), TypeServiceAccount, "is not a ZITADEL key file (not JSON)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := Parse(tt.raw, tt.want)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "secret-not-pem") {
					t.Errorf("error leaks key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.Subject() != tt.subject {
				t.Errorf("Subject() = %q, want %q", k.Subject(), tt.subject)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadServiceAccount(filepath.Join(dir, "nope.json")); err == nil || err.Error() != "key file "+filepath.Join(dir, "nope.json")+" does not exist" {
		t.Errorf("err = %v", err)
	}
	p := filepath.Join(dir, "api.json")
	if err := os.WriteFile(p, keyJSON(t, map[string]string{"type": "application", "keyId": "k", "key": pkcs1()}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadApplication(p); err == nil || err.Error() != "key file "+p+`: field "clientId" is missing` {
		t.Errorf("err = %v", err)
	}
}

func TestKeyNeverPrintsPrivateKey(t *testing.T) {
	k, err := Parse(keyJSON(t, map[string]string{"type": "serviceaccount", "keyId": "k9", "key": pkcs1(), "userId": "u9"}), TypeServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("loaded", "key", k)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("loaded", "key", k)
	out := fmt.Sprintf("%v %+v %#v %s %v", k, k, k, k, *k) + logs.String()
	secret := testKey().D.String()[:20]
	for _, leak := range []string{secret, "PRIVATE KEY", testKey().Primes[0].String()[:20]} {
		if strings.Contains(out, leak) {
			t.Fatalf("output leaks private key material %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "k9") || !strings.Contains(out, "REDACTED") {
		t.Errorf("output should name the key id and say it is redacted:\n%s", out)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// FuzzParse: no input makes Parse panic, and no error quotes the file's
// contents (which hold the private key).
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"type":"serviceaccount","keyId":"k","key":"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----","userId":"u"}`), false)
	f.Add([]byte(`{"type":"application","keyId":"k","key":"","clientId":"c"}`), true)
	f.Add([]byte(`{"type":1}`), true)
	f.Add([]byte(`null`), false)
	f.Fuzz(func(t *testing.T, raw []byte, app bool) {
		want := TypeServiceAccount
		if app {
			want = TypeApplication
		}
		k, err := Parse(raw, want)
		if err == nil {
			if k.Type != want || k.KeyID == "" || k.Subject() == "" {
				t.Fatalf("accepted an incomplete key: %v", k)
			}
			return
		}
		var f struct{ Key string }
		if json.Unmarshal(raw, &f) == nil && len(f.Key) >= 8 && strings.Contains(err.Error(), f.Key) {
			t.Fatalf("error quotes the key: %v", err)
		}
	})
}

func assertionKey(t *testing.T) (*Key, *rsa.PublicKey) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]string{
		"type": "serviceaccount", "keyId": "kid-7", "userId": "user-7",
		"key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})),
	})
	k, err := Parse(raw, TypeServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	return k, &priv.PublicKey
}

func TestAssertionClaims(t *testing.T) {
	key, pub := assertionKey(t)
	s := key.Assertions("https://issuer.example.com")
	now := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	s.now = func() time.Time { return now }
	signed, err := s.Assertion()
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.RegisteredClaims
	tok, err := jwt.ParseWithClaims(signed, &claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithAudience("https://issuer.example.com"), jwt.WithIssuer("user-7"), jwt.WithSubject("user-7"))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Header["kid"] != "kid-7" {
		t.Errorf("kid = %v, want kid-7", tok.Header["kid"])
	}
	if !claims.IssuedAt.Equal(now.Truncate(time.Second)) {
		t.Errorf("iat = %v, want %v (never in the future)", claims.IssuedAt, now.Truncate(time.Second))
	}
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life != lifetime || life > 5*time.Minute {
		t.Errorf("lifetime = %v, want %v (at most 5 minutes)", life, lifetime)
	}
}

func TestAssertionReusedUntilShortlyBeforeExpiry(t *testing.T) {
	key, _ := assertionKey(t)
	s := key.Assertions("https://issuer.example.com")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }

	first, _ := s.Assertion()
	now = now.Add(lifetime - renewBefore - time.Second)
	if again, _ := s.Assertion(); again != first {
		t.Error("a new assertion was signed while the current one had more than renewBefore left")
	}
	now = now.Add(time.Second)
	if renewed, _ := s.Assertion(); renewed == first {
		t.Error("the assertion was reused within renewBefore of its expiry")
	}
}

func TestAssertionConcurrentUse(t *testing.T) {
	key, _ := assertionKey(t)
	s := key.Assertions("https://issuer.example.com")
	var wg sync.WaitGroup
	got := make([]string, 32)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = s.Assertion()
		}()
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] || g == "" {
			t.Fatal("concurrent callers got different assertions: each one should reuse the first")
		}
	}
}
