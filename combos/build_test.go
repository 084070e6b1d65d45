package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestBuildAllMakesOnlyThePrograms: `go build -o bin/ ./...` writes a binary
// for each main package ./... matches: the five samples and combos, not the
// bench's peers (combos/peers, behind the build tag bench).
func TestBuildAllMakesOnlyThePrograms(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "../...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var programs []string
	for _, p := range strings.Fields(string(out)) {
		programs = append(programs, p[strings.LastIndex(p, "/")+1:])
	}
	slices.Sort(programs)
	want := slices.Sorted(slices.Values(append([]string{"combos"}, sampleDirs...)))
	if !slices.Equal(programs, want) {
		t.Errorf("go build ./... makes %v, want %v", programs, want)
	}
}
