package apiserver

import (
	"net"
	"net/http"
	"strings"
)

// ResourceMetadataPath is where an API publishes its OAuth 2.0 Protected
// Resource Metadata (RFC 9728 §3). The metadata of a route's URL is at this
// path followed by the route's path (§3.1).
const ResourceMetadataPath = "/.well-known/oauth-protected-resource"

// ResourceMetadata serves the protected resource metadata (RFC 9728) of the
// route whose path follows ResourceMetadataPath in the request, or of the
// API as a whole at ResourceMetadataPath itself: the resource, the ZITADEL
// instance that issues its tokens, that tokens go in the Authorization
// header, and, when PROJECT_ID is set, the scopes a client asks ZITADEL
// for, with a role scope for each role the route requires. Clients such as
// MCP clients follow the resource_metadata of a 401's challenge here, and
// discard the answer unless its resource is the URL they called (§3.3).
func (g *Guard) ResourceMetadata(roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		md := resourceMetadata{
			Resource:               g.baseURL(r) + strings.TrimPrefix(r.URL.EscapedPath(), ResourceMetadataPath),
			ResourceName:           g.realm,
			AuthorizationServers:   []string{g.issuer},
			BearerMethodsSupported: []string{"header"},
		}
		if g.projectID != "" {
			// Without the aud scope ZITADEL leaves the project out of the
			// token's audience, and introspection answers inactive. A role
			// scope puts the role into a JWT access token; it narrows, never
			// grants, a role.
			md.ScopesSupported = []string{"openid", "urn:zitadel:iam:org:project:id:" + g.projectID + ":aud"}
			for _, role := range roles {
				md.ScopesSupported = append(md.ScopesSupported, "urn:zitadel:iam:org:project:role:"+role)
			}
		}
		WriteJSON(w, http.StatusOK, md)
	}
}

type resourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// metadataURL is where the metadata of the URL r asked for is (RFC 9728 §3.1).
func (g *Guard) metadataURL(r *http.Request) string {
	return g.baseURL(r) + ResourceMetadataPath + r.URL.EscapedPath()
}

// baseURL is the API's URL: RESOURCE_URL, else the scheme and host the
// client called. A Host header is whatever the client sent, so production
// sets RESOURCE_URL; a request without one (HTTP/1.0) gets the address it
// reached, never an empty host.
func (g *Guard) baseURL(r *http.Request) string {
	if g.resource != "" {
		return g.resource
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if host == "" {
		if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = addr.String()
		} else {
			host = "localhost"
		}
	}
	return scheme + "://" + host
}
