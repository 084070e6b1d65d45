package localzitadel

// Options.SigningAlgorithm: the instance's signing key is RSA, EC or Ed25519,
// as ZITADEL's web keys may be (docs/zitadel-on-the-wire.md, "Signing keys").
// The JWKS is parsed here by hand, with the standard library, so that these
// tests share no JOSE code with the issuer.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwk is one key of a JWKS (RFC 7517, RFC 7518 §6, RFC 8037 §2).
type jwk struct {
	Kty, Kid, Alg, Use, Crv string
	N, E, X, Y              string
}

// jwkSet fetches the issuer's JWKS.
func jwkSet(t *testing.T, z *Instance) []jwk {
	t.Helper()
	r := get(t, z.KeysURL, "")
	if r.status != 200 {
		t.Fatalf("GET %s = %d %s", z.KeysURL, r.status, r.body)
	}
	var set struct{ Keys []jwk }
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("jwks: %v: %s", err, r.body)
	}
	return set.Keys
}

// publicKey builds the key golang-jwt verifies with from the JWK's members.
func (k jwk) publicKey(t *testing.T) any {
	t.Helper()
	member := func(name, v string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || len(b) == 0 {
			t.Fatalf("jwk %s: %s is not base64url: %q", k.Kid, name, v)
		}
		return b
	}
	switch k.Kty {
	case "RSA":
		n, e := member("n", k.N), member("e", k.E)
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	case "EC":
		if k.Crv != "P-256" {
			t.Fatalf("jwk %s: crv %q, want P-256", k.Kid, k.Crv)
		}
		x, y := member("x", k.X), member("y", k.Y)
		if len(x) != 32 || len(y) != 32 {
			t.Fatalf("jwk %s: x and y are %d and %d bytes, want 32", k.Kid, len(x), len(y))
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatalf("jwk %s: %v", k.Kid, err)
		}
		return pub
	case "OKP":
		if k.Crv != "Ed25519" {
			t.Fatalf("jwk %s: crv %q, want Ed25519", k.Kid, k.Crv)
		}
		x := member("x", k.X)
		if len(x) != ed25519.PublicKeySize {
			t.Fatalf("jwk %s: x is %d bytes, want %d", k.Kid, len(x), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(x)
	}
	t.Fatalf("jwk %s: kty %q", k.Kid, k.Kty)
	return nil
}

// verifyWith verifies a JWT of the issuer with the JWK alone.
func verifyWith(t *testing.T, z *Instance, k jwk, token string, opts ...jwt.ParserOption) jwt.MapClaims {
	t.Helper()
	pub := k.publicKey(t)
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		if kid, _ := tok.Header["kid"].(string); kid != k.Kid {
			return nil, fmt.Errorf("kid %q, want the JWKS's %q", kid, k.Kid)
		}
		return pub, nil
	}, append(opts, jwt.WithValidMethods([]string{k.Alg}), jwt.WithIssuer(z.Issuer))...)
	if err != nil {
		t.Fatalf("JWT does not verify with the %s key of %s: %v", k.Alg, z.KeysURL, err)
	}
	return claims
}

// The JWKS serves the key of the configured algorithm; id tokens and JWT
// access tokens verify with it (an RS256-only verifier would fail two of
// the three); introspection still recognises the JWT access tokens.
func TestSigningAlgorithm(t *testing.T) {
	for _, tc := range []struct {
		alg, kty, crv string
		hash          func() hash.Hash // of at_hash (OpenID Connect Core §3.1.3.6)
	}{
		{RS256, "RSA", "", sha256.New},
		{ES256, "EC", "P-256", sha256.New},
		// EdDSA with Ed25519 hashes with SHA-512, as the oidc library does.
		{EdDSA, "OKP", "Ed25519", sha512.New},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			z, err := Start(t.Context(), Options{SigningAlgorithm: tc.alg})
			if err != nil {
				t.Fatalf("Start with %s: %v", tc.alg, err)
			}
			t.Cleanup(func() { z.Close() })

			keys := jwkSet(t, z)
			if len(keys) != 1 {
				t.Fatalf("jwks has %d keys, want 1", len(keys))
			}
			k := keys[0]
			if k.Alg != tc.alg || k.Kty != tc.kty || k.Crv != tc.crv || k.Use != "sig" || k.Kid == "" {
				t.Errorf("jwk = %+v, want alg %s, kty %s, crv %q, use sig, a kid", k, tc.alg, tc.kty, tc.crv)
			}

			r := jwtGrant(t, z, userAssertion(t, z, z.JWTReader), scopeFor(z.ProjectID))
			if r.status != 200 {
				t.Fatalf("token = %d %s", r.status, r.body)
			}
			access := r.str(t, "access_token")
			claims := verifyWith(t, z, k, access)
			if claims["sub"] != z.JWTReader.UserID {
				t.Errorf("access token sub = %v, want %s", claims["sub"], z.JWTReader.UserID)
			}
			// The id token's exp is its iat: verify it with some leeway.
			id := verifyWith(t, z, k, r.str(t, "id_token"), jwt.WithLeeway(time.Minute))
			h := tc.hash()
			h.Write([]byte(access))
			sum := h.Sum(nil)
			if want := base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]); id["at_hash"] != want {
				t.Errorf("id token at_hash = %v, want %s", id["at_hash"], want)
			}

			for _, api := range []App{z.JWTAPI, z.BasicAPI} {
				if m := introspectAs(t, z, api, access).json(t); m["active"] != true || m["sub"] != z.JWTReader.UserID {
					t.Errorf("introspection of the %s access token via %s = %v, want active", tc.alg, api.ClientID, m)
				}
			}
			// A token signed by another instance's key is not this issuer's.
			other, err := Start(t.Context(), Options{SigningAlgorithm: tc.alg})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			wantInactive(t, introspectBasic(t, z, z.BasicAPI, accessToken(t, other, other.JWTReader)))
		})
	}

	// Anything else fails Start with an error that names the algorithm.
	for _, alg := range []string{"HS256", "PS256", "rs256", "none"} {
		t.Run("invalid "+alg, func(t *testing.T) {
			z, err := Start(t.Context(), Options{SigningAlgorithm: alg})
			if err == nil {
				z.Close()
				t.Fatalf("Start with signing algorithm %q: no error", alg)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", alg)) {
				t.Errorf("Start error %q does not name %q", err, alg)
			}
		})
	}
}
