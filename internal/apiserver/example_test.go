package apiserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// The guard on a route of your own, with net/http's ServeMux: wrap the
// handler in RequireToken or RequireRole, and read the caller with
// FromContext. Here the local ZITADEL stands in for your instance.
func ExampleGuard() {
	z, err := localzitadel.Start(context.Background(), localzitadel.Options{})
	if err != nil {
		panic(err)
	}
	defer z.Close()
	settings := apiserver.Settings{
		Name:             "my-api",
		Issuer:           z.Issuer,
		IntrospectionURL: z.IntrospectionURL,
		ProjectID:        z.ProjectID,
		CacheTTL:         apiserver.DefaultCacheTTL,
		Timeout:          time.Second,
		MaxInFlight:      apiserver.DefaultMaxInFlight,
	}
	basic := func(req *http.Request, _ url.Values) error {
		req.SetBasicAuth(url.QueryEscape(z.BasicAPI.ClientID), url.QueryEscape(z.BasicAPI.ClientSecret))
		return nil
	}
	guard, err := apiserver.NewGuard(context.Background(), settings, basic, "API_CLIENT_SECRET", slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /api/orders", guard.RequireRole("read:messages")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			caller, _ := apiserver.FromContext(r.Context())
			apiserver.WriteJSON(w, http.StatusOK, map[string]string{"orders_of": caller.Username})
		})))

	reader, _ := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	for _, token := range []string{reader, "unknown", ""} {
		req := httptest.NewRequest(http.MethodGet, "/api/orders", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body)
	}
	// Output:
	// 200 {"orders_of":"service-user-reader@examples.localhost"}
	// 401 {"code":"invalid_token","description":"The access token is not active: it is unknown, expired or revoked, or was issued for another project."}
	// 401 {"code":"missing_token","description":"This route needs an access token: send Authorization: Bearer <token>."}
}
