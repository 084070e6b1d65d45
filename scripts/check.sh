#!/usr/bin/env bash
# check.sh: run what CI runs (formatting, vet, staticcheck, shellcheck, the
# tests, brief fuzzing, all combinations, and a build of every copied sample).
#
# What it downloads and installs:
#   - the modules in go.mod, and staticcheck v0.8.2 (go run
#     honnef.co/go/tools/cmd/staticcheck@v0.8.2), from the Go module proxy
#     into the module cache (go env GOMODCACHE), as any go build would;
#   - shellcheck, only if it is missing and you run as root on a system with
#     apt-get: apt-get update and apt-get install shellcheck. Otherwise that
#     step is skipped, with a line saying so.
# It writes into the repository only when a fuzz target fails: the failing
# input goes to that package's testdata/fuzz, to be committed with the fix.
set -euo pipefail
echo "check.sh: may download Go modules and staticcheck v0.8.2 into $(go env GOMODCACHE), and, as root without shellcheck, apt-get install shellcheck" >&2
exec "$(dirname "$0")/../.ci/run"
