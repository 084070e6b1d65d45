// Package config is a program's settings and command line: settings from
// the environment and a .env file, flags, and the exit code.
//
// The real environment wins over the file, as with godotenv.Load. Every
// problem is collected and reported at once, one line per variable, so a
// user fixes a .env in one pass instead of one run per mistake.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/joho/godotenv"
)

// Exit codes shared by every program of this repository.
const (
	ExitOK     = 0
	ExitFailed = 1 // the program ran, but something did not work
	ExitConfig = 2 // bad flags or settings: nothing was attempted
)

// ErrFailed reports a failure whose details were already printed.
var ErrFailed = errors.New("failed")

// Error lists configuration problems, one per line: exit code 2.
type Error struct {
	Problems []string
}

func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// Invalid is the problem of a setting whose value does not work, e.g. a key
// file that does not load.
func Invalid(name string, err error) error {
	return &Error{Problems: []string{name + ": " + err.Error()}}
}

// UsageError is a bad command line: exit code 2.
type UsageError struct {
	Err     error
	printed bool // the flag package already printed it with the usage
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ParseFlags parses args (without the program name) and wraps flag errors in
// a UsageError. The flag set must use flag.ContinueOnError.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &UsageError{Err: err, printed: true}
	}
	if fs.NArg() > 0 {
		return &UsageError{Err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// Report prints what err has to say to stderr, unless it was printed
// already, and returns the program's exit code for it.
func Report(err error, stderr io.Writer) int {
	var cfg *Error
	var usage *UsageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.Is(err, ErrFailed):
		return ExitFailed
	case errors.As(err, &cfg):
		for _, p := range cfg.Problems {
			fmt.Fprintln(stderr, "config:", p)
		}
		return ExitConfig
	case errors.As(err, &usage):
		if !usage.printed {
			fmt.Fprintln(stderr, "usage:", usage.Err)
		}
		return ExitConfig
	default:
		fmt.Fprintln(stderr, "error:", err)
		return ExitFailed
	}
}

// Printable keeps text a server sent (an OAuth error, a content type, an
// API's message) fit for a terminal or a log line: control characters,
// newlines included, become spaces, so the server cannot forge lines or send
// terminal escapes, and s is cut after limit characters (never inside one).
func Printable(s string, limit int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return s
}

// repositoryHint is how to get a .env in this repository, which has a local
// ZITADEL: repository.go sets it, and a copy of a sample leaves that file out.
var repositoryHint string

// Env looks settings up in the real environment first, then in a .env file.
// Its readers record a problem instead of returning an error; Err reports them all.
type Env struct {
	getenv   func(string) string
	file     map[string]string
	filePath string // the .env file read, "" when none
	searched string // where Load looked for a .env and found none
	read     map[string]bool
	problems []string
}

// Load reads the .env file at path, or, when path is empty, the nearest .env in
// the working directory or its parents (up to the module root). A missing
// nearest .env is fine: everything may come from the environment.
func Load(getenv func(string) string, path string) (*Env, error) {
	e := &Env{getenv: getenv, read: map[string]bool{}}
	if path == "" {
		if path = findDotEnv(); path == "" {
			e.searched, _ = os.Getwd()
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
	e.file, e.filePath = vars, path
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
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil || filepath.Dir(dir) == dir {
			return ""
		}
		dir = filepath.Dir(dir)
	}
}

// lookup returns the value and whether it came from the .env file.
func (e *Env) lookup(name string) (value string, fromFile bool) {
	e.read[name] = true
	if v := strings.TrimSpace(e.getenv(name)); v != "" {
		return v, false
	}
	v := strings.TrimSpace(e.file[name])
	return v, v != ""
}

func (e *Env) problem(format string, args ...any) {
	e.problems = append(e.problems, fmt.Sprintf(format, args...))
}

// Problem records a problem found by the caller, e.g. a key file that does not load.
func (e *Env) Problem(err error) { e.problems = append(e.problems, err.Error()) }

// Required returns a setting that must be set; hint says what it looks like.
func (e *Env) Required(name, hint string) string {
	v, _ := e.lookup(name)
	if v == "" {
		e.problem("%s is not set: %s", name, hint)
	}
	return v
}

// Optional returns a setting, or def when it is not set.
func (e *Env) Optional(name, def string) string {
	if v, _ := e.lookup(name); v != "" {
		return v
	}
	return def
}

// URL returns a required absolute http(s) URL without a trailing slash.
func (e *Env) URL(name, example string) string {
	if v, _ := e.lookup(name); v == "" {
		e.problem("%s is not set: it must be a URL with scheme, like %s", name, example)
		return ""
	}
	return e.OptionalURL(name, "", example)
}

// OptionalURL returns a URL setting without a trailing slash, or def when it is not set.
func (e *Env) OptionalURL(name, def, example string) string {
	v, _ := e.lookup(name)
	if v == "" {
		return def
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
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
	} else if fromFile && !filepath.IsAbs(v) {
		v = filepath.Join(filepath.Dir(e.filePath), v)
	}
	return v
}

// Err returns an *Error listing every problem found so far, or nil. Call it
// after reading every setting: it also reports a variable that looks like a
// slip for a setting that was read (typos), and, when no .env file was
// found, how to get one.
func (e *Env) Err() error {
	problems := append(slices.Clone(e.problems), e.typos()...)
	if len(problems) == 0 {
		return nil
	}
	if e.searched != "" {
		how := "cp .env.example .env and fill it in, or name a settings file with -env FILE"
		if st, err := os.Stat(filepath.Join(e.searched, "combos")); repositoryHint != "" && err == nil && st.IsDir() {
			how = repositoryHint
		}
		// First: it explains the lines after it.
		problems = slices.Insert(problems, 0, fmt.Sprintf("no .env file in %s or a parent directory up to the module root: %s", e.searched, how))
	}
	return &Error{Problems: problems}
}

// typos lists the variables that nothing read and that look like a slip for
// a setting that was read, with the likely name: in the .env file, for a
// setting set nowhere; in the real environment, which other programs share,
// only a closer look-alike, of a setting the environment does not set (an
// export meant to win over the file). Values are never shown.
func (e *Env) typos() []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(e.file)) {
		if want := e.meant(name, 2, e.file); want != "" {
			out = append(out, fmt.Sprintf("%s in %s is not a setting: did you mean %s?", name, e.filePath, want))
		}
	}
	for _, kv := range slices.Sorted(slices.Values(os.Environ())) {
		// The names come from the process; whether one is set, only from
		// getenv, which a test replaces.
		if name, _, _ := strings.Cut(kv, "="); e.getenv(name) != "" {
			if want := e.meant(name, 1, nil); want != "" {
				out = append(out, fmt.Sprintf("%s in the environment is not a setting: did you mean %s?", name, want))
			}
		}
	}
	return out
}

// meant returns the setting that was read, is set neither in the
// environment nor in file, and that name, not read itself, is a slip for
// (similar), or "".
func (e *Env) meant(name string, edits int, file map[string]string) string {
	if e.read[name] {
		return ""
	}
	for _, want := range slices.Sorted(maps.Keys(e.read)) {
		if e.getenv(want) == "" && file[want] == "" && similar(name, want, edits) {
			return want
		}
	}
	return ""
}

// similar reports whether a is a likely slip for b: the same letters in
// another case; the other side's name for a key file (the clients' setting
// ends in _PATH, the APIs' does not, as in the originals); or up to edits
// edits away, one less for a short name, which is close to many words (a
// swap of two letters is one edit).
func similar(a, b string, edits int) bool {
	a, b = strings.ToUpper(a), strings.ToUpper(b)
	if strings.TrimSuffix(a, "_PATH") == strings.TrimSuffix(b, "_PATH") {
		return true
	}
	if len(b) <= 5 {
		edits--
	}
	return editDistance(a, b) <= edits
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
