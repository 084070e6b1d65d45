package tokensource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable time for Source.now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// counting returns a Fetch that hands out token-1, token-2, … valid for
// lifetime (0: no expiry) and counts its calls.
func counting(c *clock, lifetime time.Duration, calls *atomic.Int32) Fetch {
	return func(context.Context) (*Token, error) {
		n := calls.Add(1)
		tok := &Token{AccessToken: fmt.Sprintf("token-%d", n), TokenType: "Bearer"}
		if lifetime > 0 {
			tok.Expiry = c.now().Add(lifetime)
		}
		return tok, nil
	}
}

func newSource(c *clock, fetch Fetch) *Source {
	s := New(fetch)
	s.now = c.now
	return s
}

func TestSourceRenewsShortlyBeforeExpiry(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		reuseFor time.Duration // still the first token after this long
		renewBy  time.Duration // a new token after this long
	}{
		{"ZITADEL default 12h: one minute before", 12 * time.Hour, 12*time.Hour - time.Minute - time.Second, 12*time.Hour - time.Minute},
		{"short-lived: a tenth of its lifetime before", 20 * time.Second, 17 * time.Second, 18 * time.Second},
		{"no expiry (PAT): never", 0, 1000 * time.Hour, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1_700_000_000, 0)}
			var calls atomic.Int32
			s := newSource(c, counting(c, tt.lifetime, &calls))
			ctx := context.Background()
			first, err := s.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.add(tt.reuseFor)
			if tok, _ := s.Token(ctx); tok != first || calls.Load() != 1 {
				t.Fatalf("after %v: got %v after %d fetches, want the first token after 1", tt.reuseFor, tok, calls.Load())
			}
			if tt.renewBy < 0 {
				return
			}
			c.add(tt.renewBy - tt.reuseFor)
			if tok, _ := s.Token(ctx); tok == first || calls.Load() != 2 {
				t.Fatalf("after %v: got %v after %d fetches, want a second token", tt.renewBy, tok, calls.Load())
			}
		})
	}
}

func TestInvalidateCausesOneFetch(t *testing.T) {
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	var calls atomic.Int32
	s := newSource(c, counting(c, time.Hour, &calls))
	ctx := context.Background()
	rejected, _ := s.Token(ctx)

	// Ten requests fail with the same token: the first Invalidate drops it,
	// the others find it already replaced.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			s.Invalidate(rejected)
			if tok, err := s.Token(ctx); err != nil || tok.AccessToken != "token-2" {
				t.Errorf("got %v, %v; want token-2", tok, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	s.Invalidate(&Token{AccessToken: "token-1"}) // stale: no effect
	s.Invalidate(nil)
	if tok, _ := s.Token(ctx); tok.AccessToken != "token-2" || calls.Load() != 2 {
		t.Fatalf("a stale Invalidate dropped the current token: %d fetches", calls.Load())
	}
}

func TestConcurrentCallersShareOneFetch(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	s := New(func(context.Context) (*Token, error) {
		calls.Add(1)
		<-release
		return &Token{AccessToken: "shared", TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
	})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if tok, err := s.Token(context.Background()); err != nil || tok.AccessToken != "shared" {
				t.Errorf("got %v, %v", tok, err)
			}
		})
	}
	time.Sleep(10 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fetches for 100 concurrent callers, want 1", n)
	}
}

func TestFetchErrorIsNotCached(t *testing.T) {
	fail := errors.New("token endpoint down")
	var calls int
	s := New(func(context.Context) (*Token, error) {
		calls++
		if calls == 1 {
			return nil, fail
		}
		return &Token{AccessToken: "ok", TokenType: "Bearer"}, nil
	})
	if _, err := s.Token(context.Background()); !errors.Is(err, fail) {
		t.Fatalf("got %v, want the fetch error", err)
	}
	if tok, err := s.Token(context.Background()); err != nil || tok.AccessToken != "ok" {
		t.Fatalf("got %v, %v after a failed fetch, want a new token", tok, err)
	}
}

func TestWaitingCallerGivesUpWithItsContext(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	s := New(func(context.Context) (*Token, error) {
		<-release
		return &Token{AccessToken: "late"}, nil
	})
	go func() { _, _ = s.Token(context.Background()) }() // holds the lock
	time.Sleep(10 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Token(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

func TestPrintingATokenByMistakeNeverShowsIt(t *testing.T) {
	tok := &Token{AccessToken: "s3cr3t-access-token", TokenType: "Bearer", Expiry: time.Unix(1_700_000_000, 0)}
	holder := struct {
		Token  Token
		Ptr    *Token
		Tokens []Token
	}{*tok, tok, []Token{*tok}}
	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("got", "token", tok, "value", *tok)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("got", "token", tok, "value", *tok, "holder", holder)
	asJSON, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprint(tok), fmt.Sprint(*tok), fmt.Sprintf("%+v %#v %s %q %v", tok, tok, tok, tok, tok),
		fmt.Sprintf("%+v %#v %s %q %v %x", *tok, *tok, *tok, *tok, *tok, *tok), fmt.Sprintf("%+v %#v", holder, holder),
		tok.String(), logged.String(), string(asJSON),
	} {
		if strings.Contains(out, tok.AccessToken) {
			t.Errorf("token value in %q", out)
		}
	}
	if !strings.Contains(fmt.Sprint(*tok), "[REDACTED]") {
		t.Errorf("fmt.Sprint(*tok) = %q, want it to say the token is redacted", fmt.Sprint(*tok))
	}
}
