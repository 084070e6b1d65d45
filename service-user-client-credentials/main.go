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
	"github.com/zitadel/go-introspection-examples/internal/serviceuser"
	"github.com/zitadel/go-introspection-examples/internal/tokenrequest"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.ExitCode(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: flags, API_BASE_URL, the token request's, and this client's id and secret.
	settings, env, err := serviceuser.LoadSettings("service-user-client-credentials", args, getenv, stderr)
	if err != nil {
		return err
	}
	grant := serviceuser.ReadGrant(env)
	// Console: service user → Actions → Generate client secret. The client id
	// is the user name; the secret is shown only once.
	clientID := env.String("CLIENT_ID", "the service user's user name")
	clientSecret := env.String("CLIENT_SECRET", "the service user's client secret")
	if err := env.Err(); err != nil {
		return err
	}

	// How this client gets a token: the client credentials grant with its secret.
	httpClient := tokensource.HTTPClient(settings.Timeout)
	fetch := clientCredentialsGrant(clientID, clientSecret, grant, httpClient)

	// The source reuses the token; the client sends it, and renews it once after a 401.
	tokens := tokensource.New(fetch)
	client := tokensource.NewClient(tokens, httpClient)
	return serviceuser.CallRoutes(ctx, settings, tokens, client, stdout, stderr, serviceuser.RejectedGrant)
}

// clientCredentialsGrant returns the token request of the client credentials
// grant (RFC 6749 §4.4), sent with client.
func clientCredentialsGrant(clientID, clientSecret string, grant serviceuser.Grant, client *http.Client) tokensource.Fetch {
	return func(ctx context.Context) (*tokensource.Token, error) {
		form := url.Values{
			"grant_type": {"client_credentials"},
			"scope":      {grant.Scope},
		}
		tok, err := tokenrequest.Post(ctx, client, grant.TokenURL, form, func(req *http.Request) {
			// RFC 6749 §2.3.1: id and secret are form-url-encoded before they
			// go into the Basic header, and ZITADEL decodes them. SetBasicAuth
			// does not encode, so a secret with "+", "%" or ":" would fail
			// without QueryEscape.
			req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		})
		// ZITADEL answers a wrong secret with invalid_request
		// (Errors.User.Machine.Secret.Invalid), an unknown user with invalid_client.
		return tok, tokenrequest.WithHint(err, "check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET",
			"invalid_client", "unauthorized_client", "invalid_request")
	}
}
