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
	"encoding/json"
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
	Type     string `json:"type"`
	KeyID    string `json:"keyId"`    // JWT header "kid"
	ClientID string `json:"clientId"` // application keys: the API application's client id
	AppID    string `json:"appId"`    // application keys
	UserID   string `json:"userId"`   // serviceaccount keys: the service user's id

	private *rsa.PrivateKey
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
	// A key file is a Key's fields and the private key; other fields
	// (expirationDate) are ignored.
	var f struct {
		Key
		PEM string `json:"key"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, errors.New("is not a ZITADEL key file (not JSON)")
	}
	if f.Type != want {
		where := "a key of a service user, from the user's Keys tab in the console"
		if want == TypeApplication {
			where = "a key of the API application, from the application's Keys tab in the console"
		}
		return nil, fmt.Errorf(`field "type" is %q, want %q (%s)`, f.Type, want, where)
	}
	switch {
	case f.KeyID == "":
		return nil, errors.New(`field "keyId" is missing`)
	case f.PEM == "":
		return nil, errors.New(`field "key" is missing`)
	case want == TypeApplication && f.ClientID == "":
		return nil, errors.New(`field "clientId" is missing`)
	case want == TypeServiceAccount && f.UserID == "":
		return nil, errors.New(`field "userId" is missing`)
	}
	// ZITADEL writes PKCS#1 ("RSA PRIVATE KEY"); PKCS#8 is accepted too.
	private, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(f.PEM))
	if err != nil {
		return nil, errors.New(`field "key": is not a PEM-encoded RSA private key`)
	}
	f.private = private
	return &f.Key, nil
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
	// lifetime is how long a new assertion is valid: ZITADEL accepts up to
	// an hour; short is safer.
	lifetime = 5 * time.Minute
	// renewBefore is how long before expiry a new assertion is signed, so one
	// never expires on its way to ZITADEL.
	renewBefore = time.Minute
)

// Assertions hands out the assertions (RFC 7523) a key signs: a JWT valid
// for lifetime and reused until renewBefore before it expires, so a busy API
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

// Assertion returns a signed assertion valid for at least renewBefore.
func (a *Assertions) Assertion() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.current != "" && now.Add(renewBefore).Before(a.expires) {
		return a.current, nil
	}
	// Whole seconds: JWT times are NumericDates, and iat must not be in the future.
	now = now.Truncate(time.Second)
	exp := now.Add(lifetime)
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
