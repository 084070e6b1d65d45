package localzitadel

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"
)

// Stats counts the requests each endpoint received, failed ones and
// faulted ones included. Tests and benchmarks read it to check that a
// client reuses its token and an API its introspection results.
type Stats struct {
	Discovery  int64 `json:"discovery"`
	Keys       int64 `json:"keys"`
	Token      int64 `json:"token"`
	Introspect int64 `json:"introspect"`
	Revoke     int64 `json:"revoke"`
	UserInfo   int64 `json:"userinfo"`
}

type counters struct {
	discovery, keys, token, introspect, revoke, userInfo atomic.Int64
}

// Stats returns the request counts since Start or the last ResetStats.
func (i *Instance) Stats() Stats {
	c := &i.stats
	return Stats{
		Discovery:  c.discovery.Load(),
		Keys:       c.keys.Load(),
		Token:      c.token.Load(),
		Introspect: c.introspect.Load(),
		Revoke:     c.revoke.Load(),
		UserInfo:   c.userInfo.Load(),
	}
}

// ResetStats sets every count to zero.
func (i *Instance) ResetStats() {
	c := &i.stats
	for _, n := range []*atomic.Int64{&c.discovery, &c.keys, &c.token, &c.introspect, &c.revoke, &c.userInfo} {
		n.Store(0)
	}
}

func (i *Instance) count(n *atomic.Int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		next.ServeHTTP(w, r)
	})
}

// statsHandler serves GET /debug/stats: the Stats as JSON.
func (i *Instance) statsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(i.Stats())
	})
}

// Fault makes the token and introspection endpoints misbehave, to test how
// clients and APIs handle a slow or failing ZITADEL. The zero Fault is none.
type Fault struct {
	// Status, when not 0, is answered instead of the real answer,
	// with Body and ContentType.
	Status      int
	Body        string
	ContentType string
	// Delay is waited before answering (or until the client gives up).
	Delay time.Duration
}

// SetFault applies f to every following request to /oauth/v2/token and
// /oauth/v2/introspect, until the next SetFault. SetFault(Fault{}) restores
// normal answers.
func (i *Instance) SetFault(f Fault) {
	if f == (Fault{}) {
		i.fault.Store(nil)
		return
	}
	i.fault.Store(&f)
}

func (i *Instance) faulty(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := i.fault.Load()
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		if f.Delay > 0 {
			timer := time.NewTimer(f.Delay)
			select {
			case <-timer.C:
			case <-r.Context().Done():
				timer.Stop()
				return // the client is gone; nobody reads an answer
			case <-i.closing:
				timer.Stop()
				return // Close is waiting for this request
			}
		}
		if f.Status == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if f.ContentType != "" {
			w.Header().Set("Content-Type", f.ContentType)
		}
		w.WriteHeader(f.Status)
		w.Write([]byte(f.Body))
	})
}
