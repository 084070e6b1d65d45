package jwtverify

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

func TestMain(m *testing.M) {
	// The issuer's OIDC library logs through slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// TestAgainstLocalZITADEL verifies the tokens the local ZITADEL issues, and
// pins the trade-off: a revoked JWT keeps verifying until its exp.
func TestAgainstLocalZITADEL(t *testing.T) {
	ctx := context.Background()
	z, err := localzitadel.Start(ctx, localzitadel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	v, err := New(Options{Issuer: z.Issuer, ProjectID: z.ProjectID})
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(Options{Issuer: z.Issuer, ProjectID: z.OtherProjectID})
	if err != nil {
		t.Fatal(err)
	}

	jwtToken, err := z.MintToken(z.JWTReader, localzitadel.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Verify(ctx, jwtToken)
	if err != nil {
		t.Fatalf("JWTReader's token: %v", err)
	}
	if tok.Subject != z.JWTReader.UserID || time.Until(tok.Expiry) < 11*time.Hour {
		t.Fatalf("token = %+v, want sub %s and a 12 h lifetime", tok, z.JWTReader.UserID)
	}
	var inv *InvalidError
	if _, err := other.Verify(ctx, jwtToken); !errors.As(err, &inv) {
		t.Fatalf("another project's API: err = %v, want *InvalidError", err)
	}
	expired, err := z.MintToken(z.JWTReader, localzitadel.TokenOptions{Lifetime: -2 * MaxLeeway})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, expired); !errors.As(err, &inv) {
		t.Fatalf("expired JWT: err = %v, want *InvalidError", err)
	}

	opaque, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
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
