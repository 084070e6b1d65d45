package apiserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// DefaultPort is the port of the original samples.
const DefaultPort = 5000

// Sample is what an API sample plugs in: how it authenticates to ZITADEL.
type Sample struct {
	// Name is the program's name, e.g. "api-jwt", and the realm of its
	// WWW-Authenticate challenges.
	Name string
	// Setup reads the sample's own settings from env, recording problems
	// there, and returns how the API authenticates its introspection
	// requests. issuer is ZITADEL_DOMAIN. The result is used only if env
	// has no problems.
	Setup func(env *config.Env, issuer string) func(req *http.Request, form url.Values) error
	// Credentials names the settings to check when ZITADEL rejects the
	// API's credentials, for the log line that says so.
	Credentials string
}

// Run is the whole program of an API sample: it parses args (-addr, -env),
// reads the settings, and serves the three routes until ctx is cancelled.
// It logs to stderr and prints "listening on http://ADDR" to stdout once the
// port is open. Bad flags or settings return before anything listens.
func Run(ctx context.Context, s Sample, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(s.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "listen `address` (default localhost:PORT, PORT default 5000)")
	envFile := fs.String("env", "", "read settings from `FILE` instead of the nearest .env")
	if err := cli.ParseFlags(fs, args[1:]); err != nil {
		return err
	}
	env, err := config.Load(getenv, *envFile)
	if err != nil {
		return err
	}
	settings := readSettings(env, *addr)
	authenticate := s.Setup(env, settings.issuer)
	if err := env.Err(); err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var introspector introspect.Introspector = &introspect.Client{
		URL:          settings.introspectionURL,
		Authenticate: authenticate,
		Timeout:      settings.timeout,
	}
	if settings.cacheTTL > 0 {
		introspector = introspect.NewCache(introspector, settings.cacheTTL)
	}
	g := &Guard{Introspector: introspector, Realm: s.Name, CredentialsHint: s.Credentials, Logger: logger}
	logger.Info("introspection", "url", settings.introspectionURL, "cache_ttl", settings.cacheTTL, "timeout", settings.timeout)
	return Serve(ctx, settings.addr, NewHandler(g, logger), settings.timeout, logger, stdout)
}

// settings are what every API sample reads from its environment.
type settings struct {
	addr             string        // -addr, else localhost:PORT
	issuer           string        // ZITADEL_DOMAIN: the instance URL, also the audience of client assertions
	introspectionURL string        // ZITADEL_INTROSPECTION_URL, default Issuer + /oauth/v2/introspect
	cacheTTL         time.Duration // INTROSPECTION_CACHE_TTL; 0 turns the cache off
	timeout          time.Duration // INTROSPECTION_TIMEOUT; 0 means the default
}

func readSettings(env *config.Env, addr string) settings {
	s := settings{addr: addr}
	s.issuer = env.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	defaultURL := ""
	if s.issuer != "" {
		defaultURL = s.issuer + "/oauth/v2/introspect"
	}
	s.introspectionURL = env.OptionalURL("ZITADEL_INTROSPECTION_URL", defaultURL, "https://my-instance.zitadel.cloud/oauth/v2/introspect")
	s.cacheTTL = env.Duration("INTROSPECTION_CACHE_TTL", introspect.DefaultCacheTTL)
	s.timeout = env.Duration("INTROSPECTION_TIMEOUT", introspect.DefaultTimeout)
	if s.timeout == 0 {
		s.timeout = introspect.DefaultTimeout
	}
	if s.addr == "" {
		s.addr = net.JoinHostPort("localhost", strconv.Itoa(env.Port("PORT", DefaultPort)))
	}
	return s
}

// Serve listens on addr, then serves h until ctx is cancelled and shuts down
// gracefully. Listening first lets it report the real address of ":0".
// A handler may wait up to introspectionTimeout for ZITADEL, so the write
// timeout leaves room for that.
func Serve(ctx context.Context, addr string, h http.Handler, introspectionTimeout time.Duration, logger *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      introspectionTimeout + 10*time.Second,
		IdleTimeout:       60 * time.Second,
		// Room for an Authorization header a little over MaxAuthorization, so
		// the API can answer it with invalid_request instead of a bare 431.
		MaxHeaderBytes: 4 * MaxAuthorization,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), introspectionTimeout+5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	logger.Info("stopped")
	return nil
}
