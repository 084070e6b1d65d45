package assertion

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

func testKey(t *testing.T) (*keyfile.Key, *rsa.PublicKey) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]string{
		"type": "serviceaccount", "keyId": "kid-7", "userId": "user-7",
		"key": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})),
	})
	k, err := keyfile.Parse(raw, keyfile.TypeServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	return k, &priv.PublicKey
}

func TestAssertionClaims(t *testing.T) {
	key, pub := testKey(t)
	s := New(key, "https://issuer.example.com")
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
	if life := claims.ExpiresAt.Sub(claims.IssuedAt.Time); life != Lifetime || life > 5*time.Minute {
		t.Errorf("lifetime = %v, want %v (at most 5 minutes)", life, Lifetime)
	}
}

func TestAssertionReusedUntilShortlyBeforeExpiry(t *testing.T) {
	key, _ := testKey(t)
	s := New(key, "https://issuer.example.com")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }

	first, _ := s.Assertion()
	now = now.Add(Lifetime - RenewBefore - time.Second)
	if again, _ := s.Assertion(); again != first {
		t.Error("a new assertion was signed while the current one had more than RenewBefore left")
	}
	now = now.Add(time.Second)
	if renewed, _ := s.Assertion(); renewed == first {
		t.Error("the assertion was reused within RenewBefore of its expiry")
	}
}

func TestAssertionConcurrentUse(t *testing.T) {
	key, _ := testKey(t)
	s := New(key, "https://issuer.example.com")
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
