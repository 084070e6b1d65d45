package localzitadel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestStartProvisions(t *testing.T) {
	z := startInstance(t)

	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(z.Issuer) {
		t.Errorf("Issuer = %q, want http://127.0.0.1:PORT", z.Issuer)
	}
	for name, got := range map[string]string{
		"TokenURL": z.TokenURL, "IntrospectionURL": z.IntrospectionURL, "RevocationURL": z.RevocationURL,
		"KeysURL": z.KeysURL, "StatsURL": z.StatsURL, "UserInfoURL": z.UserInfoURL,
	} {
		want := map[string]string{
			"TokenURL": "/oauth/v2/token", "IntrospectionURL": "/oauth/v2/introspect", "RevocationURL": "/oauth/v2/revoke",
			"KeysURL": "/oauth/v2/keys", "StatsURL": "/debug/stats", "UserInfoURL": "/oidc/v1/userinfo",
		}[name]
		if got != z.Issuer+want {
			t.Errorf("%s = %q, want %q", name, got, z.Issuer+want)
		}
	}

	id := regexp.MustCompile(`^\d{18}$`)
	ids := map[string]string{
		"OrgID": z.OrgID, "ProjectID": z.ProjectID, "OtherProjectID": z.OtherProjectID,
		"JWTAPI.AppID": z.JWTAPI.AppID, "JWTAPI.KeyID": z.JWTAPI.KeyID, "BasicAPI.AppID": z.BasicAPI.AppID,
		"AwkwardAPI.AppID": z.AwkwardAPI.AppID, "OtherAPI.AppID": z.OtherAPI.AppID,
	}
	for _, u := range []*ServiceUser{z.Reader, z.NoRole, z.JWTReader, z.Awkward} {
		ids[u.UserName+".UserID"] = u.UserID
		ids[u.UserName+".KeyID"] = u.KeyID
	}
	seen := map[string]string{}
	for name, v := range ids {
		if !id.MatchString(v) {
			t.Errorf("%s = %q, want 18 digits like ZITADEL's IDs", name, v)
		}
		if prev, dup := seen[v]; dup {
			t.Errorf("%s and %s share the ID %s", name, prev, v)
		}
		seen[v] = name
	}
	if z.ProjectID == z.OtherProjectID {
		t.Error("ProjectID == OtherProjectID")
	}
	for _, a := range []App{z.JWTAPI, z.BasicAPI, z.AwkwardAPI} {
		if a.ClientID != a.AppID+"@introspection-examples" {
			t.Errorf("ClientID = %q, want <appId>@<project name>", a.ClientID)
		}
	}
	// One authentication method per API application, as in ZITADEL.
	if z.JWTAPI.ClientSecret != "" || z.JWTAPI.KeyFile == "" {
		t.Errorf("JWTAPI: want a key file and no secret")
	}
	for _, a := range []App{z.BasicAPI, z.AwkwardAPI, z.OtherAPI} {
		if a.ClientSecret == "" || a.KeyFile != "" || a.KeyID != "" {
			t.Errorf("%s: want a secret and no key", a.ClientID)
		}
	}
	if !z.Reader.HasRole || z.NoRole.HasRole || !z.JWTReader.HasRole {
		t.Error("HasRole: want Reader and JWTReader, not NoRole")
	}
	if z.Reader.JWTAccessTokens || z.NoRole.JWTAccessTokens || !z.JWTReader.JWTAccessTokens {
		t.Error("JWTAccessTokens: want JWTReader only")
	}

	// Key files in ZITADEL's format, mode 0600, in Dir.
	for _, a := range []App{z.JWTAPI} {
		kf := readKeyFile(t, a.KeyFile)
		if kf.Type != "application" || kf.KeyID != a.KeyID || kf.AppID != a.AppID || kf.ClientID != a.ClientID {
			t.Errorf("%s: %+v, want type application with the app's IDs", a.KeyFile, kf)
		}
		if kf.private.N.BitLen() != 2048 {
			t.Errorf("%s: %d-bit key, want 2048", a.KeyFile, kf.private.N.BitLen())
		}
		wantPrivate(t, z, a.KeyFile)
	}
	for _, u := range []*ServiceUser{z.Reader, z.NoRole, z.JWTReader} {
		kf := readKeyFile(t, u.KeyFile)
		if kf.Type != "serviceaccount" || kf.KeyID != u.KeyID || kf.UserID != u.UserID {
			t.Errorf("%s: %+v, want type serviceaccount with the user's IDs", u.KeyFile, kf)
		}
		wantPrivate(t, z, u.KeyFile)
		if u.PAT == "" || u.ClientSecret == "" {
			t.Errorf("%s: no PAT or secret", u.UserName)
		}
	}
	keyOf := func(path string) string { return readKeyFile(t, path).Key }
	keys := []string{keyOf(z.JWTAPI.KeyFile), keyOf(z.Awkward.KeyFile), keyOf(z.Reader.KeyFile), keyOf(z.NoRole.KeyFile), keyOf(z.JWTReader.KeyFile)}
	slices.Sort(keys)
	if len(slices.Compact(keys)) != 5 {
		t.Error("key files share keys")
	}

	// The .env is Env(Reader, "http://localhost:5000").
	if z.EnvFile != filepath.Join(z.Dir, ".env") {
		t.Errorf("EnvFile = %q", z.EnvFile)
	}
	wantPrivate(t, z, z.EnvFile)
	got := readEnvFile(t, z.EnvFile)
	want := z.Env(z.Reader, "http://localhost:5000")
	if len(got) != len(want) {
		t.Errorf(".env has %d variables, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf(".env %s = %q, want %q", k, got[k], v)
		}
	}
}

func wantPrivate(t *testing.T, z *Instance, path string) {
	t.Helper()
	if filepath.Dir(path) != z.Dir {
		t.Errorf("%s is not in Dir %s", path, z.Dir)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
	}
}

// readEnvFile reads KEY='value' lines, skipping comments: the subset of
// .env syntax the issuer writes.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' || strings.Contains(v[1:len(v)-1], "'") {
			t.Fatalf(".env line %q: want KEY='value'", line)
		}
		env[k] = v[1 : len(v)-1]
	}
	return env
}

func TestEnv(t *testing.T) {
	z := startInstance(t)
	env := z.Env(z.NoRole, "http://127.0.0.1:5001")
	want := map[string]string{
		"ZITADEL_DOMAIN":               z.Issuer,
		"ZITADEL_INTROSPECTION_URL":    z.IntrospectionURL,
		"ZITADEL_TOKEN_URL":            z.TokenURL,
		"API_PRIVATE_KEY_FILE":         z.JWTAPI.KeyFile,
		"API_CLIENT_ID":                z.BasicAPI.ClientID,
		"API_CLIENT_SECRET":            z.BasicAPI.ClientSecret,
		"CLIENT_PRIVATE_KEY_FILE_PATH": z.NoRole.KeyFile,
		"PROJECT_ID":                   z.ProjectID,
		"CLIENT_ID":                    z.NoRole.UserName,
		"CLIENT_SECRET":                z.NoRole.ClientSecret,
		"PAT":                          z.NoRole.PAT,
		"API_BASE_URL":                 "http://127.0.0.1:5001",
	}
	if len(env) != len(want) {
		t.Errorf("Env has %d variables, want %d: %v", len(env), len(want), env)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
}

func TestDirOption(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "dir")
	z, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if z.Dir != dir || filepath.Dir(z.JWTAPI.KeyFile) != dir {
		t.Errorf("Dir = %s, key file %s, want both in %s", z.Dir, z.JWTAPI.KeyFile, dir)
	}
	// A symlink named like a file the issuer writes is replaced, and the
	// file it points to (outside Dir) is left alone.
	outside := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(z.EnvFile); err != nil {
		t.Errorf("Close removed a directory it did not create: %v", err)
	}
	os.Remove(z.EnvFile)
	if err := os.Symlink(outside, z.EnvFile); err != nil {
		t.Fatal(err)
	}
	z2, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer z2.Close()
	if data, _ := os.ReadFile(outside); string(data) != "keep" {
		t.Errorf("file outside Dir overwritten through a symlink: %q", data)
	}
	if readEnvFile(t, z2.EnvFile)["ZITADEL_DOMAIN"] != z2.Issuer {
		t.Error(".env not rewritten for the new instance")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestAddrOption(t *testing.T) {
	z := startInstance(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(z.Issuer, "http://"), ":")
	// The address is taken: Start fails and leaves no directory behind.
	if _, err := Start(t.Context(), Options{Addr: "127.0.0.1:" + port}); err == nil {
		t.Error("Start on a busy port: no error")
	}
	// Only loopback: an issuer on every interface would hand tokens to the network.
	if z, err := Start(t.Context(), Options{Addr: ":0"}); err == nil {
		z.Close()
		t.Error("Start on every interface: no error")
	}
	z2, err := Start(t.Context(), Options{Addr: "localhost:0"})
	if err != nil {
		t.Fatalf("Start on localhost: %v", err)
	}
	z2.Close()
}

// Discovery announces ZITADEL's endpoints and client authentication methods.
func TestDiscovery(t *testing.T) {
	z := startInstance(t)
	r := get(t, z.Issuer+"/.well-known/openid-configuration", "")
	if r.status != 200 {
		t.Fatalf("discovery = %d %s", r.status, r.body)
	}
	m := r.json(t)
	for k, want := range map[string]string{
		"issuer":                        z.Issuer,
		"token_endpoint":                z.TokenURL,
		"introspection_endpoint":        z.IntrospectionURL,
		"revocation_endpoint":           z.RevocationURL,
		"jwks_uri":                      z.KeysURL,
		"userinfo_endpoint":             z.UserInfoURL,
		"end_session_endpoint":          z.Issuer + "/oidc/v1/end_session",
		"device_authorization_endpoint": z.Issuer + "/oauth/v2/device_authorization",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %s", k, m[k], want)
		}
	}
	list := func(k string) []string {
		var out []string
		for _, v := range m[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if got := list("introspection_endpoint_auth_methods_supported"); !slices.Equal(got, []string{"client_secret_basic", "private_key_jwt"}) {
		t.Errorf("introspection_endpoint_auth_methods_supported = %v", got)
	}
	for _, want := range []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} {
		if !slices.Contains(list("token_endpoint_auth_methods_supported"), want) {
			t.Errorf("token_endpoint_auth_methods_supported lacks %s", want)
		}
	}
	for _, want := range []string{"authorization_code", "implicit", "refresh_token", "client_credentials",
		"urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange"} {
		if !slices.Contains(list("grant_types_supported"), want) {
			t.Errorf("grant_types_supported lacks %s", want)
		}
	}
	for _, want := range []string{"RS256", "ES256", "EdDSA"} {
		if !slices.Contains(list("id_token_signing_alg_values_supported"), want) {
			t.Errorf("id_token_signing_alg_values_supported lacks %s", want)
		}
	}
	for _, want := range []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "amr", "preferred_username"} {
		if !slices.Contains(list("claims_supported"), want) {
			t.Errorf("claims_supported lacks %s", want)
		}
	}
}

func TestKeys(t *testing.T) {
	z := startInstance(t)
	keys := jwks(t, z)
	if len(keys) != 1 {
		t.Fatalf("jwks has %d keys, want 1", len(keys))
	}
	for kid, k := range keys {
		if k.N.BitLen() != 2048 || k.E != 65537 {
			t.Errorf("key %s: %d bits, e=%d", kid, k.N.BitLen(), k.E)
		}
	}
}

// Revocation (RFC 7009) is for OIDC applications only: ZITADEL's
// VerifyClient (client.go) does not know service users or API applications
// there, whatever their credentials, and answers 400 invalid_client "no
// active client not found" (zitadel#8973, #5276). The token stays active.
func TestRevocation(t *testing.T) {
	z := startInstance(t)
	token := accessToken(t, z, z.Reader)
	jwtToken := accessToken(t, z, z.JWTReader)
	for _, tc := range []struct {
		name          string
		form          url.Values
		authorization string
	}{
		{"API app, basic", url.Values{"token": {token}}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret)},
		{"API app, basic, JWT", url.Values{"token": {jwtToken}, "token_type_hint": {"access_token"}}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret)},
		{"API app, private_key_jwt", url.Values{"token": {token}, "client_assertion_type": {clientAssertionType}, "client_assertion": {apiAssertion(t, z, z.JWTAPI)}}, ""},
		{"service user, basic", url.Values{"token": {token}}, basic(z.Reader.UserName, z.Reader.ClientSecret)},
		{"service user, form", url.Values{"token": {token}, "client_id": {z.Reader.UserName}, "client_secret": {z.Reader.ClientSecret}}, ""},
		{"service user, private_key_jwt", url.Values{"token": {jwtToken}, "client_assertion_type": {clientAssertionType}, "client_assertion": {userAssertion(t, z, z.JWTReader)}}, ""},
		{"unknown token", url.Values{"token": {"garbage"}}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret)},
		{"wrong secret", url.Values{"token": {token}}, basic(z.BasicAPI.ClientID, "wrong")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, z.RevocationURL, tc.form, tc.authorization)
			wantError(t, r, 400, "invalid_client")
			if d := r.str(t, "error_description"); d != "no active client not found" {
				t.Errorf("error_description = %q, want %q", d, "no active client not found")
			}
		})
	}
	for _, tok := range []string{token, jwtToken} {
		if m := introspectBasic(t, z, z.BasicAPI, tok).json(t); m["active"] != true {
			t.Errorf("token inactive after a refused revocation: %v", m)
		}
	}
	// The hook that stands in for an administrator who removes the
	// session, key or secret: introspection then answers inactive.
	z.Revoke(token)
	wantInactive(t, introspectBasic(t, z, z.BasicAPI, token))
}

func TestUserInfo(t *testing.T) {
	z := startInstance(t)
	for _, u := range []*ServiceUser{z.Reader, z.NoRole, z.JWTReader} {
		t.Run(u.UserName, func(t *testing.T) {
			r := get(t, z.UserInfoURL, "Bearer "+accessToken(t, z, u))
			if r.status != 200 {
				t.Fatalf("userinfo = %d %s", r.status, r.body)
			}
			m := r.json(t)
			if m["sub"] != u.UserID || m["preferred_username"] != u.UserName+"@"+z.OrgDomain {
				t.Errorf("userinfo = %v", m)
			}
			// Userinfo carries role claims only for the roles a token asked
			// for, and never the generic claim: a service user's token has
			// no current project (userinfo.go, prepareRoles, assertRoles).
			for k := range m {
				if strings.Contains(k, ":roles") {
					t.Errorf("role claim %s without a role scope", k)
				}
			}
			r = get(t, z.UserInfoURL, "Bearer "+accessTokenWithScope(t, z, u, scopeFor(z.ProjectID)+" urn:zitadel:iam:org:project:role:read:messages"))
			m = r.json(t)
			if _, ok := m[fmt.Sprintf(claimProjectRolesFmt, z.ProjectID)]; ok != u.HasRole {
				t.Errorf("project role claim present = %v, want %v: %v", ok, u.HasRole, m)
			}
			if _, ok := m[claimRoles]; ok {
				t.Errorf("generic role claim in userinfo: %v", m)
			}
		})
	}
	t.Run("revoked", func(t *testing.T) {
		token := accessToken(t, z, z.Reader)
		z.Revoke(token)
		if r := get(t, z.UserInfoURL, "Bearer "+token); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo = %d %s, want 401", r.status, r.body)
		}
	})
	t.Run("no token", func(t *testing.T) {
		if r := get(t, z.UserInfoURL, ""); r.status != http.StatusUnauthorized {
			t.Errorf("userinfo = %d %s, want 401", r.status, r.body)
		}
	})
}

func TestStats(t *testing.T) {
	z := startInstance(t)
	get(t, z.Issuer+"/.well-known/openid-configuration", "")
	jwks(t, z)
	jwks(t, z)
	token := accessToken(t, z, z.Reader)
	introspectBasic(t, z, z.BasicAPI, token)
	introspectBasic(t, z, z.BasicAPI, "garbage")
	introspectBasic(t, z, z.BasicAPI, "")
	post(t, z.RevocationURL, url.Values{"token": {token}}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret))
	get(t, z.UserInfoURL, "Bearer "+token)

	want := Stats{Discovery: 1, Keys: 2, Token: 1, Introspect: 3, Revoke: 1, UserInfo: 1}
	if got := z.Stats(); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
	r := get(t, z.StatsURL, "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /debug/stats = %d %s", r.status, r.header.Get("Content-Type"))
	}
	wantJSON := `{"discovery":1,"keys":2,"token":1,"introspect":3,"revoke":1,"userinfo":1}`
	if got := strings.TrimSpace(string(r.body)); got != wantJSON {
		t.Errorf("GET /debug/stats = %s, want %s", got, wantJSON)
	}
	if r := post(t, z.StatsURL, url.Values{}, ""); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /debug/stats = %d, want 405", r.status)
	}

	z.ResetStats()
	if got := z.Stats(); got != (Stats{}) {
		t.Errorf("after ResetStats: %+v", got)
	}
}

func TestFault(t *testing.T) {
	z := startInstance(t)
	token := accessToken(t, z, z.Reader)

	z.SetFault(Fault{Status: 503, Body: "upstream down", ContentType: "text/plain"})
	for _, endpoint := range []string{z.TokenURL, z.IntrospectionURL} {
		r := post(t, endpoint, url.Values{"token": {token}}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret))
		if r.status != 503 || string(r.body) != "upstream down" || r.header.Get("Content-Type") != "text/plain" {
			t.Errorf("%s with fault = %d %q %q", endpoint, r.status, r.header.Get("Content-Type"), r.body)
		}
	}
	// Other endpoints are not affected.
	if r := get(t, z.KeysURL, ""); r.status != 200 {
		t.Errorf("keys with fault = %d", r.status)
	}
	if got := z.Stats(); got.Token != 2 || got.Introspect != 1 {
		t.Errorf("faulted requests not counted: %+v", got)
	}

	// A delay alone slows the real answer down.
	z.SetFault(Fault{Delay: 200 * time.Millisecond})
	start := time.Now()
	r := introspectBasic(t, z, z.BasicAPI, token)
	if d := time.Since(start); d < 200*time.Millisecond || r.json(t)["active"] != true {
		t.Errorf("delayed introspection took %v: %s", d, r.body)
	}

	// A client that gives up is not kept waiting.
	z.SetFault(Fault{Delay: time.Minute, Status: 200})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, z.IntrospectionURL, nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("request with a 100ms deadline: %v, want deadline exceeded", err)
	}

	// Recovery.
	z.SetFault(Fault{})
	if m := introspectBasic(t, z, z.BasicAPI, token).json(t); m["active"] != true {
		t.Errorf("after SetFault(Fault{}): %v", m)
	}
}

func TestClose(t *testing.T) {
	z, err := Start(t.Context(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A slow request in flight does not hold Close up for long.
	z.SetFault(Fault{Delay: time.Minute})
	go http.Post(z.TokenURL, "application/x-www-form-urlencoded", nil)
	time.Sleep(50 * time.Millisecond)

	start := time.Now()
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if _, err := http.Get(z.KeysURL); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("GET after Close: %v, want connection refused", err)
	}
	if _, err := os.Stat(z.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary Dir left behind: %v", err)
	}
	if err := z.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Start is fast once the process's keys exist (tests start many
// instances), and every instance has its own key IDs.
func TestStartTime(t *testing.T) {
	startInstance(t) // the first Start of the process generates the keys
	var kids []string
	for range 5 {
		begin := time.Now()
		z := startInstance(t)
		if d := time.Since(begin); d > 300*time.Millisecond {
			t.Errorf("Start took %v, want < 300ms", d)
		}
		kids = append(kids, z.JWTAPI.KeyID, z.Reader.KeyID)
	}
	slices.Sort(kids)
	if len(slices.Compact(kids)) != 10 {
		t.Error("instances share key IDs")
	}
}

// A cancelled context fails Start every time (the key pool is ready by now,
// which is when this used to pass by chance).
func TestStartCanceled(t *testing.T) {
	for range 50 {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if z, err := Start(ctx, Options{}); err == nil {
			z.Close()
			t.Fatal("Start with a canceled context: no error")
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("Start with a canceled context: %v, want context.Canceled", err)
		}
	}
}

// Many clients at once: tokens, introspections, revocations and the
// test hooks, under the race detector.
func TestConcurrency(t *testing.T) {
	z := startInstance(t)
	users := []*ServiceUser{z.Reader, z.NoRole, z.JWTReader}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for n := range 24 {
		wg.Go(func() {
			u := users[n%len(users)]
			var token string
			if n%2 == 0 {
				r := clientCredentialsBasic(t, z, u.UserName, u.ClientSecret, scopeFor(z.ProjectID))
				token = r.str(t, "access_token")
			} else {
				var err error
				if token, err = z.MintToken(u, TokenOptions{}); err != nil {
					errs <- err
					return
				}
			}
			for range 3 {
				if m := introspectBasic(t, z, z.BasicAPI, token).json(t); m["active"] != true {
					errs <- fmt.Errorf("%s: inactive: %v", u.UserName, m)
				}
				_ = z.Stats()
			}
			if n%3 == 2 {
				// Refused: service users and API apps may not revoke.
				post(t, z.RevocationURL, url.Values{"token": {token}}, basic(z.BasicAPI.ClientID, z.BasicAPI.ClientSecret))
			}
			if n%2 == 0 {
				z.Revoke(token)
			} else {
				z.Expire(token)
			}
			if m := introspectBasic(t, z, z.BasicAPI, token).json(t); m["active"] != false {
				errs <- fmt.Errorf("%s: active after revocation or expiry", u.UserName)
			}
			z.SetFault(Fault{})
			z.ResetStats()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
