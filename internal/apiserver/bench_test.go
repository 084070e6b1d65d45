package apiserver_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/apiserver"
	"github.com/zitadel/go-introspection-examples/internal/apiservertest"
	"github.com/zitadel/go-introspection-examples/internal/config"
	"github.com/zitadel/go-introspection-examples/internal/introspect"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// BenchmarkRoutes drives a running API over loopback with concurrent clients
// and reports requests per second for /api/public, /api/private with a warm
// cache and /api/private without cache, then the ratio warm/public, which
// DESIGN.md wants at 0.8 or more. Run it with
//
//	go test -run '^$' -bench Routes -v ./internal/apiserver/
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
	cached := serve(b, inst, introspect.DefaultCacheTTL)
	uncached := serve(b, inst, 0)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}

	cases := []struct{ name, url, token string }{
		{"public", cached + "/api/public", ""},
		{"private-warm", cached + "/api/private", token},
		{"private-nocache", uncached + "/api/private", token},
	}
	// Open the connections and fill the cache first, so that the first case
	// does not pay for what the others get for free.
	for _, bc := range cases {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 50 {
					if err := get(client, bc.url, bc.token); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}

	// Three rounds, the routes taking turns, and each route's best round: on
	// a shared machine other work only ever slows a round down.
	best := map[string]float64{}
	for range 3 {
		for _, bc := range cases {
			var rate float64
			b.Run(bc.name, func(b *testing.B) {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := get(client, bc.url, bc.token); err != nil {
							b.Error(err)
							return
						}
					}
				})
				rate = float64(b.N) / b.Elapsed().Seconds() // the last call is the measured one
				b.ReportMetric(rate, "req/s")
			})
			best[bc.name] = max(best[bc.name], rate)
		}
	}
	if best["public"] > 0 {
		b.Logf("best req/s: public %.0f, private warm %.0f, private no cache %.0f; warm/public %.2f (target >= 0.80)",
			best["public"], best["private-warm"], best["private-nocache"], best["private-warm"]/best["public"])
	}
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
	sample := apiserver.Sample{
		Name: "bench",
		Setup: func(*config.Env, string) func(*http.Request, url.Values) error {
			return func(req *http.Request, _ url.Values) error {
				req.SetBasicAuth(url.QueryEscape(inst.API.ClientID), url.QueryEscape(inst.API.ClientSecret))
				return nil
			}
		},
	}
	args := []string{"bench", "-addr", "127.0.0.1:0", "-env", emptyEnv}
	go func() {
		if err := apiserver.Run(ctx, sample, args, func(k string) string { return env[k] }, stdout, io.Discard); err != nil {
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
