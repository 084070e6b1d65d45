// Package serviceuser is what the three service-user clients share (blog
// section 4): the command line, the settings they have in common, the token
// source, and calling the API's three routes with the token.
//
// A sample brings only how it gets its token: a JWT bearer grant with a key
// file (4.1.1), a client_credentials grant with a secret (4.1.2), or a
// personal access token (4.2).
package serviceuser

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"

	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// DefaultAPIBaseURL is where the API samples listen by default.
const DefaultAPIBaseURL = "http://localhost:5000"

// Sample is what a client plugs in.
type Sample struct {
	// Name is the program's name, e.g. "service-user-jwt".
	Name string
	// Setup reads the sample's own settings from env, recording problems
	// there, and returns how the sample gets a token. client is the HTTP
	// client for the token request.
	Setup func(env *config.Env, client *http.Client) tokensource.Fetch
	// Rejected is the hint printed when the API rejects a token that was
	// just obtained (401 twice): the usual cause for this kind of token.
	Rejected string
}

// Run is the whole program of a service-user client: it parses args, reads
// the settings, gets a token and, unless -print-token, calls the three routes
// of API_BASE_URL and prints one line (or, with -json, one JSON object) per
// route. Errors and hints go to stderr; see cli.ExitCode for the exit codes.
func Run(ctx context.Context, s Sample, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	printToken := fs.Bool("print-token", false, "print only the access token, for curl, and call nothing")
	asJSON := fs.Bool("json", false, "print one JSON object per route instead of a line")
	envFile := fs.String("env", "", "read settings from `FILE` instead of the nearest .env")
	timeout := fs.Duration("timeout", tokensource.DefaultTimeout, "give up on a request to ZITADEL or the API after `DURATION`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-env FILE] [-timeout DURATION] [-print-token | -json]\n\n", s.Name)
		fmt.Fprintf(stderr, "Gets an access token and calls %s, %s and %s of API_BASE_URL with it.\n\n", RoutePublic, RoutePrivate, RouteScoped)
		fs.PrintDefaults()
	}
	if err := cli.ParseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *printToken && *asJSON {
		return &cli.UsageError{Err: errors.New("-print-token and -json exclude each other")}
	}
	if *timeout <= 0 {
		return &cli.UsageError{Err: errors.New("-timeout must be more than 0, e.g. 30s")}
	}

	env, err := config.Load(getenv, *envFile)
	if err != nil {
		return err
	}
	baseURL := env.OptionalURL("API_BASE_URL", DefaultAPIBaseURL, DefaultAPIBaseURL)
	client := tokensource.HTTPClient(*timeout)
	fetch := s.Setup(env, client)
	if err := env.Err(); err != nil {
		return err
	}

	tokens := tokensource.New(fetch)
	tok, err := tokens.Token(ctx)
	if err != nil {
		return report(stderr, err, "")
	}
	if *printToken {
		// The only place a token is ever printed: on request, alone, for
		// curl -H "Authorization: Bearer $(go run ./service-user-jwt -print-token)".
		_, err := fmt.Fprintln(stdout, tok.AccessToken)
		return err
	}

	api := &API{BaseURL: baseURL, Client: client, Tokens: tokens}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	var failed *Result
	for _, route := range Routes {
		r := api.Get(ctx, route)
		if *asJSON {
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
	return report(stderr, failed.err, failed.hint(baseURL, s.Rejected))
}

// report prints what went wrong and one hint, and returns cli.ErrFailed:
// one clear message instead of a chain of wrapped ones. A failed token
// request brings its own hint, which names the setting to check.
func report(stderr io.Writer, err error, hint string) error {
	var tokenErr *tokensource.Error
	if errors.As(err, &tokenErr) {
		hint = tokenErr.Hint
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
