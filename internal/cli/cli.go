// Package cli turns the error of a program's run function into an exit code.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

// Exit codes shared by every program of this repository.
const (
	ExitOK     = 0
	ExitFailed = 1 // the program ran, but something did not work
	ExitConfig = 2 // bad flags or settings: nothing was attempted
)

// ErrFailed reports a failure whose details were already printed.
var ErrFailed = errors.New("failed")

// UsageError is a bad command line.
type UsageError struct {
	Err     error
	printed bool // the flag package already printed it with the usage
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode prints err (if it has something to say) to stderr and returns the
// exit code for it.
func ExitCode(err error, stderr io.Writer) int {
	var cfg *config.Error
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
