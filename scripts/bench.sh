#!/usr/bin/env bash
# bench.sh [-duration 3s] [-concurrency 16]: drive both API samples over
# loopback against the local ZITADEL and print req/s and latency for
# /api/public, /api/private (cache warm and off) and /api/private-scoped, the
# ratios to /api/public, and what 1,000 calls of one client cost at ZITADEL.
# The load generator is Go (combos bench); nothing to install.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./combos bench "$@"
