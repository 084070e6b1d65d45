package tokensource

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// DefaultTimeout bounds one request to ZITADEL or to the API: long enough
// for a cold instance far away, short enough that a silent server does not
// look like a hanging program.
const DefaultTimeout = 15 * time.Second

// HTTPClient returns an HTTP client for ZITADEL and for the API: each
// request, its answer included, is cut off after timeout, and redirects are
// not followed, so credentials are never resent to another URL (a redirect
// is reported as the answer it is).
func HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewClient returns a copy of base whose requests carry a token of src
// (Authorization: Bearer, RFC 6750 §2.1), as oauth2.NewClient does. Use it
// for any endpoint that takes the service user's token.
func NewClient(src *Source, base *http.Client) *http.Client {
	c := *base
	c.Transport = &Transport{Source: src, Base: base.Transport}
	return &c
}

// Transport adds a token of Source to each request. After a 401 it asks
// Source for a new token and sends the request once more: a token may be
// revoked or expire early, and that must cost one token request, not a loop.
// When a token it got after a 401 is rejected too, the cause is not the
// token's age (more often its audience), and it stops asking for new ones.
type Transport struct {
	Source *Source
	Base   http.RoundTripper // nil: http.DefaultTransport

	mu      sync.Mutex
	renewed *Token // the last token fetched after a 401
}

// RoundTrip sends req with a token; it does not change req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Source.Token(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req, tok, false)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if req.Body != nil && req.GetBody == nil {
		return resp, nil // the body is spent: nothing to send again
	}
	fresh, err := t.renew(req.Context(), tok)
	// nil: a renewed token was rejected before. A PAT source hands out the
	// same PAT again: nothing to retry with.
	if err == nil && (fresh == nil || fresh.AccessToken == tok.AccessToken) {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	return t.send(req, fresh, true)
}

// send sends a copy of req with tok; again: with a new copy of its body.
func (t *Transport) send(req *http.Request, tok *Token, again bool) (*http.Response, error) {
	r := req.Clone(req.Context())
	if again && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// renew returns a new token after rejected got a 401, or nil if rejected
// was itself a renewed token.
func (t *Transport) renew(ctx context.Context, rejected *Token) (*Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rejected == t.renewed {
		return nil, nil
	}
	t.Source.Invalidate(rejected)
	fresh, err := t.Source.Token(ctx)
	if err != nil {
		return nil, err
	}
	t.renewed = fresh
	return fresh, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
