// Package serviceuser is what the three service-user clients share (blog
// section 4): their command line and settings, and calling the API's three
// routes with a token, one line per route, with the exit code and a hint.
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

	"golang.org/x/oauth2"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

// The API's routes, in the order the clients call them, and the role the
// scoped one requires (blog section 3).
const (
	routePublic        = "/api/public"
	routePrivate       = "/api/private"
	routePrivateScoped = "/api/private-scoped"
	roleReadMessages   = "read:messages"
)

var routes = []string{routePublic, routePrivate, routePrivateScoped}

const (
	defaultAPIBaseURL = "http://localhost:5000" // where the API samples listen by default
	// defaultTimeout bounds one request to ZITADEL or to the API: long
	// enough for a cold instance far away, short enough that a silent
	// server does not look like a hanging program.
	defaultTimeout = 15 * time.Second
)

// Settings are what every client reads from its command line and
// environment, and where it prints.
type Settings struct {
	BaseURL        string        // API_BASE_URL
	Timeout        time.Duration // -timeout: per request
	PrintToken     bool          // -print-token: print the token only, call nothing
	JSON           bool          // -json: one JSON object per route
	Stdout, Stderr io.Writer
}

// LoadSettings parses the command line of the program name (-env FILE,
// -timeout, -print-token, -json; -h says what the program does: about, and
// that it calls the routes) and reads API_BASE_URL. The sample reads its own
// settings from the returned env, then calls env.Err, which reports every
// problem at once.
func LoadSettings(name, about string, args []string, getenv func(string) string, stdout, stderr io.Writer) (Settings, *config.Env, error) {
	s := Settings{Stdout: stdout, Stderr: stderr}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&s.PrintToken, "print-token", false, "print only the access token, for curl, and call nothing")
	fs.BoolVar(&s.JSON, "json", false, "print one JSON object per route instead of a line")
	envFile := fs.String("env", "", "read settings from `FILE` instead of the nearest .env")
	fs.DurationVar(&s.Timeout, "timeout", defaultTimeout, "give up on a request after `DURATION`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s [-env FILE] [-timeout DURATION] [-print-token | -json]\n\n", name)
		fmt.Fprintf(stderr, "%s\nIt calls %s, %s and %s of API_BASE_URL with it, one line per route.\n\n", about, routePublic, routePrivate, routePrivateScoped)
		fs.PrintDefaults()
	}
	if err := config.ParseFlags(fs, args[1:]); err != nil {
		return s, nil, err
	}
	if s.PrintToken && s.JSON {
		return s, nil, &config.UsageError{Err: errors.New("-print-token and -json exclude each other")}
	}
	if s.Timeout <= 0 {
		return s, nil, &config.UsageError{Err: errors.New("-timeout must be more than 0, e.g. 30s")}
	}
	env, err := config.Load(getenv, *envFile)
	if err != nil {
		return s, nil, err
	}
	s.BaseURL = env.OptionalURL("API_BASE_URL", defaultAPIBaseURL, defaultAPIBaseURL)
	return s, env, nil
}

// HTTPClient returns an HTTP client for ZITADEL and for the API: each
// request, its answer included, is cut off after s.Timeout, and redirects
// are not followed, so credentials are never resent to another URL (a
// redirect is reported as the answer it is).
func (s Settings) HTTPClient() *http.Client {
	return &http.Client{
		Timeout:       s.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// A Renewer is a token source that can get a new token after the API
// rejected one (tokensource.Source). A PAT cannot be renewed.
type Renewer interface {
	Renew(rejected *oauth2.Token)
}

// CallRoutes gets a token from tokens and, unless -print-token, calls the
// three routes of the API with it and prints one line (or, with -json, one
// JSON object) per route. Errors and one hint go to stderr; rejected is the
// hint when the API rejects the token: the usual cause for this kind of
// token. It returns config.ErrFailed unless every route answered as it
// should for this token.
func CallRoutes(ctx context.Context, s Settings, tokens oauth2.TokenSource, rejected string) error {
	tok, err := tokens.Token()
	if err != nil {
		return report(s.Stderr, err, "")
	}
	if s.PrintToken {
		// The only place a token is ever printed: on request, alone, for
		// curl -H "Authorization: Bearer $(go run . -print-token)".
		_, err := fmt.Fprintln(s.Stdout, tok.AccessToken)
		return err
	}

	client := s.HTTPClient()
	enc := json.NewEncoder(s.Stdout)
	enc.SetEscapeHTML(false)
	renewer, canRenew := tokens.(Renewer)
	var failed *Result
	for _, route := range routes {
		r := call(ctx, client, s.BaseURL, route, tok)
		// A token can be revoked or end before it expires: after a 401, a
		// source that can renew gets one new token, and the route is called
		// again. Once per run: when a new token is rejected too, its age is
		// not the cause (more often its audience), and asking for more
		// would be a loop.
		if r.Status == http.StatusUnauthorized && canRenew {
			canRenew = false
			renewer.Renew(tok)
			if tok, err = tokens.Token(); err != nil {
				return report(s.Stderr, err, "")
			}
			r = call(ctx, client, s.BaseURL, route, tok)
		}
		if s.JSON {
			if err := enc.Encode(r); err != nil {
				return err
			}
		} else {
			fmt.Fprintln(s.Stdout, r.Line())
		}
		if !r.OK && failed == nil {
			failed = &r
		}
	}
	if failed == nil {
		return nil
	}
	return report(s.Stderr, failed.err, failed.hint(s.BaseURL, rejected))
}

// report prints what went wrong and one hint, and returns config.ErrFailed:
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
	return config.ErrFailed
}
