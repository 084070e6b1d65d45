package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/joho/godotenv"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// The two ways an API authenticates its introspection calls (blog 3.1, 3.2)
// and the three ways a service user gets a token (4.1.1, 4.1.2, 4.2), in the
// order of the original README: each grant against each API.
var (
	introspections = []apiSetup{
		{"api-jwt", "JWT profile", ""},
		{"api-basic-authentication", "Basic", ""},
	}
	// jwtMode are the same APIs with TOKEN_VALIDATION=jwt: JWT access tokens
	// verified in the API, anything else introspected.
	jwtMode = []apiSetup{
		{"api-jwt", "JWT profile, jwt mode", "jwt"},
		{"api-basic-authentication", "Basic, jwt mode", "jwt"},
	}
	grants = []struct{ sample, label string }{
		{"service-user-jwt", "JWT profile"},
		{"service-user-client-credentials", "client credentials"},
		{"service-user-pat", "PAT"},
	}
	routes = []string{"/api/public", "/api/private", "/api/private-scoped"}
)

// apiSetup is an API sample and its TOKEN_VALIDATION ("" is the default).
type apiSetup struct{ sample, label, validation string }

// key names the running API process of the setup.
func (a apiSetup) key() string { return a.sample + "/" + a.validation }

// env is the extra environment of the API process.
func (a apiSetup) env() []string {
	if a.validation == "" {
		return nil
	}
	return []string{"TOKEN_VALIDATION=" + a.validation}
}

// user is a service user whose settings are in envFile.
type user struct {
	label   string
	name    string // the service user's name, or its file, for progress lines
	envFile string
	hasRole bool   // the role read:messages in the API's project
	tokens  string // what its grants give: "opaque", "JWT" or asConfigured (a PAT is opaque anyway)
	onlyFor string // "": every grant; otherwise only this grant's sample
}

// asConfigured is the access token type of a real ZITADEL's service user:
// whatever its settings in the console say.
const asConfigured = "as configured"

// row is one line of the table.
type row struct {
	num, grant, introspection, token, user, route string
	expected, got                                 string
	ok                                            bool
	skipped                                       string // why it did not run
	detail                                        string // shown under a failed row
}

// matrix runs all six combinations (and the negative cases) and prints the table.
func matrix(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("combos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envFile := fs.String("env", "", "run against the real ZITADEL configured in `FILE` (all variables of .env.example) instead of a local one")
	if err := config.ParseFlags(fs, args); err != nil {
		return err
	}
	start := time.Now()
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "combos: "+format+"\n", a...) }
	rows, err := runMatrix(ctx, *envFile, progress)
	if err != nil {
		return err
	}
	printTable(stdout, rows)
	passed, failed, skipped := count(rows)
	summary := fmt.Sprintf("%d passed, %d failed", passed, failed)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	fmt.Fprintln(stdout, summary)
	if skipped > 0 {
		fmt.Fprintln(stdout, "The skipped cases need the issuer's cooperation: revoking a token, minting an expired one or one for another project, stopping. "+
			"combos does not ask that of the ZITADEL in -env; go run ./combos, without -env, runs them against a local ZITADEL of its own.")
	}
	progress("done in %s", time.Since(start).Round(100*time.Millisecond))
	if failed > 0 {
		return config.ErrFailed
	}
	return nil
}

// runMatrix starts ZITADEL (unless envFile configures a real one) and the two
// APIs, runs every combination and negative case, and returns a row for each.
func runMatrix(ctx context.Context, envFile string, progress func(string, ...any)) ([]row, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "combos-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var (
		zitadel *localzitadel.Instance
		apiEnv  string
		users   []user
	)
	if envFile == "" {
		progress("starting the local ZITADEL")
		zitadel, err = localzitadel.Start(ctx, localzitadel.Options{Dir: filepath.Join(tmp, "zitadel"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return nil, err
		}
		defer zitadel.Close()
		if apiEnv, users, err = localUsers(zitadel); err != nil {
			return nil, err
		}
	} else {
		progress("checking %s", envFile)
		if err := preflight(ctx, envFile); err != nil {
			return nil, err
		}
		apiEnv = envFile
		users = envUsers(envFile, progress)
	}

	// The first run on a machine compiles them from scratch; later ones hit
	// the build cache and take a second or two.
	progress("building the five samples (go build; the first time takes a minute)")
	bin := filepath.Join(tmp, "bin")
	if err := buildSamples(ctx, root, bin); err != nil {
		return nil, err
	}

	apis := map[string]*apiProcess{}
	for _, in := range slices.Concat(introspections, jwtMode) {
		if in.validation == "" {
			progress("starting %s", in.sample)
		} else {
			progress("starting %s with TOKEN_VALIDATION=%s", in.sample, in.validation)
		}
		p, err := startAPI(ctx, bin, in.sample, apiEnv, in.env()...)
		if err != nil {
			return nil, err
		}
		defer p.stop()
		apis[in.key()] = p
	}

	var rows []row
	num := 0
	for _, g := range grants {
		for _, in := range introspections {
			num++
			for _, u := range users {
				if u.onlyFor != "" && u.onlyFor != g.sample {
					continue
				}
				progress("#%d %s → %s (%s)", num, g.sample, in.sample, u.progressLabel())
				run := runClient(ctx, bin, g.sample, u.envFile, apis[in.key()].url)
				rows = append(rows, combinationRows(strconv.Itoa(num), g.label, in.label, u, g.sample, run)...)
			}
		}
	}

	// jwt mode: a JWT passes without introspection, a PAT (opaque) is
	// introspected as before. Against a real ZITADEL, the configured user's
	// tokens are whatever its settings give.
	num = 0
	for _, g := range []struct{ sample, label string }{grants[0], grants[2]} {
		for _, in := range jwtMode {
			num++
			for _, u := range users {
				jwtGrant := g.sample != "service-user-pat"
				if !u.hasRole || u.tokens != asConfigured && (u.tokens == "JWT") != jwtGrant || u.onlyFor != "" && u.onlyFor != g.sample {
					continue
				}
				progress("#J%d %s → %s with TOKEN_VALIDATION=jwt (%s)", num, g.sample, in.sample, u.progressLabel())
				run := runClient(ctx, bin, g.sample, u.envFile, apis[in.key()].url)
				rows = append(rows, combinationRows("J"+strconv.Itoa(num), g.label, in.label, u, g.sample, run)...)
			}
		}
	}

	progress("negative cases")
	rows = append(rows, negativeRows(ctx, zitadel, apis)...)
	if _, failed, _ := count(rows); failed > 0 {
		for _, in := range slices.Concat(introspections, jwtMode) {
			if logs := apis[in.key()].stderr.String(); logs != "" {
				progress("log of %s:\n%s", in.sample, indent(logs))
			}
		}
	}
	return rows, nil
}

// name identifies a row, e.g. "#2 JWT profile→Basic, opaque, without role, /api/private-scoped".
func (r row) name() string {
	return fmt.Sprintf("#%s %s→%s, %s, %s, %s", r.num, r.grant, r.introspection, r.token, r.user, r.route)
}

// localUsers writes an .env for each service user of the local ZITADEL.
// API_BASE_URL is set per run, in the client's environment.
func localUsers(z *localzitadel.Instance) (apiEnv string, users []user, err error) {
	for _, u := range []struct {
		su      *localzitadel.ServiceUser
		onlyFor string
	}{
		{z.Reader, ""},
		{z.NoRole, ""},
		{z.JWTReader, "service-user-jwt"},
		{z.JWTReader, "service-user-client-credentials"},
	} {
		name := strings.ReplaceAll(u.su.UserName, "/", "_") + ".env"
		path, err := z.WriteEnv(name, u.su, "http://127.0.0.1:0")
		if err != nil {
			return "", nil, err
		}
		tokens := "opaque"
		if u.su.JWTAccessTokens {
			tokens = "JWT"
		}
		users = append(users, newUser(u.su.UserName, path, u.su != z.NoRole, tokens, u.onlyFor))
	}
	return z.EnvFile, users, nil
}

func newUser(name, envFile string, hasRole bool, tokens, onlyFor string) user {
	label := "without role"
	if hasRole {
		label = "with role"
	}
	return user{label: label, name: name, envFile: envFile, hasRole: hasRole, tokens: tokens, onlyFor: onlyFor}
}

// envUsers are the users of a real ZITADEL: envFile's, which must have the
// role (a 403 on the scoped route is the most common mistake of a setup by
// hand), and those of no-role.env and jwt-tokens.env when combos setup
// wrote them beside it, for the same instance and project. A file named
// no-role.env is setup's user without the role.
func envUsers(envFile string, progress func(string, ...any)) []user {
	base, dir := filepath.Base(envFile), filepath.Dir(envFile)
	users := []user{newUser(base, envFile, base != "no-role.env", asConfigured, "")}
	main, err := godotenv.Read(envFile)
	if err != nil { // preflight read it
		return users
	}
	for _, other := range []struct {
		file    string
		hasRole bool
		tokens  string
		onlyFor []string
	}{
		{"no-role.env", false, asConfigured, []string{""}},
		// As setup configured it: JWT access tokens, which a PAT is not.
		{"jwt-tokens.env", true, "JWT", []string{"service-user-jwt", "service-user-client-credentials"}},
	} {
		path := filepath.Join(dir, other.file)
		if other.file == base {
			continue
		}
		env, err := godotenv.Read(path)
		if err != nil {
			continue
		}
		if env["ZITADEL_DOMAIN"] != main["ZITADEL_DOMAIN"] || env["PROJECT_ID"] != main["PROJECT_ID"] {
			progress("not running the user of %s: its ZITADEL_DOMAIN or PROJECT_ID is not that of %s", path, envFile)
			continue
		}
		progress("running the user of %s too", path)
		for _, only := range other.onlyFor {
			users = append(users, newUser(other.file, path, other.hasRole, other.tokens, only))
		}
	}
	return users
}

// progressLabel names the user of a run, so that no progress line repeats:
// two users both have the role, one of them gets JWT access tokens.
func (u user) progressLabel() string {
	if u.name == "" {
		return u.label
	}
	return u.name + ", " + u.label
}

// combinationRows turns one client run into a row per route.
func combinationRows(num, grant, introspection string, u user, sample string, run clientRun) []row {
	token := u.tokens
	if token == "JWT" && sample == "service-user-pat" {
		token = "opaque"
	}
	var rows []row
	for _, route := range routes {
		expected := "200"
		if route == "/api/private-scoped" && !u.hasRole {
			expected = "403"
		}
		r := row{num: num, grant: grant, introspection: introspection, token: token, user: u.label, route: route, expected: expected}
		res, answered := run.results[route]
		switch {
		case !answered && len(run.results) == 0 && run.exitCode == config.ExitConfig:
			r.got = "bad settings"
		case !answered && len(run.results) == 0:
			r.got = "no token"
		case !answered:
			r.got = "not called"
		case res.Status == 0:
			r.got = "no answer"
		default:
			r.got = strconv.Itoa(res.Status)
			if res.Code != "" {
				r.got += " " + res.Code
			}
		}
		r.ok = answered && strconv.Itoa(res.Status) == expected && run.exitCode == 0
		switch {
		case r.ok:
		case r.got == "no token":
			// The client says why on stderr (ZITADEL's error and a hint).
			r.detail = fmt.Sprintf("%s -env %s got no token, so it called no route; it exited with %d:\n%s", sample, u.envFile, run.exitCode, indent(run.stderr))
		case u.hasRole && route == "/api/private-scoped" && res.Status == http.StatusForbidden:
			r.detail = fmt.Sprintf("403 on %s: the service user of %s in %s lacks the role read:messages of the API's project.\n"+
				"    hint: in the console, the project's Authorizations → New: give the user the role read:messages (go run ./combos setup does it)",
				route, userSetting[sample], u.envFile)
		default:
			r.detail = fmt.Sprintf("%s exited with %d:\n%s", sample, run.exitCode, indent(run.stderr))
		}
		rows = append(rows, r)
	}
	return rows
}

// userSetting names the setting by which each client says which service
// user it is.
var userSetting = map[string]string{
	"service-user-jwt":                "CLIENT_PRIVATE_KEY_FILE_PATH",
	"service-user-client-credentials": "CLIENT_ID",
	"service-user-pat":                "PAT",
}

// negativeRows sends the requests a client would not send on purpose, to
// each API. Those that need the issuer's cooperation (revoking, expiring,
// minting for another project, stopping it) run only against the local one.
func negativeRows(ctx context.Context, z *localzitadel.Instance, apis map[string]*apiProcess) []row {
	type negative struct {
		name   string
		header func() (string, error) // the Authorization header; "" sends none
		want   int
		code   string
		needs  string // what the case needs the issuer to do: only the local one does it on request
		// jwtWant, when not 0, is the answer of an API in jwt mode.
		jwtWant int
		route   string // "" is /api/private
	}
	var reader, jwtReader *localzitadel.ServiceUser
	if z != nil {
		reader, jwtReader = z.Reader, z.JWTReader
	}
	mintFor := func(u **localzitadel.ServiceUser, o localzitadel.TokenOptions, after func(string)) func() (string, error) {
		return func() (string, error) {
			tok, err := z.MintToken(*u, o)
			if err == nil && after != nil {
				after(tok)
			}
			return "Bearer " + tok, err
		}
	}
	mint := func(o localzitadel.TokenOptions, after func(string)) func() (string, error) {
		return mintFor(&reader, o, after)
	}
	otherProject := ""
	if z != nil {
		otherProject = z.OtherProjectID
	}
	fixed := func(h string) func() (string, error) { return func() (string, error) { return h, nil } }
	cases := []negative{
		{"no token", fixed(""), http.StatusUnauthorized, "missing_token", "", 0, ""},
		{"garbage token", fixed("Bearer not-a-token-at-all"), http.StatusUnauthorized, "invalid_token", "", 0, ""},
		{"malformed header", fixed("Basic dXNlcjpwYXNz"), http.StatusBadRequest, "invalid_request", "", 0, ""},
		{"revoked token", mint(localzitadel.TokenOptions{}, func(t string) { z.Revoke(t) }), http.StatusUnauthorized, "invalid_token", "revoke a token", 0, ""},
		{"expired token", mint(localzitadel.TokenOptions{Lifetime: -time.Minute}, nil), http.StatusUnauthorized, "invalid_token", "mint an expired token", 0, ""},
		{"token for another project", mint(localzitadel.TokenOptions{ProjectIDs: []string{otherProject}}, nil), http.StatusUnauthorized, "invalid_token", "mint a token for another project", 0, ""},
		// The trade-off of jwt mode: ZITADEL is not asked, so a revoked JWT
		// passes until its exp.
		{"revoked JWT", mintFor(&jwtReader, localzitadel.TokenOptions{}, func(t string) { z.Revoke(t) }), http.StatusUnauthorized, "invalid_token", "revoke a JWT", http.StatusOK, ""},
		{"expired JWT", mintFor(&jwtReader, localzitadel.TokenOptions{Lifetime: -2 * time.Minute}, nil), http.StatusUnauthorized, "invalid_token", "mint an expired JWT", 0, ""},
		// Another project's application asked for this API's aud scope:
		// its JWT's generic role claim lists read:messages of that project.
		{"another project's role", func() (string, error) {
			tok, err := z.MintAppToken(z.OtherAPI, z.NoRole, localzitadel.TokenOptions{Scopes: []string{"openid", "urn:zitadel:iam:org:project:role:read:messages"}})
			return "Bearer " + tok, err
		}, http.StatusForbidden, "insufficient_scope", "mint a token for another project's application", 0, "/api/private-scoped"},
	}
	var rows []row
	newRow := func(n int, in apiSetup, name, route string, want int, code string) row {
		return row{num: fmt.Sprintf("N%d", n), grant: "-", introspection: in.label, token: "-", user: name, route: cmp.Or(route, "/api/private"), expected: strings.TrimSpace(strconv.Itoa(want) + " " + code)}
	}
	add := func(n int, in apiSetup, name, route string, header string, want int, code string) {
		r := newRow(n, in, name, route, want, code)
		status, gotCode, err := get(ctx, apis[in.key()].url+r.route, header)
		if err != nil {
			r.got, r.detail = "no answer", err.Error()
		} else {
			r.got = strings.TrimSpace(strconv.Itoa(status) + " " + gotCode)
			r.ok = status == want && gotCode == code
		}
		rows = append(rows, r)
	}
	skip := func(n int, in apiSetup, name, route string, want int, code, needs string) {
		r := newRow(n, in, name, route, want, code)
		r.skipped = "needs the issuer to " + needs
		rows = append(rows, r)
	}
	apiSetups := slices.Concat(introspections, jwtMode)
	n := 0
	for _, c := range cases {
		n++
		for _, in := range apiSetups {
			want, code := c.want, c.code
			if in.validation == "jwt" && c.jwtWant != 0 {
				want, code = c.jwtWant, ""
			}
			if c.needs != "" && z == nil {
				skip(n, in, c.name, c.route, want, code, c.needs)
				continue
			}
			h, err := c.header()
			if err != nil {
				r := newRow(n, in, c.name, c.route, want, code)
				r.got, r.detail = "no token", err.Error()
				rows = append(rows, r)
				continue
			}
			add(n, in, c.name, c.route, h, want, code)
		}
	}

	// Last: ZITADEL stops. A token the APIs have not seen (so not cached)
	// must get 503 temporarily_unavailable, not 401 and never 200.
	n++
	if z == nil {
		for _, in := range apiSetups {
			skip(n, in, "ZITADEL stopped", "", http.StatusServiceUnavailable, "temporarily_unavailable", "stop")
		}
		return rows
	}
	fresh := map[string]string{}
	for _, in := range apiSetups {
		h, _ := mint(localzitadel.TokenOptions{}, nil)()
		fresh[in.key()] = h
	}
	_ = z.Close()
	for _, in := range apiSetups {
		add(n, in, "ZITADEL stopped", "", fresh[in.key()], http.StatusServiceUnavailable, "temporarily_unavailable")
	}
	return rows
}

// get sends GET url with the Authorization header and returns the status and
// the error code of the API's JSON answer ({"code","description"}).
func get(ctx context.Context, url, authorization string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
	return resp.StatusCode, body.Code, nil
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tgrant\tintrospection\ttoken\tuser\troute\texpected\tgot\t")
	for _, r := range rows {
		mark := "✓"
		switch {
		case r.skipped != "":
			mark, r.got = "skipped: "+r.skipped, "-"
		case !r.ok:
			mark = "✗"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.num, r.grant, r.introspection, r.token, r.user, r.route, r.expected, r.got, mark)
	}
	_ = tw.Flush()
	shown := map[string]bool{}
	for _, r := range rows {
		if !r.ok && r.skipped == "" && r.detail != "" && !shown[r.detail] {
			shown[r.detail] = true
			fmt.Fprintf(w, "✗ #%s %s %s %s: %s\n", r.num, r.grant, r.introspection, r.user, r.detail)
		}
	}
}

func count(rows []row) (passed, failed, skipped int) {
	for _, r := range rows {
		switch {
		case r.skipped != "":
			skipped++
		case r.ok:
			passed++
		default:
			failed++
		}
	}
	return
}
