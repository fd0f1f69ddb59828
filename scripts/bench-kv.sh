#!/usr/bin/env bash
# Benchmarks raw KV against a fresh 3-store playground (release build).
# Extra arguments go to `strata bench kv` (e.g. --duration 5s).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bench-playground.sh
"$bin" ctl --pd 127.0.0.1:23790 regions
"$bin" bench kv --pd 127.0.0.1:23790 "$@"
