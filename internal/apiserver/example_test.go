package apiserver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/introspect"
)

// knownTokens stands in for ZITADEL here: it knows one token. A real API
// uses settings.Introspector(authenticate), as the samples do.
type knownTokens map[string]*introspect.Result

func (k knownTokens) Introspect(_ context.Context, token string) (*introspect.Result, error) {
	if r, ok := k[token]; ok {
		return r, nil
	}
	return &introspect.Result{}, nil // active:false
}

// The guard on a route of your own, with net/http's ServeMux: wrap the
// handler in RequireToken (and RequireRole), and read the caller with
// FromContext.
func ExampleGuard() {
	guard := &apiserver.Guard{
		Introspector: knownTokens{"t0ken": {Active: true, Subject: "3187", Username: "reader", Roles: []string{"read:messages"}}},
		Realm:        "my-api",
	}

	mux := http.NewServeMux()
	mux.Handle("GET /api/orders", guard.RequireToken(guard.RequireRole("read:messages")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			caller, _ := apiserver.FromContext(r.Context())
			apiserver.WriteJSON(w, http.StatusOK, map[string]string{"orders_of": caller.Username})
		}))))

	for _, token := range []string{"t0ken", "unknown", ""} {
		req := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body)
	}
	// Output:
	// 200 {"orders_of":"reader"}
	// 401 {"code":"invalid_token","description":"The access token is not active: it is unknown, expired or revoked, or was issued for another project."}
	// 401 {"code":"missing_token","description":"This route needs an access token: send Authorization: Bearer <token>."}
}
