package jwtverify

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

func TestMain(m *testing.M) {
	// The issuer's OIDC library logs through slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// TestAgainstLocalZITADEL verifies the tokens the local ZITADEL issues with
// each kind of signing key ZITADEL's web keys may have, and pins the
// trade-off: a revoked JWT keeps verifying until its exp.
func TestAgainstLocalZITADEL(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) { testAgainstLocalZITADEL(t, alg) })
	}
}

func testAgainstLocalZITADEL(t *testing.T, alg string) {
	ctx := context.Background()
	z, err := localzitadel.Start(ctx, localzitadel.Options{SigningAlgorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	v, err := New(t.Context(), z.Issuer, z.ProjectID, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(t.Context(), z.Issuer, z.OtherProjectID, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mint := func(u *localzitadel.ServiceUser, o localzitadel.TokenOptions) string {
		t.Helper()
		token, err := z.MintToken(u, o)
		if err != nil {
			t.Fatal(err)
		}
		return token
	}

	jwtToken := mint(z.JWTReader, localzitadel.TokenOptions{})
	if header, _, _ := strings.Cut(jwtToken, "."); !strings.Contains(decode(t, header), `"alg":"`+alg+`"`) {
		t.Fatalf("token header %s, want alg %s", decode(t, header), alg)
	}
	tok, err := v.Verify(ctx, jwtToken)
	if err != nil {
		t.Fatalf("JWTReader's token: %v", err)
	}
	if tok.Subject != z.JWTReader.UserID || time.Until(tok.Expiry) < 11*time.Hour || tok.RoleClaims {
		t.Fatalf("token = %+v, want sub %s, a 12 h lifetime and no role claims (no role scope asked)", tok, z.JWTReader.UserID)
	}
	withRole := mint(z.JWTReader, localzitadel.TokenOptions{Scopes: []string{"openid", "urn:zitadel:iam:org:project:role:read:messages"}})
	if tok, err := v.Verify(ctx, withRole); err != nil || !tok.RoleClaims || !tok.HasRole("read:messages") {
		t.Fatalf("token with a role scope: %+v, %v; want the role read:messages from its claims", tok, err)
	}
	var inv *InvalidError
	if _, err := other.Verify(ctx, jwtToken); !errors.As(err, &inv) {
		t.Fatalf("another project's API: err = %v, want *InvalidError", err)
	}
	expired := mint(z.JWTReader, localzitadel.TokenOptions{Lifetime: -2 * leeway})
	if _, err := v.Verify(ctx, expired); !errors.As(err, &inv) {
		t.Fatalf("expired JWT: err = %v, want *InvalidError", err)
	}

	opaque := mint(z.Reader, localzitadel.TokenOptions{})
	for name, token := range map[string]string{"opaque token": opaque, "PAT": z.Reader.PAT} {
		if _, err := v.Verify(ctx, token); !errors.Is(err, ErrNotJWT) {
			t.Fatalf("%s: err = %v, want ErrNotJWT", name, err)
		}
	}

	z.Revoke(jwtToken)
	if _, err := v.Verify(ctx, jwtToken); err != nil {
		t.Fatalf("revoked JWT: %v; the trade-off of local verification is that it still passes", err)
	}
	if s := z.Stats(); s.Keys != 2 || s.Introspect != 0 {
		t.Fatalf("stats %+v: want one JWKS fetch per verifier, no introspection", s)
	}
}

func decode(t *testing.T, part string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
