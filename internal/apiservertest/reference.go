package apiservertest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/zitadel/go-introspection-examples/internal/api"
	"github.com/zitadel/go-introspection-examples/internal/apiserver"
)

// Reference is an API built from internal/apiserver's parts as
// api-basic-authentication builds them, for the tests of those parts, which
// cannot import a sample. Its realm is "reference-api".
var Reference = API{
	Name:               "reference-api",
	Run:                runReference,
	CredentialSettings: []string{"API_CLIENT_ID", "API_CLIENT_SECRET"},
}

func runReference(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	settings, env, err := apiserver.LoadSettings("reference-api", args, getenv, stderr)
	if err != nil {
		return err
	}
	clientID := env.String("API_CLIENT_ID", "the client id of the API application")
	clientSecret := env.String("API_CLIENT_SECRET", "the client secret of the API application")
	if err := env.Err(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	guard := &apiserver.Guard{
		Introspector:    settings.Introspector(ClientSecretBasic(clientID, clientSecret), logger),
		JWT:             settings.JWT(logger),
		Issuer:          settings.Issuer,
		Resource:        settings.ResourceURL,
		Realm:           "reference-api",
		CredentialsHint: "API_CLIENT_ID and API_CLIENT_SECRET",
		Logger:          logger,
	}
	return apiserver.Serve(ctx, settings, Routes(guard, logger), logger, stdout)
}

// ClientSecretBasic authenticates introspection requests as
// api-basic-authentication does.
func ClientSecretBasic(clientID, clientSecret string) func(*http.Request, url.Values) error {
	return func(req *http.Request, _ url.Values) error {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		return nil
	}
}

// Routes is the samples' route table (their routes.go), for Reference and
// the benchmarks.
func Routes(guard *apiserver.Guard, logger *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(apiserver.LogRequests(logger))
	r.Use(middleware.GetHead) // HEAD of a GET route, as net/http answers it
	r.NotFound(apiserver.NotFound)
	r.MethodNotAllowed(apiserver.MethodNotAllowed)
	r.Get(apiserver.ResourceMetadataPath, guard.ResourceMetadata)
	r.Get(api.RoutePublic, message(api.PublicMessage))
	r.With(guard.RequireToken).Get(api.RoutePrivate, func(w http.ResponseWriter, r *http.Request) {
		caller, _ := apiserver.FromContext(r.Context())
		apiserver.AddToLog(w, slog.String("subject", caller.Subject), slog.String("username", caller.Username),
			slog.String("organization", caller.OrganizationID), slog.String("roles", strings.Join(caller.Roles, ",")))
		apiserver.WriteJSON(w, http.StatusOK, answer{api.PrivateMessage})
	})
	r.With(guard.RequireToken, guard.RequireRole(api.RoleReadMessages)).
		Get(api.RoutePrivateScoped, message(api.PrivateScopedMessage))
	return r
}

func message(text string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		apiserver.WriteJSON(w, http.StatusOK, answer{text})
	}
}

type answer struct {
	Message string `json:"message"`
}
