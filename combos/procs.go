package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The five samples, as built by buildSamples.
var sampleDirs = []string{
	"api-jwt", "api-basic-authentication",
	"service-user-jwt", "service-user-client-credentials", "service-user-pat",
}

// moduleRoot is the directory of this repository's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run combos inside this repository (no go.mod found)")
	}
	return filepath.Dir(gomod), nil
}

// buildSamples builds every sample once, and the bench's peers (behind the
// build tag bench, so that go build ./... leaves them out), into binDir, with
// one go build.
func buildSamples(ctx context.Context, root, binDir string) error {
	args := []string{"build", "-tags", "bench", "-o", binDir + string(filepath.Separator), "./combos/peers"}
	for _, d := range sampleDirs {
		args = append(args, "./"+d)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// childEnv is this process's environment without any sample setting, so that
// a variable exported in the user's shell cannot change what a combination
// tests (the samples let the real environment win over their -env file).
func childEnv(extra ...string) []string {
	settings := map[string]bool{}
	for _, k := range []string{
		"ZITADEL_DOMAIN", "ZITADEL_INTROSPECTION_URL", "ZITADEL_TOKEN_URL", "API_PRIVATE_KEY_FILE",
		"API_CLIENT_ID", "API_CLIENT_SECRET", "CLIENT_PRIVATE_KEY_FILE_PATH", "PROJECT_ID", "CLIENT_ID",
		"CLIENT_SECRET", "PAT", "API_BASE_URL", "PORT", "INTROSPECTION_CACHE_TTL", "INTROSPECTION_TIMEOUT",
		"INTROSPECTION_MAX_IN_FLIGHT", "TOKEN_VALIDATION", "RESOURCE_URL",
	} {
		settings[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !settings[k] {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// lockedBuffer collects a child's stderr while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// apiProcess is a running API sample.
type apiProcess struct {
	name   string
	url    string
	cmd    *exec.Cmd
	stderr *logFile
	done   chan struct{}
}

// startAPI starts an API sample on a free loopback port and waits until it
// says where it listens.
func startAPI(ctx context.Context, bin, name, envFile string, extraEnv ...string) (*apiProcess, error) {
	cmd := exec.Command(filepath.Join(bin, name), "-addr", "127.0.0.1:0", "-env", envFile)
	cmd.Env = childEnv(extraEnv...)
	return startProcess(ctx, name, cmd)
}

// startProcess starts cmd, a server that prints "listening on URL" to
// stdout, and waits until it does.
func startProcess(ctx context.Context, name string, cmd *exec.Cmd) (*apiProcess, error) {
	logs, err := newLogFile()
	if err != nil {
		return nil, err
	}
	p := &apiProcess{name: name, cmd: cmd, stderr: logs, done: make(chan struct{})}
	cmd.Stderr = logs.f
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logs.remove()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				select {
				case addr <- u:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case p.url = <-addr:
		return p, nil
	case <-p.done:
		logs := p.stderr.String()
		p.stderr.remove()
		return nil, fmt.Errorf("%s exited before listening:\n%s", name, indent(logs))
	case <-time.After(15 * time.Second):
		logs := p.stderr.String()
		p.stop()
		return nil, fmt.Errorf("%s did not start listening within 15s:\n%s", name, indent(logs))
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
}

// stop asks the API to shut down gracefully (SIGTERM), and kills it if it
// has not exited after 5 seconds.
func (p *apiProcess) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.stderr.remove()
}

// logFile collects a child's stderr in a temporary file. The child writes
// to it directly: an API that logs every request under the bench's load
// then costs this process (which runs the load generator) nothing.
type logFile struct{ f *os.File }

func newLogFile() (*logFile, error) {
	f, err := os.CreateTemp("", "combos-stderr-")
	if err != nil {
		return nil, err
	}
	return &logFile{f}, nil
}

// String returns what the child has written so far.
func (l *logFile) String() string {
	b, _ := os.ReadFile(l.f.Name())
	return string(b)
}

func (l *logFile) remove() {
	_ = l.f.Close()
	_ = os.Remove(l.f.Name())
}

// routeResult is one line of a client's -json output.
type routeResult struct {
	Route  string `json:"route"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Error  string `json:"error"`
	OK     bool   `json:"ok"`
}

// clientRun is what one run of a client sample gave.
type clientRun struct {
	results  map[string]routeResult
	exitCode int
	stderr   string
}

// runClient runs a client sample with -json against apiURL.
func runClient(ctx context.Context, bin, name, envFile, apiURL string) clientRun {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, name), "-json", "-env", envFile)
	cmd.Env = childEnv("API_BASE_URL=" + apiURL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := clientRun{results: map[string]routeResult{}, stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		run.exitCode = exit.ExitCode()
	default:
		run.exitCode = -1
		run.stderr += err.Error()
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r routeResult
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Route != "" {
			run.results[r.Route] = r
		}
	}
	return run
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
