package introspect

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// DefaultMaxInFlight bounds the introspections one API has under way.
	// It matches the connections the Client keeps open to ZITADEL, so each
	// one in flight can reuse a connection.
	DefaultMaxInFlight = 64
	// DefaultMaxWait is how long a request waits for a free slot before it
	// is answered 503: long enough to ride out a burst, short enough that a
	// client is not left hanging while ZITADEL is slow.
	DefaultMaxWait = 500 * time.Millisecond
	// busyLogEvery spaces the log lines about turned-away requests.
	busyLogEvery = 10 * time.Second
)

// ErrBusy is the cause (in an *UnavailableError) of a request turned away
// because the API already has its maximum of introspections in flight.
var ErrBusy = errors.New("too many introspections in flight")

// Limit bounds the introspections in flight, so that a flood of unknown
// tokens, or a slow ZITADEL, cannot make the API send ZITADEL an unbounded
// number of concurrent requests. Put it behind the Cache: answers the cache
// has, and waiters of an introspection under way, never take a slot.
type Limit struct {
	next    Introspector
	slots   chan struct{}
	maxWait time.Duration
	logger  *slog.Logger

	turnedAway atomic.Int64
	mu         sync.Mutex
	lastLog    time.Time
}

// NewLimit returns next bounded to max introspections in flight (0 means
// DefaultMaxInFlight); past it a request waits up to maxWait (0 means
// DefaultMaxWait) and then fails with ErrBusy. logger (nil discards) gets
// at most one line per busyLogEvery about requests turned away.
func NewLimit(next Introspector, max int, maxWait time.Duration, logger *slog.Logger) *Limit {
	if max <= 0 {
		max = DefaultMaxInFlight
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Limit{next: next, slots: make(chan struct{}, max), maxWait: maxWait, logger: logger}
}

// Introspect takes a slot, waiting up to maxWait for one, and introspects.
func (l *Limit) Introspect(ctx context.Context, token string) (*Result, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		timer := time.NewTimer(l.maxWait)
		select {
		case l.slots <- struct{}{}:
			timer.Stop()
		case <-timer.C:
			l.busy(ctx)
			return nil, &UnavailableError{Reason: "the API's bound on introspections in flight is reached", Err: ErrBusy}
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		}
	}
	defer func() { <-l.slots }()
	return l.next.Introspect(ctx, token)
}

// TurnedAway returns how many requests got ErrBusy.
func (l *Limit) TurnedAway() int64 { return l.turnedAway.Load() }

// busy counts a turned-away request and logs now and then: during a flood,
// a line per request would flood the log too.
func (l *Limit) busy(ctx context.Context) {
	n := l.turnedAway.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.lastLog) >= busyLogEvery {
		l.lastLog = now
		l.logger.WarnContext(ctx, "introspections in flight at their bound: answering 503; ZITADEL is slow or the API is flooded with unknown tokens",
			"max_in_flight", cap(l.slots), "turned_away_total", n)
	}
}
