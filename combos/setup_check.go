package main

// A rerun of setup checks the credentials it would reuse, the way the
// samples use them: a token request for a service user's key or secret,
// an introspection for an API application's key or secret and for a PAT.
// Only what stopped working is made anew.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

// works is the verdict of one check.
type works bool

// post sends form to endpoint and reports whether ZITADEL accepted the
// credentials: 200 yes; an OAuth error answer (400, 401, or the 500
// server_error of a bad grant assertion) no; anything else is an error,
// for an unreachable ZITADEL says nothing about the credentials.
func (z *zitadelAPI) post(ctx context.Context, endpoint string, form url.Values, basicUser, basicSecret string, answer any) (works, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		// RFC 6749 §2.3.1: both parts form-url-encoded; ZITADEL decodes them.
		req.SetBasicAuth(url.QueryEscape(basicUser), url.QueryEscape(basicSecret))
	}
	resp, err := z.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("check credentials: ZITADEL_DOMAIN %s cannot be reached: %w", z.domain, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK {
		if answer != nil && json.Unmarshal(raw, answer) != nil {
			return false, fmt.Errorf("check credentials: %s answered 200 without JSON", endpoint)
		}
		return true, nil
	}
	var oauthErr struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(raw, &oauthErr) == nil && oauthErr.Error != "" {
		return false, nil
	}
	return false, fmt.Errorf("check credentials: %s answered HTTP %d", endpoint, resp.StatusCode)
}

// userSecretWorks: a client_credentials token request with the secret.
func (z *zitadelAPI) userSecretWorks(ctx context.Context, userName, secret string) (works, error) {
	return z.post(ctx, z.tokenURL, url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, userName, secret, nil)
}

// userKeyWorks: a JWT bearer grant signed with the key file.
func (z *zitadelAPI) userKeyWorks(ctx context.Context, path string) (works, error) {
	key, err := keyfile.LoadServiceAccount(path)
	if err != nil {
		return false, nil
	}
	signed, err := key.Assertions(z.domain).Assertion()
	if err != nil {
		return false, nil
	}
	return z.post(ctx, z.tokenURL, url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {signed}, "scope": {"openid"},
	}, "", "", nil)
}

// appKeyWorks: an introspection with a client assertion signed by the
// application's key file. The token does not matter: wrong client
// credentials are a 400, right ones a 200.
func (z *zitadelAPI) appKeyWorks(ctx context.Context, path string) (works, error) {
	key, err := keyfile.LoadApplication(path)
	if err != nil {
		return false, nil
	}
	signed, err := key.Assertions(z.domain).Assertion()
	if err != nil {
		return false, nil
	}
	return z.post(ctx, z.introspectionURL, url.Values{
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {signed},
		"token":                 {"setup-check"},
	}, "", "", nil)
}

// appSecretWorks: an introspection with Basic credentials.
func (z *zitadelAPI) appSecretWorks(ctx context.Context, clientID, secret string) (works, error) {
	return z.post(ctx, z.introspectionURL, url.Values{"token": {"setup-check"}}, clientID, secret, nil)
}

// patWorks: the PAT introspected by the Basic application is active.
func (z *zitadelAPI) patWorks(ctx context.Context, pat, clientID, secret string) (works, error) {
	var answer struct {
		Active bool `json:"active"`
	}
	ok, err := z.post(ctx, z.introspectionURL, url.Values{"token": {pat}}, clientID, secret, &answer)
	if err != nil || !ok {
		return false, fmt.Errorf("check the PAT: the application %s cannot introspect (%v)", clientID, err)
	}
	return works(answer.Active), nil
}
