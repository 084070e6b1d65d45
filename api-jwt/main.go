// Command api-jwt is an API that protects its routes with ZITADEL token
// introspection and authenticates to ZITADEL with a private key: the JWT
// profile, private_key_jwt (RFC 7523; blog section 3.1).
//
// For a token a client sends, the API asks ZITADEL's introspection endpoint
// whether the token is active and which roles its user has (section 3.3). It
// proves who it is with a client assertion, a short JWT signed with the key
// of its API application. Answers are cached for INTROSPECTION_CACHE_TTL
// (default 30s).
//
// Usage:
//
//	go run ./api-jwt                                # settings from the nearest .env
//	go run ./api-jwt -env .local-zitadel/.env       # against `go run ./combos serve`
//	go run ./api-jwt -addr 127.0.0.1:8000
//
// Settings: ZITADEL_DOMAIN, API_PRIVATE_KEY_FILE, and optionally PROJECT_ID,
// ZITADEL_INTROSPECTION_URL, PORT, INTROSPECTION_CACHE_TTL, INTROSPECTION_TIMEOUT,
// INTROSPECTION_MAX_IN_FLIGHT, TOKEN_VALIDATION, RESOURCE_URL (see README.md and
// .env.example). The routes are in routes.go.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/introspect"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(config.Report(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: -addr, -env, what every API reads, and this API's key file.
	settings, env, err := apiserver.LoadSettings("api-jwt", args, getenv, stderr)
	if err != nil {
		return err
	}
	keyFile := env.Path("API_PRIVATE_KEY_FILE", "the path of the API application's JSON key file")
	if err := env.Err(); err != nil {
		return err
	}

	// How this API proves who it is when it asks ZITADEL about a token.
	authenticate, err := privateKeyJWT(keyFile, settings.Issuer)
	if err != nil {
		return config.Invalid("API_PRIVATE_KEY_FILE", err)
	}

	// The guard lets only active tokens through: it asks ZITADEL about each
	// (through a cache), or with TOKEN_VALIDATION=jwt verifies JWTs itself.
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	guard, err := apiserver.NewGuard(ctx, settings, authenticate,
		"API_PRIVATE_KEY_FILE (the key file of this API application, not deleted or expired) and ZITADEL_DOMAIN (the client assertion's audience: the instance's URL exactly as its issuer)", logger)
	if err != nil {
		return err
	}
	return apiserver.Serve(ctx, settings, routes(guard, logger), logger, stdout)
}

// privateKeyJWT loads the API application's key file and returns how the
// API authenticates its introspection requests: with a client assertion
// (RFC 7523 §2.2), the JWT profile of blog section 3.1.
func privateKeyJWT(keyFile, issuer string) (introspect.Authenticate, error) {
	// The key of the API application (console: project → API app → Keys → New, type JSON).
	key, err := keyfile.LoadApplication(keyFile)
	if err != nil {
		return nil, err
	}

	// The client assertion says "I am this API application" (iss = sub = its
	// client id, aud = the ZITADEL instance), signed with its private key. It
	// is valid for 5 minutes and reused meanwhile, not signed per request.
	assertions := key.Assertions(issuer)
	return func(_ *http.Request, form url.Values) error {
		signed, err := assertions.Assertion()
		if err != nil {
			return fmt.Errorf("sign the client assertion: %w", err)
		}
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", signed)
		return nil
	}, nil
}
