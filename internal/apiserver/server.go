package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// DefaultPort is the port of the original samples.
const DefaultPort = 5000

// Settings are what every API sample reads from its command line and
// environment; each sample reads its own credentials besides.
type Settings struct {
	Name             string        // the program's name, also the realm of its challenges
	Addr             string        // -addr, else localhost:PORT
	Issuer           string        // ZITADEL_DOMAIN: the instance URL, also the audience of client assertions
	IntrospectionURL string        // ZITADEL_INTROSPECTION_URL, default Issuer + /oauth/v2/introspect
	ProjectID        string        // PROJECT_ID, optional: the API's project, whose project-specific role claim counts too
	CacheTTL         time.Duration // INTROSPECTION_CACHE_TTL; 0 turns the cache off
	Timeout          time.Duration // INTROSPECTION_TIMEOUT
	MaxInFlight      int           // INTROSPECTION_MAX_IN_FLIGHT: introspections under way at most
	// ResourceURL is RESOURCE_URL, optional: the API's URL as its clients
	// call it, which its resource metadata names (RFC 9728). Unset, each
	// request's scheme and Host stand for it: http behind a proxy that
	// terminates TLS, which a client checking the metadata would refuse.
	ResourceURL string
	// TokenValidation is TOKEN_VALIDATION: "introspection" (the default, the
	// blog's way: ZITADEL judges every token) or "jwt" (JWT access tokens
	// are verified in the API; PROJECT_ID is then required).
	TokenValidation string
}

// The values of TOKEN_VALIDATION.
const (
	ValidateByIntrospection = "introspection"
	ValidateJWTLocally      = "jwt"
)

// LoadSettings parses the command line (-addr, -env FILE) of the program
// name and reads the settings every API has. The sample reads its own from
// the returned env, then calls env.Err, which reports every problem at once.
func LoadSettings(name string, args []string, getenv func(string) string, stderr io.Writer) (Settings, *config.Env, error) {
	s := Settings{Name: name}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.Addr, "addr", "", "listen `address` (default localhost:PORT, PORT default 5000)")
	envFile := fs.String("env", "", "read settings from `FILE` instead of the nearest .env")
	if err := config.ParseFlags(fs, args[1:]); err != nil {
		return s, nil, err
	}
	env, err := config.Load(getenv, *envFile)
	if err != nil {
		return s, nil, err
	}
	s.Issuer = env.URL("ZITADEL_DOMAIN", "https://my-instance.zitadel.cloud")
	defaultURL := ""
	if s.Issuer != "" {
		defaultURL = s.Issuer + "/oauth/v2/introspect"
	}
	s.IntrospectionURL = env.OptionalURL("ZITADEL_INTROSPECTION_URL", defaultURL, "https://my-instance.zitadel.cloud/oauth/v2/introspect")
	s.ProjectID = env.Optional("PROJECT_ID", "")
	s.CacheTTL = duration(env, "INTROSPECTION_CACHE_TTL", DefaultCacheTTL, false)
	s.Timeout = duration(env, "INTROSPECTION_TIMEOUT", introspect.DefaultTimeout, true)
	s.MaxInFlight = number(env, "INTROSPECTION_MAX_IN_FLIGHT", DefaultMaxInFlight, 1, 1000, "a number")
	s.ResourceURL = env.OptionalURL("RESOURCE_URL", "", "https://api.example.com")
	// Only scheme://host[:port]: anything else would end up in the metadata's
	// URL, or in the quoted resource_metadata of every challenge.
	if u, err := url.Parse(s.ResourceURL); err == nil && s.ResourceURL != "" &&
		(s.ResourceURL != u.Scheme+"://"+u.Host || strings.ContainsAny(u.Host, `"\ `)) {
		env.Problem(fmt.Errorf("RESOURCE_URL must be the API's URL without a path, like https://api.example.com, not %q: its resource metadata is served at the root (RFC 9728 §3.1)", s.ResourceURL))
	}
	switch s.TokenValidation = env.Optional("TOKEN_VALIDATION", ValidateByIntrospection); s.TokenValidation {
	case ValidateByIntrospection:
	case ValidateJWTLocally:
		if s.ProjectID == "" {
			env.Problem(errors.New("PROJECT_ID is not set: TOKEN_VALIDATION=jwt needs the API's project id, which a JWT's aud must contain"))
		}
	default:
		env.Problem(fmt.Errorf("TOKEN_VALIDATION must be introspection or jwt, not %q", s.TokenValidation))
	}
	if s.Addr == "" {
		s.Addr = net.JoinHostPort("localhost", strconv.Itoa(number(env, "PORT", DefaultPort, 1, 65535, "a port number")))
	}
	return s, env, nil
}

// duration reads a duration setting (Go syntax, like 30s or 2m), or def when
// it is not set. A cache lifetime may be 0 (the cache is off); a timeout must
// be more than 0 (positive): 0 would mean neither "wait forever" nor "not at
// all" clearly, so it is refused rather than quietly replaced by def.
func duration(env *config.Env, name string, def time.Duration, positive bool) time.Duration {
	v := env.Optional(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err == nil && (d > 0 || d == 0 && !positive):
		return d
	case positive:
		env.Problem(fmt.Errorf("%s must be a duration more than 0, like %s, not %q (unset it for the default %s)", name, def, v, def))
	default:
		env.Problem(fmt.Errorf("%s must be a duration like 30s, 2m or 0, not %q", name, v))
	}
	return def
}

// number reads a whole-number setting from lo to hi, or def when it is not set.
func number(env *config.Env, name string, def, lo, hi int, what string) int {
	v := env.Optional(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		env.Problem(fmt.Errorf("%s must be %s between %d and %d, not %q", name, what, lo, hi, v))
		return def
	}
	return n
}

// portInUse names the two ways to move the API to another port.
func portInUse(addr string) error {
	host, port, _ := net.SplitHostPort(addr)
	next := "5001"
	if p, err := strconv.Atoi(port); err == nil && p > 0 && p < 65535 {
		next = strconv.Itoa(p + 1)
	}
	if host == "" {
		host = "localhost"
	}
	msg := fmt.Sprintf("listen on %s: the port is in use by another program: stop it, or choose another port with PORT=%s or -addr %s", addr, next, net.JoinHostPort(host, next))
	if port == "5000" {
		msg += " (on macOS, AirPlay Receiver listens on 5000: System Settings → General → AirDrop & Handoff)"
	}
	return errors.New(msg)
}

func hostOf(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Host
}

// checkIssuer fetches ZITADEL's discovery document once, so that a wrong or
// unreachable ZITADEL_DOMAIN is named at start instead of looking like an
// outage (503) on the first request. The API serves meanwhile, and keeps
// answering 503 while ZITADEL is down.
func checkIssuer(ctx context.Context, s Settings, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	issuer, err := discoveredIssuer(ctx, s.Issuer)
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// The API stopped first.
	case err != nil:
		logger.Error("cannot read ZITADEL's discovery document: check ZITADEL_DOMAIN, the instance's URL, and that ZITADEL is reachable from here",
			"ZITADEL_DOMAIN", s.Issuer, "error", err)
	case issuer != s.Issuer:
		// Client assertions name ZITADEL_DOMAIN as their audience, and JWTs
		// are checked against it: both fail unless it is the issuer exactly.
		logger.Error("ZITADEL_DOMAIN is not the issuer ZITADEL names: set ZITADEL_DOMAIN to that issuer exactly",
			"ZITADEL_DOMAIN", s.Issuer, "issuer", issuer)
	default:
		logger.Info("ZITADEL_DOMAIN is the issuer ZITADEL names", "issuer", issuer)
	}
}

// discoveredIssuer is the issuer of the discovery document at domain
// (OpenID Connect Discovery 1.0 §4).
func discoveredIssuer(ctx context.Context, domain string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, domain+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err // names the URL
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil || doc.Issuer == "" {
		return "", fmt.Errorf("GET %s: not a discovery document", req.URL)
	}
	return doc.Issuer, nil
}

// Serve listens on s.Addr, prints "listening on http://ADDR" to stdout,
// then serves h until ctx is cancelled and shuts down gracefully. Listening
// first lets it report the real address of ":0".
func Serve(ctx context.Context, s Settings, h http.Handler, logger *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", s.Addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return portInUse(s.Addr)
	}
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// A handler may wait up to the introspection timeout for ZITADEL.
		WriteTimeout: s.Timeout + 10*time.Second,
		IdleTimeout:  60 * time.Second,
		// Room for an Authorization header a little over MaxAuthorization, so
		// the API can answer it with invalid_request instead of a bare 431.
		MaxHeaderBytes: 4 * MaxAuthorization,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("introspection", "url", s.IntrospectionURL, "project_id", s.ProjectID, "cache_ttl", s.CacheTTL,
		"timeout", s.Timeout, "max_in_flight", s.MaxInFlight, "token_validation", s.TokenValidation)
	if a, b := hostOf(s.IntrospectionURL), hostOf(s.Issuer); !strings.EqualFold(a, b) {
		// Issue 22: a copied .env.example may still name the placeholder
		// instance here, while ZITADEL_DOMAIN names the real one.
		logger.Warn("ZITADEL_INTROSPECTION_URL is on another host than ZITADEL_DOMAIN: tokens are introspected there; unset ZITADEL_INTROSPECTION_URL to use the instance's own endpoint",
			"ZITADEL_INTROSPECTION_URL", s.IntrospectionURL, "ZITADEL_DOMAIN", s.Issuer)
	}
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		checkIssuer(ctx, s, logger)
	}()
	logger.Info("listening", "addr", ln.Addr().String())
	if a, ok := ln.Addr().(*net.TCPAddr); ok && s.ResourceURL == "" && !a.IP.IsLoopback() {
		// Reachable from other hosts, the metadata's resource (RFC 9728) and
		// every challenge's resource_metadata echo the Host header a client sends.
		logger.Warn("RESOURCE_URL is not set: the resource metadata names whatever host a client sends; set RESOURCE_URL to the API's public URL, e.g. https://api.example.com",
			"addr", ln.Addr().String())
	}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	<-checked
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Timeout+5*time.Second)
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
