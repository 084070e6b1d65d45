//go:build bench

// Command peers serves what `combos bench` compares the API samples with:
//
//   - bare: /api/public as a bare net/http handler writes it, its body
//     encoded once, with no router, middleware or logging: what the samples'
//     own machinery costs;
//   - go-oidc: /api/private behind coreos/go-oidc's verifier, which a Go
//     user would pick instead of the samples' jwt mode, on the same JWT.
//
// The build tag keeps it out of `go build ./...` (it is no sample); the
// bench builds it with -tags bench:
//
//	go run -tags bench ./combos/peers -handler bare
//	go run -tags bench ./combos/peers -handler go-oidc -issuer URL -project ID
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen `address`")
	handler := flag.String("handler", "bare", "bare or go-oidc")
	issuer := flag.String("issuer", "", "the ZITADEL instance, for go-oidc")
	project := flag.String("project", "", "the API's project id, the JWT's audience, for go-oidc")
	flag.Parse()
	mux := http.NewServeMux()
	switch *handler {
	case "bare":
		mux.HandleFunc("GET /api/public", answer(`{"message":"Public route - You don't need to be authenticated to see this."}`))
	case "go-oidc":
		provider, err := oidc.NewProvider(context.Background(), *issuer)
		if err != nil {
			fail(err)
		}
		verifier := provider.Verifier(&oidc.Config{ClientID: *project})
		private := answer(`{"message":"Private route - You need to be authenticated to see this."}`)
		mux.HandleFunc("GET /api/private", func(w http.ResponseWriter, r *http.Request) {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if _, err := verifier.Verify(r.Context(), token); !ok || err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			private(w, r)
		})
	default:
		fail(fmt.Errorf("-handler %q: want bare or go-oidc", *handler))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fail(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fail(srv.Serve(ln))
}

// answer writes body, encoded once, as the samples' JSON answers (with the
// newline json.Encoder ends them with).
func answer(body string) http.HandlerFunc {
	b := []byte(body + "\n")
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
