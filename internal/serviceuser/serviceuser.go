// Package serviceuser is what the three service-user clients call (blog
// section 4): their command line and the settings they share, and calling
// the API's three routes with a token and printing the answers.
//
// How a client gets its token (a JWT bearer grant with a key file, 4.1.1; a
// client_credentials grant with a secret, 4.1.2; a personal access token,
// 4.2) is the sample's own code.
package serviceuser

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/api"
	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// DefaultAPIBaseURL is where the API samples listen by default.
const DefaultAPIBaseURL = "http://localhost:5000"

// Settings are what every client reads from its command line and environment.
type Settings struct {
	BaseURL    string        // API_BASE_URL
	Timeout    time.Duration // -timeout: per request to ZITADEL or the API
	PrintToken bool          // -print-token: print the token only, call nothing
	JSON       bool          // -json: one JSON object per route
}

// LoadSettings parses the command line of the program name (-env FILE,
// -timeout, -print-token, -json) and reads API_BASE_URL. The sample reads
// its own settings from the returned env, then calls env.Err, which reports
// every problem at once.
func LoadSettings(name string, args []string, getenv func(string) string, stderr io.Writer) (Settings, *config.Env, error) {
	var s Settings
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&s.PrintToken, "print-token", false, "print only the access token, for curl, and call nothing")
	fs.BoolVar(&s.JSON, "json", false, "print one JSON object per route instead of a line")
	envFile := fs.String("env", "", "read settings from `FILE` instead of the nearest .env")
	fs.DurationVar(&s.Timeout, "timeout", tokensource.DefaultTimeout, "give up on a request to ZITADEL or the API after `DURATION`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-env FILE] [-timeout DURATION] [-print-token | -json]\n\n", name)
		fmt.Fprintf(stderr, "Gets an access token and calls %s, %s and %s of API_BASE_URL with it.\n\n", api.RoutePublic, api.RoutePrivate, api.RoutePrivateScoped)
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args[1:]); err != nil {
		return s, nil, err
	}
	if s.PrintToken && s.JSON {
		return s, nil, &cli.UsageError{Err: errors.New("-print-token and -json exclude each other")}
	}
	if s.Timeout <= 0 {
		return s, nil, &cli.UsageError{Err: errors.New("-timeout must be more than 0, e.g. 30s")}
	}
	env, err := config.Load(getenv, *envFile)
	if err != nil {
		return s, nil, err
	}
	s.BaseURL = env.OptionalURL("API_BASE_URL", DefaultAPIBaseURL, DefaultAPIBaseURL)
	return s, env, nil
}

// CallRoutes gets a token from tokens and, unless -print-token, calls the
// three routes of the API at s.BaseURL with client (which sends the token)
// and prints one line (or, with -json, one JSON object) per route. Errors
// and one hint go to stderr; rejected is the hint when the API rejects the
// token: the usual cause for this kind of token. See cli.ExitCode for the
// exit codes.
func CallRoutes(ctx context.Context, s Settings, tokens *tokensource.Source, client *http.Client, stdout, stderr io.Writer, rejected string) error {
	tok, err := tokens.Token(ctx)
	if err != nil {
		return report(stderr, err, "")
	}
	if s.PrintToken {
		// The only place a token is ever printed: on request, alone, for
		// curl -H "Authorization: Bearer $(go run . -print-token)".
		_, err := fmt.Fprintln(stdout, tok.AccessToken)
		return err
	}

	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	var failed *Result
	for _, route := range api.Routes {
		r := Call(ctx, client, s.BaseURL, route)
		if s.JSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(stdout, r.Line())
		}
		if !r.OK && failed == nil {
			failed = &r
		}
	}
	if failed == nil {
		return nil
	}
	return report(stderr, failed.err, failed.hint(s.BaseURL, rejected))
}

// report prints what went wrong and one hint, and returns cli.ErrFailed:
// one clear message instead of a chain of wrapped ones. An error that knows
// its usual cause (a refused token request) brings its own hint, which names
// the setting to check.
func report(stderr io.Writer, err error, hint string) error {
	var hinted interface{ UserHint() string }
	if errors.As(err, &hinted) {
		hint = hinted.UserHint()
	}
	fmt.Fprintln(stderr, "error:", err)
	if hint != "" {
		fmt.Fprintln(stderr, "hint:", hint)
	}
	return cli.ErrFailed
}

// Grant is where a sample asks ZITADEL for a token, and for what.
type Grant struct {
	// Issuer is ZITADEL_DOMAIN, the instance URL: also the audience of a
	// grant assertion (RFC 7523 §3).
	Issuer string
	// TokenURL is ZITADEL_TOKEN_URL, default Issuer + "/oauth/v2/token".
	TokenURL string
	// Scope is Scope(PROJECT_ID).
	Scope string
}

// ReadGrant reads the settings of a token request, recording problems on env.
func ReadGrant(env *config.Env) Grant {
	var g Grant
	g.Issuer = env.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	defaultURL := ""
	if g.Issuer != "" {
		defaultURL = g.Issuer + "/oauth/v2/token"
	}
	g.TokenURL = env.OptionalURL("ZITADEL_TOKEN_URL", defaultURL, "https://my-instance.zitadel.cloud/oauth/v2/token")
	g.Scope = Scope(env.String("PROJECT_ID", "the id of the API's project, from the project's page in the console"))
	return g
}

// Scope is the scope of the original samples. The last scope puts the
// project into the token's audience; without it the API's introspection
// answers active:false. It does not ask for read:messages: ZITADEL drops
// custom scopes (since v2.53), and the role reaches the API as a role claim
// of the introspection answer, from the service user's grant.
func Scope(projectID string) string {
	return "openid profile email urn:zitadel:iam:org:project:id:" + projectID + ":aud"
}

// RejectedGrant is the hint when the API rejects a token that ZITADEL has
// just issued: the token request worked, so the usual cause is the audience.
const RejectedGrant = "ZITADEL issued a token but the API does not accept it: is PROJECT_ID the id of the API's project (the scope urn:zitadel:iam:org:project:id:{PROJECT_ID}:aud puts it into the token's audience), and do the API and this client use the same ZITADEL instance?"
