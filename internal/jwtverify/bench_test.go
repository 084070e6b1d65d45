package jwtverify

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// BenchmarkVerify measures one verification of a ZITADEL-shaped access
// token per signing algorithm, keys already fetched:
//
//	go test -run '^$' -bench Verify ./internal/jwtverify/
func BenchmarkVerify(b *testing.B) {
	for _, k := range []*signingKey{newKey(b, "rsa", "RS256"), newKey(b, "ec", "ES256"), newKey(b, "ed", "EdDSA")} {
		b.Run(k.method.Alg(), func(b *testing.B) {
			v := newIssuer(b, k).verifier(b, nil)
			c := accessClaims(time.Now())
			c[introspect.ProjectRoleClaim(testProject)] = map[string]any{"read:messages": map[string]string{"1": "org.example"}}
			token := k.sign(b, c)
			ctx := context.Background()
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignature measures the signature check alone, golang-jwt's
// SigningMethod.Verify on the standard library's crypto: the part of
// BenchmarkVerify that no parsing can save.
//
//	go test -run '^$' -bench 'Verify|Signature' ./internal/jwtverify/
func BenchmarkSignature(b *testing.B) {
	for _, k := range []*signingKey{newKey(b, "rsa", "RS256"), newKey(b, "ec", "ES256"), newKey(b, "ed", "EdDSA")} {
		b.Run(k.method.Alg(), func(b *testing.B) {
			token := k.sign(b, accessClaims(time.Now()))
			i := strings.LastIndexByte(token, '.')
			sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
			if err != nil {
				b.Fatal(err)
			}
			public := k.key.Public()
			b.ReportAllocs()
			for b.Loop() {
				if err := k.method.Verify(token[:i], sig, public); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
