// Command api-basic-authentication is an API that protects its routes with
// ZITADEL token introspection and authenticates to ZITADEL with its client id
// and secret: HTTP Basic, client_secret_basic (blog section 3.2).
//
// For a token a client sends, the API asks ZITADEL's introspection endpoint
// whether the token is active and which roles its user has (section 3.3). It
// proves who it is with its client id and secret in a Basic header. Answers
// are cached for INTROSPECTION_CACHE_TTL (default 30s).
//
// Usage:
//
//	go run ./api-basic-authentication                           # settings from the nearest .env
//	go run ./api-basic-authentication -env .local-zitadel/.env  # against `go run ./combos serve`
//	go run ./api-basic-authentication -addr 127.0.0.1:8000
//
// Settings: ZITADEL_DOMAIN, API_CLIENT_ID, API_CLIENT_SECRET, and optionally
// PROJECT_ID, ZITADEL_INTROSPECTION_URL, PORT, INTROSPECTION_CACHE_TTL,
// INTROSPECTION_TIMEOUT, INTROSPECTION_MAX_IN_FLIGHT, TOKEN_VALIDATION,
// RESOURCE_URL (see README.md and .env.example). The routes are in routes.go.
package main

import (
	"context"
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(config.Report(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: -addr, -env, what every API reads, and this API's client id and secret.
	settings, env, err := apiserver.LoadSettings("api-basic-authentication", args, getenv, stderr)
	if err != nil {
		return err
	}
	// Console: project → API app with authentication method Basic; the secret is shown once.
	clientID := env.Required("API_CLIENT_ID", "the client id of the API application")
	clientSecret := env.Required("API_CLIENT_SECRET", "the client secret of the API application")
	if err := env.Err(); err != nil {
		return err
	}

	// How this API proves who it is when it asks ZITADEL about a token.
	authenticate := clientSecretBasic(clientID, clientSecret)

	// The guard lets only active tokens through: it asks ZITADEL about each
	// (through a cache), or with TOKEN_VALIDATION=jwt verifies JWTs itself.
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	guard, err := apiserver.NewGuard(ctx, settings, authenticate,
		"API_CLIENT_ID and API_CLIENT_SECRET (the API application's client id and secret)", logger)
	if err != nil {
		return err
	}
	return apiserver.Serve(ctx, settings, routes(guard, logger), logger, stdout)
}

// clientSecretBasic returns how the API authenticates its introspection
// requests with its client id and secret: HTTP Basic, client_secret_basic of
// blog section 3.2.
func clientSecretBasic(clientID, clientSecret string) introspect.Authenticate {
	// RFC 6749 §2.3.1: id and secret are form-url-encoded before they go into
	// the Basic header, and ZITADEL decodes them. SetBasicAuth does not
	// encode, so a secret with "+", "%" or ":" would fail without this.
	return func(req *http.Request, _ url.Values) error {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		return nil
	}
}
