// Command api-jwt is an API that protects its routes with ZITADEL token
// introspection and authenticates to ZITADEL with a private key: the JWT
// profile, private_key_jwt (RFC 7523; blog section 3.1).
//
// For every token a client sends, the API signs a short client assertion with
// the key of its API application and asks ZITADEL's introspection endpoint
// whether the token is active and which roles its user has (section 3.3).
// Answers are cached for INTROSPECTION_CACHE_TTL (default 30s).
//
// Usage:
//
//	go run ./api-jwt                                # settings from the nearest .env
//	go run ./api-jwt -env .local-zitadel/.env       # against `go run ./combos serve`
//	go run ./api-jwt -addr 127.0.0.1:8000
//
// Settings: ZITADEL_DOMAIN, API_PRIVATE_KEY_FILE, and optionally
// ZITADEL_INTROSPECTION_URL, PORT, INTROSPECTION_CACHE_TTL, INTROSPECTION_TIMEOUT
// (see README.md and .env.example).
package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/assertion"
	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.ExitCode(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env, settings, err := apiserver.Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	// The key file of the API application (console: project → API app → Keys).
	var key *keyfile.Key
	if path := env.Path("API_PRIVATE_KEY_FILE", "the path of the API application's JSON key file"); path != "" {
		if key, err = keyfile.LoadApplication(path); err != nil {
			env.Problem(err)
		}
	}
	if err := env.Err(); err != nil {
		return err
	}

	// A client assertion says "I am this API application" (iss = sub = its
	// client id, aud = the ZITADEL instance), signed with its private key.
	// The source reuses one 5-minute assertion instead of signing per request.
	assertions := assertion.New(key, settings.Issuer)
	authenticate := func(_ *http.Request, form url.Values) error {
		signed, err := assertions.Assertion()
		if err != nil {
			return err
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", signed)
		return nil
	}

	return apiserver.Run(ctx, settings, apiserver.API{
		Name:            "api-jwt",
		Authenticate:    authenticate,
		CredentialsHint: "API_PRIVATE_KEY_FILE (the key file of this API application, and that the key is not deleted or expired)",
	}, stdout, stderr)
}
