// Command combos runs the samples of this repository against ZITADEL.
//
// Usage:
//
//	go run ./combos serve [-addr 127.0.0.1:8080] [-dir .local-zitadel]
//
// serve starts a local ZITADEL-compatible OpenID provider on loopback (the
// samples' tests use the same one), writes key files and an .env for every
// sample into -dir, and keeps running until Ctrl-C. Every sample can then be
// run by hand against it, e.g. `go run ./api-jwt -env .local-zitadel/.env`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(cli.ExitCode(run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr), os.Stderr))
}

const usage = `usage: go run ./combos <command> [flags]

commands:
  serve   run a local ZITADEL and write .env and key files for the samples
          flags: -addr 127.0.0.1:8080  -dir .local-zitadel
`

// run dispatches to a subcommand. args[0] is the program name. getenv is
// not read by serve, which takes its settings from flags.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return &cli.UsageError{Err: fmt.Errorf("no command")}
	}
	switch args[1] {
	case "serve":
		return serve(ctx, args[2:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &cli.UsageError{Err: fmt.Errorf("unknown command %q", args[1])}
	}
}
