#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, the engine conformance suite,
# the deterministic cluster simulation (fixed seeds) and the end-to-end tests
# that start PD and stores as OS processes.
#
#   STRATA_SIM_SEEDS=10000 scripts/test.sh   # more simulation seeds
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
# One feature set for every build: `cargo test` compiles what `cargo build -p`
# would compile differently (and RocksDB is 20 minutes of C++).
cargo test --workspace --no-run
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --no-fail-fast -- --test-threads=2 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole run (the last binary's own line is often a
# crate with no doctests, "0 passed").
awk '/^test result:/ {
  for (i = 2; i <= NF; i++) {
    if ($i ~ /^passed;?$/) p += $(i - 1)
    if ($i ~ /^failed;?$/) f += $(i - 1)
  }
} END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
