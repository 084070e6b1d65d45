package jwtverify

import (
	"context"
	"testing"
	"time"
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
			c[roleClaim] = map[string]any{"read:messages": map[string]string{"1": "org.example"}}
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
