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

// Settings are what every API sample reads from its environment.
type Settings struct {
	Addr             string        // -addr, else localhost:PORT
	Issuer           string        // ZITADEL_DOMAIN: the instance URL, also the audience of client assertions
	IntrospectionURL string        // ZITADEL_INTROSPECTION_URL, default Issuer + /oauth/v2/introspect
	CacheTTL         time.Duration // INTROSPECTION_CACHE_TTL; 0 turns the cache off
	Timeout          time.Duration // INTROSPECTION_TIMEOUT
}

// Load parses the API samples' command line (-addr, -env) and reads the
// shared settings. The caller reads its own settings from env and then checks
// env.Err(), so every problem is reported at once.
func Load(args []string, getenv func(string) string, stderr io.Writer) (*config.Env, Settings, error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "listen `address` (default localhost:PORT, PORT default 5000)")
	envFile := fs.String("env", "", "read settings from `FILE` instead of the nearest .env")
	if err := cli.ParseFlags(fs, args[1:]); err != nil {
		return nil, Settings{}, err
	}
	env, err := config.Load(getenv, *envFile)
	if err != nil {
		return nil, Settings{}, err
	}

	s := Settings{Addr: *addr}
	s.Issuer = env.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	defaultURL := ""
	if s.Issuer != "" {
		defaultURL = s.Issuer + "/oauth/v2/introspect"
	}
	s.IntrospectionURL = env.OptionalURL("ZITADEL_INTROSPECTION_URL", defaultURL, "https://my-instance.zitadel.cloud/oauth/v2/introspect")
	s.CacheTTL = env.Duration("INTROSPECTION_CACHE_TTL", introspect.DefaultCacheTTL)
	s.Timeout = env.Duration("INTROSPECTION_TIMEOUT", introspect.DefaultTimeout)
	if s.Timeout == 0 {
		s.Timeout = introspect.DefaultTimeout
	}
	if s.Addr == "" {
		s.Addr = net.JoinHostPort("localhost", strconv.Itoa(env.Port("PORT", DefaultPort)))
	}
	return env, s, nil
}

// API is what a sample plugs in.
type API struct {
	// Name is the realm of WWW-Authenticate, e.g. "api-jwt".
	Name string
	// Authenticate adds the API's credentials to an introspection request.
	Authenticate func(req *http.Request, form url.Values) error
	// CredentialsHint names the settings that hold those credentials.
	CredentialsHint string
}

// Run serves api with settings s until ctx is cancelled. It logs to stderr
// and prints "listening on http://ADDR" to stdout once the port is open.
func Run(ctx context.Context, s Settings, api API, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var introspector introspect.Introspector = &introspect.Client{
		URL:          s.IntrospectionURL,
		Authenticate: api.Authenticate,
		Timeout:      s.Timeout,
	}
	if s.CacheTTL > 0 {
		introspector = introspect.NewCache(introspector, s.CacheTTL)
	}
	g := &Guard{Introspector: introspector, Realm: api.Name, CredentialsHint: api.CredentialsHint, Logger: logger}
	logger.Info("introspection", "url", s.IntrospectionURL, "cache_ttl", s.CacheTTL, "timeout", s.Timeout)
	return Serve(ctx, s.Addr, NewHandler(g, logger), s.Timeout, logger, stdout)
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
