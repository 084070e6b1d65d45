// Package config reads a program's settings from the environment and a .env file.
//
// The real environment wins over the file, as with godotenv.Load. Every problem
// is collected and reported at once, one line per variable, so a user fixes a
// .env in one pass instead of one run per mistake.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Error lists configuration problems, one per line. Programs exit with code 2 on it.
type Error struct {
	Problems []string
}

func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// Env looks settings up in the real environment first, then in a .env file.
// Methods record a problem instead of returning an error; Err reports them all.
type Env struct {
	getenv   func(string) string
	file     map[string]string
	fileDir  string // directory of the .env file: relative paths in it are resolved from there
	problems []string
}

// Load reads the .env file at path, or, when path is empty, the nearest .env in
// the working directory or its parents (up to the module root). A missing
// nearest .env is fine: everything may come from the environment.
func Load(getenv func(string) string, path string) (*Env, error) {
	e := &Env{getenv: getenv}
	if path == "" {
		path = findDotEnv()
		if path == "" {
			return e, nil
		}
	}
	vars, err := godotenv.Read(path)
	if err != nil {
		// godotenv's errors quote the offending line, which may hold a secret.
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{Problems: []string{fmt.Sprintf("env file %s does not exist", path)}}
		}
		return nil, &Error{Problems: []string{fmt.Sprintf("env file %s cannot be parsed: use KEY=value lines", path)}}
	}
	e.file = vars
	e.fileDir = filepath.Dir(path)
	return e, nil
}

// findDotEnv walks up from the working directory and stops at the first
// directory with a .env, or at the first one with a go.mod (the module root).
func findDotEnv() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, ".env")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// lookup returns the value and whether it came from the .env file.
func (e *Env) lookup(name string) (value string, fromFile bool) {
	if v := strings.TrimSpace(e.getenv(name)); v != "" {
		return v, false
	}
	v := strings.TrimSpace(e.file[name])
	return v, v != ""
}

func (e *Env) problem(format string, args ...any) {
	e.problems = append(e.problems, fmt.Sprintf(format, args...))
}

// String returns a required setting; hint says what it looks like.
func (e *Env) String(name, hint string) string {
	v, _ := e.lookup(name)
	if v == "" {
		e.problem("%s is not set: %s", name, hint)
	}
	return v
}

// Optional returns a setting or def when it is not set.
func (e *Env) Optional(name, def string) string {
	if v, _ := e.lookup(name); v != "" {
		return v
	}
	return def
}

// URL returns a required absolute http(s) URL without a trailing slash.
func (e *Env) URL(name, example string) string {
	v, _ := e.lookup(name)
	if v == "" {
		e.problem("%s is not set: it must be a URL with scheme, like %s", name, example)
		return ""
	}
	return e.checkURL(name, v, example)
}

// OptionalURL returns a URL setting, or def when it is not set.
func (e *Env) OptionalURL(name, def, example string) string {
	v, _ := e.lookup(name)
	if v == "" {
		return def
	}
	return e.checkURL(name, v, example)
}

func (e *Env) checkURL(name, v, example string) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.problem("%s must be a URL with scheme, like %s", name, example)
		return ""
	}
	return strings.TrimRight(v, "/")
}

// Path returns a required file path. A relative path from the .env file is
// taken relative to that file, so `-env some/dir/.env` works from anywhere.
func (e *Env) Path(name, hint string) string {
	v, fromFile := e.lookup(name)
	if v == "" {
		e.problem("%s is not set: %s", name, hint)
		return ""
	}
	if fromFile && !filepath.IsAbs(v) {
		v = filepath.Join(e.fileDir, v)
	}
	return v
}

// Duration returns a duration setting (Go syntax, like 30s or 2m; 0 is allowed), or def.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, _ := e.lookup(name)
	if v == "" {
		return def
	}
	if v == "0" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.problem("%s must be a duration like 30s, 2m or 0, not %q", name, v)
		return def
	}
	return d
}

// Port returns a TCP port setting (1-65535), or def.
func (e *Env) Port(name string, def int) int {
	v, _ := e.lookup(name)
	if v == "" {
		return def
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		e.problem("%s must be a port number between 1 and 65535, not %q", name, v)
		return def
	}
	return p
}

// Problem records a problem found by the caller, e.g. a key file that does not load.
func (e *Env) Problem(err error) {
	e.problems = append(e.problems, err.Error())
}

// Err returns an *Error listing every problem found so far, or nil.
func (e *Env) Err() error {
	if len(e.problems) == 0 {
		return nil
	}
	return &Error{Problems: append([]string(nil), e.problems...)}
}

// Invalid is the problem of a setting whose value does not work, e.g. a key
// file that does not load: one line naming the setting, exit code 2.
func Invalid(name string, err error) error {
	return &Error{Problems: []string{name + ": " + err.Error()}}
}
