package introspect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

func TestMain(m *testing.M) {
	// The local ZITADEL's OIDC library logs through slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	os.Exit(m.Run())
}

// inFlight is a transport that counts the requests under way and keeps the most.
type inFlight struct {
	next     http.RoundTripper
	now, max atomic.Int64
}

func (f *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for {
		m := f.max.Load()
		if n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	return f.next.RoundTrip(r)
}

// startZITADEL starts the local ZITADEL and returns it with a Client of its
// Basic API app, whose requests go through counter.
func startZITADEL(t *testing.T, counter *inFlight) (*localzitadel.Instance, *Client) {
	t.Helper()
	z, err := localzitadel.Start(context.Background(), localzitadel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	counter.next = http.DefaultTransport.(*http.Transport).Clone()
	app := z.BasicAPI
	return z, &Client{
		URL:  z.IntrospectionURL,
		HTTP: &http.Client{Transport: counter},
		Authenticate: func(req *http.Request, _ url.Values) error {
			req.SetBasicAuth(url.QueryEscape(app.ClientID), url.QueryEscape(app.ClientSecret))
			return nil
		},
	}
}

// TestFloodCostsATokenInUseOneIntrospectionPerTTL floods the cache with
// distinct garbage tokens, twenty times its bound for inactive answers,
// while one valid token is in use: ZITADEL sees that token once per TTL.
func TestFloodCostsATokenInUseOneIntrospectionPerTTL(t *testing.T) {
	z, client := startZITADEL(t, &inFlight{})
	valid, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c := NewCache(NewLimit(client, 0, 0, nil), time.Minute)
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	c.inactive.max = 25
	const garbage, workers = 500, 8

	for round := range 2 {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range workers {
			wg.Go(func() {
				for i := next.Add(1); i <= garbage; i = next.Add(1) {
					r, err := c.Introspect(context.Background(), fmt.Sprintf("garbage-%d-%d", round, i))
					if err != nil || r.Active {
						t.Errorf("garbage token: %+v, %v", r, err)
						return
					}
				}
			})
		}
		flooding := make(chan struct{})
		go func() { wg.Wait(); close(flooding) }()
		for uses := 0; ; uses++ {
			if r, err := c.Introspect(context.Background(), valid); err != nil || !r.Active {
				t.Fatalf("valid token during the flood: %+v, %v", r, err)
			}
			select {
			case <-flooding:
			default:
				time.Sleep(time.Millisecond)
				continue
			}
			t.Logf("round %d: the valid token was used %d times during %d garbage tokens", round, uses+1, garbage)
			break
		}
		got := z.Stats().Introspect - int64(garbage*(round+1))
		if want := int64(round + 1); got != want {
			t.Fatalf("after %d TTL: the valid token cost %d introspections, want %d", round+1, got, want)
		}
		clock.Add(int64(time.Minute)) // the next TTL
	}
}

// TestBoundOnIntrospectionsInFlight slows ZITADEL down and sends many
// distinct tokens at once: no more than the bound reach ZITADEL together,
// the rest get ErrBusy after a brief wait, and a cached token never waits.
func TestBoundOnIntrospectionsInFlight(t *testing.T) {
	counter := &inFlight{}
	z, client := startZITADEL(t, counter)
	valid, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const bound, maxWait, requests = 4, 200 * time.Millisecond, 40
	limit := NewLimit(client, bound, maxWait, nil)
	c := NewCache(limit, time.Minute)
	introspectN(t, c, valid, 1)
	z.ResetStats()
	z.SetFault(localzitadel.Fault{Delay: 2 * maxWait})

	var wg sync.WaitGroup
	var busy, other atomic.Int64
	for i := range requests {
		wg.Go(func() {
			_, err := c.Introspect(context.Background(), fmt.Sprintf("unknown-%d", i))
			switch {
			case errors.Is(err, ErrBusy):
				busy.Add(1)
			case err != nil:
				t.Errorf("err = %v", err)
			default:
				other.Add(1)
			}
		})
	}
	for counter.now.Load() < bound {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if r, err := c.Introspect(context.Background(), valid); err != nil || !r.Active {
		t.Fatalf("cached token while the bound is reached: %+v, %v", r, err)
	}
	if waited := time.Since(start); waited >= maxWait/2 {
		t.Fatalf("cached token waited %s behind the bound", waited)
	}
	wg.Wait()

	if m := counter.max.Load(); m != bound {
		t.Fatalf("at most %d introspections in flight, want %d", m, bound)
	}
	if busy.Load() == 0 || busy.Load() != limit.TurnedAway() {
		t.Fatalf("%d requests turned away (Limit counts %d), want some", busy.Load(), limit.TurnedAway())
	}
	if got := z.Stats().Introspect; got != other.Load() || got+busy.Load() != requests {
		t.Fatalf("ZITADEL saw %d introspections, %d answered, %d turned away", got, other.Load(), busy.Load())
	}
}

// TestLimitLogsTurnedAwayRequestsOnce: a flood that hits the bound costs one
// log line, not one per request.
func TestLimitLogsTurnedAwayRequestsOnce(t *testing.T) {
	next := &counting{result: &Result{Active: true}, gate: make(chan struct{})}
	var log syncBuffer
	limit := NewLimit(next, 1, time.Millisecond, slog.New(slog.NewTextHandler(&log, nil)))
	go limit.Introspect(context.Background(), "slow")
	next.waitStarted()
	for range 20 {
		if _, err := limit.Introspect(context.Background(), "other"); !errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v, want ErrBusy", err)
		}
	}
	close(next.gate)
	if lines := strings.Count(log.String(), "\n"); lines != 1 || !strings.Contains(log.String(), "turned_away_total=1") {
		t.Fatalf("log:\n%s\nwant one line", log.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
