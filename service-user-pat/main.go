// Command service-user-pat calls the API's three routes with a personal
// access token (PAT) of a ZITADEL service user: blog section 4.2.
//
// A PAT is an access token already: there is no token request, the program
// sends it as it is. It cannot be refreshed either; when the API answers 401,
// the PAT was deleted or has expired, and a new one must be created.
//
// Usage:
//
//	go run ./service-user-pat                           # settings from the nearest .env
//	go run ./service-user-pat -env .local-zitadel/.env  # against `go run ./combos serve`
//	go run ./service-user-pat -json                     # one JSON object per route
//	curl -H "Authorization: Bearer $(go run ./service-user-pat -print-token)" http://localhost:5000/api/private
//
// Settings: PAT, and optionally API_BASE_URL (see README.md and .env.example).
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/serviceuser"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.ExitCode(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: flags, API_BASE_URL and the PAT.
	settings, env, err := serviceuser.LoadSettings("service-user-pat", args, getenv, stderr)
	if err != nil {
		return err
	}
	// Token, not String: a PAT pasted as "Bearer …" or with a line break
	// inside is a setting to fix, not a 401 to puzzle over.
	pat := env.Token("PAT", "a personal access token of the service user")
	if err := env.Err(); err != nil {
		return err
	}

	// How this client gets a token: it has one already.
	tokens := tokensource.New(personalAccessToken(pat))
	client := tokensource.NewClient(tokens, tokensource.HTTPClient(settings.Timeout))
	return serviceuser.CallRoutes(ctx, settings, tokens, client, stdout, stderr, rejectedPAT)
}

// personalAccessToken hands out the PAT (console: service user → Personal
// Access Tokens → New; shown only once) as the access token. It has no
// expiry the source knows, so the source never replaces it, and after a
// 401 it has nothing new to send.
func personalAccessToken(pat string) tokensource.Fetch {
	return func(context.Context) (*tokensource.Token, error) {
		return &tokensource.Token{AccessToken: pat, TokenType: "Bearer"}, nil
	}
}

// rejectedPAT is the hint when the API rejects the PAT.
const rejectedPAT = "the API does not accept the PAT: it was deleted, has expired, or is of another ZITADEL instance; a PAT cannot be refreshed: create a new one (console: service user → Personal Access Tokens)"
