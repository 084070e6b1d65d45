package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README sections whose commands TestREADMECommands runs, as written,
// from the repository root of a fresh copy of the repository.
var readmeSections = map[string][]string{
	"README.md":                                 {"By hand"},
	"api-jwt/README.md":                         {"Run it", "With curl"},
	"api-basic-authentication/README.md":        {"Run it", "With curl"},
	"service-user-jwt/README.md":                {"Run it", "With curl"},
	"service-user-client-credentials/README.md": {"Run it", "With curl"},
	"service-user-pat/README.md":                {"Run it", "With curl"},
}

// TestREADMECommands runs the commands of the READMEs as a reader would: a
// block of servers (`go run ./combos serve`, `go run ./api-jwt …`) in
// terminals of their own, every other ```sh block as a script that must
// exit 0, and every ```console block's `$ command` whose output must show
// the lines below it. Only the ports change: the API listens on a free
// port instead of 5000, the local ZITADEL on a free one instead of 8080.
func TestREADMECommands(t *testing.T) {
	requireE2E(t)
	root, err := moduleRoot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for file, sections := range readmeSections {
		t.Run(file, func(t *testing.T) {
			md, err := os.ReadFile(filepath.Join(root, file))
			if err != nil {
				t.Fatal(err)
			}
			blocks := readmeBlocks(string(md), sections)
			if len(blocks) == 0 {
				t.Fatalf("no commands in the sections %q", sections)
			}
			s := newSession(t, copyRepository(t, root), repoServer, "")
			for _, b := range blocks {
				s.run(b)
			}
		})
	}
}

// repoServer tells the commands that keep running in the repository.
func repoServer(cmd string) bool {
	return strings.HasPrefix(cmd, "go run ./combos serve") || strings.HasPrefix(cmd, "go run ./api-")
}

// block is a fenced code block of a README.
type block struct {
	lang    string // "sh" or "console"
	lines   []string
	section string
}

// readmeBlocks returns the ```sh and ```console blocks under the given
// headings (up to the next heading of the same or a higher level), skipping
// multi-line HTML comments: what a reader of the rendered page sees.
func readmeBlocks(md string, sections []string) []block {
	var (
		blocks  []block
		section string
		level   int
		cur     *block
		comment bool
	)
	for _, l := range strings.Split(md, "\n") {
		switch {
		case cur != nil:
			if l == "```" {
				if section != "" {
					blocks = append(blocks, *cur)
				}
				cur = nil
				continue
			}
			cur.lines = append(cur.lines, l)
		case comment:
			comment = !strings.Contains(l, "-->")
		case strings.HasPrefix(l, "<!--") && !strings.Contains(l, "-->"):
			comment = true
		case strings.HasPrefix(l, "#"):
			hashes := len(l) - len(strings.TrimLeft(l, "#"))
			title := strings.TrimSpace(l[hashes:])
			if section != "" && hashes <= level {
				section = ""
			}
			for _, s := range sections {
				if title == s || strings.HasPrefix(title, s+",") {
					section, level = title, hashes
				}
			}
		case l == "```sh" || l == "```console":
			cur = &block{lang: strings.TrimPrefix(l, "```"), section: section}
		}
	}
	return blocks
}

// session is a reader's shell in dir: the servers they started, and the
// variables they set, which later commands see.
type session struct {
	t        *testing.T
	dir      string
	isServer func(cmd string) bool
	apiPort  string
	env      []string
	vars     []string // lines like TOKEN=$(…), run before each later script
	fillIn   func()   // what the reader does after cp .env.example .env
}

// newSession starts a session whose API listens on port ("": a free one).
func newSession(t *testing.T, dir string, isServer func(string) bool, port string) *session {
	if port == "" {
		port = freePort(t)
	}
	return &session{
		t: t, dir: dir, isServer: isServer, apiPort: port,
		// The samples let the real environment win over .env: PORT moves the
		// API off 5000, API_BASE_URL points the clients at it.
		env: childEnv("PORT="+port, "API_BASE_URL=http://localhost:"+port),
	}
}

// ports moves what a README says about the default ports to this session's.
func (s *session) ports(text string) string {
	text = strings.ReplaceAll(text, "localhost:5000", "localhost:"+s.apiPort)
	text = strings.ReplaceAll(text, "127.0.0.1:5000", "127.0.0.1:"+s.apiPort)
	return text
}

func (s *session) run(b block) {
	if b.lang == "console" {
		s.console(b)
		return
	}
	// Lines run in order: a script up to a server line runs before the
	// server starts, as a reader types them one after the other.
	var script []string
	flush := func() {
		if len(script) > 0 {
			s.shell(strings.Join(script, "\n"))
		}
		for _, l := range script {
			if assignment.MatchString(l) {
				s.vars = append(s.vars, l)
			}
		}
		script = nil
	}
	for _, l := range b.lines {
		cmd := strings.TrimSpace(l)
		switch {
		case s.isServer(cmd):
			flush()
			s.startServer(cmd)
		case strings.HasPrefix(cmd, "cp .env.example .env") && s.fillIn != nil:
			script = append(script, l)
			flush()
			s.fillIn()
		default:
			script = append(script, l)
		}
	}
	flush()
}

// assignment is a line that sets a shell variable from a command, like
// TOKEN=$(go run … -print-token): later commands of the README use it.
var assignment = regexp.MustCompile(`^[A-Z_]+=\$\(`)

// console runs each `$ command` of a console block and checks that its
// output shows the lines after it, in order (a line with … matches any
// text in its place; lines the README leaves out, like Date, may be there).
func (s *session) console(b block) {
	var cmd string
	var want []string
	flush := func() {
		if cmd == "" {
			return
		}
		got := strings.Split(strings.ReplaceAll(s.shell(cmd), "\r", ""), "\n")
		i := 0
		for _, g := range got {
			if i < len(want) && lineMatches(s.ports(want[i]), g) {
				i++
			}
		}
		if i < len(want) {
			s.t.Errorf("%s: `%s` does not show\n  %s\nit printed:\n%s", b.section, cmd, want[i], indent(strings.Join(got, "\n")))
		}
	}
	for _, l := range b.lines {
		if c, ok := strings.CutPrefix(l, "$ "); ok {
			flush()
			cmd, want = c, nil
			continue
		}
		want = append(want, l)
	}
	flush()
}

func lineMatches(want, got string) bool {
	if !strings.Contains(want, "…") {
		return want == got
	}
	parts := strings.Split(want, "…")
	re := "^"
	for i, p := range parts {
		if i > 0 {
			re += ".*"
		}
		re += regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(re + "$").MatchString(got)
}

// shell runs script with bash -e in the session, after the variables set
// so far, and returns its stdout. It fails the test unless it exits 0.
func (s *session) shell(script string) string {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	full := "set -eo pipefail\n" + strings.Join(s.vars, "\n") + "\n" + s.ports(script)
	cmd := exec.CommandContext(ctx, "bash", "-c", full)
	cmd.Dir, cmd.Env = s.dir, s.env
	var stdout, stderr lockedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s\n%v\nstdout:\n%s\nstderr:\n%s", script, err, indent(stdout.String()), indent(stderr.String()))
	}
	return stdout.String()
}

// startServer starts cmd as a reader would in a terminal of its own, and
// waits until it says it is ready. The local ZITADEL gets a free port.
func (s *session) startServer(cmd string) {
	t := s.t
	if strings.HasPrefix(cmd, "go run ./combos serve") {
		cmd = strings.Replace(cmd, "serve", "serve -addr 127.0.0.1:0", 1)
	}
	c := exec.Command("bash", "-c", "exec "+s.ports(cmd))
	c.Dir, c.Env = s.dir, s.env
	// go run starts the program as a child: stop the whole group.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr lockedBuffer
	c.Stderr = &stderr
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			if !once && (strings.HasPrefix(sc.Text(), "listening on ") || strings.HasPrefix(sc.Text(), "Local ZITADEL running at ")) {
				once = true
				close(ready)
			}
		}
		_ = c.Wait()
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	select {
	case <-ready:
	case <-done:
		t.Fatalf("`%s` exited:\n%s", cmd, indent(stderr.String()))
	case <-time.After(3 * time.Minute):
		t.Fatalf("`%s` is not ready after 3 minutes:\n%s", cmd, indent(stderr.String()))
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// copyRepository copies the repository's files (not .git, settings or
// the local ZITADEL's directory) into a new directory: a fresh clone.
func copyRepository(t *testing.T, root string) string {
	dst := t.TempDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		name := d.Name()
		if d.IsDir() {
			if rel != "." && (name == ".git" || name == ".local-zitadel" || name == "testdata" && strings.Contains(rel, "fuzz")) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(name, ".env") || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(fmt.Errorf("copy the repository: %w", err))
	}
	return dst
}
