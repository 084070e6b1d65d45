package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/introspect"
	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active.Len() + c.inactive.Len()
}

// judge stands in for the guard's judgement of a token: it gives every token
// the same verdict (active unless inactive), or err, and counts the calls;
// with gate set it waits for the gate to close first.
type judge struct {
	calls    atomic.Int64
	inactive bool
	expiry   time.Time
	err      error
	gate     chan struct{}
}

func (j *judge) judge(context.Context) (verdict, error) {
	j.calls.Add(1)
	if j.gate != nil {
		<-j.gate
	}
	if j.err != nil || j.inactive {
		return verdict{}, j.err
	}
	return verdict{caller: &Caller{Expiry: j.expiry}, rolesKnown: true}, nil
}

func getN(t *testing.T, c *cache, token string, n int, j *judge) {
	t.Helper()
	for range n {
		if _, err := c.get(context.Background(), key(askGuard, token), j.judge); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCacheLifetime: an active verdict lives min(TTL, exp − now), an
// inactive one at most inactiveTTL. In a synctest bubble time.Sleep moves
// the fake clock, which the cache reads through time.Now.
func TestCacheLifetime(t *testing.T) {
	tests := []struct {
		name     string
		ttl      time.Duration
		inactive bool
		exp      time.Duration // after the first request; 0: none
		lives    time.Duration // reused just before, asked again at
	}{
		{"active lives TTL", 30 * time.Second, false, time.Hour, 30 * time.Second},
		{"active never past exp", 30 * time.Second, false, 2 * time.Second, 2 * time.Second},
		{"active without exp lives TTL", 10 * time.Second, false, 0, 10 * time.Second},
		{"inactive lives briefly", 30 * time.Second, true, 0, inactiveTTL},
		{"inactive at most TTL", time.Second, true, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				j := &judge{inactive: tt.inactive}
				if tt.exp > 0 {
					j.expiry = time.Now().Add(tt.exp)
				}
				c := newCache(tt.ttl)
				getN(t, c, "token", 1, j)
				time.Sleep(tt.lives - time.Millisecond)
				getN(t, c, "token", 100, j)
				if got := j.calls.Load(); got != 1 {
					t.Fatalf("before %s: %d judgements, want 1", tt.lives, got)
				}
				time.Sleep(time.Millisecond)
				getN(t, c, "token", 1, j)
				if got := j.calls.Load(); got != 2 {
					t.Fatalf("at %s: %d judgements, want 2", tt.lives, got)
				}
			})
		})
	}
}

func TestCacheSkipsExpiredAndErrors(t *testing.T) {
	expired := &judge{expiry: time.Unix(1, 0)}
	c := newCache(time.Minute)
	getN(t, c, "token", 3, expired)
	if got := expired.calls.Load(); got != 3 {
		t.Fatalf("verdict past its exp: %d judgements, want 3", got)
	}

	failing := &judge{err: &introspect.UnavailableError{Reason: "down"}}
	for range 3 {
		if _, err := c.get(context.Background(), key(askGuard, "token"), failing.judge); err == nil {
			t.Fatal("no error")
		}
	}
	if got := failing.calls.Load(); got != 3 || c.len() != 0 {
		t.Fatalf("errors: %d judgements, %d entries; want 3, 0", got, c.len())
	}
}

// byToken judges per token: active when listed, and counts.
type byToken struct {
	mu     sync.Mutex
	calls  map[string]int
	active map[string]bool
}

func (b *byToken) get(t *testing.T, c *cache, token string) {
	t.Helper()
	_, err := c.get(context.Background(), key(askGuard, token), func(context.Context) (verdict, error) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.calls == nil {
			b.calls = map[string]int{}
		}
		b.calls[token]++
		if b.active[token] {
			return verdict{caller: &Caller{}}, nil
		}
		return verdict{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCacheDropsLeastRecentlyUsed(t *testing.T) {
	b := &byToken{active: map[string]bool{"a": true, "b": true, "c": true, "d": true}}
	c := newCache(time.Minute)
	c.active.max = 3
	for _, token := range []string{"a", "b", "c", "a", "d"} { // d pushes out b, not a
		b.get(t, c, token)
	}
	if c.len() != 3 {
		t.Fatalf("len = %d, want 3", c.len())
	}
	b.get(t, c, "a")
	b.get(t, c, "b")
	if b.calls["a"] != 1 || b.calls["b"] != 2 {
		t.Fatalf("judgements of a, b: %d, %d; want 1 (used recently), 2 (dropped)", b.calls["a"], b.calls["b"])
	}
}

// TestCacheGarbageCannotPushOutATokenInUse: inactive verdicts have their own
// budget, so any number of distinct unknown tokens leaves active ones alone.
func TestCacheGarbageCannotPushOutATokenInUse(t *testing.T) {
	b := &byToken{active: map[string]bool{"valid": true, "idle": true}}
	c := newCache(time.Minute)
	c.active.max, c.inactive.max = 10, 5
	b.get(t, c, "idle")
	for i := range 1000 {
		b.get(t, c, fmt.Sprintf("garbage-%d", i))
		b.get(t, c, "valid")
	}
	b.get(t, c, "idle")
	if b.calls["valid"] != 1 || b.calls["idle"] != 1 {
		t.Fatalf("judgements of the valid token: %d, of the idle one: %d; want 1, 1", b.calls["valid"], b.calls["idle"])
	}
	if c.active.Len() != 2 || c.inactive.Len() != 5 {
		t.Fatalf("%d active and %d inactive entries, want 2 and 5", c.active.Len(), c.inactive.Len())
	}
}

// TestCacheSharesConcurrentJudgements: 50 requests with a fresh token, one
// judgement. synctest.Wait returns once every goroutine waits on the gate
// or on the judgement under way.
func TestCacheSharesConcurrentJudgements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &judge{gate: make(chan struct{})}
		c := newCache(time.Minute)
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if v, err := c.get(context.Background(), key(askGuard, "fresh"), j.judge); err != nil || v.caller == nil {
					t.Errorf("verdict %+v, %v; want active", v, err)
				}
			})
		}
		synctest.Wait()
		close(j.gate)
		wg.Wait()
		if got := j.calls.Load(); got != 1 {
			t.Fatalf("%d judgements, want 1", got)
		}
	})
}

func TestCacheWaiterMayGiveUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &judge{gate: make(chan struct{})}
		c := newCache(time.Minute)
		first := make(chan error, 1)
		go func() {
			_, err := c.get(context.Background(), key(askGuard, "token"), j.judge)
			first <- err
		}()
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.get(ctx, key(askGuard, "token"), j.judge); !errors.Is(err, context.Canceled) {
			t.Fatalf("waiter err = %v, want context.Canceled", err)
		}
		close(j.gate)
		if err := <-first; err != nil {
			t.Fatal(err)
		}
	})
}

// TestCacheStaysBoundedUnderAFlood sends distinct garbage tokens from many
// goroutines, as an attacker would, and checks the bound after every call.
func TestCacheStaysBoundedUnderAFlood(t *testing.T) {
	j := &judge{inactive: true}
	c := newCache(time.Minute)
	const workers, tokens = 32, 1000
	var over atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range tokens {
				if _, err := c.get(context.Background(), key(askGuard, fmt.Sprintf("garbage-%d-%d", w, i)), j.judge); err != nil {
					t.Error(err)
					return
				}
				if c.len() > maxInactive {
					over.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := over.Load(); n > 0 {
		t.Fatalf("%d times more than %d entries", n, maxInactive)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) != maxInactive || c.inactive.Len() != maxInactive || c.active.Len() != 0 || len(c.flights) != 0 {
		t.Fatalf("%d entries, %d inactive, %d active, %d flights; want %d, %d, 0, 0",
			len(c.entries), c.inactive.Len(), c.active.Len(), len(c.flights), maxInactive, maxInactive)
	}
	if got := j.calls.Load(); got != workers*tokens {
		t.Fatalf("%d judgements, want %d", got, workers*tokens)
	}
}

// TestCacheWaitersShareTheError: of the requests that share one failed
// introspection, only the one that made it gets an error to log.
func TestCacheWaitersShareTheError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := &judge{err: &introspect.UnavailableError{Reason: "down"}, gate: make(chan struct{})}
		c := newCache(time.Minute)
		errs := make(chan error, 10)
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				_, err := c.get(context.Background(), key(askGuard, "token"), j.judge)
				errs <- err
			})
		}
		synctest.Wait()
		close(j.gate)
		wg.Wait()
		close(errs)
		own, shared := 0, 0
		for err := range errs {
			var unavailable *introspect.UnavailableError
			var s *sharedError
			switch {
			case !errors.As(err, &unavailable):
				t.Fatalf("err = %v, want *introspect.UnavailableError", err)
			case errors.As(err, &s):
				shared++
			default:
				own++
			}
		}
		if own != 1 || shared != 9 || j.calls.Load() != 1 {
			t.Fatalf("%d own errors, %d shared, %d judgements; want 1, 9, 1", own, shared, j.calls.Load())
		}
	})
}

// TestBoundLogsTurnedAwayRequestsOnce: a flood that hits the bound costs one
// log line per busyLogEvery, not one per request.
func TestBoundLogsTurnedAwayRequestsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log strings.Builder
		b := newBound(1, slog.New(slog.NewTextHandler(&log, nil)))
		if err := b.acquire(t.Context()); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if err := b.acquire(t.Context()); !errors.Is(err, errBusy) {
				t.Fatalf("err = %v, want errBusy", err)
			}
		}
		if lines := strings.Count(log.String(), "\n"); lines != 1 || !strings.Contains(log.String(), "turned_away_total=1") {
			t.Fatalf("log:\n%s\nwant one line", log.String())
		}
		time.Sleep(busyLogEvery)
		if err := b.acquire(t.Context()); !errors.Is(err, errBusy) {
			t.Fatalf("err = %v, want errBusy", err)
		}
		if lines := strings.Count(log.String(), "\n"); lines != 2 || !strings.Contains(log.String(), "turned_away_total=21") {
			t.Fatalf("log after %s:\n%s\nwant a second line", busyLogEvery, log.String())
		}
		b.release()
	})
}

// gated is a transport to ZITADEL that counts the requests under way, keeps
// the most, and holds each request until its gate is closed.
type gated struct {
	next     http.RoundTripper
	gate     chan struct{}
	now, max atomic.Int64
	reached  chan struct{} // gets a value each time a request starts
}

func (g *gated) RoundTrip(r *http.Request) (*http.Response, error) {
	n := g.now.Add(1)
	defer g.now.Add(-1)
	for m := g.max.Load(); n > m && !g.max.CompareAndSwap(m, n); m = g.max.Load() {
	}
	if g.reached != nil {
		g.reached <- struct{}{}
	}
	if g.gate != nil {
		<-g.gate
	}
	return g.next.RoundTrip(r)
}

// zitadelGuard starts the local ZITADEL and returns it with a guard that
// introspects there as its Basic API app, through transport, with a cache of
// ttl and a bound of maxInFlight.
func zitadelGuard(t *testing.T, transport *gated, ttl time.Duration, maxInFlight int) (*localzitadel.Instance, *Guard) {
	t.Helper()
	z, err := localzitadel.Start(context.Background(), localzitadel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { z.Close() })
	transport.next = http.DefaultTransport.(*http.Transport).Clone()
	app := z.BasicAPI
	client := &introspect.Client{
		URL:  z.IntrospectionURL,
		HTTP: &http.Client{Transport: transport},
		Authenticate: func(req *http.Request, _ url.Values) error {
			req.SetBasicAuth(url.QueryEscape(app.ClientID), url.QueryEscape(app.ClientSecret))
			return nil
		},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return z, &Guard{logger: logger, introspect: client.Introspect, cache: newCache(ttl), bound: newBound(maxInFlight, logger)}
}

// TestFloodCostsATokenInUseOneIntrospectionPerTTL floods the cache with
// distinct garbage tokens, twenty times its budget for inactive verdicts,
// while one valid token is in use: ZITADEL sees that token once per TTL.
func TestFloodCostsATokenInUseOneIntrospectionPerTTL(t *testing.T) {
	z, g := zitadelGuard(t, &gated{}, time.Minute, DefaultMaxInFlight)
	valid, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	g.cache.now = func() time.Time { return time.Unix(0, clock.Load()) }
	g.cache.inactive.max = 25
	const garbage, workers = 500, 8

	for round := range 2 {
		var wg sync.WaitGroup
		var next atomic.Int64
		for range workers {
			wg.Go(func() {
				for i := next.Add(1); i <= garbage; i = next.Add(1) {
					if v, err := g.check(context.Background(), fmt.Sprintf("garbage-%d-%d", round, i), false); err != nil || v.caller != nil {
						t.Errorf("garbage token: %+v, %v", v, err)
						return
					}
					if v, err := g.check(context.Background(), valid, false); err != nil || v.caller == nil {
						t.Errorf("valid token during the flood: %+v, %v", v, err)
						return
					}
				}
			})
		}
		wg.Wait()
		got := z.Stats().Introspect - int64(garbage*(round+1))
		if want := int64(round + 1); got != want {
			t.Fatalf("after %d TTL: the valid token cost %d introspections, want %d", round+1, got, want)
		}
		clock.Add(int64(time.Minute)) // the next TTL
	}
}

// TestBoundOnIntrospectionsInFlight holds every introspection at ZITADEL's
// door and sends many distinct tokens at once: no more than the bound reach
// ZITADEL together, the rest are turned away, and a cached token passes
// while every slot is taken (were it waiting for a slot, it would be turned
// away too).
func TestBoundOnIntrospectionsInFlight(t *testing.T) {
	const bound, requests = 4, 40
	transport := &gated{}
	z, g := zitadelGuard(t, transport, time.Minute, bound)
	g.bound.maxWait = time.Millisecond
	valid, err := z.MintToken(z.Reader, localzitadel.TokenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := g.check(context.Background(), valid, false); err != nil || v.caller == nil {
		t.Fatalf("valid token: %+v, %v", v, err)
	}
	z.ResetStats()
	transport.gate, transport.reached = make(chan struct{}), make(chan struct{}, requests)

	// The first requests take every slot and wait at ZITADEL's door.
	var wg sync.WaitGroup
	for i := range bound {
		wg.Go(func() {
			if v, err := g.check(context.Background(), fmt.Sprintf("unknown-%d", i), false); err != nil || v.caller != nil {
				t.Errorf("unknown token: %+v, %v; want inactive", v, err)
			}
		})
	}
	for range bound {
		<-transport.reached
	}
	// Every other one is turned away after its brief wait for a slot.
	var others sync.WaitGroup
	var busy atomic.Int64
	for i := bound; i < requests; i++ {
		others.Go(func() {
			if _, err := g.check(context.Background(), fmt.Sprintf("unknown-%d", i), false); errors.Is(err, errBusy) {
				busy.Add(1)
			} else {
				t.Errorf("err = %v, want errBusy", err)
			}
		})
	}
	others.Wait()
	if v, err := g.check(context.Background(), valid, false); err != nil || v.caller == nil {
		t.Fatalf("cached token while every slot is taken: %+v, %v", v, err)
	}
	close(transport.gate)
	wg.Wait()

	if m := transport.max.Load(); m != bound {
		t.Fatalf("%d introspections in flight at most, want %d", m, bound)
	}
	if busy.Load() != requests-bound || g.bound.turnedAway.Load() != requests-bound {
		t.Fatalf("%d requests turned away (the bound counts %d), want %d", busy.Load(), g.bound.turnedAway.Load(), requests-bound)
	}
	if got := z.Stats().Introspect; got != bound {
		t.Fatalf("ZITADEL saw %d introspections, want %d", got, bound)
	}
}
