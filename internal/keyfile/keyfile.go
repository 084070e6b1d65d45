// Package keyfile is a JSON key file of the ZITADEL console and the
// assertions it signs: an API application key (type "application") for the
// client assertion of private_key_jwt introspection (blog section 3.1), and a
// service-user key (type "serviceaccount") for the grant assertion of the JWT
// bearer grant (4.1.1).
//
// A loaded Key never shows its private key: fmt, log/slog and errors print
// only the type and ids.
package keyfile

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The "type" values of ZITADEL key files.
const (
	TypeApplication    = "application"
	TypeServiceAccount = "serviceaccount"
)

// Key is a parsed key file. The private key is unexported so that no %v, %+v
// or JSON encoding of a Key can leak it.
type Key struct {
	Type     string
	KeyID    string // JWT header "kid"
	ClientID string // application keys: the API application's client id
	AppID    string // application keys
	UserID   string // serviceaccount keys: the service user's id

	private *rsa.PrivateKey
}

// file is the JSON shape of a ZITADEL key file; unknown fields are ignored.
type file struct {
	Type     string `json:"type"`
	KeyID    string `json:"keyId"`
	Key      string `json:"key"`
	AppID    string `json:"appId"`
	ClientID string `json:"clientId"`
	UserID   string `json:"userId"`
}

// LoadApplication loads an API application key file.
func LoadApplication(path string) (*Key, error) { return load(path, TypeApplication) }

// LoadServiceAccount loads a service-user key file.
func LoadServiceAccount(path string) (*Key, error) { return load(path, TypeServiceAccount) }

func load(path, want string) (*Key, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("key file %s does not exist", path)
		}
		return nil, fmt.Errorf("key file %s cannot be read: %w", path, err)
	}
	k, err := Parse(raw, want)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// Parse parses the contents of a key file and checks it is of type want.
// Errors name the field at fault and never quote the file's contents.
func Parse(raw []byte, want string) (*Key, error) {
	var f file
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errors.New("is not a ZITADEL key file (not JSON)")
	}
	if f.Type != want {
		return nil, fmt.Errorf(`field "type" is %q, want %q (%s)`, f.Type, want, describe(want))
	}
	required := map[string]string{"keyId": f.KeyID, "key": f.Key}
	if want == TypeApplication {
		required["clientId"] = f.ClientID
	} else {
		required["userId"] = f.UserID
	}
	for _, name := range []string{"keyId", "key", "clientId", "userId"} {
		if v, ok := required[name]; ok && v == "" {
			return nil, fmt.Errorf("field %q is missing", name)
		}
	}
	private, err := parsePrivateKey([]byte(f.Key))
	if err != nil {
		return nil, fmt.Errorf(`field "key": %w`, err)
	}
	return &Key{Type: f.Type, KeyID: f.KeyID, ClientID: f.ClientID, AppID: f.AppID, UserID: f.UserID, private: private}, nil
}

func describe(typ string) string {
	if typ == TypeApplication {
		return "a key of the API application, from the application's Keys tab in the console"
	}
	return "a key of a service user, from the user's Keys tab in the console"
}

// parsePrivateKey accepts PKCS#1 ("RSA PRIVATE KEY", what ZITADEL writes) and PKCS#8 ("PRIVATE KEY").
func parsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("is not a PEM-encoded private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("is not an RSA private key in PKCS#1 or PKCS#8 form")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("is not an RSA private key")
	}
	return rk, nil
}

// Subject is the id a JWT signed with this key speaks for: the client id of an
// application key, the user id of a service-user key.
func (k *Key) Subject() string {
	if k.Type == TypeApplication {
		return k.ClientID
	}
	return k.UserID
}

// String describes the key without its secret part.
func (k *Key) String() string {
	return fmt.Sprintf("%s key %s for %s [private key REDACTED]", k.Type, k.KeyID, k.Subject())
}

// Format makes %v, %+v, %#v and %s print String, never the private key.
func (k *Key) Format(f fmt.State, _ rune) { fmt.Fprint(f, k.String()) }

// LogValue keeps the private key out of log/slog output.
func (k *Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", k.Type), slog.String("kid", k.KeyID), slog.String("subject", k.Subject()))
}

const (
	// Lifetime of a new assertion. ZITADEL accepts up to an hour; short is safer.
	Lifetime = 5 * time.Minute
	// RenewBefore is how long before expiry a new assertion is signed, so one
	// never expires on its way to ZITADEL.
	RenewBefore = time.Minute
)

// Assertions hands out the assertions (RFC 7523) a key signs: a JWT valid
// for Lifetime and reused until RenewBefore before it expires, so a busy API
// signs about one JWT every four minutes instead of one per request. Safe
// for concurrent use.
type Assertions struct {
	key      *Key
	audience string
	now      func() time.Time

	mu      sync.Mutex
	current string
	expires time.Time
}

// Assertions returns the assertions of k that say iss = sub = k.Subject() and
// aud = audience, which for ZITADEL is the issuer URL (ZITADEL_DOMAIN).
func (k *Key) Assertions(audience string) *Assertions {
	return &Assertions{key: k, audience: audience, now: time.Now}
}

// Assertion returns a signed assertion valid for at least RenewBefore.
func (a *Assertions) Assertion() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.current != "" && now.Add(RenewBefore).Before(a.expires) {
		return a.current, nil
	}
	// Whole seconds: JWT times are NumericDates, and iat must not be in the future.
	now = now.Truncate(time.Second)
	exp := now.Add(Lifetime)
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer:    a.key.Subject(),
		Subject:   a.key.Subject(),
		Audience:  jwt.ClaimStrings{a.audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	// ZITADEL finds the public key by the key id.
	t.Header["kid"] = a.key.KeyID
	signed, err := t.SignedString(a.key.private)
	if err != nil {
		return "", err
	}
	a.current, a.expires = signed, exp
	return signed, nil
}
