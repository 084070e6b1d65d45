// Command service-user-jwt gets an access token for a ZITADEL service user
// with the JWT bearer grant and the user's key file, and calls the API's
// three routes with it: blog section 4.1.1 (RFC 7523).
//
// It signs a short grant assertion with the service user's private key and
// exchanges it at ZITADEL's token endpoint for an access token, which it
// reuses until shortly before it expires. The scope puts the API's project
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
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/assertion"
	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
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
		Name:     "service-user-jwt",
		Setup:    jwtBearerGrant,
		Rejected: serviceuser.RejectedGrant,
	}, args, getenv, stdout, stderr)
}

// jwtBearerGrant loads the service user's key file and returns the token
// request of the JWT bearer grant (RFC 7523 §2.1).
func jwtBearerGrant(env *config.Env, client *http.Client) tokensource.Fetch {
	grant := serviceuser.ReadGrant(env)
	// The service user's key (console: service user → Keys → New, type JSON).
	path := env.Path("CLIENT_PRIVATE_KEY_FILE_PATH", "the path of the service user's JSON key file")
	if path == "" {
		return nil
	}
	key, err := keyfile.LoadServiceAccount(path)
	if err != nil {
		env.Problem(fmt.Errorf("CLIENT_PRIVATE_KEY_FILE_PATH: %w", err))
		return nil
	}

	// The grant assertion says "I am this service user" (iss = sub = its user
	// id, aud = the ZITADEL instance), signed with the user's private key. It
	// is valid for 5 minutes and reused meanwhile.
	assertions := assertion.New(key, grant.Issuer)
	return func(ctx context.Context) (*tokensource.Token, error) {
		signed, err := assertions.Assertion()
		if err != nil {
			return nil, fmt.Errorf("sign the grant assertion: %w", err)
		}
		form := url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
			"assertion":  {signed},
			"scope":      {grant.Scope},
		}
		return tokensource.Request(ctx, client, grant.TokenURL, form, nil)
	}
}
