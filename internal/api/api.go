// Package api names what the samples' API serves, word for word as the
// original samples (blog section 3): its routes, their answers, and the role
// the scoped route requires. The API samples serve it; the clients call it.
package api

// The routes, in the order the clients call them.
const (
	RoutePublic        = "/api/public"
	RoutePrivate       = "/api/private"
	RoutePrivateScoped = "/api/private-scoped"
)

// Routes are the three routes, in the order the clients call them.
var Routes = []string{RoutePublic, RoutePrivate, RoutePrivateScoped}

// RoleReadMessages is the project role RoutePrivateScoped requires.
const RoleReadMessages = "read:messages"

// The answers of the three routes, {"message": …}.
const (
	PublicMessage        = "Public route - You don't need to be authenticated to see this."
	PrivateMessage       = "Private route - You need to be authenticated to see this."
	PrivateScopedMessage = "Private, scoped route - You need to be authenticated and have the role read:messages to see this."
)
