#!/usr/bin/env bash
# Starts a local Strata cluster (PD and three stores on loopback) with
# `strata playground`, building it first (release) if needed. Arguments go
# to `strata playground` (e.g. --data-dir DIR --stores 5); relative paths
# are relative to where you run this from.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/setup.sh"
source "$root/scripts/env.sh"
(cd "$root" && cargo build --release --bin strata)
exec "$CARGO_TARGET_DIR/release/strata" playground "$@"
