package main

// The setup client's side of ZITADEL's management APIs: sign in as the
// admin service user, and one helper for every call. The request and
// response shapes are written at each call site from ZITADEL's protos (see
// docs/zitadel-on-the-wire.md, "Management calls used by combos setup");
// none is shared with the local ZITADEL's side. setup_mgmt.go holds the
// calls of each API generation.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/keyfile"
)

// zitadelAPI calls ZITADEL as the admin service user.
type zitadelAPI struct {
	domain string
	token  string // the admin's access token; never printed
	admin  string // the admin's user id, for messages
	org    string // the admin's organisation, where setup works
	http   *http.Client

	tokenURL, introspectionURL string // from discovery, for setup's checks
}

// adminScope: the token must be for ZITADEL's own APIs (the ZITADEL
// project in its audience), and userinfo must name the admin's
// organisation.
const adminScope = "openid urn:zitadel:iam:org:project:id:zitadel:aud urn:zitadel:iam:user:resourceowner"

// signIn checks that domain is a ZITADEL, signs in with the admin key
// (JWT bearer grant, RFC 7523) and learns the admin's organisation.
func signIn(ctx context.Context, domain, keyFile string) (*zitadelAPI, error) {
	key, err := keyfile.LoadServiceAccount(keyFile)
	if err != nil {
		return nil, fmt.Errorf("ADMIN_KEY_FILE: %w", err)
	}
	z := &zitadelAPI{domain: domain, admin: key.UserID, http: &http.Client{Timeout: 30 * time.Second}}

	var discovery struct {
		Issuer                string `json:"issuer"`
		TokenEndpoint         string `json:"token_endpoint"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
	}
	if err := z.getJSON(ctx, domain+"/.well-known/openid-configuration", "", &discovery); err != nil {
		return nil, fmt.Errorf("ZITADEL_DOMAIN %s: %w", domain, err)
	}
	if discovery.Issuer != domain || discovery.TokenEndpoint == "" || discovery.UserinfoEndpoint == "" || discovery.IntrospectionEndpoint == "" {
		return nil, fmt.Errorf("ZITADEL_DOMAIN %s: its discovery document names issuer %q: set ZITADEL_DOMAIN to exactly the instance URL", domain, config.Printable(discovery.Issuer, 200))
	}

	z.tokenURL, z.introspectionURL = discovery.TokenEndpoint, discovery.IntrospectionEndpoint

	signed, err := key.Assertions(domain).Assertion()
	if err != nil {
		return nil, fmt.Errorf("ADMIN_KEY_FILE: sign the grant assertion: %w", err)
	}
	form := url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"},
		"assertion":  {signed},
		"scope":      {adminScope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, discovery.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := z.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ZITADEL_DOMAIN %s: token endpoint cannot be reached: %w", domain, err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tok)
	if resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		// ZITADEL answers a bad grant assertion with 400 invalid_grant or,
		// in current versions, 500 server_error (docs/zitadel-on-the-wire.md).
		return nil, fmt.Errorf("ZITADEL rejected the admin key in ADMIN_KEY_FILE (HTTP %d %s %s): is it the key of a service user of this instance, not deleted, and is ZITADEL_DOMAIN that instance?",
			resp.StatusCode, config.Printable(tok.Error, 100), config.Printable(tok.Description, 200))
	}
	z.token = tok.AccessToken

	var userinfo map[string]any
	if err := z.getJSON(ctx, discovery.UserinfoEndpoint, z.token, &userinfo); err != nil {
		return nil, fmt.Errorf("userinfo of the admin: %w", err)
	}
	z.org, _ = userinfo["urn:zitadel:iam:user:resourceowner:id"].(string)
	if z.org == "" {
		return nil, errors.New("userinfo of the admin names no organisation (urn:zitadel:iam:user:resourceowner:id): is ZITADEL_DOMAIN a ZITADEL instance?")
	}
	return z, nil
}

func (z *zitadelAPI) getJSON(ctx context.Context, url, bearer string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := z.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot be reached: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v) != nil {
		return fmt.Errorf("%s answered HTTP %d, not JSON: is this a ZITADEL instance?", url, resp.StatusCode)
	}
	return nil
}

// call makes one call of ZITADEL's v2 APIs with the Connect protocol:
// POST {domain}/{procedure}, the request as protobuf JSON, the answer as
// protobuf JSON or a Connect error.
func (z *zitadelAPI) call(ctx context.Context, procedure string, req, resp any) error {
	return z.do(ctx, http.MethodPost, "/"+procedure, procedure, req, resp)
}

// do sends req as JSON (none if nil) to path and decodes the answer into
// resp. It serves the v2 calls and management v1's REST gateway, whose
// errors carry gRPC's numeric code instead of the Connect code name.
func (z *zitadelAPI) do(ctx context.Context, method, path, name string, req, resp any) error {
	var body io.Reader
	if req != nil {
		raw, err := json.Marshal(req)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequestWithContext(ctx, method, z.domain+path, body)
	if err != nil {
		return err
	}
	if req != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("Connect-Protocol-Version", "1")
	r.Header.Set("Authorization", "Bearer "+z.token)
	r.Header.Set("x-zitadel-orgid", z.org) // v1's organisation context; v2 ignores it
	res, err := z.http.Do(r)
	if err != nil {
		return fmt.Errorf("%s: ZITADEL_DOMAIN %s cannot be reached: %w", name, z.domain, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: read the answer: %w", name, err)
	}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if res.StatusCode == http.StatusOK && mt == "application/json" {
		if err := json.Unmarshal(raw, resp); err != nil {
			return fmt.Errorf("%s: the answer is not the JSON of this call: %w", name, err)
		}
		return nil
	}
	e := &apiError{call: name, status: res.StatusCode, admin: z.admin, org: z.org}
	var connectErr struct {
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
	}
	if mt == "application/json" && json.Unmarshal(raw, &connectErr) == nil && len(connectErr.Code) > 0 {
		e.code, e.message = codeName(connectErr.Code), config.Printable(connectErr.Message, 300)
	}
	return e
}

// codeName reads a Connect code ("permission_denied") or a gRPC one (7).
func codeName(raw json.RawMessage) string {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return name
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		names := map[int]string{3: "invalid_argument", 5: "not_found", 6: "already_exists", 7: "permission_denied",
			9: "failed_precondition", 12: "unimplemented", 13: "internal", 14: "unavailable", 16: "unauthenticated"}
		if s, ok := names[n]; ok {
			return s
		}
	}
	return "unknown"
}

// apiError is ZITADEL's error for one call; Error says what to fix.
type apiError struct {
	call, code, message string
	status              int
	admin, org          string
}

func (e *apiError) Error() string {
	switch {
	case e.code == "permission_denied":
		return fmt.Sprintf("%s: permission denied (%s).\n"+
			"Grant the admin service user %s the role Org Owner in organisation %s: in the console, open Organization, click + at the top right, choose the service user and the role Org Owner.",
			e.call, e.message, e.admin, e.org)
	case e.code == "unauthenticated":
		return fmt.Sprintf("%s: ZITADEL did not accept the admin's token (%s): was the admin key or user deleted meanwhile?", e.call, e.message)
	case e.code == "":
		return fmt.Sprintf("%s: ZITADEL_DOMAIN answered HTTP %d without ZITADEL's API error JSON: is it a ZITADEL instance (v2 or later), and ZITADEL_DOMAIN its URL?", e.call, e.status)
	case e.code == "unimplemented":
		return fmt.Sprintf("%s: not implemented by this ZITADEL (%s)", e.call, e.message)
	}
	return fmt.Sprintf("%s: %s (HTTP %d): %s", e.call, e.code, e.status, e.message)
}

// isCode reports whether err is ZITADEL's error with that Connect code.
func isCode(err error, code string) bool {
	var e *apiError
	return errors.As(err, &e) && e.code == code
}
