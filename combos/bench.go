package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"github.com/zitadel/go-introspection-examples/internal/tokensource"
)

// load is what the runs of one route measured.
type load struct {
	latencies      []time.Duration
	failures       int
	elapsed        time.Duration
	introspections int64
}

func (l load) rps() float64 { return float64(len(l.latencies)) / l.elapsed.Seconds() }

func (l *load) add(o load) {
	l.latencies = append(l.latencies, o.latencies...)
	l.failures += o.failures
	l.elapsed += o.elapsed
	l.introspections += o.introspections
}

// percentile p (0..1) of the latencies.
func (l load) percentile(p float64) time.Duration {
	s := slices.Clone(l.latencies)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))].Round(time.Microsecond)
}

// rounds: each route is driven in this many slices of -duration, in turn
// with the other routes, so that a slower or faster phase of a shared
// machine does not land on one route only.
const rounds = 5

// bench drives both API samples with concurrent requests over loopback and
// prints requests per second and latency per route, with the introspection
// cache warm and off, in both modes (TOKEN_VALIDATION), beside a bare
// net/http handler; then how the introspections reaching ZITADEL grow when
// the API scales out; and what 1,000 calls of one client cost at ZITADEL.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 3*time.Second, "how long each route is driven")
	concurrency := fs.Int("concurrency", 16, "concurrent connections")
	if err := config.ParseFlags(fs, args); err != nil {
		return err
	}
	if *duration <= 0 || *duration > time.Minute || *concurrency < 1 || *concurrency > 512 {
		return &config.UsageError{Err: fmt.Errorf("-duration must be in (0, 1m] and -concurrency in [1, 512]")}
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	progress("starting the local ZITADEL and building the samples")
	z, err := localzitadel.Start(ctx, localzitadel.Options{Dir: filepath.Join(tmp, "zitadel"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer z.Close()
	bin := filepath.Join(tmp, "bin")
	if err := buildSamples(ctx, root, bin); err != nil {
		return err
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency, DisableCompression: true,
	}}
	opaque, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	if err != nil {
		return err
	}
	jwt, err := z.MintToken(z.JWTReader, localzitadel.TokenOptions{})
	if err != nil {
		return err
	}
	// The peers (combos/peers): a bare net/http handler, and coreos/go-oidc's
	// verifier, what a Go user would pick instead of jwt mode.
	peer := func(name string, args ...string) (*apiProcess, error) {
		p, err := startProcess(ctx, name, exec.Command(filepath.Join(bin, "peers"), append([]string{"-addr", "127.0.0.1:0"}, args...)...))
		if err == nil {
			stops = append(stops, p.stop)
		}
		return p, err
	}
	bare, err := peer("bare net/http handler", "-handler", "bare")
	if err != nil {
		return err
	}
	goOIDC, err := peer("go-oidc verifier", "-handler", "go-oidc", "-issuer", z.Issuer, "-project", z.ProjectID)
	if err != nil {
		return err
	}

	// Every route of every API, driven in turn within each round.
	type benchRun struct {
		api                       string
		process                   *apiProcess
		mode, token, route, cache string
		bearer                    string
	}
	runs := []benchRun{
		{"bare-net/http", bare, "-", "-", "/api/public", "-", opaque},
		{"coreos/go-oidc", goOIDC, "jwt", "JWT", "/api/private", "off", jwt},
	}
	for _, in := range introspections {
		start := func(extra ...string) (*apiProcess, error) {
			p, err := startAPI(ctx, bin, in.sample, z.EnvFile, extra...)
			if err == nil {
				stops = append(stops, p.stop)
			}
			return p, err
		}
		warm, err1 := start()
		off, err2 := start("INTROSPECTION_CACHE_TTL=0")
		jwtWarm, err3 := start("TOKEN_VALIDATION=jwt")
		jwtOff, err4 := start("TOKEN_VALIDATION=jwt", "INTROSPECTION_CACHE_TTL=0")
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		runs = append(runs,
			benchRun{in.sample, warm, "introspection", "-", "/api/public", "-", opaque},
			benchRun{in.sample, warm, "introspection", "opaque", "/api/private", "warm", opaque},
			benchRun{in.sample, warm, "introspection", "opaque", "/api/private-scoped", "warm", opaque},
			benchRun{in.sample, off, "introspection", "opaque", "/api/private", "off", opaque},
			// The jwt-mode ratios compare requests that carry the same
			// JWT, so that they measure what verifying it costs, not its
			// length: a JWT is about three times as long as an opaque token.
			benchRun{in.sample, jwtWarm, "jwt", "JWT", "/api/public", "-", jwt},
			benchRun{in.sample, jwtWarm, "jwt", "JWT", "/api/private", "warm", jwt},
			benchRun{in.sample, jwtOff, "jwt", "JWT", "/api/private", "off", jwt},
		)
	}
	progress("%d routes, %s each, in %d rounds", len(runs), *duration, rounds)
	results := make([]load, len(runs))
	perRound := map[string][]float64{} // req/s of each round, by run
	key := func(api, mode, route, cache string) string { return api + " " + mode + " " + route + " " + cache }
	for range rounds {
		for i, r := range runs {
			url := r.process.url + r.route
			l, err := drive(ctx, client, z, func(int64) (string, string) { return url, r.bearer }, *concurrency, *duration/rounds)
			if err != nil {
				return err
			}
			results[i].add(l)
			k := key(r.api, r.mode, r.route, r.cache)
			perRound[k] = append(perRound[k], l.rps())
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "api\tmode\ttoken\troute\tcache\treq/s\tp50\tp99\tintrospections\terrors\t")
	intros := map[string]int64{}
	for i, r := range runs {
		l := results[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%d\t%d\t\n", r.api, r.mode, r.token, r.route, r.cache, l.rps(), l.percentile(0.5), l.percentile(0.99), l.introspections, l.failures)
		intros[key(r.api, r.mode, r.route, r.cache)] = l.introspections
	}
	_ = tw.Flush()

	// A ratio pairs the two routes' req/s of the same round, driven one
	// shortly after the other, and takes the median of the rounds: a
	// slower phase of a shared machine then falls on both sides of one
	// round, and one odd round does not move the result.
	ratio := func(a, b string) float64 {
		r := make([]float64, rounds)
		for i := range r {
			r[i] = perRound[a][i] / perRound[b][i]
		}
		slices.Sort(r)
		return r[rounds/2]
	}
	verdict := func(got, target float64) string {
		if got >= target {
			return fmt.Sprintf("(target ≥ %.2f: met)", target)
		}
		return fmt.Sprintf("(target ≥ %.2f: missed by %.2f)", target, target-got)
	}
	fmt.Fprintf(stdout, "\nRatios of req/s, the median of %d interleaved rounds:\n", rounds)
	bareKey, goOIDCKey := key("bare-net/http", "-", "/api/public", "-"), key("coreos/go-oidc", "jwt", "/api/private", "off")
	for _, in := range introspections {
		k := func(mode, route, cache string) string { return key(in.sample, mode, route, cache) }
		public, jwtPublic := k("introspection", "/api/public", "-"), k("jwt", "/api/public", "-")
		line := func(format string, target float64, a, b string) {
			got := ratio(a, b)
			fmt.Fprintf(stdout, "%s"+format+" = %.2f %s\n", in.sample, got, verdict(got, target))
		}
		line(": public / bare net/http handler", 0.7, public, bareKey)
		line(": private warm / public", 0.9, k("introspection", "/api/private", "warm"), public)
		line(", jwt mode: private warm / public, same JWT", 0.9, k("jwt", "/api/private", "warm"), jwtPublic)
		line(", jwt mode: private cache off / coreos/go-oidc verifier, same JWT", 1.0, k("jwt", "/api/private", "off"), goOIDCKey)
		fmt.Fprintf(stdout, "%s: private cache off / public = %.2f; jwt mode: private cache off / public = %.2f, public with a JWT / with an opaque token = %.2f (what the longer header costs); %d introspection(s) in jwt mode (target 0)\n",
			in.sample, ratio(k("introspection", "/api/private", "off"), public), ratio(k("jwt", "/api/private", "off"), jwtPublic), ratio(jwtPublic, public),
			intros[k("jwt", "/api/private", "warm")]+intros[k("jwt", "/api/private", "off")])
	}
	for _, stop := range stops {
		stop()
	}
	stops = nil

	progress("scaling out: %v API processes, %d tokens, cache TTL %s", scaleAPIs, scaleTokens, scaleTTL)
	if err := scaleOut(ctx, stdout, client, z, bin, *concurrency, *duration); err != nil {
		return err
	}

	progress("1,000 calls of one client")
	tokens, n, err := thousandCalls(ctx, client, z, bin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "1,000 calls of one client (client credentials, api-jwt): %d token request(s), %d introspection(s) (target: 1 and 1)\n", tokens, n)
	return nil
}

// The scaling-out run: N API processes behind one load generator, K
// distinct tokens, and a short cache TTL so that a few seconds show the
// steady state: each API introspects each token once per TTL.
var (
	scaleAPIs   = []int{1, 2, 4}
	scaleTokens = 100
	scaleTTL    = time.Second
)

// scaleOut measures the introspections per second that reach ZITADEL when
// N API processes (api-jwt) share the load of K distinct tokens, in both
// modes: about N×K/TTL with introspection, none with jwt and JWTs.
func scaleOut(ctx context.Context, stdout io.Writer, client *http.Client, z *localzitadel.Instance, bin string, concurrency int, d time.Duration) error {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tAPIs (N)\ttokens (K)\tcache TTL\treq/s\tintrospections/s\tN×K/TTL\terrors\t")
	for _, mode := range []struct {
		name string
		user *localzitadel.ServiceUser
	}{{"introspection", z.Reader}, {"jwt", z.JWTReader}} {
		tokens := make([]string, scaleTokens)
		for i := range tokens {
			t, err := z.MintToken(mode.user, localzitadel.TokenOptions{})
			if err != nil {
				return err
			}
			tokens[i] = t
		}
		for _, n := range scaleAPIs {
			urls := make([]string, n)
			for i := range urls {
				api, err := startAPI(ctx, bin, "api-jwt", z.EnvFile, "TOKEN_VALIDATION="+mode.name, "INTROSPECTION_CACHE_TTL="+scaleTTL.String())
				if err != nil {
					return err
				}
				defer api.stop()
				urls[i] = api.url + "/api/private"
			}
			// Request r goes to API r mod N with token (r / N) mod K: every
			// API sees every token. The warm-up fills every cache first, and
			// the run lasts a few TTLs, so that it shows the steady state.
			pick := func(r int64) (string, string) {
				return urls[r%int64(n)], tokens[(r/int64(n))%int64(len(tokens))]
			}
			for r := range int64(n * len(tokens)) {
				url, token := pick(r)
				if status, _, err := get(ctx, url, "Bearer "+token); err != nil || status != http.StatusOK {
					return fmt.Errorf("warm-up request to %s: %d, %v", url, status, err)
				}
			}
			l, err := drive(ctx, client, z, pick, concurrency, max(d, 3*scaleTTL))
			if err != nil {
				return err
			}
			expected := 0.0
			if mode.name == "introspection" {
				expected = float64(n*len(tokens)) / scaleTTL.Seconds()
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.0f\t%.0f\t%.0f\t%d\t\n", mode.name, n, len(tokens), scaleTTL,
				l.rps(), float64(l.introspections)/l.elapsed.Seconds(), expected, l.failures)
		}
	}
	return tw.Flush()
}

// drive sends GET requests from concurrency workers for d, request r to the
// URL and with the token pick(r) gives, after a warm-up (which fills the
// APIs' caches and the connection pool), and counts the introspections
// ZITADEL saw meanwhile.
func drive(ctx context.Context, client *http.Client, z *localzitadel.Instance, pick func(r int64) (url, token string), concurrency int, d time.Duration) (load, error) {
	var next atomic.Int64
	get := func() (time.Duration, bool) {
		url, token := pick(next.Add(1) - 1)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return time.Since(start), false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode == http.StatusOK
	}
	for range 2 * concurrency {
		if _, ok := get(); !ok {
			url, _ := pick(0)
			return load{}, fmt.Errorf("warm-up request to %s failed", url)
		}
	}
	before, err := stats(ctx, z)
	if err != nil {
		return load{}, err
	}

	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
		wg        sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for range concurrency {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				lat, ok := get()
				mine = append(mine, lat)
				if !ok {
					bad++
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			failures += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := stats(ctx, z)
	if err != nil {
		return load{}, err
	}
	if len(latencies) == 0 {
		url, _ := pick(0)
		return load{}, fmt.Errorf("no request to %s completed", url)
	}
	return load{latencies: latencies, failures: failures, elapsed: elapsed, introspections: after.Introspect - before.Introspect}, nil
}

// thousandCalls makes 1,000 concurrent calls to /api/private of a fresh
// api-jwt with one token source (client credentials), and returns the token
// requests and introspections they cost, read from ZITADEL's /debug/stats.
func thousandCalls(ctx context.Context, client *http.Client, z *localzitadel.Instance, bin string) (tokens, intros int64, err error) {
	api, err := startAPI(ctx, bin, "api-jwt", z.EnvFile)
	if err != nil {
		return 0, 0, err
	}
	defer api.stop()
	before, err := stats(ctx, z)
	if err != nil {
		return 0, 0, err
	}
	u := z.Reader
	grant := clientcredentials.Config{
		ClientID:     u.UserName,
		ClientSecret: u.ClientSecret,
		TokenURL:     z.TokenURL,
		Scopes:       []string{"openid", "urn:zitadel:iam:org:project:id:" + z.ProjectID + ":aud"},
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	tokenCtx := context.WithValue(ctx, oauth2.HTTPClient, client)
	source := tokensource.New(func() (*oauth2.Token, error) { return grant.Token(tokenCtx) }, "")
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	work := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				tok, err := source.Token()
				if err == nil {
					var status int
					status, _, err = get(ctx, api.url+"/api/private", "Bearer "+tok.AccessToken)
					if err == nil && status != http.StatusOK {
						err = fmt.Errorf("/api/private answered %d", status)
					}
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	for range 1000 {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	after, err := stats(ctx, z)
	if err != nil {
		return 0, 0, err
	}
	return after.Token - before.Token, after.Introspect - before.Introspect, nil
}

// stats reads the local ZITADEL's request counts from GET /debug/stats.
func stats(ctx context.Context, z *localzitadel.Instance) (localzitadel.Stats, error) {
	var s localzitadel.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, z.StatsURL, nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("read /debug/stats: %w", err)
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}
