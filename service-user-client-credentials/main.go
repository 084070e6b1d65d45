// Command service-user-client-credentials gets an access token for a ZITADEL
// service user with the client credentials grant, the user's name and client
// secret, and calls the API's three routes with it: blog section 4.1.2
// (RFC 6749 §4.4).
//
// It sends the user name and secret in an HTTP Basic header to ZITADEL's
// token endpoint and reuses the access token it gets until shortly before it
// expires. The scope puts the API's project into the token's audience, so
// that the API's introspection accepts it.
//
// Usage:
//
//	go run ./service-user-client-credentials                           # settings from the nearest .env
//	go run ./service-user-client-credentials -env .local-zitadel/.env  # against `go run ./combos serve`
//	go run ./service-user-client-credentials -json                     # one JSON object per route
//	curl -H "Authorization: Bearer $(go run ./service-user-client-credentials -print-token)" http://localhost:5000/api/private
//
// Settings: ZITADEL_DOMAIN, PROJECT_ID, CLIENT_ID, CLIENT_SECRET, and
// optionally ZITADEL_TOKEN_URL and API_BASE_URL (see README.md and .env.example).
package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/serviceuser"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.ExitCode(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return serviceuser.Run(ctx, serviceuser.Sample{
		Name:     "service-user-client-credentials",
		Setup:    clientCredentialsGrant,
		Rejected: serviceuser.RejectedGrant,
	}, args, getenv, stdout, stderr)
}

// clientCredentialsGrant reads the service user's credentials and returns the
// token request of the client credentials grant.
func clientCredentialsGrant(env *config.Env, client *http.Client) tokensource.Fetch {
	grant := serviceuser.ReadGrant(env)
	// Console: service user → Actions → Generate client secret. The client id
	// is the user name; the secret is shown only once.
	clientID := env.String("CLIENT_ID", "the service user's user name")
	clientSecret := env.String("CLIENT_SECRET", "the service user's client secret")

	return func(ctx context.Context) (*tokensource.Token, error) {
		form := url.Values{
			"grant_type": {"client_credentials"},
			"scope":      {grant.Scope},
		}
		return tokensource.Request(ctx, client, grant.TokenURL, form, func(req *http.Request) {
			// RFC 6749 §2.3.1: id and secret are form-url-encoded before they
			// go into the Basic header, and ZITADEL decodes them. SetBasicAuth
			// does not encode, so a secret with "+", "%" or ":" would fail
			// without QueryEscape.
			req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		})
	}
}
