// Command combos runs the samples of this repository against ZITADEL.
//
// Usage:
//
//	go run ./combos                  # all six combinations on a local ZITADEL
//	go run ./combos -env FILE        # the same against the real ZITADEL configured in FILE
//	go run ./combos serve [-addr 127.0.0.1:8080] [-dir .local-zitadel] [-fresh] [-zitadel-version v4.4]
//	go run ./combos bench [-duration 3s] [-concurrency 16]
//	go run ./combos setup -env ADMIN_ENV -dir OUT [-rotate] [-delete]
//
// Without a command, combos starts the local ZITADEL-compatible issuer, builds
// the five samples, starts both APIs as processes, runs each service-user
// client against each API (the six combinations, with a user that has the
// role read:messages and one that has not), then the negative cases (no,
// garbage, revoked, expired and foreign tokens, a malformed header, ZITADEL
// stopped), and prints a table. It exits 0 only when every answer is the
// expected one. With -env, the file's user must have the role, and the users
// of no-role.env and jwt-tokens.env beside it (as setup writes them) run too.
//
// See README.md in this directory for each command's flags and output.
//
// serve starts a local ZITADEL-compatible OpenID provider on loopback (the
// samples' tests use the same one), writes key files and an .env for every
// sample into -dir, and keeps running until Ctrl-C. Every sample can then be
// run by hand against it, e.g. `go run ./api-jwt -env .local-zitadel/.env`.
//
// setup provisions a real ZITADEL for the samples through its APIs (the v2
// services since v4.5, else management v1, which every release from v2 on
// serves), as the service user whose key ADMIN_ENV names (Org Owner): the
// project introspection-examples with the role read:messages, a
// private_key_jwt and a Basic API application, three service users with
// key, secret and PAT, and their authorizations. It finds what exists by
// name, writes OUT/.env and the key files, never replaces a client secret
// OUT does not hold unless -rotate, and -delete removes what it made.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(config.Report(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

const usage = `usage: go run ./combos [-env FILE]
       go run ./combos <command> [flags]

without a command: run the six combinations and the negative cases
  -env FILE  against the real ZITADEL configured in FILE instead of a local one

commands:
  serve   run a local ZITADEL and write .env and key files for the samples
          flags: -addr 127.0.0.1:8080  -dir .local-zitadel  -fresh  -zitadel-version current (or e.g. v3.4, v4.4)
  bench   measure the APIs under load: req/s and latency per route, cache warm and off,
          and their ratios to a bare net/http handler and to coreos/go-oidc's verifier
          flags: -duration 3s  -concurrency 16
  setup   create (or find) the project, apps and service users in a real ZITADEL
          and write OUT/.env; -rotate replaces secrets OUT does not hold; -delete removes what it created
          flags: -env ADMIN_ENV (ZITADEL_DOMAIN, ADMIN_KEY_FILE)  -dir zitadel-setup  -rotate  -delete
`

// run dispatches to a subcommand. args[0] is the program name. getenv is
// not read by serve, which takes its settings from flags.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// The oidc library under the local ZITADEL announces its routes on
	// slog's default logger; this program reports progress itself.
	slog.SetDefault(slog.New(slog.DiscardHandler))
	if len(args) < 2 || strings.HasPrefix(args[1], "-") && !isHelp(args[1]) {
		return matrix(ctx, args[1:], stdout, stderr)
	}
	switch args[1] {
	case "serve":
		return serve(ctx, args[2:], stdout, stderr)
	case "bench":
		return bench(ctx, args[2:], stdout, stderr)
	case "setup":
		return setup(ctx, args[2:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &config.UsageError{Err: fmt.Errorf("unknown command %q", args[1])}
	}
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help"
}
