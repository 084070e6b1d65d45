package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// clients is how many requests are under way at once.
const clients = 32

type route struct{ name, url, token string }

// BenchmarkRoutes drives a running API over loopback with concurrent clients
// and reports requests per second for /api/public, /api/private with a warm
// cache and /api/private without cache. Then it measures the ratio
// warm/public (target: 0.9 or more) in alternating slices
// of 100 ms: other load on a shared machine then falls on both routes alike.
// Run it with
//
//	go test -run '^$' -bench Routes -v ./api-basic-authentication/
func BenchmarkRoutes(b *testing.B) {
	inst, err := localzitadel.Start(context.Background(), localzitadel.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	token, err := inst.MintToken(inst.Reader, localzitadel.TokenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cached := serve(b, inst, apiserver.DefaultCacheTTL)
	uncached := serve(b, inst, 0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}

	public := route{"public", cached + "/api/public", ""}
	warm := route{"private-warm", cached + "/api/private", token}
	routes := []route{public, warm, {"private-nocache", uncached + "/api/private", token}}
	// Open the connections and fill the cache first, so that the first route
	// does not pay for what the others get for free.
	for _, r := range routes {
		if _, _, err := burst(client, r, 200*time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}

	for _, r := range routes {
		b.Run(r.name, func(b *testing.B) {
			b.SetParallelism(clients / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(client, r.url, r.token); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}

	var n [2]int
	var took [2]time.Duration
	for i := range 40 {
		count, d, err := burst(client, []route{public, warm}[i%2], 100*time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		n[i%2] += count
		took[i%2] += d
	}
	publicRate, warmRate := float64(n[0])/took[0].Seconds(), float64(n[1])/took[1].Seconds()
	b.Logf("alternating 100 ms slices: public %.0f req/s, private warm %.0f req/s; warm/public %.2f (target >= 0.90)",
		publicRate, warmRate, warmRate/publicRate)
}

// burst sends requests to r from all clients for about d and returns how
// many were answered and how long that took.
func burst(client *http.Client, r route, d time.Duration) (int, time.Duration, error) {
	start := time.Now()
	deadline := start.Add(d)
	var n atomic.Int64
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := get(client, r.url, r.token); err != nil {
					errs <- err
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	return int(n.Load()), time.Since(start), <-errs
}

func serve(b *testing.B, inst *localzitadel.Instance, ttl time.Duration) string {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	stdout, ready := apiservertest.Listening()
	env := inst.Env(nil, "")
	env["INTROSPECTION_CACHE_TTL"] = ttl.String()
	emptyEnv := filepath.Join(b.TempDir(), "empty.env")
	if err := os.WriteFile(emptyEnv, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"bench", "-addr", "127.0.0.1:0", "-env", emptyEnv}
	go func() {
		if err := run(ctx, args, func(k string) string { return env[k] }, stdout, io.Discard); err != nil {
			b.Error(err)
		}
	}()
	select {
	case addr := <-ready:
		return "http://" + addr
	case <-time.After(10 * time.Second):
		b.Fatal("API did not listen")
		return ""
	}
}

func get(client *http.Client, url, token string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// BenchmarkWarmPath measures the API's own work for one request whose token
// is in the cache, without the network: router, request log, guard, cache
// lookup and answer. Profile it with
//
//	go test -run '^$' -bench WarmPath -benchmem -cpuprofile cpu.out -memprofile mem.out ./api-basic-authentication/
//	go tool pprof -top cpu.out
func BenchmarkWarmPath(b *testing.B) {
	inst, err := localzitadel.Start(context.Background(), localzitadel.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	settings := apiserver.Settings{Name: "bench", Issuer: inst.Issuer, IntrospectionURL: inst.IntrospectionURL,
		ProjectID: inst.ProjectID, CacheTTL: time.Minute, Timeout: 5 * time.Second, MaxInFlight: apiserver.DefaultMaxInFlight}
	g, err := apiserver.NewGuard(b.Context(), settings, clientSecretBasic(inst.BasicAPI.ClientID, inst.BasicAPI.ClientSecret), "", slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	// The sample's route table; the log writes to a handler that formats, as run's does.
	h := routes(g, slog.New(slog.NewTextHandler(io.Discard, nil)))
	// ZITADEL's tokens: an opaque one (compact-JWE-shaped) and a JWT access
	// token. The cache keys them by their hash either way.
	tokens := map[string]string{}
	for kind, u := range map[string]*localzitadel.ServiceUser{"opaque": inst.Reader, "JWT": inst.JWTReader} {
		if tokens[kind], err = inst.MintToken(u, localzitadel.TokenOptions{}); err != nil {
			b.Fatal(err)
		}
	}

	for _, route := range []string{"public", "private", "private-scoped"} {
		for _, kind := range []string{"opaque", "JWT"} {
			b.Run(route+"/"+kind, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/api/"+route, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[kind])
				w := &discardWriter{header: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					clear(w.header)
					w.status = 0
					h.ServeHTTP(w, req)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		}
	}
}

// discardWriter is a ResponseWriter that costs nothing, so the benchmark
// counts only the handler's allocations.
type discardWriter struct {
	header http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

func (w *discardWriter) WriteHeader(status int) { w.status = status }
