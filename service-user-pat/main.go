// Command service-user-pat calls the API's three routes with a personal
// access token (PAT) of a ZITADEL service user: blog section 4.2.
//
// A PAT is an access token already: there is no token request, the program
// sends it as it is. It cannot be renewed either; when the API answers 401,
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
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unicode"

	"golang.org/x/oauth2"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/serviceuser"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(config.Report(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: flags, API_BASE_URL and the PAT.
	settings, env, err := serviceuser.LoadSettings("service-user-pat", about, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	pat := env.Required("PAT", "a personal access token of the service user")
	if err := checkPAT(pat); err != nil {
		env.Problem(err)
	}
	if err := env.Err(); err != nil {
		return err
	}

	// How this client gets a token: it has one already (console: service
	// user → Personal Access Tokens → New; shown only once). A static source
	// cannot renew it, so after a 401 nothing is retried.
	tokens := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: pat, TokenType: "Bearer"})
	return serviceuser.CallRoutes(ctx, settings, tokens, rejectedPAT)
}

// checkPAT reports a PAT pasted with its "Bearer " scheme, or with a space
// or line break inside: a setting to fix, not a 401 to puzzle over. It
// never quotes the PAT, a secret.
func checkPAT(pat string) error {
	if scheme, _, ok := strings.Cut(pat, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return fmt.Errorf("PAT starts with %q: set the token alone, without the scheme", scheme+" ")
	}
	if strings.ContainsFunc(pat, unicode.IsSpace) {
		return errors.New("PAT has a space or line break inside: paste the token alone, on one line")
	}
	return nil
}

// rejectedPAT is the hint when the API rejects the PAT.
const rejectedPAT = "the API does not accept the PAT: it was deleted, has expired, or is of another ZITADEL instance; a PAT cannot be renewed: create a new one (console: service user → Personal Access Tokens)"

// about is what -h says the program does.
const about = "Uses the personal access token PAT as it is: no token request, nothing sent to ZITADEL."
