package localzitadel

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ZITADEL's paths (docs/zitadel-on-the-wire.md, "Endpoints").
const (
	pathDiscovery  = "/.well-known/openid-configuration"
	pathAuthorize  = "/oauth/v2/authorize"
	pathToken      = "/oauth/v2/token"
	pathIntrospect = "/oauth/v2/introspect"
	pathRevoke     = "/oauth/v2/revoke"
	pathKeys       = "/oauth/v2/keys"
	pathUserInfo   = "/oidc/v1/userinfo"

	pathEndSession          = "/oidc/v1/end_session"
	pathDeviceAuthorization = "/oauth/v2/device_authorization"
	pathStats               = "/debug/stats"
)

// maxBodyBytes bounds request bodies; a token request is a few kilobytes.
const maxBodyBytes = 64 << 10

// routes is the whole HTTP surface, top to bottom. The OIDC endpoints are
// served by the oidc library's router around server; this package adds
// request counting, fault injection and body limits in front of it.
func (i *Instance) routes() http.Handler {
	oidcHandler := op.RegisterServer(&server{i: i}, op.Endpoints{
		Authorization:       op.NewEndpoint(pathAuthorize),
		Token:               op.NewEndpoint(pathToken),
		Introspection:       op.NewEndpoint(pathIntrospect),
		Revocation:          op.NewEndpoint(pathRevoke),
		JwksURI:             op.NewEndpoint(pathKeys),
		Userinfo:            op.NewEndpoint(pathUserInfo),
		EndSession:          op.NewEndpoint(pathEndSession),
		DeviceAuthorization: op.NewEndpoint(pathDeviceAuthorization),
	})

	mux := http.NewServeMux()
	mux.Handle(pathDiscovery, i.count(&i.stats.discovery, oidcHandler))
	mux.Handle(pathKeys, i.count(&i.stats.keys, oidcHandler))
	mux.Handle(pathToken, i.count(&i.stats.token, i.faulty(oidcHandler)))
	mux.Handle(pathIntrospect, i.count(&i.stats.introspect, i.faulty(oidcHandler)))
	mux.Handle(pathRevoke, i.count(&i.stats.revoke, oidcHandler))
	mux.Handle(pathUserInfo, i.count(&i.stats.userInfo, oidcHandler))
	mux.Handle(pathStats, i.statsHandler())
	i.mountManagement(mux)       // management.go
	mux.Handle("/", oidcHandler) // the library's answers for anything else

	return i.logRequests(limitBody(i.noteChanges(mux)))
}

// noteChanges has the state saved after every request that may change it:
// tokens issued, objects created or deleted by the management calls. An
// introspection, a refused revocation or a userinfo request changes nothing.
func (i *Instance) noteChanges(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		switch {
		case r.Method == http.MethodGet, r.Method == http.MethodHead:
		case r.URL.Path == pathIntrospect, r.URL.Path == pathRevoke, r.URL.Path == pathUserInfo:
		default:
			i.changed()
		}
	})
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// logRequests logs method, path, status and duration, and for an OAuth
// error its error and error_description: never a header, form value or
// body of a request, which carry tokens, secrets and assertions.
func (i *Instance) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond)}
		var oauthErr struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if rec.status >= 400 && json.Unmarshal(rec.errBody, &oauthErr) == nil && oauthErr.Error != "" {
			attrs = append(attrs, "error", oauthErr.Error, "error_description", oauthErr.Description)
		}
		i.log.Info("request", attrs...)
	})
}

// statusRecorder notes the status and, of an error answer, the start of the body.
type statusRecorder struct {
	http.ResponseWriter
	status  int
	errBody []byte
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status >= 400 && len(r.errBody) < 1024 {
		r.errBody = append(r.errBody, b[:min(len(b), 1024-len(r.errBody))]...)
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// server implements op.Server the way ZITADEL's internal/api/oidc does, for
// the endpoints the samples use. Everything else answers the library's
// "not implemented" error (UnimplementedServer).
type server struct {
	op.UnimplementedServer
	i *Instance
}

// Discovery answers what ZITADEL's discovery document lists
// (docs/zitadel-on-the-wire.md, "Discovery"): every endpoint, the
// interactive ones included, whose requests this instance answers with the
// library's "not implemented"; every grant type; the library's standard
// claims; and the signing algorithms of ZITADEL's web keys.
func (s *server) Discovery(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	i := s.i
	return op.NewResponse(&oidc.DiscoveryConfiguration{
		Issuer:                      i.Issuer,
		AuthorizationEndpoint:       i.Issuer + pathAuthorize,
		TokenEndpoint:               i.TokenURL,
		IntrospectionEndpoint:       i.IntrospectionURL,
		UserinfoEndpoint:            i.UserInfoURL,
		RevocationEndpoint:          i.RevocationURL,
		EndSessionEndpoint:          i.Issuer + pathEndSession,
		DeviceAuthorizationEndpoint: i.Issuer + pathDeviceAuthorization,
		JwksURI:                     i.KeysURL,
		ScopesSupported: []string{
			oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone,
			oidc.ScopeAddress, oidc.ScopeOfflineAccess,
		},
		ResponseTypesSupported: []string{
			string(oidc.ResponseTypeCode), string(oidc.ResponseTypeIDTokenOnly), string(oidc.ResponseTypeIDToken),
		},
		GrantTypesSupported: []oidc.GrantType{
			oidc.GrantTypeCode, oidc.GrantTypeImplicit, oidc.GrantTypeRefreshToken,
			oidc.GrantTypeClientCredentials, oidc.GrantTypeTokenExchange, oidc.GrantTypeBearer,
			oidc.GrantTypeDeviceCode,
		},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: signingAlgorithms,
		TokenEndpointAuthMethodsSupported: []oidc.AuthMethod{
			oidc.AuthMethodNone, oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT,
		},
		TokenEndpointAuthSigningAlgValuesSupported: []string{string(jose.RS256)},
		IntrospectionEndpointAuthMethodsSupported: []oidc.AuthMethod{
			oidc.AuthMethodBasic, oidc.AuthMethodPrivateKeyJWT,
		},
		IntrospectionEndpointAuthSigningAlgValuesSupported: []string{string(jose.RS256)},
		RevocationEndpointAuthMethodsSupported: []oidc.AuthMethod{
			oidc.AuthMethodNone, oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT,
		},
		RevocationEndpointAuthSigningAlgValuesSupported: []string{string(jose.RS256)},
		ClaimsSupported:               op.DefaultSupportedClaims,
		CodeChallengeMethodsSupported: []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
		UILocalesSupported:            nil,
		RequestParameterSupported:     true,
	}), nil
}

// signingAlgorithms are those ZITADEL's web keys may use and its discovery
// lists; the JWKS says which one a key uses.
var signingAlgorithms = []string{
	string(jose.RS256), string(jose.RS384), string(jose.RS512),
	string(jose.ES256), string(jose.ES384), string(jose.ES512), string(jose.EdDSA),
}

// Keys serves the public half of the issuer's signing key, with which id
// tokens and JWT access tokens verify; its alg is the one it signs with.
func (s *server) Keys(ctx context.Context, r *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(&jose.JSONWebKeySet{Keys: []jose.JSONWebKey{s.i.keys.publicJWK()}}), nil
}

// VerifyClient authenticates the client of the token endpoint and of the
// revocation endpoint (the library calls it before ClientCredentialsExchange
// and Revocation; the JWT bearer grant and introspection authenticate on
// their own, as in ZITADEL). As ZITADEL's VerifyClient, it takes service
// users for the client_credentials grant and OIDC applications for
// everything else, of which this instance has none.
func (s *server) VerifyClient(ctx context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	cc := r.Data
	if oidc.GrantType(r.Form.Get("grant_type")) == oidc.GrantTypeClientCredentials {
		return s.i.clientCredentialsAuth(cc.ClientID, cc.ClientSecret)
	}
	return s.i.revocationClient(cc)
}
