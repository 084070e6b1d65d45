package apiserver

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// What the guard sends to ZITADEL is bounded: the cache answers a token it
// has judged already, and the bound caps the introspections under way.
const (
	// DefaultCacheTTL is how long a verdict is reused by default. The trade-off:
	// a token revoked in ZITADEL may still pass for up to this long.
	DefaultCacheTTL = 30 * time.Second
	// inactiveTTL caps how long an inactive verdict is reused: a client that
	// retries a bad token costs one round trip per 5 s, and a token that was
	// not yet known (or a clock skew) heals quickly.
	inactiveTTL = 5 * time.Second
	// maxActive and maxInactive bound the cache (an entry is a few hundred
	// bytes). Inactive verdicts have their own, smaller budget: unknown tokens
	// are cheap to make up and must not push out the tokens of real callers.
	maxActive   = 10_000
	maxInactive = 1_000

	// DefaultMaxInFlight bounds the introspections under way. It matches the
	// connections the introspection client keeps open to ZITADEL.
	DefaultMaxInFlight = 64
	// maxWait is how long a request waits for a free slot before it gets 503:
	// enough to ride out a burst, short enough not to leave a client hanging.
	maxWait = 500 * time.Millisecond
	// busyLogEvery spaces the log lines about requests turned away: during a
	// flood, a line per request would flood the log too.
	busyLogEvery = 10 * time.Second
)

// verdict is what the guard learned about a token.
type verdict struct {
	caller     *Caller // nil: the token is not active
	rolesKnown bool    // false: a JWT without this project's role claim
}

// cache reuses verdicts, keyed by the SHA-256 of the token (it holds no
// usable token), and shares one judgement among concurrent requests with the
// same token (singleflight). An active verdict lives min(TTL, exp − now),
// never past the token's expiry; an inactive one inactiveTTL at most; an
// error not at all. Full, it drops the least recently used verdict.
type cache struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	entries  map[cacheKey]*list.Element // of *entry
	active   lru
	inactive lru
	flights  map[cacheKey]*flight
}

// A cacheKey is the SHA-256 of what was asked (see key) and the token.
type cacheKey [sha256.Size]byte

// lru is a list of entries, least recently used first, with its budget.
type lru struct {
	list.List
	max int
}

type entry struct {
	in      *lru
	key     cacheKey
	verdict verdict
	expires time.Time
}

// flight is one judgement that concurrent requests for a token wait on.
type flight struct {
	done    chan struct{}
	verdict verdict
	err     error
}

func newCache(ttl time.Duration) *cache {
	return &cache{
		ttl:      ttl,
		now:      time.Now,
		entries:  map[cacheKey]*list.Element{},
		active:   lru{max: maxActive},
		inactive: lru{max: maxInactive},
		flights:  map[cacheKey]*flight{},
	}
}

// key is the cache key of question q about token. The token is copied to a
// buffer on the stack first: []byte(token) would allocate on every request.
func key(q byte, token string) cacheKey {
	var buf [1024]byte
	return sha256.Sum256(append(append(buf[:0], q), token...))
}

// get returns the cached verdict for k, waits for a judgement of the same
// token already under way, or calls judge.
func (c *cache) get(ctx context.Context, k cacheKey, judge func(context.Context) (verdict, error)) (verdict, error) {
	c.mu.Lock()
	if v, ok := c.lookup(k); ok {
		c.mu.Unlock()
		return v, nil
	}
	if f, ok := c.flights[k]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil {
				return verdict{}, &sharedError{f.err}
			}
			return f.verdict, nil
		case <-ctx.Done():
			return verdict{}, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{}), err: errUnfinished}
	c.flights[k] = f
	c.mu.Unlock()

	defer func() {
		c.mu.Lock()
		delete(c.flights, k)
		if f.err == nil {
			c.store(k, f.verdict)
		}
		c.mu.Unlock()
		close(f.done)
	}()
	// The verdict serves every waiter, so the first caller going away must
	// not cancel it; the introspection's own timeout still bounds it.
	f.verdict, f.err = judge(context.WithoutCancel(ctx))
	return f.verdict, f.err
}

// errUnfinished is what waiters get if the judgement they wait on panicked.
var errUnfinished = errors.New("token check did not finish")

// sharedError is the error of a judgement another request started and got
// too: that request logs it, its waiters do not.
type sharedError struct{ err error }

func (e *sharedError) Error() string { return e.err.Error() }
func (e *sharedError) Unwrap() error { return e.err }

func (c *cache) lookup(k cacheKey) (verdict, bool) {
	el, ok := c.entries[k]
	if !ok {
		return verdict{}, false
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return verdict{}, false
	}
	e.in.MoveToBack(el)
	return e.verdict, true
}

func (c *cache) store(k cacheKey, v verdict) {
	now := c.now()
	life, in := min(c.ttl, inactiveTTL), &c.inactive
	if v.caller != nil {
		life, in = c.ttl, &c.active
		if !v.caller.Expiry.IsZero() {
			life = min(life, v.caller.Expiry.Sub(now))
		}
	}
	if life <= 0 {
		return
	}
	if el, ok := c.entries[k]; ok {
		c.remove(el)
	}
	for in.Len() >= in.max {
		c.remove(in.Front())
	}
	c.entries[k] = in.PushBack(&entry{in: in, key: k, verdict: v, expires: now.Add(life)})
}

func (c *cache) remove(el *list.Element) {
	e := el.Value.(*entry)
	delete(c.entries, e.key)
	e.in.Remove(el)
}

// errBusy is the cause (in an *introspect.UnavailableError) of a request
// turned away because the API has its maximum of introspections in flight.
var errBusy = errors.New("too many introspections in flight")

// bound caps the introspections in flight, so that a flood of unknown
// tokens, or a slow ZITADEL, cannot make the API send ZITADEL an unbounded
// number of concurrent requests. Cached verdicts, and waiters of a judgement
// under way, never take a slot.
type bound struct {
	slots   chan struct{}
	maxWait time.Duration
	logger  *slog.Logger

	turnedAway atomic.Int64
	lastLog    atomic.Int64 // unix nanoseconds
}

func newBound(max int, logger *slog.Logger) *bound {
	return &bound{slots: make(chan struct{}, max), maxWait: maxWait, logger: logger}
}

// acquire takes a slot, waiting up to maxWait for one; release gives it back.
func (b *bound) acquire(ctx context.Context) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	timer := time.NewTimer(b.maxWait)
	defer timer.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
	}
	n := b.turnedAway.Add(1)
	now, last := time.Now().UnixNano(), b.lastLog.Load()
	if now-last >= int64(busyLogEvery) && b.lastLog.CompareAndSwap(last, now) {
		b.logger.WarnContext(ctx, "introspections in flight at their bound: answering 503; ZITADEL is slow or the API is flooded with unknown tokens",
			"max_in_flight", cap(b.slots), "turned_away_total", n)
	}
	return errBusy
}

func (b *bound) release() { <-b.slots }
