// Package apiservertest holds the end-to-end tests of the API samples: each
// sample's main_test.go calls Test with its run function, which then serves
// on 127.0.0.1:0 against the local ZITADEL while the tests talk HTTP to it.
// What does not depend on a sample's method (malformed headers, the cache,
// ZITADEL failing, the bound) TestGuard runs on one sample, api-jwt, and
// Load, the mixed load, on the other.
//
// Only tests import this package: it needs internal/localzitadel, which a
// sample itself must never import.
package apiservertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/go-introspection-examples/internal/localzitadel"
)

// RunFunc is a sample's run function.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// API is an API sample under test.
type API struct {
	// Name is the sample's folder, which it uses as its realm.
	Name string
	Run  RunFunc
	// CredentialSettings hold the API's credentials: each is required, and
	// the log line of a rejected introspection names them.
	CredentialSettings []string
	// BreakCredentials changes env so that ZITADEL rejects the API.
	BreakCredentials func(t *testing.T, env map[string]string)
	// AwkwardCredentials, if set, changes env to credentials that must be
	// url-encoded, which ZITADEL never generates.
	AwkwardCredentials func(inst *localzitadel.Instance, env map[string]string)
}

// Server is a sample running in this process.
type Server struct {
	URL    string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// Logs returns everything the server has logged so far.
func (s *Server) Logs() string { return s.stderr.String() }

// Stop shuts the server down, as SIGINT would, and returns run's error.
func (s *Server) Stop() error {
	// A connection the client opened but sent nothing on yet (a dial that
	// lost the race for a request) holds the server's graceful shutdown
	// for 5 s: net/http takes it for idle only then.
	client.CloseIdleConnections()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // a second Stop gets the same answer
		return err
	case <-time.After(15 * time.Second):
		return errors.New("server did not shut down within 15s")
	}
}

// Start runs sample with env (a copy of an Instance.Env plus changes) and
// args, on 127.0.0.1:0. A developer's own .env never leaks in: the sample
// reads an empty -env file. The server stops at the end of the test, which
// then fails if it logged a secret.
func Start(t *testing.T, sample API, env map[string]string, secrets *Secrets) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, ready := Listening()
	s := &Server{stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	args := []string{sample.Name, "-addr", "127.0.0.1:0", "-env", emptyEnvFile(t)}
	go func() {
		s.done <- sample.Run(ctx, args, getenv(env), stdout, s.stderr)
	}()
	select {
	case addr := <-ready:
		s.URL = "http://" + addr
	case err := <-s.done:
		cancel()
		t.Fatalf("%s exited before listening: %v\n%s", sample.Name, err, s.Logs())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("%s did not listen within 10s\n%s", sample.Name, s.Logs())
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("%s: run returned %v after shutdown", sample.Name, err)
		}
		secrets.CheckLogs(t, sample.Name, s.Logs())
		// net/http recovers a handler's panic and logs it: the client only
		// sees its connection close.
		if strings.Contains(s.Logs(), "panic") {
			t.Errorf("%s panicked:\n%s", sample.Name, s.Logs())
		}
	})
	return s
}

func getenv(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

func emptyEnvFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Listening returns a writer for a server's stdout and a channel that
// receives ADDR once the server prints "listening on http://ADDR".
func Listening() (io.Writer, <-chan string) {
	ready := make(chan string, 1)
	return &listenWatcher{ready: ready}, ready
}

type listenWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan<- string
}

var listening = regexp.MustCompile(`(?m)^listening on http://(\S+)\n`)

func (w *listenWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := listening.FindSubmatch(w.buf.Bytes()); m != nil && w.ready != nil {
		w.ready <- string(m[1])
		w.ready = nil
	}
	return len(p), nil
}

type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	wrote chan struct{} // closed by the next Write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wrote != nil {
		close(b.wrote)
		b.wrote = nil
	}
	return b.buf.Write(p)
}

// WaitForLog returns the server's logs once they contain want, for what
// the server logs in the background; it fails the test after 10 s.
func (s *Server) WaitForLog(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b := s.stderr
		b.mu.Lock()
		logs := b.buf.String()
		if b.wrote == nil {
			b.wrote = make(chan struct{})
		}
		wrote := b.wrote
		b.mu.Unlock()
		if strings.Contains(logs, want) {
			return logs
		}
		select {
		case <-wrote:
		case <-deadline:
			t.Fatalf("the log lacks %q after 10s:\n%s", want, logs)
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Answer is a response of the API, decoded.
type Answer struct {
	Status int
	Header http.Header
	Body   map[string]string // {"message"} or {"code","description"}
	// base is the URL of the API that answered and path the route called,
	// for the resource_metadata of its challenges.
	base, path string
}

// Get calls path on the server with the given Authorization header values
// (none: no header).
func (s *Server) Get(t *testing.T, path string, authorization ...string) Answer {
	t.Helper()
	a, err := s.Do(path, authorization...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// client keeps enough connections open for the load tests' workers, and
// bounds every request, so that a server that never answers fails the test
// instead of hanging it.
var client = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	Timeout:   30 * time.Second,
}

// Do is Get for goroutines other than the test's.
func (s *Server) Do(path string, authorization ...string) (Answer, error) {
	return s.DoContext(context.Background(), path, authorization...)
}

// DoContext is Do with a context, e.g. one that traces the request.
func (s *Server) DoContext(ctx context.Context, path string, authorization ...string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return Answer{}, err
	}
	for _, v := range authorization {
		req.Header.Add("Authorization", v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, err
	}
	a := Answer{Status: resp.StatusCode, Header: resp.Header, base: s.URL, path: req.URL.EscapedPath()}
	if err := json.Unmarshal(raw, &a.Body); err != nil {
		return Answer{}, fmt.Errorf("GET %s: %d with body %q, not JSON: %w", path, resp.StatusCode, raw, err)
	}
	return a, nil
}

// Check returns an error unless a is the answer of an API with realm: a
// route message (status 200), or an error with its code, a description and
// the exact challenge of RFC 6750 §3, or Retry-After for a 503.
func (a Answer) Check(realm string, status int, want string) error {
	if a.Status != status {
		return fmt.Errorf("status %d %v, want %d %s", a.Status, a.Body, status, want)
	}
	if status == http.StatusOK {
		if a.Body["message"] != want {
			return fmt.Errorf("message %q, want %q", a.Body["message"], want)
		}
		return nil
	}
	if a.Body["code"] != want || a.Body["description"] == "" {
		return fmt.Errorf("body %v, want code %s and a description", a.Body, want)
	}
	challenge := ""
	// Every challenge points to the resource metadata of the route called
	// (RFC 9728 §3.1, §5.1).
	metadata := fmt.Sprintf(`, resource_metadata="%s/.well-known/oauth-protected-resource%s"`, a.base, a.path)
	switch {
	case want == "missing_token":
		challenge = fmt.Sprintf(`Bearer realm=%q`, realm) + metadata
	case status == http.StatusUnauthorized, status == http.StatusBadRequest, status == http.StatusForbidden:
		challenge = fmt.Sprintf(`Bearer realm=%q, error=%q, error_description=%q`, realm, want, a.Body["description"]) + metadata
	}
	if got := a.Header.Get("WWW-Authenticate"); got != challenge {
		return fmt.Errorf("WWW-Authenticate %q, want %q", got, challenge)
	}
	retry := ""
	if status == http.StatusServiceUnavailable {
		retry = "5"
	}
	if got := a.Header.Get("Retry-After"); got != retry {
		return fmt.Errorf("Retry-After %q, want %q", got, retry)
	}
	return nil
}

// Concurrently calls do(0) … do(n-1) from workers goroutines and returns
// when every call has.
func Concurrently(n, workers int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				do(i)
			}
		})
	}
	wg.Wait()
}

// Tally counts the wrong answers of concurrent requests and keeps the first
// few for the report. The zero Tally is ready to use.
type Tally struct {
	mu    sync.Mutex
	n     int
	first []error
}

// Add counts err.
func (w *Tally) Add(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	if len(w.first) < 5 {
		w.first = append(w.first, err)
	}
}

// Report fails the test if Add was called, showing the first errors.
func (w *Tally) Report(t *testing.T, of int) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, err := range w.first {
		t.Error(err)
	}
	if w.n > 0 {
		t.Fatalf("%d wrong answers of %d", w.n, of)
	}
}

// Secrets collects every value no log line may show: tokens, secrets, key
// material. CheckLogs also rejects anything shaped like a JWT (a token or a
// client assertion) or a PEM block.
type Secrets struct {
	mu     sync.Mutex
	values []string
}

// Add records secret values.
func (s *Secrets) Add(values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
}

// AddKeyFile records the private key of a ZITADEL key file, line by line.
func (s *Secrets) AddKeyFile(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.Key == "" {
		t.Fatalf("key file %s: no key (%v)", path, err)
	}
	for _, line := range strings.Split(f.Key, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			s.Add(line)
		}
	}
}

// jwtShape is the start of a JWT: base64url of `{"` or `{"a`, then more.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}`)

// CheckLogs fails the test if logs show a recorded secret, a JWT or a PEM block.
func (s *Secrets) CheckLogs(t *testing.T, name, logs string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.values {
		if strings.Contains(logs, v) {
			t.Errorf("%s logged a secret of %d characters", name, len(v))
		}
		if u := url.QueryEscape(v); u != v && strings.Contains(logs, u) {
			t.Errorf("%s logged a url-encoded secret", name)
		}
	}
	if jwtShape.MatchString(logs) {
		t.Errorf("%s logged something shaped like a JWT", name)
	}
	if strings.Contains(logs, "PRIVATE KEY") {
		t.Errorf("%s logged a PEM block", name)
	}
}

// newInstance starts a local ZITADEL for the test on addr (default: a free
// port) and records its secrets.
func newInstance(t *testing.T, secrets *Secrets, addr string) *localzitadel.Instance {
	t.Helper()
	// The address of an instance that has stopped is free at once: Close
	// returns after its listener is closed, and a listener may take a port
	// whose old connections linger (SO_REUSEADDR, which Go sets).
	inst, err := localzitadel.Start(context.Background(), localzitadel.Options{Addr: addr, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close() })
	secrets.Add(inst.BasicAPI.ClientSecret, inst.AwkwardAPI.ClientSecret, inst.OtherAPI.ClientSecret, basic(inst.BasicAPI.ClientID, inst.BasicAPI.ClientSecret))
	secrets.AddKeyFile(t, inst.JWTAPI.KeyFile)
	for _, u := range []*localzitadel.ServiceUser{inst.Reader, inst.NoRole, inst.JWTReader, inst.Awkward} {
		secrets.Add(u.ClientSecret, u.PAT)
		secrets.AddKeyFile(t, u.KeyFile)
	}
	return inst
}

// basic is the Basic credential of RFC 6749 §2.3.1 as it travels in a header.
func basic(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

// ForeignKeyFile writes a copy of the key file at path with a new private
// key: the same ids, a signature ZITADEL cannot verify.
func ForeignKeyFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f["key"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	if raw, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(t.TempDir(), "foreign-key.json")
	if err := os.WriteFile(foreign, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return foreign
}
