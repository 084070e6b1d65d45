// Package assertion signs the short-lived JWTs (RFC 7523) with which a ZITADEL
// key authenticates: the client assertion of private_key_jwt introspection
// (blog section 3.1) and the grant assertion of the JWT bearer grant (4.1.1).
//
// An assertion is valid for Lifetime (5 minutes) and reused until RenewBefore
// (1 minute) before it expires, so a busy API signs about one JWT every four
// minutes instead of one per request.
package assertion

import (
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

const (
	// Lifetime of a new assertion. ZITADEL accepts up to an hour; short is safer.
	Lifetime = 5 * time.Minute
	// RenewBefore is how long before expiry a new assertion is signed, so one
	// never expires on its way to ZITADEL.
	RenewBefore = time.Minute
)

// Source hands out signed assertions; safe for concurrent use.
type Source struct {
	key      *keyfile.Key
	audience string
	now      func() time.Time

	mu      sync.Mutex
	current string
	expires time.Time
}

// New returns a Source whose assertions say iss = sub = key.Subject() and aud =
// audience, which for ZITADEL is the issuer URL (ZITADEL_DOMAIN).
func New(key *keyfile.Key, audience string) *Source {
	return &Source{key: key, audience: audience, now: time.Now}
}

// Assertion returns a signed assertion valid for at least RenewBefore.
func (s *Source) Assertion() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.current != "" && now.Add(RenewBefore).Before(s.expires) {
		return s.current, nil
	}
	// Whole seconds: JWT times are NumericDates, and iat must not be in the future.
	now = now.Truncate(time.Second)
	exp := now.Add(Lifetime)
	signed, err := s.key.Sign(jwt.RegisteredClaims{
		Issuer:    s.key.Subject(),
		Subject:   s.key.Subject(),
		Audience:  jwt.ClaimStrings{s.audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	if err != nil {
		return "", err
	}
	s.current, s.expires = signed, exp
	return signed, nil
}
