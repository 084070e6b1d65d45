package clienttest

import (
	"net/http"
	"net/url"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
)

// routes is the API the clients call: the samples' three routes and their
// guards, on a ServeMux. The samples' own route tables are tested with the
// samples (internal/apiservertest); the clients need only the answers.
func routes(guard *apiserver.Guard) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /api/public", reply(publicMessage))
	mux.Handle("GET /api/private", guard.RequireToken(reply(privateMessage)))
	mux.Handle("GET /api/private-scoped", guard.RequireRole("read:messages")(reply(privateScopedMessage)))
	return mux
}

func reply(message string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		apiserver.WriteJSON(w, http.StatusOK, map[string]string{"message": message})
	})
}

// clientSecretBasic authenticates introspection requests as
// api-basic-authentication does (RFC 6749 §2.3.1).
func clientSecretBasic(clientID, clientSecret string) func(*http.Request, url.Values) error {
	return func(req *http.Request, _ url.Values) error {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
		return nil
	}
}
