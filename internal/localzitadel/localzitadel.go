// Package localzitadel runs a local OpenID provider on loopback that answers
// like ZITADEL on every point the samples of this repository depend on
// (docs/zitadel-on-the-wire.md, all sections): discovery, the token endpoint (JWT bearer grant and
// client_credentials), introspection (private_key_jwt and client_secret_basic),
// revocation, JWKS and userinfo, with opaque and JWT access tokens and PATs.
//
// It is built the way ZITADEL builds its own OIDC layer: an [op.Server] from
// github.com/zitadel/oidc/v3/pkg/op, mounted with [op.RegisterServer]. The
// library parses the requests and client credentials and writes the OAuth
// errors; this package decides, as ZITADEL's internal/api/oidc does.
//
// Start provisions one organisation with two projects, an API application in
// each, and three service users, writes their key files in ZITADEL's format
// and an .env for the samples, and returns their identifiers:
//
//	zitadel, err := localzitadel.Start(ctx, localzitadel.Options{})
//	defer zitadel.Close()
//	env := zitadel.Env(zitadel.Reader, "http://127.0.0.1:5000")
//
// It shares no code with the samples: a bug on one side cannot be hidden by
// the same bug on the other.
package localzitadel

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure [Start]. The zero value is ready to use.
type Options struct {
	// Addr is the listen address, a loopback one; default "127.0.0.1:0"
	// (a free port).
	Addr string
	// Dir receives the key files and the .env; default: a new temporary
	// directory, removed by Close. A given Dir is created if missing and kept.
	Dir string
	// Logger receives one line per request; default: discard. It never
	// sees a token, secret, assertion or key.
	Logger *slog.Logger
	// AccessTokenLifetime of issued access tokens; default 12h, ZITADEL's
	// default, which the token endpoint reports as expires_in 43199.
	AccessTokenLifetime time.Duration
	// SigningAlgorithm of the key that signs id tokens and JWT access
	// tokens: RS256 (default), ES256 or EdDSA, as ZITADEL's web keys may be.
	SigningAlgorithm string
	// LegacyJWTGrantErrors answers a JWT bearer grant whose assertion
	// fails verification with 400 invalid_grant, as older ZITADEL versions
	// and RFC 7523 §3.1 do, instead of current ZITADEL's 500 server_error
	// "Errors.Internal".
	LegacyJWTGrantErrors bool
	// Fresh starts a new instance in Dir even if Dir holds a saved one.
	// Without it, a Start with the Dir of an earlier instance takes that
	// instance up again (ids, keys, secrets, PATs, active tokens), as a
	// restarted ZITADEL keeps its own.
	Fresh bool
	// LegacyMachineTokenType: the v2 user service's CreateUser and
	// UpdateUser ignore machine.accessTokenType, as earlier ZITADEL v4
	// releases did (their protos lack the field; unknown fields are
	// dropped), so only management v1 UpdateMachine sets it (management.go).
	LegacyMachineTokenType bool
	// ZitadelVersion is the ZITADEL release the instance plays for the
	// management APIs: "" or "current" (default), or "vMAJOR.MINOR" such as
	// "v3.4" or "v4.4", which serves only what that release serves
	// (versions.go).
	ZitadelVersion string
}

// App is an API application of a project: the identity an API uses to
// call the introspection endpoint. As in ZITADEL, an application has one
// authentication method: a JWT app has KeyID and KeyFile, a Basic app
// ClientSecret.
type App struct {
	AppID string
	// ClientID is "<appId>@<project name>", as ZITADEL forms it.
	ClientID string
	// ClientSecret for client_secret_basic; "" for a JWT app.
	ClientSecret string
	// KeyID and KeyFile for private_key_jwt; "" for a Basic app. KeyFile
	// is the path of the "application" key JSON, as downloaded from the
	// console: {"type":"application","keyId","key","appId","clientId"}.
	KeyID, KeyFile string
}

// ServiceUser is a machine user with a key, a client secret and a PAT.
type ServiceUser struct {
	UserID string
	// UserName is the client_id of the client_credentials grant.
	UserName string
	// ClientSecret is 64 letters and digits, as ZITADEL generates them;
	// Awkward's has characters that must be url-encoded.
	ClientSecret string
	KeyID        string
	// KeyFile is the path of the "serviceaccount" key JSON:
	// {"type":"serviceaccount","keyId","key","userId"}.
	KeyFile string
	// PAT is a personal access token without expiry.
	PAT string
	// HasRole: the user is granted read:messages on ProjectID.
	HasRole bool
	// JWTAccessTokens: the user's access tokens are JWTs, not opaque.
	JWTAccessTokens bool
}

// Instance is a running local ZITADEL. All methods are safe for concurrent use.
type Instance struct {
	// Issuer is "http://127.0.0.1:PORT", without a trailing slash.
	Issuer           string
	TokenURL         string
	IntrospectionURL string
	RevocationURL    string
	KeysURL          string
	UserInfoURL      string
	StatsURL         string

	// Dir holds the key files; EnvFile is Dir/.env.
	Dir, EnvFile string

	OrgID, OrgDomain string
	// ProjectID is the project with the role read:messages.
	ProjectID string
	// OtherProjectID is a second project, with a role read:messages of its
	// own: its tokens are not for API, nor are its roles.
	OtherProjectID string

	// JWTAPI is the API application of ProjectID that authenticates with
	// its key (private_key_jwt): api-jwt's.
	JWTAPI App
	// BasicAPI is the API application of ProjectID that authenticates
	// with its secret (client_secret_basic): api-basic-authentication's.
	BasicAPI App
	// AwkwardAPI is a Basic application of ProjectID whose secret has
	// characters a Basic header must url-encode (':', '+', '%', '&', '=',
	// '/', a non-ASCII letter): for tests of that encoding only, as ZITADEL
	// never generates such a secret.
	AwkwardAPI App
	// OtherAPI is a Basic application of OtherProjectID.
	OtherAPI App

	// Reader has the role read:messages and opaque access tokens.
	Reader *ServiceUser
	// NoRole has no role in ProjectID, read:messages in OtherProjectID, and
	// opaque access tokens.
	NoRole *ServiceUser
	// JWTReader has the role read:messages and JWT access tokens.
	JWTReader *ServiceUser
	// Awkward has the role read:messages, opaque access tokens and a
	// client secret with characters that must be url-encoded, for tests
	// of that encoding only.
	Awkward *ServiceUser

	zitadelProjectID     string // the instance's own project ("zitadel" in aud scopes)
	accessTokenLifetime  time.Duration
	legacyJWTGrantErrors bool
	log                  *slog.Logger
	keys                 issuerKeys

	// The directory of record. The management calls change it after Start:
	// read it with userByID, appByClientID and projectByID (directory.go).
	dir      sync.RWMutex
	projects map[string]*project     // by project ID
	apps     map[string]*apiApp      // by client ID
	users    map[string]*serviceUser // by user ID
	mgmt     management

	tokens tokenStore
	stats  counters

	// Saving the state to Dir/state.json, when Dir is kept (state.go).
	restored   bool          // taken up from Dir, not provisioned
	saveSignal chan struct{} // nil: nothing is saved
	saverDone  chan struct{}
	saveMu     sync.Mutex
	fault      atomic.Pointer[Fault]

	server    *http.Server
	serveDone chan struct{}
	closing   chan struct{} // closed when Close begins
	removeDir bool
	closeOnce sync.Once
	closeErr  error
}

// Start provisions a new instance and serves it. On return the listener is
// open and the key files and .env are written. ctx bounds the start-up
// only; call Close to stop the instance.
func Start(ctx context.Context, opts Options) (_ *Instance, err error) {
	// A cancelled ctx fails Start every time, not only when the key pool
	// happens to be slower than the cancellation.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("localzitadel: %w", err)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = 12 * time.Hour
	}

	version, err := parseVersion(opts.ZitadelVersion)
	if err != nil {
		return nil, fmt.Errorf("localzitadel: %w", err)
	}
	i := &Instance{
		accessTokenLifetime:  opts.AccessTokenLifetime,
		legacyJWTGrantErrors: opts.LegacyJWTGrantErrors,
		mgmt:                 newManagement(version, opts.LegacyMachineTokenType),
		log:                  opts.Logger,
		serveDone:            make(chan struct{}),
		closing:              make(chan struct{}),
	}
	i.tokens.init()

	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "localzitadel-")
		if err != nil {
			return nil, fmt.Errorf("localzitadel: create directory: %w", err)
		}
		i.Dir, i.removeDir = dir, true
	} else {
		dir, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("localzitadel: directory %s: %w", opts.Dir, err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("localzitadel: create directory: %w", err)
		}
		// It holds secrets and private keys: an existing directory that
		// others may read becomes private too, as combos setup does with its own.
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("localzitadel: directory %s: %w", opts.Dir, err)
		}
		i.Dir = dir
	}
	defer func() {
		if err != nil && i.removeDir {
			os.RemoveAll(i.Dir)
		}
	}()

	var keys []*rsa.PrivateKey
	if !i.removeDir && !opts.Fresh {
		if err := i.restore(); err != nil && !errors.Is(err, errNoState) {
			return nil, fmt.Errorf("localzitadel: %w", err)
		}
	}
	if !i.restored {
		if keys, err = pooledKeys(ctx); err != nil {
			return nil, fmt.Errorf("localzitadel: %w", err)
		}
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("localzitadel: listen: %w", err)
	}
	// Loopback only: the instance hands out tokens to anyone who asks with
	// the secrets in Dir, and the issuer URL must be one clients can reach.
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("localzitadel: listen address %s is not a loopback address", opts.Addr)
	}
	i.setURLs("http://" + ln.Addr().String())

	if i.restored {
		// The same instance, maybe at another address: a new .env.
		i.EnvFile, err = i.WriteEnv(".env", i.Reader, "http://localhost:5000")
	} else {
		err = i.provision(keys, opts.SigningAlgorithm)
	}
	if err == nil && !i.removeDir {
		i.saveSignal, i.saverDone = make(chan struct{}, 1), make(chan struct{})
		err = i.save()
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("localzitadel: %w", err)
	}
	if i.saveSignal != nil {
		go i.saver()
	}

	i.server = &http.Server{
		Handler:           i.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      2 * time.Minute, // long enough for Fault.Delay in tests
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(i.log.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(i.serveDone)
		if err := i.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			i.log.Error("serve", "err", err)
		}
	}()
	i.log.Info("local ZITADEL started", "issuer", i.Issuer, "dir", i.Dir)
	return i, nil
}

func (i *Instance) setURLs(issuer string) {
	i.Issuer = issuer
	i.TokenURL = issuer + pathToken
	i.IntrospectionURL = issuer + pathIntrospect
	i.RevocationURL = issuer + pathRevoke
	i.KeysURL = issuer + pathKeys
	i.UserInfoURL = issuer + pathUserInfo
	i.StatsURL = issuer + pathStats
}

// Restored reports whether Start took up the instance saved in Dir
// rather than provisioning a new one.
func (i *Instance) Restored() bool { return i.restored }

// Close stops listening, waits a bounded time for requests in flight, and
// removes Dir if Start created it. It may be called more than once.
func (i *Instance) Close() error {
	i.closeOnce.Do(func() {
		close(i.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := i.server.Shutdown(ctx); err != nil {
			// Requests still running (a Fault.Delay, say): cut them off.
			i.server.Close()
		}
		<-i.serveDone
		if i.saveSignal != nil {
			<-i.saverDone
			i.closeErr = i.save()
		}
		if i.removeDir {
			i.closeErr = os.RemoveAll(i.Dir)
		}
	})
	return i.closeErr
}

// Env returns every variable the samples read, for the service user u and
// an API at apiBaseURL. Paths are absolute, so the values work from any
// working directory.
func (i *Instance) Env(u *ServiceUser, apiBaseURL string) map[string]string {
	env := map[string]string{
		"ZITADEL_DOMAIN":            i.Issuer,
		"ZITADEL_INTROSPECTION_URL": i.IntrospectionURL,
		"ZITADEL_TOKEN_URL":         i.TokenURL,
		"API_PRIVATE_KEY_FILE":      i.JWTAPI.KeyFile,
		"API_CLIENT_ID":             i.BasicAPI.ClientID,
		"API_CLIENT_SECRET":         i.BasicAPI.ClientSecret,
		"PROJECT_ID":                i.ProjectID,
		"API_BASE_URL":              apiBaseURL,
	}
	if u != nil {
		env["CLIENT_PRIVATE_KEY_FILE_PATH"] = u.KeyFile
		env["CLIENT_ID"] = u.UserName
		env["CLIENT_SECRET"] = u.ClientSecret
		env["PAT"] = u.PAT
	}
	return env
}
