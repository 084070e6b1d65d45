package introspect

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"
)

// Introspector answers whether a token is active. Client and Cache are both one.
type Introspector interface {
	Introspect(ctx context.Context, token string) (*Result, error)
}

const (
	// DefaultCacheTTL is how long an answer is reused by default. The trade-off:
	// a token revoked in ZITADEL may still pass for up to this long.
	DefaultCacheTTL = 30 * time.Second
	// InactiveTTL caps how long an active:false answer is reused. It keeps a
	// client that retries a bad token from costing one round trip per request,
	// while a token that was not yet known (or a clock skew) heals quickly.
	InactiveTTL = 5 * time.Second
	// MaxEntries bounds the active answers of the cache, so it cannot grow
	// without limit. An entry is a few hundred bytes.
	MaxEntries = 10_000
	// MaxInactive bounds the active:false answers on their own, so that a
	// flood of distinct garbage tokens pushes out only other garbage, never
	// a token in use.
	MaxInactive = 1_000
)

// Cache reuses introspection answers and shares one introspection among
// concurrent requests with the same token (singleflight).
//
// When full it drops the least recently used answer. Active and inactive
// answers have separate budgets (MaxEntries, MaxInactive): unknown tokens
// are cheap to make up, and must not push out the tokens of real callers.
//
// Entries are keyed by the SHA-256 of the token, so the cache holds no usable
// token. An active answer lives min(TTL, exp − now): never past the token's
// expiry. Errors are never cached: the next request asks again.
// The *Result it returns is shared between callers and must not be modified.
type Cache struct {
	next Introspector
	ttl  time.Duration
	now  func() time.Time

	mu       sync.Mutex
	entries  map[[sha256.Size]byte]*list.Element // of *entry
	active   lru                                 // active answers
	inactive lru                                 // active:false answers
	flights  map[[sha256.Size]byte]*flight
}

// lru is a list of entries, least recently used first, with its budget.
type lru struct {
	list.List
	max int
}

type entry struct {
	in      *lru
	key     [sha256.Size]byte
	result  *Result
	expires time.Time
}

// flight is one introspection that concurrent requests for a token wait on.
type flight struct {
	done   chan struct{}
	result *Result
	err    error
}

// NewCache returns a cache in front of next that keeps answers at most ttl (> 0).
func NewCache(next Introspector, ttl time.Duration) *Cache {
	return &Cache{
		next:     next,
		ttl:      ttl,
		now:      time.Now,
		entries:  map[[sha256.Size]byte]*list.Element{},
		active:   lru{max: MaxEntries},
		inactive: lru{max: MaxInactive},
		flights:  map[[sha256.Size]byte]*flight{},
	}
}

// Introspect returns a cached answer, waits for an introspection of the same
// token already under way, or introspects.
func (c *Cache) Introspect(ctx context.Context, token string) (*Result, error) {
	key := cacheKey(token)

	c.mu.Lock()
	if r, ok := c.lookup(key); ok {
		c.mu.Unlock()
		return r, nil
	}
	if f, ok := c.flights[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil {
				return nil, &sharedError{f.err}
			}
			return f.result, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{}), err: errUnfinished}
	c.flights[key] = f
	c.mu.Unlock()

	defer func() {
		c.mu.Lock()
		delete(c.flights, key)
		if f.err == nil {
			c.store(key, f.result)
		}
		c.mu.Unlock()
		close(f.done)
	}()
	// The answer serves every waiter, so the first caller going away must not
	// cancel it; the Client's own timeout still bounds it.
	f.result, f.err = c.next.Introspect(context.WithoutCancel(ctx), token)
	return f.result, f.err
}

// cacheKey is the SHA-256 of token. It runs on every request: the token is
// copied to a buffer on the stack first, so that hashing a JWT (about 700
// bytes) costs no allocation; []byte(token) would allocate.
func cacheKey(token string) [sha256.Size]byte {
	var buf [1024]byte
	return sha256.Sum256(append(buf[:0], token...))
}

// errUnfinished is what waiters get if the introspection they wait on panicked.
var errUnfinished = errors.New("introspection did not finish")

// sharedError is the error of an introspection that another request started
// and that request already got: logged once by it, not again by each waiter.
type sharedError struct{ err error }

func (e *sharedError) Error() string { return e.err.Error() }
func (e *sharedError) Unwrap() error { return e.err }

// Shared reports whether err is the error of an introspection another
// request started and got too: it needs no log line of its own.
func Shared(err error) bool {
	var s *sharedError
	return errors.As(err, &s)
}

// Len returns the number of entries, expired ones included until they are dropped.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active.Len() + c.inactive.Len()
}

func (c *Cache) lookup(key [sha256.Size]byte) (*Result, bool) {
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	e.in.MoveToBack(el)
	return e.result, true
}

func (c *Cache) store(key [sha256.Size]byte, r *Result) {
	now := c.now()
	life := min(c.ttl, InactiveTTL)
	if r.Active {
		life = c.ttl
		if !r.Expiry.IsZero() {
			life = min(life, r.Expiry.Sub(now))
		}
	}
	if life <= 0 {
		return
	}
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
	in := &c.inactive
	if r.Active {
		in = &c.active
	}
	for in.Len() >= in.max {
		c.remove(in.Front())
	}
	c.entries[key] = in.PushBack(&entry{in: in, key: key, result: r, expires: now.Add(life)})
}

func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*entry)
	delete(c.entries, e.key)
	e.in.Remove(el)
}
