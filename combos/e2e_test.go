package main

import (
	"os"
	"testing"
)

// requireE2E skips a slow end-to-end test (it builds modules, runs every
// README command, drives the samples under load) unless E2E=1, so that
// `go test ./...` stays quick for a contributor. .ci/run sets E2E=1 for them.
func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv("E2E") != "1" {
		t.Skip("slow end-to-end test: run it with E2E=1")
	}
}
