package localzitadel

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// Signing algorithms of the instance's web key (Options.SigningAlgorithm).
// ZITADEL's web keys may be RSA, EC or Ed25519; a verifier takes the
// algorithm from the JWKS (docs/zitadel-on-the-wire.md, "Signing keys").
const (
	RS256 = "RS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// issuerKeys are the instance's secrets: the key that signs id tokens and
// JWT access tokens, and the key that encrypts opaque access tokens.
type issuerKeys struct {
	alg    jose.SignatureAlgorithm
	signer crypto.Signer
	keyID  string
	// tokenKey encrypts the opaque access tokens (A256KW).
	tokenKey []byte
}

// newIssuerKeys makes the keys of a new instance; rsaKey is used for RS256.
func newIssuerKeys(alg string, rsaKey *rsa.PrivateKey, keyID string) (issuerKeys, error) {
	k := issuerKeys{keyID: keyID, tokenKey: make([]byte, 32)}
	if _, err := rand.Read(k.tokenKey); err != nil {
		return k, err
	}
	var err error
	switch alg {
	case "", RS256:
		k.alg, k.signer = jose.RS256, rsaKey
	case ES256:
		k.alg = jose.ES256
		k.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		k.alg = jose.EdDSA
		_, k.signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return k, fmt.Errorf("signing algorithm %q: want %s, %s or %s", alg, RS256, ES256, EdDSA)
	}
	return k, err
}

// publicJWK is the public half of the signing key, as /oauth/v2/keys serves it.
func (k issuerKeys) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.keyID, Algorithm: string(k.alg), Use: "sig"}
}

// sign signs claims as a compact JWS with header typ=JWT and kid.
func (i *Instance) sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: i.keys.alg, Key: jose.JSONWebKey{Key: i.keys.signer, KeyID: i.keys.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// encryptOpaque makes an opaque access token shaped like current
// ZITADEL's: a compact JWE (five base64url parts joined by dots, starting
// "eyJ", a few hundred characters) whose content only the instance can
// read. The issuer finds tokens by their value, so it never decrypts one;
// the shape is what matters to clients, which must not mistake it for a
// JWT (three parts that verify against the JWKS).
func (i *Instance) encryptOpaque(content string) (string, error) {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.A256KW, Key: i.keys.tokenKey}, nil)
	if err != nil {
		return "", err
	}
	jwe, err := enc.Encrypt([]byte(content))
	if err != nil {
		return "", err
	}
	return jwe.CompactSerialize()
}
