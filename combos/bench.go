package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/cli"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
	"github.com/zitadel/go-introspection-examples/internal/tokenrequest"
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
const rounds = 3

// bench drives both API samples with concurrent requests over loopback and
// prints requests per second and latency per route, with the introspection
// cache warm and off, and what 1,000 calls of one client cost at ZITADEL.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 3*time.Second, "how long each route is driven")
	concurrency := fs.Int("concurrency", 16, "concurrent connections")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if *duration <= 0 || *duration > time.Minute || *concurrency < 1 || *concurrency > 512 {
		return &cli.UsageError{Err: fmt.Errorf("-duration must be in (0, 1m] and -concurrency in [1, 512]")}
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }

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
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "api\troute\tcache\treq/s\tp50\tp99\tintrospections\terrors\t")
	var ratios []string
	for _, in := range introspections {
		warm, err := startAPI(ctx, bin, in.sample, z.EnvFile)
		if err != nil {
			return err
		}
		defer warm.stop()
		off, err := startAPI(ctx, bin, in.sample, z.EnvFile, "INTROSPECTION_CACHE_TTL=0")
		if err != nil {
			return err
		}
		defer off.stop()
		token, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
		if err != nil {
			return err
		}
		runs := []struct {
			api          *apiProcess
			route, cache string
		}{
			{warm, "/api/public", "-"},
			{warm, "/api/private", "warm"},
			{warm, "/api/private-scoped", "warm"},
			{off, "/api/private", "off"},
		}
		progress("%s: %d routes, %s each", in.sample, len(runs), *duration)
		results := make([]load, len(runs))
		for range rounds {
			for i, r := range runs {
				l, err := drive(ctx, client, z, r.api.url+r.route, token, *concurrency, *duration/rounds)
				if err != nil {
					return err
				}
				results[i].add(l)
			}
		}
		for i, r := range runs {
			l := results[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%d\t%d\t\n", in.sample, r.route, r.cache, l.rps(), l.percentile(0.5), l.percentile(0.99), l.introspections, l.failures)
		}
		public := results[0].rps()
		ratios = append(ratios,
			fmt.Sprintf("%s: private warm / public = %.2f (target ≥ 0.80); private cache off / public = %.2f",
				in.sample, results[1].rps()/public, results[3].rps()/public))
	}
	_ = tw.Flush()
	for _, r := range ratios {
		fmt.Fprintln(stdout, r)
	}

	progress("1,000 calls of one client")
	tokens, intros, err := thousandCalls(ctx, client, z, bin)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "1,000 calls of one client (client credentials, api-jwt): %d token request(s), %d introspection(s) (target: 1 and 1)\n", tokens, intros)
	return nil
}

// drive sends GET url with the token from concurrency workers for d, after a
// short warm-up (which fills the API's cache and the connection pool).
func drive(ctx context.Context, client *http.Client, z *localzitadel.Instance, url, token string, concurrency int, d time.Duration) (load, error) {
	get := func() (time.Duration, bool) {
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
		wg.Add(1)
		go func() {
			defer wg.Done()
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
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := stats(ctx, z)
	if err != nil {
		return load{}, err
	}
	if len(latencies) == 0 {
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
	source := tokensource.New(func(ctx context.Context) (*tokensource.Token, error) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"openid urn:zitadel:iam:org:project:id:" + z.ProjectID + ":aud"}}
		return tokenrequest.Post(ctx, client, z.TokenURL, form, func(req *http.Request) {
			req.SetBasicAuth(url.QueryEscape(u.UserName), url.QueryEscape(u.ClientSecret))
		})
	})
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	work := make(chan struct{})
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				tok, err := source.Token(ctx)
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
