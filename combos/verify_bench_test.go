package main

import (
	"context"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/zitadel/go-introspection-examples/internal/jwtverify"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// BenchmarkVerifyPeers compares, in process, the verification behind jwt
// mode with the cache off (internal/jwtverify) with coreos/go-oidc's, the
// bench's peer, on the same JWT of the local ZITADEL: what `combos bench`
// measures over the network, without the router, the log and the load
// generator. Profile it with
//
//	go test -run '^$' -bench VerifyPeers -cpuprofile cpu.out ./combos && go tool pprof -top cpu.out
func BenchmarkVerifyPeers(b *testing.B) {
	ctx := context.Background()
	z, err := localzitadel.Start(ctx, localzitadel.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer z.Close()
	tok, err := z.MintToken(z.JWTReader, localzitadel.TokenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	v, err := jwtverify.New(ctx, jwtverify.Options{Issuer: z.Issuer, ProjectID: z.ProjectID})
	if err != nil {
		b.Fatal(err)
	}
	p, err := oidc.NewProvider(ctx, z.Issuer)
	if err != nil {
		b.Fatal(err)
	}
	ov := p.Verifier(&oidc.Config{ClientID: z.ProjectID})
	b.Run("jwtverify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-oidc", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ov.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
