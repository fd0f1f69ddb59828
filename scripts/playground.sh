#!/usr/bin/env bash
# Starts a local Strata cluster (PD and three stores on loopback) with
# `strata playground`, building it first (release) if needed. Arguments go
# to `strata playground` (e.g. --data-dir DIR --stores 5).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo build --release --bin strata
exec "$CARGO_TARGET_DIR/release/strata" playground "$@"
