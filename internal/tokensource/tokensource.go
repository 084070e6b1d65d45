// Package tokensource gets access tokens for a service user, reuses them, and
// sends them, in the idiom of golang.org/x/oauth2 (Token, ReuseTokenSource,
// Transport, NewClient), written on the standard library.
//
// A sample supplies the one thing that differs between grants: a Fetch
// function that asks ZITADEL for a token (blog sections 4.1.1 and 4.1.2) or
// hands out a personal access token (4.2). Source calls it as rarely as it can:
// once at the start, again shortly before the token expires, and once after the
// API rejected the token. NewClient gives an *http.Client that does all that
// on every request, to the samples' API or any other.
package tokensource

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Token is an access token. fmt, log/slog and encoding/json never show
// AccessToken, whether they get a Token or a *Token, so a token printed or
// logged by mistake does not leak; only AccessToken itself is the secret.
type Token struct {
	AccessToken string
	TokenType   string    // "Bearer" for every ZITADEL token
	Expiry      time.Time // zero: no known expiry (e.g. a PAT)
}

// String describes the token without its value.
func (t Token) String() string {
	if t.Expiry.IsZero() {
		return fmt.Sprintf("%s token [REDACTED]", t.TokenType)
	}
	return fmt.Sprintf("%s token [REDACTED] expiring %s", t.TokenType, t.Expiry.Format(time.RFC3339))
}

// Format makes every fmt verb, %#v included, print String.
func (t Token) Format(f fmt.State, _ rune) { fmt.Fprint(f, t.String()) }

// LogValue keeps the token value out of log/slog output.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", t.TokenType), slog.Time("expiry", t.Expiry))
}

// MarshalJSON keeps the token value out of JSON, e.g. a struct that holds a
// Token and is logged as JSON.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"token_type": t.TokenType, "expiry": t.Expiry, "access_token": "[REDACTED]"})
}

// Fetch gets a new token: a token request to ZITADEL, or a PAT read from the settings.
type Fetch func(ctx context.Context) (*Token, error)

// Renewal bounds: a token is renewed RenewBefore before it expires, or a
// tenth of its lifetime before, whichever is sooner, so a short-lived token
// is still used for most of its life and a long one (ZITADEL's default is
// 12 hours) never expires on its way to the API.
const RenewBefore = time.Minute

// Source hands out one token until it is about to expire or is invalidated.
// It is safe for concurrent use; at most one Fetch runs at a time, and
// callers that wait for it get its token.
type Source struct {
	fetch Fetch
	now   func() time.Time

	lock    chan struct{} // a mutex that a waiting caller can give up on when its ctx ends
	current *Token
	renewAt time.Time
}

// New returns a Source that gets its tokens from fetch.
func New(fetch Fetch) *Source {
	return &Source{fetch: fetch, now: time.Now, lock: make(chan struct{}, 1)}
}

// Token returns the current token, fetching a new one if there is none or it
// is about to expire.
func (s *Source) Token(ctx context.Context) (*Token, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.lock }()

	if s.current != nil && (s.renewAt.IsZero() || s.now().Before(s.renewAt)) {
		return s.current, nil
	}
	fetchedAt := s.now()
	tok, err := s.fetch(ctx)
	if err != nil {
		return nil, err
	}
	s.current, s.renewAt = tok, renewAt(fetchedAt, tok.Expiry)
	return tok, nil
}

// renewAt is when a token fetched at fetchedAt should be replaced.
func renewAt(fetchedAt, expiry time.Time) time.Time {
	if expiry.IsZero() {
		return time.Time{}
	}
	margin := min(RenewBefore, expiry.Sub(fetchedAt)/10)
	return expiry.Add(-margin)
}

// Invalidate drops tok after the API rejected it (HTTP 401), so the next
// Token call fetches a new one. If another caller already replaced tok, it
// does nothing: many requests failing with the same token cost one new token,
// not one each.
func (s *Source) Invalidate(tok *Token) {
	s.lock <- struct{}{}
	defer func() { <-s.lock }()
	if s.current != nil && tok != nil && s.current.AccessToken == tok.AccessToken {
		s.current = nil
	}
}
