package jwtverify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxKeySet caps the bytes read from the JWKS endpoint: a key set is a few KiB.
const maxKeySet = 1 << 20

// publicKey is a verification key with the one algorithm it may be used with.
type publicKey struct {
	alg string // JWS "alg": RS256, ES256, EdDSA, …
	key crypto.PublicKey
}

// keySet is one fetched JWKS, never modified after it is stored.
type keySet struct {
	keys    map[string]publicKey // by kid
	fetched time.Time
}

// keys keeps ZITADEL's JWKS: fetched on first use, again when a token names
// a kid it does not know (at most once per minRefresh, so tokens with made-up
// kids cannot make the API hammer ZITADEL), and when it is older than maxAge,
// so that a key ZITADEL removed stops verifying.
type keys struct {
	url        string
	http       *http.Client
	timeout    time.Duration
	minRefresh time.Duration
	maxAge     time.Duration
	now        func() time.Time
	logger     *slog.Logger

	current atomic.Pointer[keySet] // read without the lock on every verification

	mu          sync.Mutex
	lastAttempt time.Time
	refreshing  chan struct{} // closed when the refresh under way ends; nil if none
	fetches     atomic.Int64  // JWKS requests, for tests
}

// key returns the key named kid, refreshing the set when kid is unknown or
// the set is old. A refresh that fails keeps the keys already known.
func (s *keys) key(ctx context.Context, kid string) (publicKey, bool) {
	set := s.current.Load()
	if set != nil {
		k, ok := set.keys[kid]
		if ok && s.now().Sub(set.fetched) < s.maxAge {
			return k, true
		}
	}
	if set = s.refresh(ctx); set == nil {
		return publicKey{}, false
	}
	k, ok := set.keys[kid]
	return k, ok
}

// refresh fetches the key set unless one was fetched less than minRefresh
// ago; concurrent callers share one fetch. It returns the current set.
func (s *keys) refresh(ctx context.Context) *keySet {
	s.mu.Lock()
	if done := s.refreshing; done != nil {
		s.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
		}
		return s.current.Load()
	}
	now := s.now()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minRefresh {
		s.mu.Unlock()
		return s.current.Load()
	}
	s.lastAttempt = now
	done := make(chan struct{})
	s.refreshing = done
	s.mu.Unlock()

	defer func() {
		s.mu.Lock()
		s.refreshing = nil
		s.mu.Unlock()
		close(done)
	}()
	// The set serves every waiter, so the first caller going away must not
	// cancel the fetch; the timeout still bounds it.
	set, err := s.fetch(context.WithoutCancel(ctx))
	if err != nil {
		// One line per failed fetch; fetches are rate-limited by minRefresh.
		s.logger.WarnContext(ctx, "cannot fetch ZITADEL's signing keys; JWTs are introspected until the next try",
			"url", s.url, "error", err, "next_try_in", s.minRefresh)
		return s.current.Load()
	}
	s.current.Store(set)
	return set
}

func (s *keys) fetch(ctx context.Context) (*keySet, error) {
	s.fetches.Add(1)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ZITADEL answered %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySet+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxKeySet {
		return nil, errors.New("key set larger than 1 MiB")
	}
	keys, err := parseKeySet(raw)
	if err != nil {
		return nil, err
	}
	return &keySet{keys: keys, fetched: s.now()}, nil
}

// jwk holds the members of a JSON Web Key (RFC 7517, RFC 7518 §6, RFC 8037)
// that a verifier needs.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseKeySet reads a JWKS. Keys this verifier cannot use (encryption keys,
// unknown types, malformed members, RSA below 2048 bits) are skipped: one odd
// key must not stop the others from verifying.
func parseKeySet(raw []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, errors.New("answer is not a JSON Web Key Set")
	}
	keys := make(map[string]publicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if pk, err := k.publicKey(); err == nil {
			keys[k.Kid] = pk
		}
	}
	return keys, nil
}

// publicKey decodes the key and the algorithm it signs with: the JWK's "alg"
// when it has one, else the usual one for its type. The token's header must
// name that algorithm, so a token cannot pick a weaker one (or HMAC with the
// public key as secret).
func (k *jwk) publicKey() (publicKey, error) {
	switch k.Kty {
	case "RSA":
		alg, err := algFor(k.Alg, "RS256", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
		if err != nil {
			return publicKey{}, err
		}
		n, err1 := decodeInt(k.N)
		e, err2 := decodeInt(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return publicKey{}, err
		}
		if n.BitLen() < 2048 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return publicKey{}, errors.New("weak or malformed RSA key")
		}
		return publicKey{alg, &rsa.PublicKey{N: n, E: int(e.Int64())}}, nil
	case "EC":
		var curve asn1.ObjectIdentifier
		var size int
		var alg string
		switch k.Crv {
		case "P-256":
			curve, size, alg = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, 32, "ES256"
		case "P-384":
			curve, size, alg = asn1.ObjectIdentifier{1, 3, 132, 0, 34}, 48, "ES384"
		case "P-521":
			curve, size, alg = asn1.ObjectIdentifier{1, 3, 132, 0, 35}, 66, "ES512"
		default:
			return publicKey{}, fmt.Errorf("unknown curve %q", k.Crv)
		}
		if _, err := algFor(k.Alg, alg, alg); err != nil {
			return publicKey{}, err
		}
		x, err1 := base64.RawURLEncoding.DecodeString(k.X)
		y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
		if err := errors.Join(err1, err2); err != nil || len(x) != size || len(y) != size {
			return publicKey{}, errors.New("malformed EC point")
		}
		pub, err := ecPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return publicKey{}, err
		}
		return publicKey{alg, pub}, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return publicKey{}, fmt.Errorf("unknown curve %q", k.Crv)
		}
		if _, err := algFor(k.Alg, "EdDSA", "EdDSA"); err != nil {
			return publicKey{}, err
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return publicKey{}, errors.New("malformed Ed25519 key")
		}
		return publicKey{"EdDSA", ed25519.PublicKey(x)}, nil
	}
	return publicKey{}, fmt.Errorf("unsupported key type %q", k.Kty)
}

// ecPublicKey decodes an uncompressed EC point through crypto/x509, which
// rejects points that are not on the curve, and works with every Go version
// a copied sample may be built with.
func ecPublicKey(curve asn1.ObjectIdentifier, point []byte) (*ecdsa.PublicKey, error) {
	params, err := asn1.Marshal(curve)
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{
		pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, Parameters: asn1.RawValue{FullBytes: params}},
		asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
	})
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("not an EC key")
	}
	return ec, nil
}

// algFor returns the JWK's alg if it is one of allowed, or def if it has none.
func algFor(alg, def string, allowed ...string) (string, error) {
	if alg == "" {
		return def, nil
	}
	for _, a := range allowed {
		if a == alg {
			return alg, nil
		}
	}
	return "", fmt.Errorf("algorithm %q does not fit the key", alg)
}

func decodeInt(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("malformed integer")
	}
	return new(big.Int).SetBytes(b), nil
}
