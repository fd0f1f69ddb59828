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
cargo test --workspace --no-fail-fast -- --test-threads=2 "$@"
