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
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/serviceuser"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(config.Report(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: flags, API_BASE_URL, the token request's, and this client's id and secret.
	settings, env, err := serviceuser.LoadSettings("service-user-client-credentials", about, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	grant := tokensource.ReadGrant(env, stderr)
	// Console: service user → Actions → Generate client secret. The client id
	// is the user name; the secret is shown only once.
	clientID := env.Required("CLIENT_ID", "the service user's user name")
	clientSecret := env.Required("CLIENT_SECRET", "the service user's client secret")
	if err := env.Err(); err != nil {
		return err
	}

	// How this client gets a token: the client credentials grant with its
	// secret. x/oauth2 sends token requests with the client in ctx.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, settings.HTTPClient())
	tokens := clientCredentialsTokens(ctx, clientID, clientSecret, grant)
	return serviceuser.CallRoutes(ctx, settings, tokens, tokensource.RejectedGrant)
}

// clientCredentialsTokens returns the tokens of the client credentials grant
// (RFC 6749 §4.4), reused until shortly before they expire.
func clientCredentialsTokens(ctx context.Context, clientID, clientSecret string, grant tokensource.Grant) *tokensource.Source {
	cfg := clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     grant.TokenURL,
		Scopes:       grant.Scopes,
		// HTTP Basic, with id and secret form-url-encoded first (RFC 6749
		// §2.3.1), which x/oauth2 does and ZITADEL decodes. Set, not left to
		// detection, which after a refusal would send the secret once more.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	// cfg.Token asks for a new token each time; the Source reuses it (as
	// cfg.TokenSource would, but that one cannot drop a token the API
	// rejected). ZITADEL answers a wrong secret with invalid_request
	// (Errors.User.Machine.Secret.Invalid), an unknown user with invalid_client.
	request := func() (*oauth2.Token, error) { return cfg.Token(ctx) }
	return tokensource.New(request, "check CLIENT_ID (the service user's user name, not its id) and CLIENT_SECRET",
		"invalid_client", "unauthorized_client", "invalid_request")
}

// about is what -h says the program does.
const about = "Gets an access token from ZITADEL with the client credentials grant and the service user's CLIENT_ID and CLIENT_SECRET."
