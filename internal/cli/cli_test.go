package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"

	"github.com/zitadel/go-introspection-examples/internal/config"
)

func TestExitCode(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flagErr := ParseFlags(fs, []string{"-nope"})
	tests := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"success", nil, ExitOK, ""},
		{"help", flag.ErrHelp, ExitOK, ""},
		{"already reported", fmt.Errorf("call api: %w", ErrFailed), ExitFailed, ""},
		{"config", &config.Error{Problems: []string{"PAT is not set: x", "PROJECT_ID is not set: y"}}, ExitConfig, "config: PAT is not set: x\nconfig: PROJECT_ID is not set: y\n"},
		{"wrapped config", fmt.Errorf("load: %w", &config.Error{Problems: []string{"a"}}), ExitConfig, "config: a\n"},
		{"bad flag, printed by the flag package", flagErr, ExitConfig, ""},
		{"usage", &UsageError{Err: errors.New("unexpected argument \"x\"")}, ExitConfig, "usage: unexpected argument \"x\"\n"},
		{"other", errors.New("boom"), ExitFailed, "error: boom\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := ExitCode(tt.err, &stderr); code != tt.code {
				t.Errorf("code = %d, want %d", code, tt.code)
			}
			if stderr.String() != tt.stderr {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestParseFlagsRejectsArguments(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var usage *UsageError
	if err := ParseFlags(fs, []string{"extra"}); !errors.As(err, &usage) {
		t.Errorf("err = %v, want a UsageError", err)
	}
}
