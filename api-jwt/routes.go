package main

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
)

// routes is the whole API, with the routes and answers of the original
// samples (blog section 3). Add a route here: wrap it in guard.RequireToken
// to let only callers with an active token through, or in
// guard.RequireRole(role) to require a role of this API's project too.
func routes(guard *apiserver.Guard, logger *slog.Logger) http.Handler {
	r := chi.NewRouter()
	r.Use(apiserver.LogRequests(logger))
	r.Use(middleware.GetHead) // HEAD of a GET route, as net/http answers it
	r.NotFound(apiserver.NotFound)
	r.MethodNotAllowed(apiserver.MethodNotAllowed)

	// Where a client learns which ZITADEL issues tokens for this API and
	// which scopes to ask for (RFC 9728): for the API, and for each
	// protected route, with the roles it requires.
	r.Get(apiserver.ResourceMetadataPath, guard.ResourceMetadata())
	r.Get(apiserver.ResourceMetadataPath+"/api/private", guard.ResourceMetadata())
	r.Get(apiserver.ResourceMetadataPath+"/api/private-scoped", guard.ResourceMetadata("read:messages"))

	r.Get("/api/public", message("Public route - You don't need to be authenticated to see this."))
	r.With(guard.RequireToken).Get("/api/private", private)
	r.With(guard.RequireRole("read:messages")).Get("/api/private-scoped",
		message("Private, scoped route - You need to be authenticated and have the role read:messages to see this."))
	return r
}

// private answers a caller with an active token. It shows how a handler
// learns who called: FromContext gives what ZITADEL says about the token
// (never the token itself, which must not be logged), and AddToLog puts
// the caller into this request's log line.
func private(w http.ResponseWriter, r *http.Request) {
	caller, ok := apiserver.FromContext(r.Context())
	if !ok { // the route lacks the guard
		apiserver.WriteError(w, http.StatusInternalServerError, "server_error", "The route is not protected.")
		return
	}
	apiserver.AddToLog(w, slog.String("subject", caller.Subject), slog.String("username", caller.Username),
		slog.String("organization", caller.OrganizationID), slog.String("roles", strings.Join(caller.Roles, ",")))
	apiserver.WriteJSON(w, http.StatusOK, answer{"Private route - You need to be authenticated to see this."})
}

// message answers with text.
func message(text string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		apiserver.WriteJSON(w, http.StatusOK, answer{text})
	}
}

// answer is the body of a route's answer, as in the original samples: {"message": …}.
type answer struct {
	Message string `json:"message"`
}
