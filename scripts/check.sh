#!/usr/bin/env bash
# check.sh: run what CI runs (formatting, vet, staticcheck, shellcheck, the
# tests, brief fuzzing, all combinations, and a build of every copied sample).
set -euo pipefail
exec "$(dirname "$0")/../.ci/run"
