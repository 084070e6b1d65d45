package introspect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// counting answers with result or err and counts the calls; with gate set it
// waits for the gate to close first.
type counting struct {
	calls  atomic.Int64
	result *Result
	err    error
	gate   chan struct{}
}

func (c *counting) Introspect(context.Context, string) (*Result, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.result, c.err
}

// clock is a settable now for the cache.
// waitStarted waits until the first introspection has begun.
func (c *counting) waitStarted() {
	for c.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
}

// release lets the introspection under way end, once the other goroutines
// of the test had time to reach the cache and wait for it.
func (c *counting) release() {
	c.waitStarted()
	time.Sleep(20 * time.Millisecond)
	close(c.gate)
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newCache(next Introspector, ttl time.Duration) (*Cache, *clock) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	c := NewCache(next, ttl)
	c.now = clk.now
	return c, clk
}

func introspectN(t *testing.T, c Introspector, token string, n int) {
	t.Helper()
	for range n {
		if _, err := c.Introspect(context.Background(), token); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCacheLifetime(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name   string
		ttl    time.Duration
		result Result
		lives  time.Duration // reused just before, asked again at
	}{
		{"active lives TTL", 30 * time.Second, Result{Active: true, Expiry: start.Add(time.Hour)}, 30 * time.Second},
		{"active never past exp", 30 * time.Second, Result{Active: true, Expiry: start.Add(2 * time.Second)}, 2 * time.Second},
		{"active without exp lives TTL", 10 * time.Second, Result{Active: true}, 10 * time.Second},
		{"inactive lives briefly", 30 * time.Second, Result{}, InactiveTTL},
		{"inactive at most TTL", time.Second, Result{}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := &counting{result: &tt.result}
			c, clk := newCache(next, tt.ttl)
			introspectN(t, c, "token", 1)
			clk.advance(tt.lives - time.Millisecond)
			introspectN(t, c, "token", 100)
			if got := next.calls.Load(); got != 1 {
				t.Fatalf("before %s: %d introspections, want 1", tt.lives, got)
			}
			clk.advance(time.Millisecond)
			introspectN(t, c, "token", 1)
			if got := next.calls.Load(); got != 2 {
				t.Fatalf("at %s: %d introspections, want 2", tt.lives, got)
			}
		})
	}
}

func TestCacheSkipsExpiredAndErrors(t *testing.T) {
	expired := &counting{result: &Result{Active: true, Expiry: time.Unix(1, 0)}}
	c, _ := newCache(expired, time.Minute)
	introspectN(t, c, "token", 3)
	if got := expired.calls.Load(); got != 3 {
		t.Fatalf("answer past its exp: %d introspections, want 3", got)
	}

	failing := &counting{err: &UnavailableError{Reason: "down"}}
	c, _ = newCache(failing, time.Minute)
	for range 3 {
		if _, err := c.Introspect(context.Background(), "token"); err == nil {
			t.Fatal("no error")
		}
	}
	if got := failing.calls.Load(); got != 3 || c.Len() != 0 {
		t.Fatalf("errors: %d introspections, %d entries; want 3, 0", got, c.Len())
	}
}

// introspector answers per token from a map (inactive when absent), and counts.
type byToken struct {
	calls  sync.Map // token → *atomic.Int64
	active map[string]bool
}

func (b *byToken) Introspect(_ context.Context, token string) (*Result, error) {
	n, _ := b.calls.LoadOrStore(token, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return &Result{Active: b.active[token]}, nil
}

func (b *byToken) count(token string) int64 {
	n, ok := b.calls.Load(token)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func TestCacheDropsLeastRecentlyUsed(t *testing.T) {
	next := &byToken{active: map[string]bool{"a": true, "b": true, "c": true, "d": true}}
	c, _ := newCache(next, time.Minute)
	c.active.max = 3
	for _, token := range []string{"a", "b", "c", "a", "d"} { // d pushes out b, not a
		introspectN(t, c, token, 1)
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want 3", c.Len())
	}
	introspectN(t, c, "a", 1)
	introspectN(t, c, "b", 1)
	if a, b := next.count("a"), next.count("b"); a != 1 || b != 2 {
		t.Fatalf("introspections of a, b: %d, %d; want 1 (used recently), 2 (dropped)", a, b)
	}
}

// TestCacheGarbageCannotPushOutATokenInUse: inactive answers have their own
// budget, so any number of distinct unknown tokens leaves active ones alone.
func TestCacheGarbageCannotPushOutATokenInUse(t *testing.T) {
	next := &byToken{active: map[string]bool{"valid": true, "idle": true}}
	c, _ := newCache(next, time.Minute)
	c.active.max, c.inactive.max = 10, 5
	introspectN(t, c, "idle", 1)
	for i := range 1000 {
		introspectN(t, c, fmt.Sprintf("garbage-%d", i), 1)
		introspectN(t, c, "valid", 1)
	}
	introspectN(t, c, "idle", 1)
	if v, i := next.count("valid"), next.count("idle"); v != 1 || i != 1 {
		t.Fatalf("introspections of the valid token: %d, of the idle one: %d; want 1, 1", v, i)
	}
	if c.active.Len() != 2 || c.inactive.Len() != 5 {
		t.Fatalf("%d active and %d inactive entries, want 2 and 5", c.active.Len(), c.inactive.Len())
	}
}

func TestCacheSharesConcurrentIntrospections(t *testing.T) {
	next := &counting{result: &Result{Active: true}, gate: make(chan struct{})}
	c := NewCache(next, time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			if r, err := c.Introspect(context.Background(), "fresh"); err != nil || !r.Active {
				errs <- errors.Join(err, errors.New("not active"))
			}
		})
	}
	next.release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := next.calls.Load(); got != 1 {
		t.Fatalf("%d introspections, want 1", got)
	}
}

func TestCacheWaiterMayGiveUp(t *testing.T) {
	next := &counting{result: &Result{Active: true}, gate: make(chan struct{})}
	c := NewCache(next, time.Minute)
	first := make(chan error, 1)
	go func() {
		_, err := c.Introspect(context.Background(), "token")
		first <- err
	}()
	next.waitStarted()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Introspect(ctx, "token"); !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter err = %v, want context.Canceled", err)
	}
	close(next.gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// TestCacheStaysBoundedUnderAFlood sends distinct garbage tokens from many
// goroutines, as an attacker would, and checks the bound after every call.
func TestCacheStaysBoundedUnderAFlood(t *testing.T) {
	next := &counting{result: &Result{}}
	c := NewCache(next, time.Minute)
	const workers, tokens = 32, 1000
	var over atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range tokens {
				if _, err := c.Introspect(context.Background(), fmt.Sprintf("garbage-%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
				if c.Len() > MaxInactive {
					over.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := over.Load(); n > 0 {
		t.Fatalf("%d times more than %d entries", n, MaxInactive)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) != MaxInactive || c.inactive.Len() != MaxInactive || c.active.Len() != 0 || len(c.flights) != 0 {
		t.Fatalf("%d entries, %d inactive, %d active, %d flights; want %d, %d, 0, 0",
			len(c.entries), c.inactive.Len(), c.active.Len(), len(c.flights), MaxInactive, MaxInactive)
	}
	if got := next.calls.Load(); got != workers*tokens {
		t.Fatalf("%d introspections, want %d", got, workers*tokens)
	}
}

// TestCacheWaitersShareTheError: of the requests that share one failed
// introspection, only the one that made it gets an error to log.
func TestCacheWaitersShareTheError(t *testing.T) {
	next := &counting{err: &UnavailableError{Reason: "down"}, gate: make(chan struct{})}
	c := NewCache(next, time.Minute)
	errs := make(chan error, 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := c.Introspect(context.Background(), "token")
			errs <- err
		})
	}
	next.release()
	wg.Wait()
	close(errs)
	own, shared := 0, 0
	for err := range errs {
		var unavailable *UnavailableError
		if !errors.As(err, &unavailable) {
			t.Fatalf("err = %v, want *UnavailableError", err)
		}
		if Shared(err) {
			shared++
		} else {
			own++
		}
	}
	if own != 1 || shared != 9 || next.calls.Load() != 1 {
		t.Fatalf("%d own errors, %d shared, %d introspections; want 1, 9, 1", own, shared, next.calls.Load())
	}
}
