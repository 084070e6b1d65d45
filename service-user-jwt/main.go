// Command service-user-jwt gets an access token for a ZITADEL service user
// with the JWT bearer grant and the user's key file, and calls the API's
// three routes with it: blog section 4.1.1 (RFC 7523).
//
// It signs a short grant assertion with the service user's private key and
// exchanges it at ZITADEL's token endpoint for an access token, which it
// reuses until shortly before it expires (golang.org/x/oauth2). The scope puts the API's project
// into the token's audience, so that the API's introspection accepts it.
//
// Usage:
//
//	go run ./service-user-jwt                           # settings from the nearest .env
//	go run ./service-user-jwt -env .local-zitadel/.env  # against `go run ./combos serve`
//	go run ./service-user-jwt -json                     # one JSON object per route
//	curl -H "Authorization: Bearer $(go run ./service-user-jwt -print-token)" http://localhost:5000/api/private
//
// Settings: ZITADEL_DOMAIN, PROJECT_ID, CLIENT_PRIVATE_KEY_FILE_PATH, and
// optionally ZITADEL_TOKEN_URL and API_BASE_URL (see README.md and .env.example).
package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
	"github.com/zitadel/go-introspection-examples/internal/serviceuser"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(config.Report(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// Settings: flags, API_BASE_URL, the token request's, and this client's key file.
	settings, env, err := serviceuser.LoadSettings("service-user-jwt", about, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	grant := tokensource.ReadGrant(env, stderr)
	keyFile := env.Path("CLIENT_PRIVATE_KEY_FILE_PATH", "the path of the service user's JSON key file")
	if err := env.Err(); err != nil {
		return err
	}
	// The service user's key (console: service user → Keys → New, type JSON).
	key, err := keyfile.LoadServiceAccount(keyFile)
	if err != nil {
		return config.Invalid("CLIENT_PRIVATE_KEY_FILE_PATH", err)
	}

	// How this client gets a token: the JWT bearer grant with the service
	// user's key. x/oauth2 sends token requests with the client in ctx.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, settings.HTTPClient())
	tokens := jwtBearerTokens(ctx, key, grant)
	return serviceuser.CallRoutes(ctx, settings, tokens, tokensource.RejectedGrant)
}

// jwtBearerTokens returns the tokens of the JWT bearer grant (RFC 7523
// §2.1) with key, reused until shortly before they expire.
func jwtBearerTokens(ctx context.Context, key *keyfile.Key, grant tokensource.Grant) *tokensource.Source {
	// The grant assertion says "I am this service user" (iss = sub = its
	// user id, aud = the ZITADEL instance), signed with the user's private
	// key. It is valid for 5 minutes and reused meanwhile.
	assertions := key.Assertions(grant.Issuer)
	request := func() (*oauth2.Token, error) {
		signed, err := assertions.Assertion()
		if err != nil {
			return nil, fmt.Errorf("sign the grant assertion: %w", err)
		}
		// ZITADEL reads the scope from the form; x/oauth2/jwt puts it into
		// the assertion, so it does not fit. x/oauth2's client credentials
		// request lets its grant type be replaced: the same POST, with the
		// assertion in the form. AuthStyleInParams without a client id or
		// secret adds no credentials: the assertion is the credential.
		cfg := clientcredentials.Config{
			TokenURL: grant.TokenURL,
			Scopes:   grant.Scopes,
			EndpointParams: url.Values{
				"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
				"assertion":  {signed},
			},
			AuthStyle: oauth2.AuthStyleInParams,
		}
		return cfg.Token(ctx)
	}
	// ZITADEL answers an assertion it cannot verify (unknown, deleted or
	// expired key, bad signature) with 500 server_error "Errors.Internal";
	// older versions with 400 invalid_grant, and since zitadel#11933 some
	// failures are 400 invalid_client. Whichever: check the key.
	return tokensource.New(request, keyFileHint, "server_error", "invalid_grant", "invalid_client")
}

const keyFileHint = "check CLIENT_PRIVATE_KEY_FILE_PATH (a key of a service user of this instance, not deleted or expired) and ZITADEL_DOMAIN (the assertion's audience: the instance's URL exactly as its issuer, e.g. https://my-instance.zitadel.cloud); ZITADEL refuses an assertion it cannot verify with server_error (other versions: invalid_grant or invalid_client); if both are right, try again later"

// about is what -h says the program does.
const about = "Gets an access token from ZITADEL with the JWT bearer grant and the service user's key file (CLIENT_PRIVATE_KEY_FILE_PATH)."
