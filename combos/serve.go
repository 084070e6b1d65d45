package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// serve runs the local ZITADEL until ctx ends (Ctrl-C), with the .env and
// key files for the samples in -dir. It writes only into -dir.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "loopback `address` the local ZITADEL listens on")
	dir := fs.String("dir", ".local-zitadel", "`directory` for the .env, key files and the instance's state, created if missing")
	fresh := fs.Bool("fresh", false, "start a new instance even if -dir holds one (new ids, keys and secrets)")
	version := fs.String("zitadel-version", "current", "ZITADEL `release` whose management APIs to serve, e.g. v3.4 or v4.4 (no v2 project, application or authorization service before v4.5)")
	if err := config.ParseFlags(fs, args); err != nil {
		return err
	}

	// The oidc library logs through slog's default logger, and its error
	// details can quote part of a malformed credential. This command logs
	// each request itself instead: method, path, status and OAuth error.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	created := missingDir(*dir)
	zitadel, err := localzitadel.Start(ctx, localzitadel.Options{Addr: *addr, Dir: *dir, Logger: logger, Fresh: *fresh, ZitadelVersion: *version})
	if err != nil && created != "" {
		// A serve that did not start leaves no empty -dir behind.
		_ = os.RemoveAll(created)
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s is in use, by another combos serve or another program: stop it, or choose another address with -addr, e.g. -addr 127.0.0.1:8081", *addr)
	}
	if err != nil {
		return err
	}
	defer zitadel.Close()

	// Settings for the other two service users, to try their cases by hand.
	const apiBaseURL = "http://localhost:5000"
	noRoleEnv, err := zitadel.WriteEnv("no-role.env", zitadel.NoRole, apiBaseURL)
	if err != nil {
		return err
	}
	jwtTokensEnv, err := zitadel.WriteEnv("jwt-tokens.env", zitadel.JWTReader, apiBaseURL)
	if err != nil {
		return err
	}

	// An Org Owner for `combos setup`, which provisions through the
	// management API as it would a real instance.
	admin, err := zitadel.AddAdmin("admin", true)
	if err != nil {
		return err
	}

	printInstructions(stdout, zitadel, noRoleEnv, jwtTokensEnv)
	fmt.Fprintf(stdout, "\nTo try `combos setup` here, as with a real ZITADEL: go run ./combos setup -env %s -dir OUT\n", shortPath(admin.EnvFile))
	if *version != "current" {
		fmt.Fprintf(stdout, "Its management APIs are those of ZITADEL %s (-zitadel-version).\n", *version)
	}

	<-ctx.Done()
	if err := zitadel.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nStopped the local ZITADEL. Its state stays in %s: serve with the same -dir takes it up again (-fresh starts anew).\n", shortPath(zitadel.Dir))
	return nil
}

// missingDir returns the topmost directory of dir that does not exist yet
// (dir itself, or a parent), which Start would create; "" if dir exists.
func missingDir(dir string) string {
	missing := ""
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) || filepath.Dir(d) == d {
			return missing
		}
		missing = d
	}
}

func printInstructions(w io.Writer, z *localzitadel.Instance, noRoleEnv, jwtTokensEnv string) {
	env := shortPath(z.EnvFile)
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	p("Local ZITADEL running at %s (Ctrl-C stops it).", z.Issuer)
	p("")
	if z.Restored() {
		p("Files in %s (the instance saved there: same ids, keys, secrets and tokens; -fresh starts anew):", shortPath(z.Dir))
	} else {
		p("Files in %s (a new instance, kept there across restarts; -fresh starts anew):", shortPath(z.Dir))
	}
	files := []struct{ name, what string }{
		{filepath.Base(z.EnvFile), "settings for every sample: service user " + z.Reader.UserName + " (role read:messages)"},
		{filepath.Base(noRoleEnv), "the same for " + z.NoRole.UserName + " (no role: /api/private-scoped answers 403)"},
		{filepath.Base(jwtTokensEnv), "the same for " + z.JWTReader.UserName + " (JWT access tokens)"},
		{filepath.Base(z.JWTAPI.KeyFile), "key of the API application " + z.JWTAPI.ClientID + " (api-jwt)"},
		{filepath.Base(z.Reader.KeyFile), "key of " + z.Reader.UserName + " (service-user-jwt)"},
		{filepath.Base(z.NoRole.KeyFile), "key of " + z.NoRole.UserName},
		{filepath.Base(z.JWTReader.KeyFile), "key of " + z.JWTReader.UserName},
		{filepath.Base(z.Awkward.KeyFile), "key of " + z.Awkward.UserName + ", whose secret needs url-encoding (for the tests)"},
		{"admin.env, admin.json", "ZITADEL_DOMAIN and ADMIN_KEY_FILE of admin, an Org Owner (for combos setup)"},
		{"state.json", "the instance (ids, keys, secrets, tokens), to take it up again"},
	}
	for _, f := range files {
		p("  %-33s %s", f.name, f.what)
	}
	p("")
	p("Run one API and then any client against it, each in its own terminal, from the repository root:")
	p("  go run ./api-jwt -env %s", env)
	p("  go run ./api-basic-authentication -env %s", env)
	p("")
	p("  go run ./service-user-jwt -env %s", env)
	p("  go run ./service-user-client-credentials -env %s", env)
	p("  go run ./service-user-pat -env %s", env)
	p("")
	p("Or make it the .env every sample reads from the working directory (this replaces yours;")
	p("variables set in the real environment still win):")
	p("  cp %s .env", env)
	p("")
	p("Issuer %s: token %s, introspection %s, request counts %s.", z.Issuer, z.TokenURL, z.IntrospectionURL, z.StatsURL)
}

// shortPath returns path relative to the working directory when it is below
// it, so that the printed commands are short; otherwise the absolute path.
func shortPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}
